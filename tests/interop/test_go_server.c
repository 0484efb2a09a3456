/*
 * test_go_server.c - our client calls containerd's Go ttrpc server.
 *
 * Starts `ttrpc-peer serve SOCKPATH` (a Go ttrpc server with
 * hvrpc.echo.v1.Echo, tests/interop/go/ttrpc-peer) as a child process,
 * waits for its READY line, and checks hvrpc_client_call /
 * hvrpc_client_call_async against it. The Go server serves delay_ms in
 * full even past the caller's deadline, so its late answers also check
 * that our client drops a response for a call it has already ended.
 *
 * With `vsock` the Go server listens on vsock://any:GO_VSOCK_PORT and our
 * client connects to CID 1: run that way in the QEMU guest of tests/vm
 * (vsock_loopback). The program ends with "calls answered: N over T", the
 * calls that came back OK (the VM suite adds these up).
 *
 * usage: test_go_server PATH/TO/ttrpc-peer [unix|vsock]
 */
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <hvrpc/hvrpc.h>

#include "check.h"
#include "hvrpc/echo/v1/echo.pb-c.h"
#include "peer_proc.h"

#define ECHO_SERVICE "hvrpc.echo.v1.Echo"
#define ECHO_METHOD  "Echo"

/* Every call that is not about deadlines gets this one, so a server that
 * never answers fails the test instead of hanging it. */
#define CALL_TIMEOUT_MS 10000
#define N_ASYNC         50
/* The Go server's vsock port in the guest (a fixed one: the guest is
 * ours alone). */
#define GO_VSOCK_PORT 27611u

/* Calls that came back OK. */
static atomic_int answered;

static hvrpc_call_options call_opts(uint32_t timeout_ms,
                                    const hvrpc_metadata *md, size_t n_md)
{
    hvrpc_call_options o = HVRPC_CALL_OPTIONS_INIT;

    o.timeout_ms = timeout_ms;
    o.metadata = md;
    o.n_metadata = n_md;
    return o;
}

/* Packs req into a fresh buffer (never NULL, even for an empty message). */
static uint8_t *pack_request(const Hvrpc__Echo__V1__EchoRequest *req,
                             size_t *len)
{
    size_t n = hvrpc__echo__v1__echo_request__get_packed_size(req);
    uint8_t *buf = malloc(n ? n : 1);

    if (!buf) {
        fprintf(stderr, "out of memory\n");
        abort();
    }
    *len = hvrpc__echo__v1__echo_request__pack(req, buf);
    return buf;
}

/* Calls service/method with req. On OK, *out receives the decoded
 * response (free with hvrpc__echo__v1__echo_response__free_unpacked);
 * otherwise *out is NULL. Returns the call's code. */
static hvrpc_code call_echo(hvrpc_client *c, const char *service,
                            const char *method,
                            const Hvrpc__Echo__V1__EchoRequest *req,
                            const hvrpc_call_options *opts,
                            Hvrpc__Echo__V1__EchoResponse **out,
                            hvrpc_status *st)
{
    hvrpc_buf resp = {NULL, 0};
    size_t len;
    uint8_t *buf = pack_request(req, &len);
    hvrpc_code code;

    *out = NULL;
    hvrpc_status_clear(st);
    code = hvrpc_client_call(c, service, method, buf, len, opts, &resp, st);
    free(buf);
    CHECK_INT(st->code, code);
    if (code == HVRPC_OK) {
        atomic_fetch_add(&answered, 1);
        *out =
            hvrpc__echo__v1__echo_response__unpack(NULL, resp.len, resp.data);
        CHECK(*out != NULL);
        if (!*out)
            code = HVRPC_INTERNAL;
    }
    hvrpc_buf_free(&resp);
    return code;
}

