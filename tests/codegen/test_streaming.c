/*
 * test_streaming.c - the generated stream stubs of
 * tests/codegen/protos/streams.proto, compiled and run: each streaming
 * kind through its typed open/send/recv and handler signature, next to a
 * unary method of the same service.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "check.h"
#include "streams.hvrpc.h"

typedef Streams__V1__Num Num;
typedef Streams__V1__Total Total;

static void add(hvrpc_call *call, const Num *req, void *ud)
{
    (void)ud;
    Total t = STREAMS__V1__TOTAL__INIT;
    t.sum = req->n;
    t.count = 1;
    streams__v1__calc__add_reply(call, &t);
}

static void sum(hvrpc_stream *s, void *ud)
{
    CHECK_STR((const char *)ud, "user data");
    Total t = STREAMS__V1__TOTAL__INIT;
    Num *n;
    hvrpc_status st;
    hvrpc_code r;
    while ((r = streams__v1__calc__sum_server_recv(s, &n, HVRPC_WAIT_FOREVER,
                                                   &st)) == HVRPC_OK) {
        t.sum += n->n;
        t.count++;
        protobuf_c_message_free_unpacked(&n->base, NULL);
    }
    if (r == HVRPC_END)
        streams__v1__calc__sum_reply(s, &t);
    else
        hvrpc_stream_finish(s, r, "%s", st.message);
}

static void count(hvrpc_stream *s, const Num *req, void *ud)
{
    (void)ud;
    for (int i = 0; i < req->n; i++) {
        Num n = STREAMS__V1__NUM__INIT;
        n.n = i;
        if (streams__v1__calc__count_server_send(s, &n, HVRPC_WAIT_FOREVER,
                                                 NULL) != HVRPC_OK)
            break;
    }
    hvrpc_stream_finish(s, req->n < 0 ? HVRPC_OUT_OF_RANGE : HVRPC_OK, NULL);
}

static void twice(hvrpc_stream *s, void *ud)
{
    (void)ud;
    Num *n;
    hvrpc_code r;
    while ((r = streams__v1__calc__twice_server_recv(s, &n, HVRPC_WAIT_FOREVER,
                                                     NULL)) == HVRPC_OK) {
        n->n *= 2;
        streams__v1__calc__twice_server_send(s, n, HVRPC_WAIT_FOREVER, NULL);
        protobuf_c_message_free_unpacked(&n->base, NULL);
    }
    hvrpc_stream_finish(s, r == HVRPC_END ? HVRPC_OK : r, NULL);
}

static const streams__v1__calc_handlers handlers = {
    .add = add, .sum = sum, .count = count, .twice = NULL};

int main(void)
{
    char dir[] = "/tmp/hvrpc-cgstream-XXXXXX";
    if (!mkdtemp(dir))
        return 1;
    char uri[128];
    snprintf(uri, sizeof uri, "unix://%s/calc.sock", dir);
    setenv("HVRPC_STREAMS_V1_CALC_ADDR", uri, 1);

    hvrpc_server *srv;
    hvrpc_endpoint *ep;
    hvrpc_status st;
    CHECK_INT(hvrpc_server_create(NULL, &srv, &st), HVRPC_OK);
    CHECK_INT(streams__v1__calc_listen(srv, &ep, &st), HVRPC_OK);
    /* Every handler is required, the streaming ones too. */
    CHECK_INT(streams__v1__calc_register(srv, ep, &handlers, NULL, &st),
              HVRPC_INVALID_ARGUMENT);
    CHECK_CONTAINS(st.message, "no handler for Twice");
    streams__v1__calc_handlers h = handlers;
    h.twice = twice;
    CHECK_INT(streams__v1__calc_register(srv, ep, &h, "user data", &st),
              HVRPC_OK);
    CHECK_INT(hvrpc_server_start(srv, &st), HVRPC_OK);

    hvrpc_client *c;
    CHECK_INT(streams__v1__calc_connect_host(NULL, &c, &st), HVRPC_OK);

    /* unary, next to the streams */
    Num one = STREAMS__V1__NUM__INIT;
    one.n = 7;
    Total *t = NULL;
    CHECK_INT(streams__v1__calc__add_call(c, &one, &t, NULL, &st), HVRPC_OK);
    CHECK(t && t->sum == 7);
    if (t)
        protobuf_c_message_free_unpacked(&t->base, NULL);

    /* client streaming */
    hvrpc_stream *s;
    CHECK_INT(streams__v1__calc__sum_open(c, NULL, &s, &st), HVRPC_OK);
    for (int i = 1; i <= 10; i++) {
        Num n = STREAMS__V1__NUM__INIT;
        n.n = i;
        CHECK_INT(streams__v1__calc__sum_send(s, &n, 5000, &st), HVRPC_OK);
    }
    hvrpc_stream_close_send(s, &st);
    t = NULL;
    CHECK_INT(streams__v1__calc__sum_recv(s, &t, 5000, &st), HVRPC_OK);
    CHECK(t && t->sum == 55 && t->count == 10);
    if (t)
        protobuf_c_message_free_unpacked(&t->base, NULL);
    CHECK_INT(streams__v1__calc__sum_recv(s, &t, 5000, &st), HVRPC_END);
    CHECK(t == NULL);
    hvrpc_stream_free(s);

    /* server streaming, its request in open */
    Num five = STREAMS__V1__NUM__INIT;
    five.n = 5;
    CHECK_INT(streams__v1__calc__count_open(c, &five, NULL, &s, &st), HVRPC_OK);
    Num *n;
    int got = 0;
    hvrpc_code r;
    while ((r = streams__v1__calc__count_recv(s, &n, 5000, &st)) == HVRPC_OK) {
        CHECK_INT(n->n, got);
        got++;
        protobuf_c_message_free_unpacked(&n->base, NULL);
    }
    CHECK_INT(r, HVRPC_END);
    CHECK_INT(got, 5);
    hvrpc_stream_free(s);
    Num neg = STREAMS__V1__NUM__INIT;
    neg.n = -1;
    CHECK_INT(streams__v1__calc__count_open(c, &neg, NULL, &s, &st), HVRPC_OK);
    CHECK_INT(streams__v1__calc__count_recv(s, &n, 5000, &st),
              HVRPC_OUT_OF_RANGE);
    hvrpc_stream_free(s);

    /* bidirectional */
    CHECK_INT(streams__v1__calc__twice_open(c, NULL, &s, &st), HVRPC_OK);
    for (int i = 0; i < 20; i++) {
        Num x = STREAMS__V1__NUM__INIT;
        x.n = i;
        CHECK_INT(streams__v1__calc__twice_send(s, &x, 5000, &st), HVRPC_OK);
        n = NULL;
        CHECK_INT(streams__v1__calc__twice_recv(s, &n, 5000, &st), HVRPC_OK);
        CHECK(n && n->n == 2 * i);
        if (n)
            protobuf_c_message_free_unpacked(&n->base, NULL);
    }
    hvrpc_stream_close_send(s, &st);
    CHECK_INT(streams__v1__calc__twice_recv(s, &n, 5000, &st), HVRPC_END);
    hvrpc_stream_free(s);

    /* A message that is not the method's input type: the server's
     * decoding fails the stream INVALID_ARGUMENT. */
    CHECK_INT(hvrpc_client_stream(c, STREAMS__V1__CALC_NAME, "Twice",
                                  HVRPC_BIDI_STREAMING, NULL, 0, NULL, &s, &st),
              HVRPC_OK);
    CHECK_INT(hvrpc_stream_send(s, "\xff\xff", 2, 5000, &st), HVRPC_OK);
    hvrpc_buf b;
    CHECK_INT(hvrpc_stream_recv(s, &b, 5000, &st), HVRPC_INVALID_ARGUMENT);
    CHECK_CONTAINS(st.message, "streams.v1.Num");
    hvrpc_stream_free(s);

    hvrpc_client_free(c);
    hvrpc_server_free(srv);
    rmdir(dir);
    return check_done();
}
