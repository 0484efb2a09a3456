/*
 * test_inplace.c - large requests and answers are not copied on the
 * server: hvrpc_call_decode leaves a large bytes field in the call's
 * request (runtime/src/message.c) and an answer that echoes it borrows it
 * from there (runtime/src/frame_buf.c). What must hold, against a server
 * in another process whose handlers report what they saw in the answer's
 * metadata ("in_place": the decoded payload points into the handler's
 * data):
 * - a 512 KiB payload is decoded in place and comes back intact, again
 *   and again on one connection, and beside small calls in flight;
 * - a small payload (under 1 KiB) and a large one decoded from a copy the
 *   handler frees at once are not in place, and come back intact;
 * - an answer dropped because its deadline passed, and answers still
 *   being written when their peer goes away (a plain socket that sends
 *   large requests, never reads and closes), free the request they
 *   borrowed: the server exits with no leak under the sanitizers, and
 *   serves on meanwhile;
 * - the client's side: a blocking call's large request is written from
 *   the caller's memory, so one still queued when its call ends (a
 *   deadline, against a listener that reads only afterwards) is copied
 *   first: the caller may scribble over its buffer and free it, and the
 *   listener still reads the request that was sent.
 *
 * Usage: test_inplace unix|tcp|vsock
 */
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "check.h"
#include "integ_util.h"
#include "server_proc.h"
#include "ttrpc/request.pb-c.h"

#define SERVICE "hvrpc.test.v1.InPlace"
#define BIG     (512u * 1024u)

/* --- the server's handlers (in the child) ---------------------------------
 */

static void answer(hvrpc_call *call, const echo_req *req, bool in_place)
{
    Hvrpc__Echo__V1__EchoResponse__MetadataEntry e =
        HVRPC__ECHO__V1__ECHO_RESPONSE__METADATA_ENTRY__INIT;
    Hvrpc__Echo__V1__EchoResponse__MetadataEntry *ep = &e;
    e.key = "in_place";
    e.value = in_place ? "1" : "0";
    echo_resp resp = HVRPC__ECHO__V1__ECHO_RESPONSE__INIT;
    resp.payload = req->payload;
    resp.n_metadata = 1;
    resp.metadata = &ep;
    hvrpc_call_reply_message(call, &resp.base);
}

static bool points_into(const echo_req *req, const uint8_t *data, size_t len)
{
    const uint8_t *p = req->payload.data;
    return p && p >= data && p + req->payload.len <= data + len;
}

/* Decodes the call's own bytes: a large payload stays in them. */
static void echo(hvrpc_call *call, const uint8_t *data, size_t len, void *ud)
{
    (void)ud;
    const echo_req *req = (const echo_req *)hvrpc_call_decode(
        call, &hvrpc__echo__v1__echo_request__descriptor, data, len);
    if (req)
        answer(call, req, points_into(req, data, len));
}

/* Decodes a copy it frees before answering: nothing may point into it. */
static void echo_copy(hvrpc_call *call, const uint8_t *data, size_t len,
                      void *ud)
{
    (void)ud;
    uint8_t *copy = malloc(len ? len : 1);
    if (!copy) {
        hvrpc_call_fail(call, HVRPC_RESOURCE_EXHAUSTED, "no memory");
        return;
    }
    memcpy(copy, data, len);
    const echo_req *req = (const echo_req *)hvrpc_call_decode(
        call, &hvrpc__echo__v1__echo_request__descriptor, copy, len);
    bool in_place = req && points_into(req, copy, len);
    memset(copy, 0, len);
    free(copy);
    if (req)
        answer(call, req, in_place);
}

/* Answers only once the call's deadline has passed: the answer, which
 * borrows the request, is dropped. */
static void echo_late(hvrpc_call *call, const uint8_t *data, size_t len,
                      void *ud)
{
    (void)ud;
    const echo_req *req = (const echo_req *)hvrpc_call_decode(
        call, &hvrpc__echo__v1__echo_request__descriptor, data, len);
    if (!req)
        return;
    for (int i = 0; i < 500 && !hvrpc_call_abandoned(call); i++)
        usleep(10 * 1000);
    answer(call, req, points_into(req, data, len));
}

static const hvrpc_method methods[] = {
    {.name = "Echo", .handler = echo},
    {.name = "EchoCopy", .handler = echo_copy},
    {.name = "EchoLate", .handler = echo_late},
};

static int register_inplace(hvrpc_server *srv, hvrpc_endpoint *ep)
{
    static const hvrpc_service svc = {
        .name = SERVICE, .methods = methods, .n_methods = 3};
    hvrpc_status st;
    return hvrpc_server_register(srv, ep, &svc, NULL, NULL, &st) == HVRPC_OK
               ? 0
               : -1;
}