static const char *metadata_get(const Hvrpc__Echo__V1__EchoResponse *r,
                                const char *key)
{
    for (size_t i = 0; i < r->n_metadata; i++)
        if (r->metadata[i] && r->metadata[i]->key &&
            strcmp(r->metadata[i]->key, key) == 0)
            return r->metadata[i]->value;
    return NULL;
}

/* --- the checks ------------------------------------------------------- */

static void check_payload(hvrpc_client *c, const uint8_t *data, size_t len)
{
    Hvrpc__Echo__V1__EchoRequest req = HVRPC__ECHO__V1__ECHO_REQUEST__INIT;
    Hvrpc__Echo__V1__EchoResponse *resp;
    hvrpc_call_options o = call_opts(CALL_TIMEOUT_MS, NULL, 0);
    hvrpc_status st;

    req.payload.data = (uint8_t *)data;
    req.payload.len = len;
    CHECK_INT(call_echo(c, ECHO_SERVICE, ECHO_METHOD, &req, &o, &resp, &st),
              HVRPC_OK);
    if (!resp) {
        fprintf(stderr, "payload of %zu bytes: %s: %s\n", len,
                hvrpc_code_name(st.code), st.message);
        return;
    }
    CHECK_INT(resp->payload.len, len);
    CHECK(resp->payload.len == len &&
          (len == 0 || memcmp(resp->payload.data, data, len) == 0));
    CHECK_STR(resp->peer, "go-ttrpc");
    hvrpc__echo__v1__echo_response__free_unpacked(resp, NULL);
}

static void test_payloads(hvrpc_client *c)
{
    static const char hello[] = "hello from hvrpc";
    size_t big_len = 1u << 20;
    uint8_t *big = malloc(big_len);

    check_payload(c, (const uint8_t *)hello, sizeof hello - 1);
    check_payload(c, NULL, 0);
    CHECK(big != NULL);
    if (big) {
        uint32_t x = 12345;

        for (size_t i = 0; i < big_len; i++) {
            x = x * 1103515245u + 12345u;
            big[i] = (uint8_t)(x >> 16);
        }
        check_payload(c, big, big_len);
        free(big);
    }
}

/* The same call through hvrpc_client_call_message. */
static void test_call_message(hvrpc_client *c)
{
    Hvrpc__Echo__V1__EchoRequest req = HVRPC__ECHO__V1__ECHO_REQUEST__INIT;
    hvrpc_call_options o = call_opts(CALL_TIMEOUT_MS, NULL, 0);
    hvrpc_buf resp = {NULL, 0};
    hvrpc_status st;
    Hvrpc__Echo__V1__EchoResponse *r;

    req.payload.data = (uint8_t *)"packed by the client";
    req.payload.len = strlen("packed by the client");
    CHECK_INT(hvrpc_client_call_message(c, ECHO_SERVICE, ECHO_METHOD, &req.base,
                                        &o, &resp, &st),
              HVRPC_OK);
    r = hvrpc__echo__v1__echo_response__unpack(NULL, resp.len, resp.data);
    CHECK(r != NULL);
    if (r) {
        CHECK(r->payload.len == req.payload.len &&
              memcmp(r->payload.data, req.payload.data, req.payload.len) == 0);
        hvrpc__echo__v1__echo_response__free_unpacked(r, NULL);
    }
    hvrpc_buf_free(&resp);
}

static void test_metadata(hvrpc_client *c)
{
    static const hvrpc_metadata md[] = {
        {"x-hvrpc-first", "one"},
        {"x-hvrpc-second", "two"},
        {"x-hvrpc-dup", "first"},
        {"x-hvrpc-dup", "second"},
    };
    Hvrpc__Echo__V1__EchoRequest req = HVRPC__ECHO__V1__ECHO_REQUEST__INIT;
    Hvrpc__Echo__V1__EchoResponse *resp;
    hvrpc_call_options o =
        call_opts(CALL_TIMEOUT_MS, md, sizeof md / sizeof md[0]);
    hvrpc_status st;

    CHECK_INT(call_echo(c, ECHO_SERVICE, ECHO_METHOD, &req, &o, &resp, &st),
              HVRPC_OK);
    if (!resp)
        return;
    CHECK_INT(resp->n_metadata, 3);
    CHECK_STR(metadata_get(resp, "x-hvrpc-first"), "one");
    CHECK_STR(metadata_get(resp, "x-hvrpc-second"), "two");
    /* Sent in order: the Go server keeps the first of a repeated key. */
    CHECK_STR(metadata_get(resp, "x-hvrpc-dup"), "first");
    hvrpc__echo__v1__echo_response__free_unpacked(resp, NULL);
}

