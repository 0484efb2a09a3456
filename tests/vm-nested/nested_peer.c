/*
 * nested_peer.c - both ends of the nested-guest suite (tests/vm-nested):
 * the same program runs in L1 (the host, CID 2) and in L2 (the guest,
 * CID 3), over real virtio-vsock through vhost-vsock.
 *
 *   nested_peer serve URI [MAX_FRAME]
 *       echo + the streaming test service (hvrpc.test.v1.Streams) on URI;
 *       prints "READY URI" once listening, serves until SIGTERM, then
 *       stops and exits 0
 *   nested_peer echo TARGET PEER_CID WAIT_S
 *       the echo checks against TARGET: "host" (the generated guest-side
 *       helper hvrpc__echo__v1__echo_connect_host(), vsock://2:5000) or a
 *       URI. The server must report us as vsock:PEER_CID:PORT. Connecting
 *       is retried for WAIT_S seconds (the other VM may still be booting).
 *       Metadata, a deadline, an error status, a 4 MiB payload (both ends
 *       run with an 8 MiB max_frame) and 200 concurrent calls on one
 *       connection (asynchronous, up to 100 in flight: the server's
 *       per-connection limit is 128)
 *   nested_peer go URI
 *       our client against containerd's Go ttrpc server at URI
 *   nested_peer stream URI WAIT_S
 *       a server-streaming (Range) and a bidirectional (Echo) call
 *   nested_peer hold URI N
 *       N calls that the server answers only after 10 minutes, then
 *       "READY"; waits until killed (the fault case kills its VM)
 *   nested_peer fault URI QEMU_PID SERVER_PID LOCAL_URI
 *       (host) pending calls to the guest server at URI, then SIGKILL to
 *       the guest's qemu: every pending call must end UNAVAILABLE; the
 *       host's own server (SERVER_PID) must still be alive and answer at
 *       LOCAL_URI (vsock_loopback, CID 1: does not cross)
 *
 * Every client mode ends with "calls answered: N over vsock": calls that
 * crossed the host/guest boundary and came back with the server's answer.
 * The harness adds them up per direction.
 */
#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <hvrpc/hvrpc.h>

#include "check.h"
#include "echo_service.h"
#include "nested_util.h"
#include "svc_time.h"
#include "stream_service.h"

#define BIG_FRAME       (8u * 1024u * 1024u)
#define BIG_PAYLOAD     (4u * 1024u * 1024u)
#define N_CONCURRENT    200
#define CALL_TIMEOUT_MS 60000u
#define LONG_DELAY_MS   600000u
#define MAX_IN_FLIGHT   100

typedef Hvrpc__Echo__V1__EchoRequest echo_req;
typedef Hvrpc__Echo__V1__EchoResponse echo_resp;

static atomic_int answered;

static void report_calls(void)
{
    fprintf(stderr, "calls answered: %d over vsock\n", atomic_load(&answered));
}

static hvrpc_call_options call_opts(uint32_t timeout_ms,
                                    const hvrpc_metadata *md, size_t n_md)
{
    hvrpc_call_options o = HVRPC_CALL_OPTIONS_INIT;
    o.timeout_ms = timeout_ms;
    o.metadata = md;
    o.n_metadata = n_md;
    return o;
}

static const char *resp_meta(const echo_resp *r, const char *key)
{
    for (size_t i = 0; r && i < r->n_metadata; i++)
        if (r->metadata[i]->key && strcmp(r->metadata[i]->key, key) == 0)
            return r->metadata[i]->value;
    return NULL;
}

static bool payload_is(const echo_resp *r, const void *data, size_t len)
{
    return r && r->payload.len == len &&
           (len == 0 || memcmp(r->payload.data, data, len) == 0);
}

/* One blocking echo call through the generated stub. A call the server
 * answered (OK or its own status) is counted. */