/* --- the client ------------------------------------------------------------
 */

static uint8_t *pattern(size_t n, unsigned seed)
{
    uint8_t *b = malloc(n);
    for (size_t i = 0; b && i < n; i++)
        b[i] = (uint8_t)(i * 131u + seed);
    return b;
}

/* Calls method with n pattern bytes; checks they come back and whether
 * the server decoded them in place. */
static void call_expect(hvrpc_client *c, const char *method, size_t n,
                        unsigned seed, const char *in_place)
{
    uint8_t *payload = pattern(n, seed);
    echo_req req = ECHO_REQ_INIT;
    req.payload.data = payload;
    req.payload.len = n;
    ProtobufCMessage *out = NULL;
    hvrpc_status st;
    hvrpc_code code = hvrpc_client_invoke(
        c, SERVICE, method, &req.base,
        &hvrpc__echo__v1__echo_response__descriptor, NULL, &out, &st);
    CHECK_INT(code, HVRPC_OK);
    echo_resp *r = (echo_resp *)out;
    if (code == HVRPC_OK) {
        integ_count_calls(1);
        CHECK(echo_resp_payload_is(r, payload, n));
        CHECK_STR(echo_resp_meta(r, "in_place"), in_place);
        protobuf_c_message_free_unpacked(out, NULL);
    } else {
        fprintf(stderr, "%s (%zu bytes): %s\n", method, n, st.message);
    }
    free(payload);
}

typedef struct small_calls {
    hvrpc_client *c;
    integ_waiter w;
    int ok;
} small_calls;

static void small_done(const hvrpc_status *st, const uint8_t *data, size_t len,
                       void *arg)
{
    small_calls *s = arg;
    echo_resp *r = st->code == HVRPC_OK ? echo_resp_decode(data, len) : NULL;
    if (r && echo_resp_payload_is(r, "tiny", 4))
        __atomic_fetch_add(&s->ok, 1, __ATOMIC_SEQ_CST);
    echo_resp_free(r);
    integ_waiter_add(&s->w, 1);
}

/* A large Request frame for method, n payload bytes, on stream id. */
static uint8_t *request_frame(const char *method, uint32_t id, size_t n,
                              size_t *len)
{
    uint8_t *payload = pattern(n, 7);
    echo_req req = ECHO_REQ_INIT;
    req.payload.data = payload;
    req.payload.len = n;
    size_t body_len;
    uint8_t *body = echo_req_pack(&req, &body_len);
    free(payload);
    Ttrpc__Request env = TTRPC__REQUEST__INIT;
    env.service = SERVICE;
    env.method = (char *)method;
    env.payload.data = body;
    env.payload.len = body_len;
    size_t env_len = ttrpc__request__get_packed_size(&env);
    uint8_t *f = malloc(10 + env_len);
    if (f && body) {
        integ_frame_header(f, (uint32_t)env_len, id, 1, 0);
        ttrpc__request__pack(&env, f + 10);
        *len = 10 + env_len;
    }
    free(body);
    return f;
}

/* Sends frames of large requests on a plain socket for as long as the
 * server takes them (it stops reading once its unread answers pile up),
 * never reading an answer, then closes: the server is left with answers
 * half written, which borrow their requests. */
static void peer_that_never_reads(const char *uri)
{
    int fd = integ_raw_connect(uri);
    CHECK(fd >= 0);
    if (fd < 0)
        return;
    int sent = 0;
    for (uint32_t id = 1; id < 64; id += 2) {
        size_t len = 0;
        uint8_t *f = request_frame("Echo", id, BIG, &len);
        size_t off = 0;
        while (f && off < len) {
            ssize_t w = write(fd, f + off, len - off);
            if (w > 0) {
                off += (size_t)w;
                continue;
            }
            struct pollfd p = {.fd = fd, .events = POLLOUT};
            if (poll(&p, 1, 300) <= 0)
                break; /* the server stopped reading us */
        }
        free(f);
        if (off < len)
            break;
        sent++;
    }
    CHECK(sent >= 2);
    usleep(200 * 1000); /* the server answers what it read, and stalls */
    close(fd);
}

/* Calls method with n pattern bytes (seed 5) and a deadline of ms, which
 * must pass; then scribbles over the request and frees it, as its caller
 * may once the call has returned. */
static void call_times_out(hvrpc_client *c, const char *method, size_t n,
                           uint32_t ms)
{
    uint8_t *payload = pattern(n, 5);
    echo_req req = ECHO_REQ_INIT;
    req.payload.data = payload;
    req.payload.len = n;
    hvrpc_call_options o = HVRPC_CALL_OPTIONS_INIT;
    o.timeout_ms = ms;
    ProtobufCMessage *out = NULL;
    hvrpc_status st;
    CHECK_INT(hvrpc_client_invoke(c, SERVICE, method, &req.base,
                                  &hvrpc__echo__v1__echo_response__descriptor,
                                  &o, &out, &st),
              HVRPC_DEADLINE_EXCEEDED);
    memset(payload, 0xee, n);
    free(payload);
}

