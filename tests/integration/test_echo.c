/*
 * tests/integration/test_echo.c - unary calls to an echo server in another
 * process: payload round trips, metadata, error statuses, deadlines,
 * unknown services and methods, 200 concurrent calls on one connection.
 *
 * Usage: test_echo unix|tcp|vsock
 */
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "check.h"
#include "integ_util.h"
#include "server_proc.h"

static const char *transport;

/* --- 1. unary round trips -------------------------------------------- */

/* "PREFIX<port>" with a port in [min, max]; says what is wrong. */
static void check_peer_port(const char *peer, const char *prefix,
                            unsigned long min, unsigned long max)
{
    size_t plen = strlen(prefix);
    int prefix_ok = peer && strncmp(peer, prefix, plen) == 0;
    if (!prefix_ok)
        fprintf(stderr, "peer \"%s\" does not start with \"%s\"\n",
                peer ? peer : "(null)", prefix);
    CHECK(prefix_ok);
    if (!prefix_ok)
        return;
    const char *p = peer + plen;
    char *end = NULL;
    unsigned long port = strtoul(p, &end, 10);
    int port_ok = *p >= '1' && *p <= '9' && end && *end == '\0' &&
                  port >= min && port <= max;
    if (!port_ok)
        fprintf(stderr, "peer \"%s\": no port in [%lu, %lu] after the prefix\n",
                peer, min, max);
    CHECK(port_ok);
}

static void check_peer(const char *peer)
{
    if (strcmp(transport, "vsock") == 0) {
        /* vsock:1:<the client's port>: the kernel binds a connecting
         * socket to a port above the reserved ones (1023) and never to
         * VMADDR_PORT_ANY. test_raw checks the exact port. */
        check_peer_port(peer, "vsock:1:", 1024, 0xFFFFFFFEul);
        return;
    }
    if (strcmp(transport, "unix") == 0) {
        /* SO_PEERCRED of this process (peer.h gives the format). */
        char want[128];
        snprintf(want, sizeof want, "unix:uid=%u,gid=%u,pid=%d",
                 (unsigned)geteuid(), (unsigned)getegid(), (int)getpid());
        CHECK_STR(peer, want);
        return;
    }
    /* tcp:127.0.0.1:<the client's ephemeral port> */
    check_peer_port(peer, "tcp:127.0.0.1:", 1, 65535);
}

static void test_unary(const char *uri)
{
    fprintf(stderr, "-- unary (%s)\n", transport);
    hvrpc_client *c = integ_connect(uri, 0);
    CHECK(c != NULL);
    if (!c)
        return;

    /* Binary payload: a NUL, control and high bytes. */
    static const uint8_t data[] = "hello, hvrpc\0\x01\x7f\x80\xfe\xff tail";
    echo_req req = ECHO_REQ_INIT;
    req.payload.data = (uint8_t *)data;
    req.payload.len = sizeof data;
    echo_resp *r = NULL;
    hvrpc_status st;
    CHECK_INT(integ_echo(c, &req, NULL, &r, &st), HVRPC_OK);
    CHECK_INT(st.code, HVRPC_OK);
    CHECK(r != NULL);
    CHECK_INT(r ? r->payload.len : 0, sizeof data);
    CHECK(echo_resp_payload_is(r, data, sizeof data));
    CHECK_INT(r ? r->n_metadata : 99, 0);
    check_peer(r ? r->peer : NULL);
    echo_resp_free(r);

    /* Empty payload: an empty EchoRequest on the wire. */
    echo_req empty = ECHO_REQ_INIT;
    CHECK_INT(hvrpc__echo__v1__echo_request__get_packed_size(&empty), 0);
    CHECK_INT(integ_echo(c, &empty, NULL, &r, &st), HVRPC_OK);
    CHECK(r != NULL);
    CHECK_INT(r ? (long long)r->payload.len : -1, 0);
    check_peer(r ? r->peer : NULL);
    echo_resp_free(r);

    /* response_size replaces the payload's length: larger and smaller. */
    echo_req sized = ECHO_REQ_INIT;
    sized.payload.data = (uint8_t *)"abc";
    sized.payload.len = 3;
    sized.response_size = 100000;
    CHECK_INT(integ_echo(c, &sized, NULL, &r, &st), HVRPC_OK);
    CHECK_INT(r ? (long long)r->payload.len : -1, 100000);
    echo_resp_free(r);
    sized.response_size = 1;
    CHECK_INT(integ_echo(c, &sized, NULL, &r, &st), HVRPC_OK);
    CHECK_INT(r ? (long long)r->payload.len : -1, 1);
    echo_resp_free(r);

    /* Raw bytes API, response left NULL. */
    size_t len = 0;
    uint8_t *bytes = echo_req_pack(&req, &len);
    CHECK(bytes != NULL);
    hvrpc_buf buf = {NULL, 0};
    CHECK_INT(hvrpc_client_call(c, ECHO_SERVICE, ECHO_METHOD, bytes, len, NULL,
                                &buf, &st),
              HVRPC_OK);
    r = echo_resp_decode(buf.data, buf.len);
    CHECK(echo_resp_payload_is(r, data, sizeof data));
    integ_count_calls(r != NULL);
    echo_resp_free(r);
    hvrpc_buf_free(&buf);
    CHECK_INT(hvrpc_client_call(c, ECHO_SERVICE, ECHO_METHOD, bytes, len, NULL,
                                NULL, &st),
              HVRPC_OK);
    integ_count_calls(st.code == HVRPC_OK);
    free(bytes);
    hvrpc_client_free(c);
}