static hvrpc_code echo_call(hvrpc_client *c, const echo_req *req,
                            const hvrpc_call_options *o, echo_resp **resp,
                            hvrpc_status *st)
{
    echo_resp *r = NULL;
    hvrpc_code code = hvrpc__echo__v1__echo__echo_call(c, req, &r, o, st);
    if (code == HVRPC_OK ||
        (req->fail_code != 0 && (int32_t)code == req->fail_code))
        atomic_fetch_add(&answered, 1);
    if (resp)
        *resp = r;
    else if (r)
        protobuf_c_message_free_unpacked(&r->base, NULL);
    return code;
}

/* "vsock:CID:PORT" with the expected CID and a port. */
static bool peer_has_cid(const char *peer, unsigned cid)
{
    char want[32];
    snprintf(want, sizeof want, "vsock:%u:", cid);
    size_t n = strlen(want);
    if (!peer || strncmp(peer, want, n) != 0 || peer[n] == '\0')
        return false;
    for (const char *p = peer + n; *p; p++)
        if (*p < '0' || *p > '9')
            return false;
    return true;
}

/* --- serve ------------------------------------------------------------ */

static int run_serve(const char *uri, uint32_t max_frame)
{
    hvrpc_server_options so;
    hvrpc_server *srv = NULL;
    hvrpc_endpoint *ep = NULL;
    hvrpc_status st;
    sigset_t stop;
    int sig;

    sigemptyset(&stop);
    sigaddset(&stop, SIGTERM);
    sigaddset(&stop, SIGINT);
    pthread_sigmask(SIG_BLOCK, &stop, NULL);

    hvrpc_server_options_init(&so);
    if (max_frame)
        so.max_frame = max_frame;
    if (hvrpc_server_create(&so, &srv, &st) != HVRPC_OK ||
        hvrpc_server_listen(srv, uri, &ep, &st) != HVRPC_OK ||
        hvrpc_echo_service_register(srv, ep, &st) != HVRPC_OK) {
        fprintf(stderr, "serve %s: %s\n", uri, st.message);
        hvrpc_server_free(srv);
        return 1;
    }
    if (stream_service_register(srv, ep) != 0 ||
        hvrpc_server_start(srv, &st) != HVRPC_OK) {
        fprintf(stderr, "serve %s: cannot start\n", uri);
        hvrpc_server_free(srv);
        return 1;
    }
    printf("READY %s\n", uri);
    fflush(stdout);
    sigwait(&stop, &sig);
    hvrpc_server_stop(srv);
    hvrpc_server_free(srv);
    return 0;
}

/* --- echo ------------------------------------------------------------- */

typedef struct batch {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    int done, ok, bad_code, bad_payload;
    hvrpc_code first_bad;
} batch;

typedef struct batch_call {
    batch *b;
    char payload[32];
    hvrpc_code want; /* OK, or UNAVAILABLE for the fault case */
} batch_call;

static void batch_done(const hvrpc_status *st, echo_resp *resp, void *arg)
{
    batch_call *bc = arg;
    batch *b = bc->b;
    pthread_mutex_lock(&b->mu);
    if (st->code != bc->want) {
        if (b->bad_code++ == 0) {
            b->first_bad = st->code;
            fprintf(stderr, "call %s: %s: %s\n", bc->payload,
                    hvrpc_code_name(st->code), st->message);
        }
    } else if (st->code == HVRPC_OK &&
               !payload_is(resp, bc->payload, strlen(bc->payload))) {
        b->bad_payload++;
    } else {
        b->ok++;
        if (st->code == HVRPC_OK)
            atomic_fetch_add(&answered, 1);
    }
    b->done++;
    pthread_cond_broadcast(&b->cv);
    pthread_mutex_unlock(&b->mu);
    if (resp)
        protobuf_c_message_free_unpacked(&resp->base, NULL);
}

