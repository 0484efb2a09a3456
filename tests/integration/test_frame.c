/*
 * tests/integration/test_frame.c - the 4 MiB frame limit (DESIGN.md
 * section 3) between a client and a server in another process.
 *
 * The request is sized so that its ttrpc Request envelope (service
 * "hvrpc.echo.v1.Echo", method "Echo", the packed EchoRequest as payload,
 * no metadata, no timeout) is exactly 4194304 bytes, then one byte more:
 * - exactly the limit: answered OK;
 * - one byte over, from a client allowed 8 MiB: the server discards it,
 *   answers RESOURCE_EXHAUSTED and the connection goes on;
 * - one byte over, from a default client: RESOURCE_EXHAUSTED without being
 *   sent (shown against a server that would accept it);
 * - a reply over the limit: RESOURCE_EXHAUSTED, the connection goes on.
 *
 * Usage: test_frame unix|tcp|vsock
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "integ_util.h"
#include "server_proc.h"
#include "ttrpc/request.pb-c.h"

#define MAX_FRAME 4194304u
#define BIG_FRAME (8u * 1024u * 1024u)

static const char *transport;
static uint8_t dummy_byte;

/* The size of the Request envelope the client sends for an EchoRequest
 * with n payload bytes and response_size 1. */
static size_t envelope_size(size_t n)
{
    echo_req req = ECHO_REQ_INIT;
    req.payload.data = &dummy_byte; /* sizes only: never read */
    req.payload.len = n;
    req.response_size = 1;
    Ttrpc__Request env = TTRPC__REQUEST__INIT;
    env.service = (char *)ECHO_SERVICE;
    env.method = (char *)ECHO_METHOD;
    env.payload.data = &dummy_byte;
    env.payload.len = hvrpc__echo__v1__echo_request__get_packed_size(&req);
    return ttrpc__request__get_packed_size(&env);
}

/* The payload length whose envelope is exactly target bytes, or 0. */
static size_t payload_for_envelope(size_t target)
{
    size_t n = target - 64;
    while (envelope_size(n) < target)
        n++;
    return envelope_size(n) == target ? n : 0;
}

static echo_req big_request(uint8_t *buf, size_t n, uint32_t response_size)
{
    echo_req req = ECHO_REQ_INIT;
    req.payload.data = buf;
    req.payload.len = n;
    req.response_size = response_size;
    return req;
}

/* A small call on c works and echoes its payload. */
static void check_usable(hvrpc_client *c, const char *what)
{
    echo_req req = ECHO_REQ_INIT;
    req.payload.data = (uint8_t *)"small";
    req.payload.len = 5;
    echo_resp *r = NULL;
    hvrpc_status st;
    hvrpc_code code = integ_echo(c, &req, NULL, &r, &st);
    if (code != HVRPC_OK)
        fprintf(stderr, "after %s: %s (%s)\n", what, hvrpc_code_name(code),
                st.message);
    CHECK_INT(code, HVRPC_OK);
    CHECK(echo_resp_payload_is(r, "small", 5));
    echo_resp_free(r);
}

/* Sends an EchoRequest of n payload bytes asking for response_size bytes
 * back and checks the outcome: want, and on OK a reply of response_size
 * bytes. */
static void expect_big(hvrpc_client *c, uint8_t *buf, size_t n,
                       uint32_t response_size, hvrpc_code want,
                       const char *what)
{
    echo_req req = big_request(buf, n, response_size);
    echo_resp *r = NULL;
    hvrpc_status st;
    hvrpc_code code = integ_echo(c, &req, NULL, &r, &st);
    if (code != want)
        fprintf(stderr, "%s: payload %zu, response_size %u: %s (%s)\n", what, n,
                (unsigned)response_size, hvrpc_code_name(code), st.message);
    CHECK_INT(code, want);
    CHECK_INT(st.code, want);
    if (want == HVRPC_OK)
        CHECK_INT(r ? (long long)r->payload.len : -1, response_size);
    else
        CHECK(r == NULL);
    echo_resp_free(r);
}

