/*
 * tests/integration/test_failure.c - the server goes away with calls in
 * flight.
 *
 * - killed (SIGKILL): every pending call, asynchronous or blocking, fails
 *   with UNAVAILABLE at once, not when its 5 s delay would have ended; a
 *   new call on the dead client fails UNAVAILABLE too.
 * - stopped (SIGTERM -> hvrpc_server_stop + hvrpc_server_free): the same
 *   for the client, and the server process exits 0.
 *
 * Usage: test_failure unix|tcp|vsock
 */
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>

#include "check.h"
#include "integ_util.h"
#include "server_proc.h"

#define PENDING_DELAY_MS 5000u
#define PROMPT_MS        1500 /* "at once": well under the delay */

enum { N_ASYNC = 4, N_BLOCKING = 2 };

static const char *transport;

typedef struct async_call {
    integ_waiter *done;
    int completions;
    hvrpc_code code;
    int64_t t_done;
} async_call;

static void async_done(const hvrpc_status *st, const uint8_t *resp, size_t len,
                       void *arg)
{
    async_call *a = arg;
    a->code = st->code;
    a->completions++;
    a->t_done = integ_now_ms();
    integ_waiter_add(a->done, 1);
}

typedef struct blocking_call {
    hvrpc_client *c;
    integ_waiter *entered;
    integ_waiter *done;
    hvrpc_code code;
    int64_t t_done;
    pthread_t th;
} blocking_call;

static void *blocking_thread(void *arg)
{
    blocking_call *b = arg;
    echo_req req = ECHO_REQ_INIT;
    req.payload.data = (uint8_t *)"blocked";
    req.payload.len = 7;
    req.delay_ms = PENDING_DELAY_MS;
    integ_waiter_add(b->entered, 1);
    hvrpc_status st;
    b->code = integ_echo(b->c, &req, NULL, NULL, &st);
    b->t_done = integ_now_ms();
    integ_waiter_add(b->done, 1);
    return NULL;
}

static hvrpc_code start_async(hvrpc_client *c, uint32_t delay_ms, async_call *a)
{
    echo_req req = ECHO_REQ_INIT;
    req.payload.data = (uint8_t *)"pending";
    req.payload.len = 7;
    req.delay_ms = delay_ms;
    size_t len = 0;
    uint8_t *bytes = echo_req_pack(&req, &len);
    if (!bytes)
        return HVRPC_INTERNAL;
    hvrpc_status st;
    hvrpc_code code = hvrpc_client_call_async(
        c, ECHO_SERVICE, ECHO_METHOD, bytes, len, NULL, async_done, a, &st);
    free(bytes);
    return code;
}