/* Starts n async calls with delay_ms; returns how many started. */
static int batch_start(hvrpc_client *c, batch *b, batch_call *calls, int n,
                       uint32_t delay_ms, uint32_t (*delay_of)(int),
                       hvrpc_code want)
{
    pthread_mutex_init(&b->mu, NULL);
    pthread_cond_init(&b->cv, NULL);
    b->done = b->ok = b->bad_code = b->bad_payload = 0;
    int started = 0;
    for (int i = 0; i < n; i++) {
        echo_req req = HVRPC__ECHO__V1__ECHO_REQUEST__INIT;
        hvrpc_call_options o =
            call_opts(delay_ms >= LONG_DELAY_MS ? 0 : CALL_TIMEOUT_MS, NULL, 0);
        hvrpc_status st;
        calls[i].b = b;
        calls[i].want = want;
        snprintf(calls[i].payload, sizeof calls[i].payload, "call-%d", i);
        req.payload.data = (uint8_t *)calls[i].payload;
        req.payload.len = strlen(calls[i].payload);
        req.delay_ms = delay_of ? delay_of(i) : delay_ms;
        /* At most MAX_IN_FLIGHT at once: the server answers more than its
         * max_calls_per_connection (128) RESOURCE_EXHAUSTED. */
        pthread_mutex_lock(&b->mu);
        while (started - b->done >= MAX_IN_FLIGHT)
            pthread_cond_wait(&b->cv, &b->mu);
        pthread_mutex_unlock(&b->mu);
        if (hvrpc__echo__v1__echo__echo_call_async(
                c, &req, &o, batch_done, &calls[i], &st) != HVRPC_OK) {
            fprintf(stderr, "call %d: not started: %s\n", i, st.message);
            break;
        }
        started++;
    }
    return started;
}

/* Waits until n calls of b ended or timeout_ms passed; returns how many
 * ended. */
static int batch_wait(batch *b, int n, int timeout_ms)
{
    struct timespec until = hvrpc_svc_deadline(CLOCK_REALTIME, timeout_ms);
    pthread_mutex_lock(&b->mu);
    while (b->done < n) {
        if (pthread_cond_timedwait(&b->cv, &b->mu, &until) == ETIMEDOUT)
            break;
    }
    int done = b->done;
    pthread_mutex_unlock(&b->mu);
    return done;
}

static uint32_t spread_delay(int i)
{
    return (uint32_t)(i % 5) * 10u;
}

