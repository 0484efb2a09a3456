/* tests/vm-nested/nested_util.c - see nested_util.h. */
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "nested_util.h"

int64_t nested_now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

hvrpc_client *nested_connect(const char *target, const hvrpc_service_info *svc,
                             uint32_t max_frame, int wait_s)
{
    hvrpc_client_options co;
    hvrpc_client_options_init(&co);
    co.connect_timeout_ms = 3000;
    if (max_frame)
        co.max_frame = max_frame;
    int64_t t0 = nested_now_ms(), deadline = t0 + (int64_t)wait_s * 1000;
    hvrpc_status st;
    for (int tries = 1;; tries++) {
        hvrpc_client *c = NULL;
        hvrpc_code r = strcmp(target, "host") == 0
                           ? hvrpc_client_connect_host(svc, &co, &c, &st)
                           : hvrpc_client_connect(target, &co, &c, &st);
        if (r == HVRPC_OK) {
            fprintf(stderr, "connected to %s after %.1f s (%d attempts)\n",
                    target, (double)(nested_now_ms() - t0) / 1000.0, tries);
            return c;
        }
        if (nested_now_ms() >= deadline) {
            fprintf(stderr, "connect %s: %s: %s (gave up after %d s)\n", target,
                    hvrpc_code_name(r), st.message, wait_s);
            return NULL;
        }
        if (tries == 1 || tries % 10 == 0)
            fprintf(stderr, "connect %s: %s: %s (retrying)\n", target,
                    hvrpc_code_name(r), st.message);
        usleep(500 * 1000);
    }
}