static void test_response_size(hvrpc_client *c)
{
    Hvrpc__Echo__V1__EchoRequest req = HVRPC__ECHO__V1__ECHO_REQUEST__INIT;
    Hvrpc__Echo__V1__EchoResponse *resp;
    hvrpc_call_options o = call_opts(CALL_TIMEOUT_MS, NULL, 0);
    hvrpc_status st;

    req.payload.data = (uint8_t *)"ignored";
    req.payload.len = 7;
    req.response_size = 100000;
    CHECK_INT(call_echo(c, ECHO_SERVICE, ECHO_METHOD, &req, &o, &resp, &st),
              HVRPC_OK);
    if (!resp)
        return;
    CHECK_INT(resp->payload.len, 100000);
    hvrpc__echo__v1__echo_response__free_unpacked(resp, NULL);
}

static void expect_fail(hvrpc_client *c, const char *service,
                        const char *method, int32_t fail_code,
                        const char *fail_message, hvrpc_code want,
                        hvrpc_status *st)
{
    Hvrpc__Echo__V1__EchoRequest req = HVRPC__ECHO__V1__ECHO_REQUEST__INIT;
    Hvrpc__Echo__V1__EchoResponse *resp;
    hvrpc_call_options o = call_opts(CALL_TIMEOUT_MS, NULL, 0);

    req.fail_code = fail_code;
    if (fail_message)
        req.fail_message = (char *)fail_message;
    CHECK_INT(call_echo(c, service, method, &req, &o, &resp, st), want);
    if (resp)
        hvrpc__echo__v1__echo_response__free_unpacked(resp, NULL);
}

static void test_errors(hvrpc_client *c)
{
    hvrpc_status st;
    char long_msg[1000];

    expect_fail(c, ECHO_SERVICE, ECHO_METHOD, 5, "no such widget",
                HVRPC_NOT_FOUND, &st);
    CHECK_STR(st.message, "no such widget");

    expect_fail(c, ECHO_SERVICE, ECHO_METHOD, 16, "who are you",
                HVRPC_UNAUTHENTICATED, &st);
    CHECK_STR(st.message, "who are you");

    /* A code outside gRPC's range from the wire becomes UNKNOWN. */
    expect_fail(c, ECHO_SERVICE, ECHO_METHOD, 99, "odd code", HVRPC_UNKNOWN,
                &st);

    /* A message longer than hvrpc_status holds is truncated, not refused. */
    memset(long_msg, 'm', sizeof long_msg - 1);
    long_msg[sizeof long_msg - 1] = '\0';
    expect_fail(c, ECHO_SERVICE, ECHO_METHOD, 7, long_msg,
                HVRPC_PERMISSION_DENIED, &st);
    CHECK_INT(strlen(st.message), HVRPC_STATUS_MESSAGE_MAX - 1);
    CHECK(strncmp(st.message, long_msg, strlen(st.message)) == 0);

    /* Go ttrpc: "method NoSuchMethod", "service hvrpc.nosuch.v1.Nothing". */
    expect_fail(c, ECHO_SERVICE, "NoSuchMethod", 0, NULL, HVRPC_UNIMPLEMENTED,
                &st);
    CHECK_CONTAINS(st.message, "NoSuchMethod");
    expect_fail(c, "hvrpc.nosuch.v1.Nothing", ECHO_METHOD, 0, NULL,
                HVRPC_UNIMPLEMENTED, &st);
    CHECK_CONTAINS(st.message, "hvrpc.nosuch.v1.Nothing");
}