static int run_echo(const char *target, unsigned peer_cid, int wait_s)
{
    hvrpc_client *c =
        nested_connect(target, &hvrpc__echo__v1__echo_info, BIG_FRAME, wait_s);
    if (!c) {
        report_calls();
        return 1;
    }
    hvrpc_status st;
    echo_resp *r = NULL;
    int64_t t0;

    /* A call, and who the server says we are. */
    fprintf(stderr, "-- payload and peer\n");
    {
        echo_req req = HVRPC__ECHO__V1__ECHO_REQUEST__INIT;
        hvrpc_call_options o = call_opts(CALL_TIMEOUT_MS, NULL, 0);
        static const char hello[] = "hello across the boundary";
        req.payload.data = (uint8_t *)hello;
        req.payload.len = strlen(hello);
        CHECK_INT(echo_call(c, &req, &o, &r, &st), HVRPC_OK);
        CHECK(payload_is(r, hello, strlen(hello)));
        fprintf(stderr, "the server sees us as %s (want vsock:%u:PORT)\n",
                r ? r->peer : "(no answer)", peer_cid);
        CHECK(r && peer_has_cid(r->peer, peer_cid));
        if (r)
            protobuf_c_message_free_unpacked(&r->base, NULL);
    }

    fprintf(stderr, "-- metadata\n");
    {
        hvrpc_metadata md[] = {{"x-hvrpc-first", "one"},
                               {"x-hvrpc-second", "two"}};
        echo_req req = HVRPC__ECHO__V1__ECHO_REQUEST__INIT;
        hvrpc_call_options o = call_opts(CALL_TIMEOUT_MS, md, 2);
        CHECK_INT(echo_call(c, &req, &o, &r, &st), HVRPC_OK);
        CHECK_STR(resp_meta(r, "x-hvrpc-first"), "one");
        CHECK_STR(resp_meta(r, "x-hvrpc-second"), "two");
        if (r)
            protobuf_c_message_free_unpacked(&r->base, NULL);
    }

    fprintf(stderr, "-- deadline\n");
    {
        /* 500 ms against a handler that waits 5 s. */
        echo_req req = HVRPC__ECHO__V1__ECHO_REQUEST__INIT;
        hvrpc_call_options o = call_opts(500, NULL, 0);
        req.delay_ms = 5000;
        t0 = nested_now_ms();
        CHECK_INT(echo_call(c, &req, &o, NULL, &st), HVRPC_DEADLINE_EXCEEDED);
        int64_t took = nested_now_ms() - t0;
        fprintf(stderr, "deadline exceeded after %" PRId64 " ms\n", took);
        CHECK(took < 3000);
        /* A deadline the handler meets. */
        o = call_opts(20000, NULL, 0);
        req.delay_ms = 100;
        CHECK_INT(echo_call(c, &req, &o, NULL, &st), HVRPC_OK);
    }

    fprintf(stderr, "-- error status\n");
    {
        echo_req req = HVRPC__ECHO__V1__ECHO_REQUEST__INIT;
        hvrpc_call_options o = call_opts(CALL_TIMEOUT_MS, NULL, 0);
        req.fail_code = HVRPC_NOT_FOUND;
        req.fail_message = "no such widget";
        CHECK_INT(echo_call(c, &req, &o, NULL, &st), HVRPC_NOT_FOUND);
        CHECK_STR(st.message, "no such widget");
    }

    fprintf(stderr, "-- 4 MiB payload\n");
    {
        uint8_t *big = malloc(BIG_PAYLOAD);
        CHECK(big != NULL);
        if (big) {
            uint32_t x = 2463534242u;
            for (size_t i = 0; i < BIG_PAYLOAD; i++) {
                x ^= x << 13;
                x ^= x >> 17;
                x ^= x << 5;
                big[i] = (uint8_t)x;
            }
            echo_req req = HVRPC__ECHO__V1__ECHO_REQUEST__INIT;
            hvrpc_call_options o = call_opts(CALL_TIMEOUT_MS, NULL, 0);
            req.payload.data = big;
            req.payload.len = BIG_PAYLOAD;
            t0 = nested_now_ms();
            CHECK_INT(echo_call(c, &req, &o, &r, &st), HVRPC_OK);
            CHECK(payload_is(r, big, BIG_PAYLOAD));
            fprintf(stderr, "4 MiB there and back in %" PRId64 " ms\n",
                    nested_now_ms() - t0);
            if (r)
                protobuf_c_message_free_unpacked(&r->base, NULL);
            free(big);
        }
    }

    fprintf(stderr, "-- %d concurrent calls on one connection\n", N_CONCURRENT);
    {
        static batch_call calls[N_CONCURRENT];
        batch b;
        t0 = nested_now_ms();
        int started =
            batch_start(c, &b, calls, N_CONCURRENT, 0, spread_delay, HVRPC_OK);
        CHECK_INT(started, N_CONCURRENT);
        CHECK_INT(batch_wait(&b, started, 60000), started);
        CHECK_INT(b.ok, N_CONCURRENT);
        CHECK_INT(b.bad_code, 0);
        CHECK_INT(b.bad_payload, 0);
        fprintf(stderr, "%d of %d answered in %" PRId64 " ms\n", b.ok,
                N_CONCURRENT, nested_now_ms() - t0);
        /* Every call ended, so no callback is still running after this. */
        if (b.done == started) {
            pthread_mutex_destroy(&b.mu);
            pthread_cond_destroy(&b.cv);
        }
        hvrpc_client_free(c);
    }
    report_calls();
    return check_done();
}

/* --- our client, the Go server ----------------------------------------- */