/* --- 2. metadata ----------------------------------------------------- */

static void test_metadata(const char *uri)
{
    fprintf(stderr, "-- metadata (%s)\n", transport);
    hvrpc_client *c = integ_connect(uri, 0);
    CHECK(c != NULL);
    if (!c)
        return;
    static const hvrpc_metadata md[3] = {
        {"x-request-id", "req-0042"},
        {"tenant", "acme corp"},
        {"traceparent",
         "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"},
    };
    hvrpc_call_options o = HVRPC_CALL_OPTIONS_INIT;
    o.metadata = md;
    o.n_metadata = 3;
    echo_req req = ECHO_REQ_INIT;
    req.payload.data = (uint8_t *)"meta";
    req.payload.len = 4;
    echo_resp *r = NULL;
    hvrpc_status st;
    CHECK_INT(integ_echo(c, &req, &o, &r, &st), HVRPC_OK);
    CHECK_INT(r ? r->n_metadata : 0, 3);
    for (size_t i = 0; i < 3; i++)
        CHECK_STR(echo_resp_meta(r, md[i].key), md[i].value);
    CHECK(echo_resp_payload_is(r, "meta", 4));
    echo_resp_free(r);

    /* The next call without metadata carries none. */
    CHECK_INT(integ_echo(c, &req, NULL, &r, &st), HVRPC_OK);
    CHECK_INT(r ? (long long)r->n_metadata : -1, 0);
    echo_resp_free(r);
    hvrpc_client_free(c);
}

/* --- 3. error statuses ----------------------------------------------- */