/* The call's timeout reaches the Go server as timeout_nano in the right
 * units: the peer reports the milliseconds left (a test-only extension of
 * ttrpc-peer, asked for with metadata x-hvrpc-report-deadline). */
static void test_deadline_sent(hvrpc_client *c)
{
    static const hvrpc_metadata md[] = {{"x-hvrpc-report-deadline", "1"}};
    Hvrpc__Echo__V1__EchoRequest req = HVRPC__ECHO__V1__ECHO_REQUEST__INIT;
    Hvrpc__Echo__V1__EchoResponse *resp;
    hvrpc_call_options o = call_opts(5000, md, 1);
    hvrpc_status st;

    CHECK_INT(call_echo(c, ECHO_SERVICE, ECHO_METHOD, &req, &o, &resp, &st),
              HVRPC_OK);
    if (resp) {
        const char *left = metadata_get(resp, "x-hvrpc-deadline-ms");
        long ms = left ? strtol(left, NULL, 10) : -1;

        CHECK(left != NULL);
        CHECK(ms > 3000 && ms <= 5000);
        if (!(ms > 3000 && ms <= 5000))
            fprintf(stderr, "timeout_ms 5000 arrived as %s ms\n",
                    left ? left : "(nothing)");
        hvrpc__echo__v1__echo_response__free_unpacked(resp, NULL);
    }

    o.timeout_ms = 0; /* no deadline: timeout_nano 0 */
    CHECK_INT(call_echo(c, ECHO_SERVICE, ECHO_METHOD, &req, &o, &resp, &st),
              HVRPC_OK);
    if (resp) {
        CHECK_STR(metadata_get(resp, "x-hvrpc-deadline-ms"), "none");
        hvrpc__echo__v1__echo_response__free_unpacked(resp, NULL);
    }
}

/* Frame size limits: 4 MiB of frame data by default on both sides. Go
 * ttrpc 1.1 checks the size of what it receives, not of what it sends. */
static void test_frame_limits(hvrpc_client *c, const char *uri)
{
    const size_t max = HVRPC_DEFAULT_MAX_FRAME;
    Hvrpc__Echo__V1__EchoRequest req = HVRPC__ECHO__V1__ECHO_REQUEST__INIT;
    Hvrpc__Echo__V1__EchoResponse *resp;
    hvrpc_call_options o = call_opts(CALL_TIMEOUT_MS, NULL, 0);
    hvrpc_client_options big_opts;
    hvrpc_client *big = NULL;
    hvrpc_status st;
    uint8_t *data = calloc(1, max + 1);

    CHECK(data != NULL);
    if (!data)
        return;
    for (size_t i = 0; i < max + 1; i++)
        data[i] = (uint8_t)(i * 7 + (i >> 12));

    /* Just under the limit, both ways. */
    check_payload(c, data, max - 256);

    /* Over it: refused before sending. */
    req.payload.data = data;
    req.payload.len = max + 1;
    CHECK_INT(call_echo(c, ECHO_SERVICE, ECHO_METHOD, &req, &o, &resp, &st),
              HVRPC_RESOURCE_EXHAUSTED);
    if (resp)
        hvrpc__echo__v1__echo_response__free_unpacked(resp, NULL);

    /* The Go server sends a response frame over our limit: that call
     * fails, the connection stays. */
    req.payload.data = NULL;
    req.payload.len = 0;
    req.response_size = (uint32_t)max + 1;
    CHECK_INT(call_echo(c, ECHO_SERVICE, ECHO_METHOD, &req, &o, &resp, &st),
              HVRPC_RESOURCE_EXHAUSTED);
    if (resp)
        hvrpc__echo__v1__echo_response__free_unpacked(resp, NULL);
    check_payload(c, (const uint8_t *)"after an oversized response", 28);

    /* A client allowed 8 MiB sends a request frame over Go's 4 MiB: the Go
     * server discards it and answers RESOURCE_EXHAUSTED on that stream. */
    hvrpc_client_options_init(&big_opts);
    big_opts.max_frame = 8u * 1024u * 1024u;
    CHECK_INT(hvrpc_client_connect(uri, &big_opts, &big, &st), HVRPC_OK);
    if (big) {
        req.response_size = 0;
        req.payload.data = data;
        req.payload.len = max + 1;
        CHECK_INT(
            call_echo(big, ECHO_SERVICE, ECHO_METHOD, &req, &o, &resp, &st),
            HVRPC_RESOURCE_EXHAUSTED);
        CHECK_CONTAINS(st.message, "exceed maximum message size");
        if (resp)
            hvrpc__echo__v1__echo_response__free_unpacked(resp, NULL);
        check_payload(big, (const uint8_t *)"after an oversized request", 26);
        hvrpc_client_free(big);
    }
    free(data);
}

