/* svc_time.c - deadlines for timed waits (svc_time.h). */
#include "svc_time.h"

struct timespec hvrpc_svc_deadline(clockid_t clock, int64_t ms)
{
    struct timespec until;

    if (ms < 0)
        ms = 0;
    clock_gettime(clock, &until);
    until.tv_sec += (time_t)(ms / 1000);
    until.tv_nsec += (long)(ms % 1000) * 1000000L;
    if (until.tv_nsec >= 1000000000L) {
        until.tv_sec++;
        until.tv_nsec -= 1000000000L;
    }
    return until;
}