static void test_fail(const char *uri)
{
    fprintf(stderr, "-- fail_code (%s)\n", transport);
    hvrpc_client *c = integ_connect(uri, 0);
    CHECK(c != NULL);
    if (!c)
        return;
    static const struct {
        hvrpc_code code;
        const char *message;
    } cases[] = {
        {HVRPC_NOT_FOUND, "no such widget: 42"},
        {HVRPC_PERMISSION_DENIED, "tenant acme may not echo"},
        {HVRPC_FAILED_PRECONDITION, "x"},
        {HVRPC_UNAUTHENTICATED, "who are you?"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        echo_req req = ECHO_REQ_INIT;
        req.payload.data = (uint8_t *)"p";
        req.payload.len = 1;
        req.fail_code = (int32_t)cases[i].code;
        req.fail_message = (char *)cases[i].message;
        echo_resp *r = NULL;
        hvrpc_status st;
        CHECK_INT(integ_echo(c, &req, NULL, &r, &st), cases[i].code);
        CHECK_INT(st.code, cases[i].code);
        CHECK_STR(st.message, cases[i].message);
        integ_count_calls(st.code == cases[i].code);
        CHECK(r == NULL);
        echo_resp_free(r);
    }
    /* The connection is fine after failed calls. */
    echo_req ok = ECHO_REQ_INIT;
    ok.payload.data = (uint8_t *)"after";
    ok.payload.len = 5;
    echo_resp *r = NULL;
    CHECK_INT(integ_echo(c, &ok, NULL, &r, NULL), HVRPC_OK);
    CHECK(echo_resp_payload_is(r, "after", 5));
    echo_resp_free(r);
    hvrpc_client_free(c);
}

/* --- 4. deadlines, delays -------------------------------------------- */

typedef struct par_call {
    integ_waiter *w;
    int id;
    int completions;
    hvrpc_code code;
    int payload_ok;
    int64_t t_done;
} par_call;

static void par_done(const hvrpc_status *st, const uint8_t *resp, size_t len,
                     void *arg)
{
    par_call *p = arg;
    char want[16];
    int n = snprintf(want, sizeof want, "par-%d", p->id);
    echo_resp *r = st->code == HVRPC_OK ? echo_resp_decode(resp, len) : NULL;
    p->payload_ok = echo_resp_payload_is(r, want, (size_t)n);
    echo_resp_free(r);
    p->code = st->code;
    p->completions++;
    p->t_done = integ_now_ms();
    integ_count_calls(st->code == HVRPC_OK);
    integ_waiter_add(p->w, 1);
}

static void test_deadline(const char *uri)
{
    fprintf(stderr, "-- deadline (%s)\n", transport);
    hvrpc_client *c = integ_connect(uri, 0);
    CHECK(c != NULL);
    if (!c)
        return;
    echo_resp *r = NULL;
    hvrpc_status st;

    /* The server waits 2 s; the caller gives up after 200 ms. */
    echo_req slow = ECHO_REQ_INIT;
    slow.payload.data = (uint8_t *)"slow";
    slow.payload.len = 4;
    slow.delay_ms = 2000;
    hvrpc_call_options o = HVRPC_CALL_OPTIONS_INIT;
    o.timeout_ms = 200;
    int64_t t0 = integ_now_ms();
    CHECK_INT(integ_echo(c, &slow, &o, &r, &st), HVRPC_DEADLINE_EXCEEDED);
    int64_t took = integ_now_ms() - t0;
    CHECK_INT(st.code, HVRPC_DEADLINE_EXCEEDED);
    CHECK(r == NULL);
    echo_resp_free(r);
    if (took < 190 || took >= 1000)
        fprintf(stderr, "deadline 200 ms: the call took %lld ms\n",
                (long long)took);
    CHECK(took >= 190);
    CHECK(took < 1000);

    /* The connection still works. */
    echo_req quick = ECHO_REQ_INIT;
    quick.payload.data = (uint8_t *)"still here";
    quick.payload.len = 10;
    CHECK_INT(integ_echo(c, &quick, NULL, &r, &st), HVRPC_OK);
    CHECK(echo_resp_payload_is(r, "still here", 10));
    echo_resp_free(r);

    /* A delayed call that ends before its deadline succeeds. */
    echo_req late = ECHO_REQ_INIT;
    late.payload.data = (uint8_t *)"late but fine";
    late.payload.len = 13;
    late.delay_ms = 150;
    o.timeout_ms = 3000;
    t0 = integ_now_ms();
    CHECK_INT(integ_echo(c, &late, &o, &r, &st), HVRPC_OK);
    took = integ_now_ms() - t0;
    CHECK(echo_resp_payload_is(r, "late but fine", 13));
    echo_resp_free(r);
    if (took < 145 || took >= 1500)
        fprintf(stderr, "delay 150 ms: the call took %lld ms\n",
                (long long)took);
    CHECK(took >= 145); /* the server really waited */
    CHECK(took < 1500);

    /* 8 calls of 300 ms on a 2-worker server run side by side. */
    enum { N = 8 };
    integ_waiter w;
    integ_waiter_init(&w);
    par_call calls[N];
    memset(calls, 0, sizeof calls);
    int started = 0;
    t0 = integ_now_ms();
    for (int i = 0; i < N; i++) {
        char payload[16];
        int n = snprintf(payload, sizeof payload, "par-%d", i);
        echo_req req = ECHO_REQ_INIT;
        req.payload.data = (uint8_t *)payload;
        req.payload.len = (size_t)n;
        req.delay_ms = 300;
        size_t len = 0;
        uint8_t *bytes = echo_req_pack(&req, &len);
        calls[i].w = &w;
        calls[i].id = i;
        calls[i].code = HVRPC_UNKNOWN;
        hvrpc_code code =
            bytes ? hvrpc_client_call_async(c, ECHO_SERVICE, ECHO_METHOD, bytes,
                                            len, NULL, par_done, &calls[i], &st)
                  : HVRPC_INTERNAL;
        free(bytes);
        CHECK_INT(code, HVRPC_OK);
        if (code == HVRPC_OK)
            started++;
    }
    CHECK_INT(integ_waiter_wait(&w, started, 5000), N);
    took = integ_now_ms() - t0;
    for (int i = 0; i < N; i++) {
        CHECK_INT(calls[i].completions, 1);
        CHECK_INT(calls[i].code, HVRPC_OK);
        CHECK(calls[i].payload_ok);
    }
    if (took < 295 || took >= 1000)
        fprintf(stderr, "8 x 300 ms in parallel took %lld ms\n",
                (long long)took);
    CHECK(took >= 295);
    CHECK(took < 1000);
    hvrpc_client_free(c);
    /* Freeing the client ran no callback again. */
    CHECK_INT(integ_waiter_count(&w), started);
    integ_waiter_destroy(&w);
}

/* --- 5. unknown service, unknown method ------------------------------ */

static void test_unimplemented(const char *uri)
{
    fprintf(stderr, "-- unimplemented (%s)\n", transport);
    hvrpc_client *c = integ_connect(uri, 0);
    CHECK(c != NULL);
    if (!c)
        return;
    echo_req req = ECHO_REQ_INIT;
    req.payload.data = (uint8_t *)"x";
    req.payload.len = 1;
    size_t len = 0;
    uint8_t *bytes = echo_req_pack(&req, &len);
    static const char *const names[][2] = {
        {"hvrpc.nope.v1.Nope", "Echo"},
        {ECHO_SERVICE, "Nope"},
        {"hvrpc.echo.v1.echo", "Echo"}, /* names are case-sensitive */
        {ECHO_SERVICE, "echo"},
        {"Echo", "Echo"}, /* the bare name is not the full name */
        {"hvrpc.echo.v1.Echo.Echo", "Echo"},
    };
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
        hvrpc_status st;
        hvrpc_buf buf = {NULL, 0};
        hvrpc_code code = hvrpc_client_call(c, names[i][0], names[i][1], bytes,
                                            len, NULL, &buf, &st);
        if (code != HVRPC_UNIMPLEMENTED)
            fprintf(stderr, "%s/%s: %s (%s)\n", names[i][0], names[i][1],
                    hvrpc_code_name(code), st.message);
        CHECK_INT(code, HVRPC_UNIMPLEMENTED);
        CHECK_INT(st.code, HVRPC_UNIMPLEMENTED);
        integ_count_calls(code == HVRPC_UNIMPLEMENTED);
        hvrpc_buf_free(&buf);
    }
    free(bytes);
    echo_resp *r = NULL;
    CHECK_INT(integ_echo(c, &req, NULL, &r, NULL), HVRPC_OK);
    CHECK(echo_resp_payload_is(r, "x", 1));
    echo_resp_free(r);
    hvrpc_client_free(c);
}