static int run_go(const char *uri)
{
    hvrpc_client *c = nested_connect(uri, &hvrpc__echo__v1__echo_info, 0, 30);
    if (!c) {
        report_calls();
        return 1;
    }
    hvrpc_status st;
    echo_resp *r = NULL;

    fprintf(stderr, "-- payload, metadata, peer (Go server)\n");
    {
        hvrpc_metadata md[] = {{"x-hvrpc-side", "guest"}};
        echo_req req = HVRPC__ECHO__V1__ECHO_REQUEST__INIT;
        hvrpc_call_options o = call_opts(CALL_TIMEOUT_MS, md, 1);
        static const char hello[] = "hello, go";
        req.payload.data = (uint8_t *)hello;
        req.payload.len = strlen(hello);
        CHECK_INT(echo_call(c, &req, &o, &r, &st), HVRPC_OK);
        CHECK(payload_is(r, hello, strlen(hello)));
        CHECK_STR(resp_meta(r, "x-hvrpc-side"), "guest");
        CHECK_STR(r ? r->peer : NULL, "go-ttrpc");
        if (r)
            protobuf_c_message_free_unpacked(&r->base, NULL);
    }

    fprintf(stderr, "-- 1 MiB payload\n");
    {
        size_t n = 1u << 20;
        uint8_t *big = malloc(n);
        CHECK(big != NULL);
        if (big) {
            for (size_t i = 0; i < n; i++)
                big[i] = (uint8_t)(i * 7 + 3);
            echo_req req = HVRPC__ECHO__V1__ECHO_REQUEST__INIT;
            hvrpc_call_options o = call_opts(CALL_TIMEOUT_MS, NULL, 0);
            req.payload.data = big;
            req.payload.len = n;
            CHECK_INT(echo_call(c, &req, &o, &r, &st), HVRPC_OK);
            CHECK(payload_is(r, big, n));
            if (r)
                protobuf_c_message_free_unpacked(&r->base, NULL);
            free(big);
        }
    }

    fprintf(stderr, "-- error status and deadline (Go server)\n");
    {
        echo_req req = HVRPC__ECHO__V1__ECHO_REQUEST__INIT;
        hvrpc_call_options o = call_opts(CALL_TIMEOUT_MS, NULL, 0);
        req.fail_code = HVRPC_PERMISSION_DENIED;
        req.fail_message = "go says no";
        CHECK_INT(echo_call(c, &req, &o, NULL, &st), HVRPC_PERMISSION_DENIED);
        CHECK_STR(st.message, "go says no");

        echo_req slow = HVRPC__ECHO__V1__ECHO_REQUEST__INIT;
        o = call_opts(300, NULL, 0);
        slow.delay_ms = 3000;
        CHECK_INT(echo_call(c, &slow, &o, NULL, &st), HVRPC_DEADLINE_EXCEEDED);
    }

    fprintf(stderr, "-- 50 concurrent calls (Go server)\n");
    {
        static batch_call calls[50];
        batch b;
        int started = batch_start(c, &b, calls, 50, 0, spread_delay, HVRPC_OK);
        CHECK_INT(started, 50);
        CHECK_INT(batch_wait(&b, started, 60000), started);
        CHECK_INT(b.ok, 50);
    }
    hvrpc_client_free(c);
    report_calls();
    return check_done();
}

/* --- streams ------------------------------------------------------------ */

