/*
 * fleet_guest.c - a guest publisher for the fleet tests: publishes
 * numbered events to a host bus and makes sure a subscriber (the bridge)
 * took each one.
 *
 *   fleet_guest URI TOPIC FIRST COUNT INTERVAL_MS
 *
 * Event n (FIRST <= n < FIRST + COUNT) has payload "n" and header
 * "seq: n", published on one connection, each after the answer to the one
 * before (so the broker accepts them in order). An event that no
 * subscription took (matched 0 while no bridge is subscribed, or dropped)
 * is published again until one does: the guest side of "nothing lost"
 * (docs/FLEET.md). Prints "published N" every 50 events and "done N
 * retries R" at the end; exits 1 when an event cannot be published
 * within 60 s.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <hvrpc/hvrpc.h>

#include "hvrpc/bus/v1/bus.hvrpc.h"

static int64_t now_ms(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (int64_t)t.tv_sec * 1000 + t.tv_nsec / 1000000;
}

int main(int argc, char **argv)
{
    hvrpc_client *c = NULL;
    hvrpc_client_options co;
    hvrpc_call_options copts = HVRPC_CALL_OPTIONS_INIT;
    hvrpc_status st;
    unsigned long retries = 0;

    if (argc != 6) {
        fprintf(stderr, "usage: fleet_guest URI TOPIC FIRST COUNT "
                        "INTERVAL_MS\n");
        return 2;
    }
    long first = atol(argv[3]), count = atol(argv[4]);
    long interval = atol(argv[5]);
    hvrpc_client_options_init(&co);
    copts.timeout_ms = 5000;
    setvbuf(stdout, NULL, _IOLBF, 0);
    for (long n = first; n < first + count; n++) {
        char num[24];
        Hvrpc__Bus__V1__Header h = HVRPC__BUS__V1__HEADER__INIT;
        Hvrpc__Bus__V1__Header *hp[1] = {&h};
        Hvrpc__Bus__V1__PublishRequest req =
            HVRPC__BUS__V1__PUBLISH_REQUEST__INIT;
        int64_t give_up = now_ms() + 60000;

        snprintf(num, sizeof num, "%ld", n);
        h.key = "seq";
        h.value = num;
        req.topic = argv[2];
        req.payload.data = (uint8_t *)num;
        req.payload.len = strlen(num);
        req.headers = hp;
        req.n_headers = 1;
        for (;;) {
            Hvrpc__Bus__V1__PublishResponse *resp = NULL;
            hvrpc_code r = HVRPC_OK;
            bool taken = false;

            if (c == NULL)
                r = hvrpc_client_connect(argv[1], &co, &c, &st);
            if (r == HVRPC_OK)
                r = hvrpc__bus__v1__bus__publish_call(c, &req, &resp, &copts,
                                                      &st);
            if (r == HVRPC_OK)
                taken = resp->matched > 0 && resp->dropped == 0;
            if (resp)
                protobuf_c_message_free_unpacked(&resp->base, NULL);
            if (taken)
                break;
            if (r == HVRPC_UNAVAILABLE) {
                hvrpc_client_free(c);
                c = NULL;
            }
            if (now_ms() > give_up) {
                fprintf(stderr,
                        "fleet_guest: event %ld: not taken in 60 s "
                        "(%s: %s)\n",
                        n, hvrpc_code_name(r), st.message);
                hvrpc_client_free(c);
                return 1;
            }
            retries++;
            usleep(50 * 1000);
        }
        if ((n - first + 1) % 50 == 0)
            printf("published %ld\n", n - first + 1);
        if (interval > 0)
            usleep((useconds_t)interval * 1000);
    }
    printf("done %ld retries %lu\n", count, retries);
    hvrpc_client_free(c);
    return 0;
}
