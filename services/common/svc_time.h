/*
 * svc_time.h - the deadline for a timed wait on a condition variable,
 * shared by the service programs (bridge, agent, kvp) that wait for work
 * or a stop flag with pthread_cond_timedwait.
 */
#ifndef HVRPC_SVC_TIME_H
#define HVRPC_SVC_TIME_H

#include <stdint.h>
#include <time.h>

/* The absolute time ms milliseconds from now on clock, for
 * pthread_cond_timedwait: clock must be the condition variable's own
 * (CLOCK_REALTIME by default, CLOCK_MONOTONIC when set with
 * pthread_condattr_setclock), or the wait ends at the wrong time. A
 * negative ms counts as 0. */
struct timespec hvrpc_svc_deadline(clockid_t clock, int64_t ms);

#endif /* HVRPC_SVC_TIME_H */