static int run_stream(const char *uri, int wait_s)
{
    hvrpc_client *c =
        nested_connect(uri, &hvrpc__echo__v1__echo_info, 0, wait_s);
    if (!c) {
        report_calls();
        return 1;
    }
    hvrpc_status st;
    hvrpc_stream *s = NULL;
    hvrpc_buf b;
    hvrpc_code r;

    fprintf(stderr, "-- server streaming: Range \"40 1000\"\n");
    static const char range[] = "40 1000";
    r = hvrpc_client_stream(c, STREAMS_SERVICE, "Range", HVRPC_SERVER_STREAMING,
                            range, strlen(range), NULL, &s, &st);
    CHECK_INT(r, HVRPC_OK);
    if (r == HVRPC_OK) {
        int n = 0, in_order = 1;
        while ((r = hvrpc_stream_recv(s, &b, 20000, &st)) == HVRPC_OK) {
            uint32_t idx = b.len >= 4 ? ((uint32_t)b.data[0] << 24 |
                                         (uint32_t)b.data[1] << 16 |
                                         (uint32_t)b.data[2] << 8 | b.data[3])
                                      : UINT32_MAX;
            if (b.len != 1000 || idx != (uint32_t)n)
                in_order = 0;
            n++;
            hvrpc_buf_free(&b);
        }
        CHECK_INT(r, HVRPC_END);
        CHECK_INT(n, 40);
        CHECK(in_order);
        CHECK(hvrpc_stream_flow_controlled(s));
        if (r == HVRPC_END && n == 40 && in_order)
            atomic_fetch_add(&answered, 1);
        fprintf(stderr, "%d messages, then the end\n", n);
        hvrpc_stream_free(s);
    }

    fprintf(stderr, "-- bidirectional: Echo, 30 messages\n");
    s = NULL;
    r = hvrpc_client_stream(c, STREAMS_SERVICE, "Echo", HVRPC_BIDI_STREAMING,
                            NULL, 0, NULL, &s, &st);
    CHECK_INT(r, HVRPC_OK);
    if (r == HVRPC_OK) {
        int ok = 1;
        for (int i = 0; i < 30 && ok; i++) {
            char out[32];
            int len = snprintf(out, sizeof out, "message %d", i);
            ok = hvrpc_stream_send(s, out, (size_t)len, 20000, &st) ==
                     HVRPC_OK &&
                 hvrpc_stream_recv(s, &b, 20000, &st) == HVRPC_OK;
            if (ok) {
                ok = b.len == (size_t)len && memcmp(b.data, out, b.len) == 0;
                hvrpc_buf_free(&b);
            }
            if (!ok)
                fprintf(stderr, "message %d: %s\n", i, st.message);
        }
        CHECK(ok);
        CHECK_INT(hvrpc_stream_close_send(s, &st), HVRPC_OK);
        r = hvrpc_stream_recv(s, &b, 20000, &st);
        CHECK_INT(r, HVRPC_END);
        if (ok && r == HVRPC_END)
            atomic_fetch_add(&answered, 1);
        hvrpc_stream_free(s);
    }
    hvrpc_client_free(c);
    report_calls();
    return check_done();
}

/* --- hold: calls left pending when the guest dies ------------------------ */

static int run_hold(const char *uri, int n)
{
    static batch_call calls[64];
    batch b;
    if (n < 1 || n > 64)
        n = 64;
    hvrpc_client *c = nested_connect(uri, &hvrpc__echo__v1__echo_info, 0, 30);
    if (!c)
        return 1;
    int started = batch_start(c, &b, calls, n, LONG_DELAY_MS, NULL, HVRPC_OK);
    printf("READY %d calls pending\n", started);
    fflush(stdout);
    for (;;)
        pause();
}

/* --- fault: the guest's qemu killed mid-call ----------------------------- */