/* Against a server with the default 4 MiB limit. */
static void test_default_server(const char *uri, uint8_t *buf, size_t n)
{
    fprintf(stderr, "-- 4 MiB server (%s)\n", transport);
    hvrpc_client *c = integ_connect(uri, 0);
    hvrpc_client *c8 = integ_connect(uri, BIG_FRAME);
    CHECK(c != NULL);
    CHECK(c8 != NULL);
    if (!c || !c8) {
        hvrpc_client_free(c);
        hvrpc_client_free(c8);
        return;
    }
    hvrpc_status st;

    /* Exactly the limit: accepted by the client and the server. */
    expect_big(c, buf, n, 1, HVRPC_OK, "4 MiB, default client");
    expect_big(c8, buf, n, 1, HVRPC_OK, "4 MiB, 8 MiB client");

    /* One byte over, sent (c8 allows it): the server refuses that stream
     * only; the same connection carries on, big calls included. */
    expect_big(c8, buf, n + 1, 1, HVRPC_RESOURCE_EXHAUSTED,
               "4 MiB + 1, 8 MiB client");
    check_usable(c8, "an oversized request (server side)");
    expect_big(c8, buf, n, 1, HVRPC_OK, "4 MiB after 4 MiB + 1");
    expect_big(c8, buf, n + 1, 1, HVRPC_RESOURCE_EXHAUSTED,
               "4 MiB + 1 again, 8 MiB client");
    check_usable(c8, "a second oversized request (server side)");

    /* One byte over from a default client: refused before sending. */
    expect_big(c, buf, n + 1, 1, HVRPC_RESOURCE_EXHAUSTED,
               "4 MiB + 1, default client");
    check_usable(c, "an oversized request (client side)");

    /* A reply over the limit: the server sends RESOURCE_EXHAUSTED instead,
     * whatever the client would accept. */
    echo_req small = ECHO_REQ_INIT;
    small.payload.data = (uint8_t *)"x";
    small.payload.len = 1;
    small.response_size = MAX_FRAME;
    echo_resp *r = NULL;
    CHECK_INT(integ_echo(c, &small, NULL, &r, &st), HVRPC_RESOURCE_EXHAUSTED);
    CHECK_INT(st.code, HVRPC_RESOURCE_EXHAUSTED);
    echo_resp_free(r);
    check_usable(c, "an oversized reply");
    CHECK_INT(integ_echo(c8, &small, NULL, &r, &st), HVRPC_RESOURCE_EXHAUSTED);
    echo_resp_free(r);
    check_usable(c8, "an oversized reply");

    /* A reply just under the limit still goes through. */
    small.response_size = MAX_FRAME - 1024;
    CHECK_INT(integ_echo(c, &small, NULL, &r, &st), HVRPC_OK);
    CHECK_INT(r ? (long long)r->payload.len : -1, MAX_FRAME - 1024);
    echo_resp_free(r);

    hvrpc_client_free(c8);
    hvrpc_client_free(c);
}

/* Against a server allowing 8 MiB: the default client's own limit. */
static void test_big_server(const char *uri, uint8_t *buf, size_t n)
{
    fprintf(stderr, "-- 8 MiB server (%s)\n", transport);
    hvrpc_client *c = integ_connect(uri, 0);
    hvrpc_client *c8 = integ_connect(uri, BIG_FRAME);
    CHECK(c != NULL);
    CHECK(c8 != NULL);
    if (!c || !c8) {
        hvrpc_client_free(c);
        hvrpc_client_free(c8);
        return;
    }
    hvrpc_status st;

    /* This server takes 4 MiB + 1 ... */
    expect_big(c8, buf, n + 1, 1, HVRPC_OK, "4 MiB + 1 to an 8 MiB server");
    /* ... so a default client's RESOURCE_EXHAUSTED is its own. */
    expect_big(c, buf, n + 1, 1, HVRPC_RESOURCE_EXHAUSTED,
               "4 MiB + 1, default client, 8 MiB server");
    check_usable(c, "an oversized request (client side)");

    /* A reply over the default client's limit (the server may send it):
     * the client discards the frame, fails that call with
     * RESOURCE_EXHAUSTED and keeps the connection (DESIGN.md section 3). */
    echo_req small = ECHO_REQ_INIT;
    small.payload.data = (uint8_t *)"x";
    small.payload.len = 1;
    small.response_size = MAX_FRAME;
    echo_resp *r = NULL;
    CHECK_INT(integ_echo(c, &small, NULL, &r, &st), HVRPC_RESOURCE_EXHAUSTED);
    echo_resp_free(r);
    check_usable(c, "an oversized reply (client side)");
    /* c8 takes that reply. */
    CHECK_INT(integ_echo(c8, &small, NULL, &r, &st), HVRPC_OK);
    CHECK_INT(r ? (long long)r->payload.len : -1, MAX_FRAME);
    echo_resp_free(r);

    hvrpc_client_free(c8);
    hvrpc_client_free(c);
}

static void with_server(uint32_t max_frame,
                        void (*fn)(const char *, uint8_t *, size_t),
                        uint8_t *buf, size_t n)
{
    server_proc sp;
    server_proc_options so = {
        .transport = transport, .workers = 2, .max_frame = max_frame};
    char err[512];
    int started = server_proc_start(&sp, &so, err, sizeof err) == 0;
    if (!started)
        fprintf(stderr, "%s\n", err);
    CHECK(started);
    if (started) {
        fn(sp.uri, buf, n);
        CHECK_INT(server_proc_stop(&sp, 10000), 0);
    }
    server_proc_cleanup(&sp);
}

int main(int argc, char **argv)
{
    transport = integ_transport(argc, argv);
    if (!transport)
        return 2;

    /* Envelope = service (2 + 18) + method (2 + 4) + payload field
     * (1 + 4-byte length + EchoRequest), EchoRequest = payload field
     * (1 + 4-byte length + n) + response_size (2): n + 38 bytes. */
    size_t n = payload_for_envelope(MAX_FRAME);
    CHECK_INT(n, MAX_FRAME - 38);
    CHECK_INT(envelope_size(n), MAX_FRAME);
    CHECK_INT(envelope_size(n + 1), MAX_FRAME + 1);
    if (n == 0)
        return check_done();

    uint8_t *buf = malloc(n + 1);
    CHECK(buf != NULL);
    if (!buf)
        return check_done();
    for (size_t i = 0; i < n + 1; i++)
        buf[i] = (uint8_t)(i * 13u + (i >> 16));

    with_server(0, test_default_server, buf, n);
    with_server(BIG_FRAME, test_big_server, buf, n);
    free(buf);
    integ_report_calls(transport);
    return check_done();
}