/* A 2 s handler and a 200 ms deadline: our client gives up on time. The
 * Go server still answers at 2 s; the caller checks later that the late
 * answer did no harm. */
static void test_deadline(hvrpc_client *c)
{
    Hvrpc__Echo__V1__EchoRequest req = HVRPC__ECHO__V1__ECHO_REQUEST__INIT;
    Hvrpc__Echo__V1__EchoResponse *resp;
    hvrpc_call_options o = call_opts(200, NULL, 0);
    hvrpc_status st;
    long long t0, took;

    req.payload.data = (uint8_t *)"slow";
    req.payload.len = 4;
    req.delay_ms = 2000;
    t0 = peer_now_ms();
    CHECK_INT(call_echo(c, ECHO_SERVICE, ECHO_METHOD, &req, &o, &resp, &st),
              HVRPC_DEADLINE_EXCEEDED);
    took = peer_now_ms() - t0;
    if (resp)
        hvrpc__echo__v1__echo_response__free_unpacked(resp, NULL);
    CHECK(took >= 150);
    CHECK(took < 1500);
    if (took >= 1500)
        fprintf(stderr,
                "deadline: the call took %lld ms with a 200 ms timeout\n",
                took);
}

/* --- many asynchronous calls at once --------------------------------- */

typedef struct async_slot {
    int calls; /* times the completion ran: must end at 1 */
    hvrpc_code code;
    bool payload_ok;
} async_slot;

/* Static: completions may still run (CANCELLED) in hvrpc_client_free()
 * when the test fails early, so this outlives every call. */
static struct {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    int done;
    async_slot slots[N_ASYNC];
} async_state = {PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER, 0, {{0}}};

static void async_payload(int i, char *buf, size_t size)
{
    snprintf(buf, size, "async call %d", i);
}

static void async_done(const hvrpc_status *st, const uint8_t *resp, size_t len,
                       void *arg)
{
    int i = (int)(intptr_t)arg;
    bool ok = false;

    if (st->code == HVRPC_OK) {
        Hvrpc__Echo__V1__EchoResponse *r =
            hvrpc__echo__v1__echo_response__unpack(NULL, len, resp);
        char want[32];

        atomic_fetch_add(&answered, 1);

        async_payload(i, want, sizeof want);
        if (r) {
            ok = r->payload.len == strlen(want) &&
                 memcmp(r->payload.data, want, r->payload.len) == 0;
            hvrpc__echo__v1__echo_response__free_unpacked(r, NULL);
        }
    }
    pthread_mutex_lock(&async_state.mu);
    async_state.slots[i].calls++;
    async_state.slots[i].code = st->code;
    async_state.slots[i].payload_ok = ok;
    async_state.done++;
    pthread_cond_broadcast(&async_state.cv);
    pthread_mutex_unlock(&async_state.mu);
}