/* --- 7. 200 calls from 8 threads on one connection ------------------- */

enum { CONC_CALLS = 200, CONC_THREADS = 8, CONC_PAYLOAD_MAX = 1024 };

typedef struct conc_state conc_state;

typedef struct conc_call {
    conc_state *s;
    int id;
} conc_call;

struct conc_state {
    hvrpc_client *c;
    atomic_int next;
    atomic_int completions[CONC_CALLS];
    atomic_int matched[CONC_CALLS];
    atomic_int last_code[CONC_CALLS];
    atomic_int async_started;
    atomic_int async_refused;
    conc_call calls[CONC_CALLS];
    integ_waiter async_done;
};

/* A distinct payload per call id: its id as text, then id-derived bytes,
 * 12 to 711 bytes long. */
static size_t conc_payload(int id, uint8_t *buf)
{
    size_t len = 12 + ((size_t)id * 131u) % 700u;
    int n = snprintf((char *)buf, CONC_PAYLOAD_MAX, "call-%04d:", id);
    for (size_t i = (size_t)n; i < len; i++)
        buf[i] = (uint8_t)((unsigned)id * 31u + i * 7u);
    return len;
}

static void conc_record(conc_state *s, int id, hvrpc_code code,
                        const uint8_t *resp, size_t len)
{
    if (code == HVRPC_OK) {
        uint8_t want[CONC_PAYLOAD_MAX];
        size_t want_len = conc_payload(id, want);
        echo_resp *r = echo_resp_decode(resp, len);
        if (echo_resp_payload_is(r, want, want_len))
            atomic_fetch_add(&s->matched[id], 1);
        echo_resp_free(r);
        integ_count_calls(1);
    }
    atomic_store(&s->last_code[id], (int)code);
    atomic_fetch_add(&s->completions[id], 1);
}

static void conc_done(const hvrpc_status *st, const uint8_t *resp, size_t len,
                      void *arg)
{
    conc_call *call = arg;
    conc_record(call->s, call->id, st->code, resp, len);
    integ_waiter_add(&call->s->async_done, 1);
}

