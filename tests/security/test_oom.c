/*
 * test_oom.c - running out of memory at each allocation of a call, on
 * either side, ends in a status or a clean close: never a crash, a hang or
 * a leak. The runtime's allocator (hvrpc/alloc.h) fails the k-th
 * allocation for k = 1, 2, ... until a call needs no more than k.
 */
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>

#include "check.h"
#include "count_alloc.h"
#include "raw_peer.h"

static atomic_long countdown; /* fail when it reaches 0; <0: never */
static atomic_long failed;

static bool countdown_fail(void)
{
    if (atomic_fetch_sub(&countdown, 1) != 1)
        return false;
    atomic_fetch_add(&failed, 1);
    return true;
}

/* One call with allocation k failing, on a fresh server and client. */
static int one_run(long k, hvrpc_code *code)
{
    test_server ts;
    atomic_store(&countdown, -1);
    if (test_server_start(&ts, NULL, NULL) != 0)
        return -1;
    hvrpc_client *c;
    hvrpc_status st;
    if (hvrpc_client_connect(ts.uri, NULL, &c, &st) != HVRPC_OK) {
        test_server_stop(&ts);
        return -1;
    }
    atomic_store(&failed, 0);
    atomic_store(&countdown, k);
    static const uint8_t req[] = {0x0a, 0x02, 'h', 'i'}; /* payload "hi" */
    hvrpc_call_options o = HVRPC_CALL_OPTIONS_INIT;
    o.timeout_ms = 3000;
    hvrpc_buf resp = {0};
    int64_t t0 = now_ms();
    *code = hvrpc_client_call(c, "hvrpc.echo.v1.Echo", "Echo", req, sizeof req,
                              &o, &resp, &st);
    int64_t took = now_ms() - t0;
    atomic_store(&countdown, -1);
    if (*code != HVRPC_OK && *code != HVRPC_RESOURCE_EXHAUSTED &&
        *code != HVRPC_UNAVAILABLE && *code != HVRPC_INTERNAL) {
        fprintf(stderr, "allocation %ld failing: %s: %s\n", k,
                hvrpc_code_name(*code), st.message);
        CHECK(0);
    }
    /* No hang: a failure is answered or the connection closed at once,
     * not left to the deadline. */
    if (took > 2000) {
        fprintf(stderr, "allocation %ld failing: %lld ms\n", k,
                (long long)took);
        CHECK(0);
    }
    hvrpc_buf_free(&resp);
    hvrpc_client_free(c);
    test_server_stop(&ts);
    return (int)atomic_load(&failed);
}

int main(void)
{
    hvrpc_allocator a = count_allocator();
    count_alloc_fail = countdown_fail;
    hvrpc_status st;
    CHECK_INT(hvrpc_replace_allocator(&a, &st), HVRPC_OK);
    atomic_store(&countdown, -1);
    long k;
    int statuses[HVRPC_CODE_MAX + 1] = {0};
    for (k = 1; k < 200; k++) {
        hvrpc_code code;
        int f = one_run(k, &code);
        CHECK(f >= 0);
        if (f < 0)
            break;
        statuses[code]++;
        /* Everything allocated was freed, failure or not. */
        if (atomic_load(&count_alloc_blocks) != 0) {
            fprintf(stderr, "allocation %ld failing: %ld leaked\n", k,
                    atomic_load(&count_alloc_blocks));
            CHECK(0);
            atomic_store(&count_alloc_blocks, 0);
        }
        if (f == 0 && code == HVRPC_OK)
            break; /* the call needed fewer than k allocations */
    }
    fprintf(stderr,
            "%ld allocation points tried: OK %d, "
            "RESOURCE_EXHAUSTED %d, UNAVAILABLE %d, INTERNAL %d\n",
            k, statuses[HVRPC_OK], statuses[HVRPC_RESOURCE_EXHAUSTED],
            statuses[HVRPC_UNAVAILABLE], statuses[HVRPC_INTERNAL]);
    CHECK(k > 5 && k < 200);
    CHECK_INT(hvrpc_replace_allocator(NULL, &st), HVRPC_OK);
    return check_done();
}