static int run_fault(const char *uri, pid_t qemu, pid_t server,
                     const char *local_uri)
{
    enum { N_PENDING = 16 };
    static batch_call calls[N_PENDING];
    batch b;
    hvrpc_status st;

    hvrpc_client *c = nested_connect(uri, &hvrpc__echo__v1__echo_info, 0, 30);
    if (!c) {
        report_calls();
        return 1;
    }
    /* One answered call first: the connection reaches the guest's server. */
    {
        echo_req req = HVRPC__ECHO__V1__ECHO_REQUEST__INIT;
        hvrpc_call_options o = call_opts(CALL_TIMEOUT_MS, NULL, 0);
        CHECK_INT(echo_call(c, &req, &o, NULL, &st), HVRPC_OK);
    }
    int started = batch_start(c, &b, calls, N_PENDING, LONG_DELAY_MS, NULL,
                              HVRPC_UNAVAILABLE);
    CHECK_INT(started, N_PENDING);
    /* Let the requests cross; none can be answered for 10 minutes. */
    sleep(2);
    CHECK_INT(batch_wait(&b, started, 0), 0);

    fprintf(stderr,
            "-- SIGKILL to the guest's qemu (pid %d) with %d calls "
            "pending\n",
            (int)qemu, started);
    int64_t t0 = nested_now_ms();
    CHECK_INT(kill(qemu, SIGKILL), 0);
    int ended = batch_wait(&b, started, 30000);
    int64_t took = nested_now_ms() - t0;
    CHECK_INT(ended, started);
    CHECK_INT(b.ok, started); /* each ended UNAVAILABLE */
    fprintf(stderr,
            "%d of %d pending calls ended UNAVAILABLE, %" PRId64
            " ms after the kill\n",
            b.ok, started, took);
    /* The dead connection fails new calls at once, too. */
    {
        echo_req req = HVRPC__ECHO__V1__ECHO_REQUEST__INIT;
        hvrpc_call_options o = call_opts(5000, NULL, 0);
        echo_resp *r = NULL;
        CHECK_INT(hvrpc__echo__v1__echo__echo_call(c, &req, &r, &o, &st),
                  HVRPC_UNAVAILABLE);
        CHECK(r == NULL);
    }
    if (ended == started)
        hvrpc_client_free(c);

    /* The host's server lost its guest clients and keeps serving. */
    fprintf(stderr, "-- the host server (pid %d) keeps serving\n", (int)server);
    CHECK_INT(kill(server, 0), 0);
    hvrpc_client *local =
        nested_connect(local_uri, &hvrpc__echo__v1__echo_info, 0, 10);
    CHECK(local != NULL);
    if (local) {
        echo_req req = HVRPC__ECHO__V1__ECHO_REQUEST__INIT;
        hvrpc_call_options o = call_opts(CALL_TIMEOUT_MS, NULL, 0);
        echo_resp *r = NULL;
        /* Not counted: CID 1 does not cross the boundary. */
        CHECK_INT(hvrpc__echo__v1__echo__echo_call(local, &req, &r, &o, &st),
                  HVRPC_OK);
        fprintf(stderr, "host server answered %s\n", r ? r->peer : st.message);
        CHECK(r && peer_has_cid(r->peer, 1));
        if (r)
            protobuf_c_message_free_unpacked(&r->base, NULL);
        hvrpc_client_free(local);
    }
    report_calls();
    return check_done();
}

static int usage(void)
{
    fprintf(stderr,
            "usage: nested_peer serve URI [MAX_FRAME]\n"
            "       nested_peer echo host|URI PEER_CID WAIT_S\n"
            "       nested_peer go URI\n"
            "       nested_peer stream URI WAIT_S\n"
            "       nested_peer hold URI N\n"
            "       nested_peer fault URI QEMU_PID SERVER_PID LOCAL_URI\n");
    return 2;
}

int main(int argc, char **argv)
{
    setvbuf(stderr, NULL, _IOLBF, 0);
    if (argc < 3)
        return usage();
    const char *mode = argv[1];
    if (strcmp(mode, "serve") == 0 && argc <= 4)
        return run_serve(argv[2],
                         argc == 4 ? (uint32_t)strtoul(argv[3], NULL, 0) : 0);
    if (strcmp(mode, "echo") == 0 && argc == 5)
        return run_echo(argv[2], (unsigned)atoi(argv[3]), atoi(argv[4]));
    if (strcmp(mode, "go") == 0 && argc == 3)
        return run_go(argv[2]);
    if (strcmp(mode, "stream") == 0 && argc == 4)
        return run_stream(argv[2], atoi(argv[3]));
    if (strcmp(mode, "hold") == 0 && argc == 4)
        return run_hold(argv[2], atoi(argv[3]));
    if (strcmp(mode, "fault") == 0 && argc == 6)
        return run_fault(argv[2], (pid_t)atoi(argv[3]), (pid_t)atoi(argv[4]),
                         argv[5]);
    return usage();
}