static void *conc_thread(void *arg)
{
    conc_state *s = arg;
    for (;;) {
        int id = atomic_fetch_add(&s->next, 1);
        if (id >= CONC_CALLS)
            break;
        uint8_t payload[CONC_PAYLOAD_MAX];
        echo_req req = ECHO_REQ_INIT;
        req.payload.data = payload;
        req.payload.len = conc_payload(id, payload);
        req.delay_ms = id % 25 == 0 ? 20 : 0; /* some answers overtake */
        hvrpc_status st;
        if (id % 2 == 0) {
            hvrpc_buf buf = {NULL, 0};
            hvrpc_code code = hvrpc_client_call_message(
                s->c, ECHO_SERVICE, ECHO_METHOD, &req.base, NULL, &buf, &st);
            conc_record(s, id, code, buf.data, buf.len);
            hvrpc_buf_free(&buf);
        } else {
            size_t len = 0;
            uint8_t *bytes = echo_req_pack(&req, &len);
            atomic_fetch_add(&s->async_started, 1);
            hvrpc_code code =
                bytes ? hvrpc_client_call_async(s->c, ECHO_SERVICE, ECHO_METHOD,
                                                bytes, len, NULL, conc_done,
                                                &s->calls[id], &st)
                      : HVRPC_INTERNAL;
            free(bytes); /* the call keeps its own copy */
            if (code != HVRPC_OK) {
                atomic_fetch_sub(&s->async_started, 1);
                atomic_fetch_add(&s->async_refused, 1);
                atomic_store(&s->last_code[id], (int)code);
            }
        }
    }
    return NULL;
}

static void test_concurrency(const char *uri)
{
    fprintf(stderr, "-- concurrency (%s)\n", transport);
    conc_state *s = calloc(1, sizeof *s);
    CHECK(s != NULL);
    if (!s)
        return;
    s->c = integ_connect(uri, 0);
    CHECK(s->c != NULL);
    if (!s->c) {
        free(s);
        return;
    }
    integ_waiter_init(&s->async_done);
    for (int i = 0; i < CONC_CALLS; i++) {
        s->calls[i].s = s;
        s->calls[i].id = i;
        atomic_init(&s->last_code[i], -1);
    }
    int64_t t0 = integ_now_ms();
    pthread_t th[CONC_THREADS];
    int n_threads = 0;
    for (int i = 0; i < CONC_THREADS; i++) {
        if (pthread_create(&th[i], NULL, conc_thread, s) == 0)
            n_threads++;
        else
            break;
    }
    CHECK_INT(n_threads, CONC_THREADS);
    for (int i = 0; i < n_threads; i++)
        pthread_join(th[i], NULL);
    int async_started = atomic_load(&s->async_started);
    CHECK_INT(integ_waiter_wait(&s->async_done, async_started, 20000),
              async_started);
    fprintf(stderr, "%d calls in %lld ms\n", CONC_CALLS,
            (long long)(integ_now_ms() - t0));
    hvrpc_client_free(s->c);

    /* Counted after the free: a late or repeated completion shows too. */
    CHECK_INT(async_started, CONC_CALLS / 2);
    CHECK_INT(atomic_load(&s->async_refused), 0);
    CHECK_INT(integ_waiter_count(&s->async_done), async_started);
    int bad = 0;
    for (int i = 0; i < CONC_CALLS; i++) {
        int done = atomic_load(&s->completions[i]);
        int matched = atomic_load(&s->matched[i]);
        if (done != 1 || matched != 1) {
            if (bad < 10)
                fprintf(stderr,
                        "call %d (%s): %d completions, last %s, payload "
                        "%s\n",
                        i, i % 2 ? "async" : "blocking", done,
                        hvrpc_code_name(atomic_load(&s->last_code[i])),
                        matched ? "matched" : "did not match");
            bad++;
        }
    }
    CHECK_INT(bad, 0);
    integ_waiter_destroy(&s->async_done);
    free(s);
}

int main(int argc, char **argv)
{
    transport = integ_transport(argc, argv);
    if (!transport)
        return 2;
    server_proc sp;
    server_proc_options so = {.transport = transport, .workers = 2};
    char err[512];
    int started = server_proc_start(&sp, &so, err, sizeof err) == 0;
    if (!started)
        fprintf(stderr, "%s\n", err);
    CHECK(started);
    if (started) {
        fprintf(stderr, "server %d at %s\n", (int)sp.pid, sp.uri);
        test_unary(sp.uri);
        test_metadata(sp.uri);
        test_fail(sp.uri);
        test_deadline(sp.uri);
        test_unimplemented(sp.uri);
        test_concurrency(sp.uri);
        /* A clean stop: exit status 0 (and no leak under the sanitizers). */
        CHECK_INT(server_proc_stop(&sp, 10000), 0);
    }
    server_proc_cleanup(&sp);
    integ_report_calls(transport);
    return check_done();
}