static void test_async(hvrpc_client *c)
{
    hvrpc_call_options o = call_opts(CALL_TIMEOUT_MS, NULL, 0);
    int started = 0, wrong = 0;
    struct timespec until;

    for (int i = 0; i < N_ASYNC; i++) {
        Hvrpc__Echo__V1__EchoRequest req = HVRPC__ECHO__V1__ECHO_REQUEST__INIT;
        char payload[32];
        hvrpc_status st;
        uint8_t *buf;
        size_t len;
        hvrpc_code code;

        async_payload(i, payload, sizeof payload);
        req.payload.data = (uint8_t *)payload;
        req.payload.len = strlen(payload);
        req.delay_ms =
            (uint32_t)((N_ASYNC - i) % 7) * 15; /* answers out of order */
        buf = pack_request(&req, &len);
        code =
            hvrpc_client_call_async(c, ECHO_SERVICE, ECHO_METHOD, buf, len, &o,
                                    async_done, (void *)(intptr_t)i, &st);
        free(buf); /* the request is the caller's again once the call returns */
        CHECK_INT(code, HVRPC_OK);
        if (code != HVRPC_OK) {
            fprintf(stderr, "async call %d: %s: %s\n", i,
                    hvrpc_code_name(st.code), st.message);
            break;
        }
        started++;
    }

    clock_gettime(CLOCK_REALTIME, &until);
    until.tv_sec += 20;
    pthread_mutex_lock(&async_state.mu);
    while (async_state.done < started) {
        if (pthread_cond_timedwait(&async_state.cv, &async_state.mu, &until) !=
            0)
            break;
    }
    CHECK_INT(async_state.done, started);
    pthread_mutex_unlock(&async_state.mu);

    /* Give a duplicate completion the chance to show up. */
    usleep(200 * 1000);
    pthread_mutex_lock(&async_state.mu);
    for (int i = 0; i < started; i++) {
        const async_slot *s = &async_state.slots[i];

        if (s->calls != 1 || s->code != HVRPC_OK || !s->payload_ok) {
            if (wrong++ < 5)
                fprintf(
                    stderr,
                    "async call %d: completed %d times, last %s, payload %s\n",
                    i, s->calls, hvrpc_code_name(s->code),
                    s->payload_ok ? "ok" : "wrong");
        }
    }
    CHECK_INT(async_state.done, started);
    pthread_mutex_unlock(&async_state.mu);
    CHECK_INT(started, N_ASYNC);
    CHECK_INT(wrong, 0);
}

/* The peer goes away while a call is in flight: that call ends with
 * UNAVAILABLE at once, and so does the next one. Also checks that the Go
 * server exits cleanly on SIGTERM. */
static void test_peer_gone(hvrpc_client *c, peer_proc *peer)
{
    Hvrpc__Echo__V1__EchoRequest req = HVRPC__ECHO__V1__ECHO_REQUEST__INIT;
    hvrpc_call_options o = call_opts(CALL_TIMEOUT_MS, NULL, 0);
    Hvrpc__Echo__V1__EchoResponse *resp;
    hvrpc_status st;
    uint8_t *buf;
    size_t len;
    hvrpc_code code;
    int before;
    struct timespec until;
    char desc[64];

    pthread_mutex_lock(&async_state.mu);
    async_state.done = 0;
    memset(async_state.slots, 0, sizeof async_state.slots);
    before = async_state.done;
    pthread_mutex_unlock(&async_state.mu);

    req.delay_ms = 5000;
    buf = pack_request(&req, &len);
    code = hvrpc_client_call_async(c, ECHO_SERVICE, ECHO_METHOD, buf, len, &o,
                                   async_done, (void *)(intptr_t)0, &st);
    free(buf);
    CHECK_INT(code, HVRPC_OK);
    usleep(200 * 1000); /* let the request reach the server */

    CHECK(peer_proc_stop(peer, 5000));
    CHECK_STR(peer_proc_describe(peer->status, desc, sizeof desc), "exit 0");
    if (code != HVRPC_OK)
        return;

    clock_gettime(CLOCK_REALTIME, &until);
    until.tv_sec += 3;
    pthread_mutex_lock(&async_state.mu);
    while (async_state.done == before) {
        if (pthread_cond_timedwait(&async_state.cv, &async_state.mu, &until) !=
            0)
            break;
    }
    CHECK_INT(async_state.slots[0].calls, 1);
    CHECK_INT(async_state.slots[0].code, HVRPC_UNAVAILABLE);
    pthread_mutex_unlock(&async_state.mu);

    req.delay_ms = 0;
    o.timeout_ms = 3000;
    code = call_echo(c, ECHO_SERVICE, ECHO_METHOD, &req, &o, &resp, &st);
    CHECK_INT(code, HVRPC_UNAVAILABLE);
    if (resp)
        hvrpc__echo__v1__echo_response__free_unpacked(resp, NULL);
}

