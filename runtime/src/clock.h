/* clock.h - the one clock: CLOCK_MONOTONIC in nanoseconds. */
#ifndef HVRPC__CLOCK_H
#define HVRPC__CLOCK_H

#include <pthread.h>
#include <stdint.h>
#include <time.h>

#define HVRPC__NS_PER_MS INT64_C(1000000)

int64_t hvrpc__now_ns(void);

/* now + ns, saturating instead of overflowing. */
int64_t hvrpc__deadline_after_ns(int64_t ns);

/* Milliseconds from now until deadline_ns, rounded up, for poll(); 0 when
 * passed, -1 (wait forever) when deadline_ns is 0. */
int hvrpc__poll_timeout_ms(int64_t deadline_ns);

/* A condition variable whose timed waits take hvrpc__timespec_at()'s
 * monotonic times. 0, or an errno value. */
int hvrpc__cond_init_monotonic(pthread_cond_t *cv);
struct timespec hvrpc__timespec_at(int64_t ns);

#endif
