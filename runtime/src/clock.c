/* clock.c - monotonic time and deadlines. */
#include <limits.h>
#include <time.h>

#include "clock.h"

#ifdef _WIN32
/* QueryPerformanceCounter: monotonic, and in every Windows C runtime
 * (MSVC has no clock_gettime). */
#ifndef WIN32_LEAN_AND_MEAN
#define WIN32_LEAN_AND_MEAN
#endif
#include <windows.h>

int64_t hvrpc__now_ns(void)
{
    static LARGE_INTEGER freq; /* fixed at boot; a racy first set is benign */
    LARGE_INTEGER now;
    if (freq.QuadPart == 0)
        QueryPerformanceFrequency(&freq);
    QueryPerformanceCounter(&now);
    int64_t f = freq.QuadPart;
    int64_t sec = now.QuadPart / f, rem = now.QuadPart % f;
    return sec * INT64_C(1000000000) + rem * INT64_C(1000000000) / f;
}
#else
int64_t hvrpc__now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * INT64_C(1000000000) + ts.tv_nsec;
}
#endif

int64_t hvrpc__deadline_after_ns(int64_t ns)
{
    int64_t now = hvrpc__now_ns();
    if (ns <= 0)
        return now;
    if (ns > INT64_MAX - now)
        return INT64_MAX;
    return now + ns;
}

int hvrpc__poll_timeout_ms(int64_t deadline_ns)
{
    if (deadline_ns == 0)
        return -1;
    int64_t left = deadline_ns - hvrpc__now_ns();
    if (left <= 0)
        return 0;
    int64_t ms = (left + HVRPC__NS_PER_MS - 1) / HVRPC__NS_PER_MS;
    return ms > INT_MAX ? INT_MAX : (int)ms;
}

int hvrpc__cond_init_monotonic(pthread_cond_t *cv)
{
    pthread_condattr_t a;
    pthread_condattr_init(&a);
    pthread_condattr_setclock(&a, CLOCK_MONOTONIC);
    int e = pthread_cond_init(cv, &a);
    pthread_condattr_destroy(&a);
    return e;
}

struct timespec hvrpc__timespec_at(int64_t ns)
{
    struct timespec ts = {(time_t)(ns / 1000000000), (long)(ns % 1000000000)};
    return ts;
}