int main(int argc, char **argv)
{
    char dir[128], sock[192], uri[200];
    peer_proc peer = PEER_PROC_INIT;
    hvrpc_client *client = NULL;
    hvrpc_status st;

    bool vsock = argc == 3 && strcmp(argv[2], "vsock") == 0;
    char serve_at[200];

    if (argc < 2 || argc > 3 ||
        (argc == 3 && !vsock && strcmp(argv[2], "unix"))) {
        fprintf(stderr, "usage: %s PATH/TO/ttrpc-peer [unix|vsock]\n", argv[0]);
        return 2;
    }
    if (peer_tmpdir(dir, sizeof dir) != 0)
        return 1;
    snprintf(sock, sizeof sock, "%s/go.sock", dir);
    if (vsock) {
        snprintf(serve_at, sizeof serve_at, "vsock://any:%u", GO_VSOCK_PORT);
        snprintf(uri, sizeof uri, "vsock://local:%u", GO_VSOCK_PORT);
    } else {
        snprintf(serve_at, sizeof serve_at, "%s", sock);
        snprintf(uri, sizeof uri, "unix://%s", sock);
    }

    {
        char *args[] = {argv[1], "serve", serve_at, NULL};

        CHECK_INT(peer_proc_start(&peer, args, true), 0);
    }
    if (peer.pid > 0) {
        bool ready = peer_proc_wait_line(&peer, "READY", 15000);

        CHECK(ready);
        if (ready) {
            hvrpc_status_clear(&st);
            CHECK_INT(hvrpc_client_connect(uri, NULL, &client, &st), HVRPC_OK);
            if (!client)
                fprintf(stderr, "connect %s: %s: %s\n", uri,
                        hvrpc_code_name(st.code), st.message);
        } else {
            fprintf(stderr, "ttrpc-peer serve did not say READY\n");
        }
    }

    if (client) {
        long long slow_started;

        test_payloads(client);
        test_call_message(client);
        test_metadata(client);
        test_response_size(client);
        test_errors(client);
        test_deadline_sent(client);
        test_frame_limits(client, uri);
        slow_started = peer_now_ms();
        test_deadline(client);
        test_async(client);

        /* Past the moment the Go server answers the expired slow call:
         * the connection still works and nothing went to a stale call. */
        while (peer_now_ms() - slow_started < 2500)
            usleep(50 * 1000);
        check_payload(client, (const uint8_t *)"after the late answer", 21);

        test_peer_gone(client, &peer);
    }

    hvrpc_client_free(client);
    peer_proc_stop(&peer, 5000);
    unlink(sock);
    CHECK_INT(rmdir(dir), 0);
    fprintf(stderr, "calls answered: %d over %s\n", atomic_load(&answered),
            vsock ? "vsock" : "unix");
    return check_done();
}