/* The request a listener reads once the call that sent it has ended. */
static void request_outlives_call(const char *transport)
{
    integ_listener l;
    if (integ_listen(&l, transport) != 0)
        return; /* vsock: covered by unix and tcp */
    hvrpc_client *c = integ_connect(l.uri, 0);
    CHECK(c != NULL);
    size_t n = 4 * 1024 * 1024 - 64;
    if (c)
        call_times_out(c, "Echo", n, 200);

    int fd = accept(l.fd, NULL, NULL);
    CHECK(fd >= 0);
    if (fd >= 0)
        fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK);
    uint8_t h[10];
    bool ok =
        fd >= 0 && integ_recv_all(fd, h, sizeof h, 10000) == 0 && h[8] == 1;
    size_t len =
        ok ? (size_t)h[0] << 24 | (size_t)h[1] << 16 | (size_t)h[2] << 8 | h[3]
           : 0;
    uint8_t *body = ok ? malloc(len) : NULL;
    ok = body && integ_recv_all(fd, body, len, 10000) == 0;
    Ttrpc__Request *r = ok ? ttrpc__request__unpack(NULL, len, body) : NULL;
    echo_req *e = r ? hvrpc__echo__v1__echo_request__unpack(
                          NULL, r->payload.len, r->payload.data)
                    : NULL;
    uint8_t *want = pattern(n, 5);
    CHECK(e && e->payload.len == n && memcmp(e->payload.data, want, n) == 0);
    free(want);
    if (e)
        hvrpc__echo__v1__echo_request__free_unpacked(e, NULL);
    if (r)
        ttrpc__request__free_unpacked(r, NULL);
    free(body);
    hvrpc_client_free(c);
    if (fd >= 0)
        close(fd);
    integ_listener_close(&l);
}

int main(int argc, char **argv)
{
    const char *transport = integ_transport(argc, argv);
    if (!transport)
        return 2;
    server_proc sp;
    server_proc_options so = {.transport = transport,
                              .register_more = register_inplace};
    char err[256];
    if (server_proc_start(&sp, &so, err, sizeof err) != 0) {
        fprintf(stderr, "server: %s\n", err);
        return 1;
    }
    /* Before any thread of ours exists: a plain socket, and its frames. */
    peer_that_never_reads(sp.uri);

    hvrpc_client *c = integ_connect(sp.uri, 0);
    CHECK(c != NULL);
    if (c) {
        for (unsigned i = 0; i < 8; i++)
            call_expect(c, "Echo", BIG, i, "1");
        call_expect(c, "Echo", 4 * 1024 * 1024 - 64, 9, "1");
        call_expect(c, "Echo", 100, 1, "0");
        call_expect(c, "Echo", 0, 1, "0");
        call_expect(c, "EchoCopy", BIG, 2, "0");

        /* Small calls in flight while large ones are answered. */
        small_calls s = {.c = c};
        integ_waiter_init(&s.w);
        echo_req tiny = ECHO_REQ_INIT;
        tiny.payload.data = (uint8_t *)"tiny";
        tiny.payload.len = 4;
        size_t tiny_len;
        uint8_t *tiny_buf = echo_req_pack(&tiny, &tiny_len);
        hvrpc_status st;
        for (int i = 0; i < 32; i++)
            CHECK_INT(hvrpc_client_call_async(c, ECHO_SERVICE, ECHO_METHOD,
                                              tiny_buf, tiny_len, NULL,
                                              small_done, &s, &st),
                      HVRPC_OK);
        for (unsigned i = 0; i < 4; i++)
            call_expect(c, "Echo", BIG, 20 + i, "1");
        CHECK_INT(integ_waiter_wait(&s.w, 32, 10000), 32);
        CHECK_INT(s.ok, 32);
        integ_count_calls(s.ok);
        free(tiny_buf);
        integ_waiter_destroy(&s.w);

        /* Dropped: the deadline passes before the answer. */
        call_times_out(c, "EchoLate", BIG, 100);
        usleep(300 * 1000); /* the handler answers, in vain */
        call_expect(c, "Echo", BIG, 4, "1");
        hvrpc_client_free(c);
    }
    request_outlives_call(transport);
    /* The server frees everything it borrowed: under the sanitizers a
     * leak makes its exit status non-zero. */
    CHECK_INT(server_proc_stop(&sp, 10000), 0);
    server_proc_cleanup(&sp);
    integ_report_calls(transport);
    return check_done();
}