/* Calls in flight, then sig to the server; what the client sees. */
static void test_server_goes(int sig)
{
    fprintf(stderr, "-- server %s with calls in flight (%s)\n",
            sig == SIGKILL ? "killed" : "stopped", transport);
    server_proc sp;
    server_proc_options so = {.transport = transport, .workers = 2};
    char err[512];
    int started = server_proc_start(&sp, &so, err, sizeof err) == 0;
    if (!started)
        fprintf(stderr, "%s\n", err);
    CHECK(started);
    if (!started)
        return;
    hvrpc_client *c = integ_connect(sp.uri, 0);
    CHECK(c != NULL);
    if (!c) {
        server_proc_cleanup(&sp);
        return;
    }

    integ_waiter done, entered;
    integ_waiter_init(&done);
    integ_waiter_init(&entered);
    async_call async[N_ASYNC];
    memset(async, 0, sizeof async);
    int n_async = 0;
    for (int i = 0; i < N_ASYNC; i++) {
        async[i].done = &done;
        async[i].code = HVRPC_OK;
        hvrpc_code code = start_async(c, PENDING_DELAY_MS, &async[i]);
        CHECK_INT(code, HVRPC_OK);
        if (code == HVRPC_OK)
            n_async++;
    }
    blocking_call blocking[N_BLOCKING];
    memset(blocking, 0, sizeof blocking);
    int n_blocking = 0;
    for (int i = 0; i < N_BLOCKING; i++) {
        blocking[i].c = c;
        blocking[i].entered = &entered;
        blocking[i].done = &done;
        if (pthread_create(&blocking[i].th, NULL, blocking_thread,
                           &blocking[i]) != 0)
            break;
        n_blocking++;
    }
    CHECK_INT(n_blocking, N_BLOCKING);
    CHECK_INT(integ_waiter_wait(&entered, n_blocking, 5000), n_blocking);
    /* A round trip behind them: the server is up and has the calls. */
    echo_req ping = ECHO_REQ_INIT;
    ping.payload.data = (uint8_t *)"ping";
    ping.payload.len = 4;
    CHECK_INT(integ_echo(c, &ping, NULL, NULL, NULL), HVRPC_OK);
    CHECK_INT(integ_waiter_count(&done), 0); /* nothing ended yet */

    int64_t t_sig = integ_now_ms();
    CHECK_INT(server_proc_signal(&sp, sig), 0);
    int ws = 0;
    int exited = server_proc_wait(&sp, 10000, &ws) == 0;
    CHECK(exited);
    if (exited && sig == SIGKILL) {
        CHECK(WIFSIGNALED(ws));
        CHECK_INT(WIFSIGNALED(ws) ? WTERMSIG(ws) : -1, SIGKILL);
    } else if (exited) {
        /* hvrpc_server_stop + hvrpc_server_free, then exit(0): a clean
         * stop (and under the sanitizers, no leak in the server). */
        if (!WIFEXITED(ws))
            fprintf(stderr, "server died of signal %d\n",
                    WIFSIGNALED(ws) ? WTERMSIG(ws) : -1);
        CHECK(WIFEXITED(ws));
        CHECK_INT(WIFEXITED(ws) ? WEXITSTATUS(ws) : -1, 0);
        int64_t took = integ_now_ms() - t_sig;
        if (took >= 3000)
            fprintf(stderr, "the server took %lld ms to stop\n",
                    (long long)took);
        CHECK(took < 3000); /* stop did not wait for the 5 s delays */
    }

    int total = n_async + n_blocking;
    CHECK_INT(integ_waiter_wait(&done, total, 4000), total);
    for (int i = 0; i < n_blocking; i++)
        pthread_join(blocking[i].th, NULL);
    for (int i = 0; i < n_async; i++) {
        CHECK_INT(async[i].completions, 1);
        CHECK_INT(async[i].code, HVRPC_UNAVAILABLE);
        int64_t after = async[i].t_done - t_sig;
        if (async[i].completions && after >= PROMPT_MS)
            fprintf(stderr, "async call %d ended %lld ms after the signal\n", i,
                    (long long)after);
        CHECK(async[i].completions && after < PROMPT_MS);
    }
    for (int i = 0; i < n_blocking; i++) {
        CHECK_INT(blocking[i].code, HVRPC_UNAVAILABLE);
        int64_t after = blocking[i].t_done - t_sig;
        if (after >= PROMPT_MS)
            fprintf(stderr, "blocking call %d ended %lld ms after the signal\n",
                    i, (long long)after);
        CHECK(after < PROMPT_MS);
    }

    /* The dead client: a new blocking call fails UNAVAILABLE at once. */
    int64_t t0 = integ_now_ms();
    hvrpc_status st;
    CHECK_INT(integ_echo(c, &ping, NULL, NULL, &st), HVRPC_UNAVAILABLE);
    CHECK_INT(st.code, HVRPC_UNAVAILABLE);
    CHECK(integ_now_ms() - t0 < PROMPT_MS);
    /* A new asynchronous call: refused with UNAVAILABLE (no callback), or
     * accepted and completed once with UNAVAILABLE. */
    integ_waiter late_done;
    integ_waiter_init(&late_done);
    async_call late = {.done = &late_done, .code = HVRPC_OK};
    hvrpc_code code = start_async(c, 0, &late);
    if (code == HVRPC_OK) {
        CHECK_INT(integ_waiter_wait(&late_done, 1, PROMPT_MS), 1);
        CHECK_INT(late.code, HVRPC_UNAVAILABLE);
    } else {
        CHECK_INT(code, HVRPC_UNAVAILABLE);
    }

    hvrpc_client_free(c);
    /* After the free: no call completed twice, none late. */
    CHECK_INT(integ_waiter_count(&done), total);
    for (int i = 0; i < n_async; i++)
        CHECK_INT(async[i].completions, 1);
    CHECK_INT(late.completions, code == HVRPC_OK ? 1 : 0);
    integ_waiter_destroy(&late_done);
    integ_waiter_destroy(&entered);
    integ_waiter_destroy(&done);
    server_proc_cleanup(&sp);
}

int main(int argc, char **argv)
{
    transport = integ_transport(argc, argv);
    if (!transport)
        return 2;
    test_server_goes(SIGKILL);
    test_server_goes(SIGTERM);
    integ_report_calls(transport);
    return check_done();
}
