/*
 * tests/streaming/test_streams.c - the three streaming kinds against a
 * server in another process: messages in order, empty messages, early
 * close by either side, deadlines, a client process dying mid-stream, the
 * server killed mid-stream, and the wire's edge cases written by hand
 * (Data for unknown, unary and closed streams, the window grant, a plain
 * ttrpc client overrunning a stream, the stream limit).
 *
 * Usage: test_streams unix|tcp|vsock
 */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "check.h"
#include "integ_util.h"
#include "stream_util.h"

static const char *transport;

/* --- a client process dies mid-stream ------------------------------- */

static void test_client_dies(const char *uri)
{
    fprintf(stderr, "-- a client process dies mid-stream\n");
    pid_t pid = fork();
    if (pid == 0) {
        hvrpc_client *c = integ_connect(uri, 0);
        hvrpc_stream *s =
            c ? open_stream(c, "Echo", HVRPC_BIDI_STREAMING, NULL, NULL) : NULL;
        char buf[32];
        if (!s || send_text(s, "hi") != HVRPC_OK ||
            recv_text(s, buf, sizeof buf, NULL, 5000) != HVRPC_OK)
            _exit(1);
        _exit(0); /* no goodbye: the kernel closes the socket */
    }
    CHECK(pid > 0);
    int status = 0;
    waitpid(pid, &status, 0);
    CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    hvrpc_client *c = integ_connect(uri, 0);
    CHECK(c != NULL);
    if (!c)
        return;
    /* The handler, blocked in receive, learns that its peer is gone. */
    CHECK_STR(wait_last_end(c, "UNAVAILABLE", 5000), "UNAVAILABLE");
    hvrpc_client_free(c);
}

/* --- the three kinds -------------------------------------------------- */

static void test_server_streaming(hvrpc_client *c)
{
    fprintf(stderr, "-- server streaming\n");
    hvrpc_stream *s =
        open_stream(c, "Range", HVRPC_SERVER_STREAMING, "50 100", NULL);
    CHECK(s != NULL);
    if (!s)
        return;
    CHECK_INT(hvrpc_stream_kind(s), HVRPC_SERVER_STREAMING);
    int n = 0, in_order = 1;
    hvrpc_buf b;
    hvrpc_status st;
    hvrpc_code r;
    while ((r = hvrpc_stream_recv(s, &b, 5000, &st)) == HVRPC_OK) {
        if (b.len != 100 || range_index(b.data) != (uint32_t)n)
            in_order = 0;
        n++;
        hvrpc_buf_free(&b);
    }
    CHECK_INT(r, HVRPC_END);
    CHECK_INT(n, 50);
    CHECK(in_order);
    CHECK(hvrpc_stream_done(s));
    CHECK(hvrpc_stream_flow_controlled(s));
    /* A server-streaming call sends only its request. */
    CHECK_INT(hvrpc_stream_send(s, "x", 1, 0, &st), HVRPC_FAILED_PRECONDITION);
    hvrpc_stream_free(s);
    integ_count_calls(1);

    /* A failure after some messages: they arrive, then the status. */
    s = open_stream(c, "Range", HVRPC_SERVER_STREAMING, "2 10 0 5", NULL);
    CHECK(s != NULL);
    if (!s)
        return;
    n = 0;
    while ((r = hvrpc_stream_recv(s, &b, 5000, &st)) == HVRPC_OK) {
        n++;
        hvrpc_buf_free(&b);
    }
    CHECK_INT(n, 2);
    CHECK_INT(r, HVRPC_NOT_FOUND);
    CHECK_STR(st.message, "failing as asked");
    /* The end stays the end. */
    CHECK_INT(hvrpc_stream_recv(s, &b, 0, &st), HVRPC_NOT_FOUND);
    hvrpc_stream_free(s);
    integ_count_calls(1);
}

static void test_client_streaming(hvrpc_client *c)
{
    fprintf(stderr, "-- client streaming\n");
    hvrpc_stream *s = open_stream(c, "Sum", HVRPC_CLIENT_STREAMING, NULL, NULL);
    CHECK(s != NULL);
    if (!s)
        return;
    char msg[16] = "0123456789";
    hvrpc_status st;
    for (int i = 0; i < 10; i++)
        CHECK_INT(hvrpc_stream_send(s, msg, (size_t)i, 5000, &st), HVRPC_OK);
    CHECK_INT(hvrpc_stream_close_send(s, &st), HVRPC_OK);
    CHECK_INT(hvrpc_stream_close_send(s, &st), HVRPC_OK); /* idempotent */
    /* Refused: FAILED_PRECONDITION, or END when the server's answer has
     * already ended the stream (it answers as soon as our half ends). */
    hvrpc_code late = hvrpc_stream_send(s, "x", 1, 0, &st);
    CHECK(late == HVRPC_FAILED_PRECONDITION || late == HVRPC_END);
    char buf[64];
    CHECK_INT(recv_text(s, buf, sizeof buf, NULL, 5000), HVRPC_OK);
    CHECK_STR(buf, "count=10 bytes=45");
    CHECK_INT(recv_text(s, buf, sizeof buf, NULL, 5000), HVRPC_END);
    hvrpc_stream_free(s);
    integ_count_calls(1);

    /* A request message is refused for anything but server streaming. */
    hvrpc_stream *bad = NULL;
    CHECK_INT(hvrpc_client_stream(c, STREAMS_SERVICE, "Sum",
                                  HVRPC_CLIENT_STREAMING, "x", 1, NULL, &bad,
                                  &st),
              HVRPC_INVALID_ARGUMENT);
    CHECK_INT(hvrpc_client_stream(c, STREAMS_SERVICE, "Sum", HVRPC_UNARY, NULL,
                                  0, NULL, &bad, &st),
              HVRPC_INVALID_ARGUMENT);
    CHECK(bad == NULL);
}

static void test_bidi(hvrpc_client *c)
{
    fprintf(stderr, "-- bidirectional\n");
    hvrpc_stream *s = open_stream(c, "Echo", HVRPC_BIDI_STREAMING, NULL, NULL);
    CHECK(s != NULL);
    if (!s)
        return;
    int ok = 1;
    for (int i = 0; i < 200 && ok; i++) {
        char out[32], in[32];
        snprintf(out, sizeof out, "message %d", i);
        ok = send_text(s, out) == HVRPC_OK &&
             recv_text(s, in, sizeof in, NULL, 5000) == HVRPC_OK &&
             strcmp(in, out) == 0;
    }
    CHECK(ok);
    /* Pipelined: many out before reading any back. */
    for (int i = 0; i < 100; i++) {
        char out[32];
        snprintf(out, sizeof out, "p%d", i);
        send_text(s, out);
    }
    for (int i = 0; i < 100 && ok; i++) {
        char out[32], in[32];
        snprintf(out, sizeof out, "p%d", i);
        ok = recv_text(s, in, sizeof in, NULL, 5000) == HVRPC_OK &&
             strcmp(in, out) == 0;
    }
    CHECK(ok);
    hvrpc_status st;
    CHECK_INT(hvrpc_stream_close_send(s, &st), HVRPC_OK);
    char buf[32];
    CHECK_INT(recv_text(s, buf, sizeof buf, NULL, 5000), HVRPC_END);
    hvrpc_stream_free(s);
    integ_count_calls(1);
}

/* --- empty messages --------------------------------------------------- */

static void test_empty(hvrpc_client *c)
{
    fprintf(stderr, "-- empty messages\n");
    hvrpc_status st;
    hvrpc_stream *s = open_stream(c, "Sum", HVRPC_CLIENT_STREAMING, NULL, NULL);
    if (s) {
        for (int i = 0; i < 3; i++)
            CHECK_INT(hvrpc_stream_send(s, NULL, 0, 5000, &st), HVRPC_OK);
        hvrpc_stream_close_send(s, &st);
        char buf[64];
        CHECK_INT(recv_text(s, buf, sizeof buf, NULL, 5000), HVRPC_OK);
        CHECK_STR(buf, "count=3 bytes=0");
        hvrpc_stream_free(s);
    }
    CHECK(s != NULL);

    /* Nothing sent at all: an empty stream, still one answer. */
    s = open_stream(c, "Sum", HVRPC_CLIENT_STREAMING, NULL, NULL);
    if (s) {
        hvrpc_stream_close_send(s, &st);
        char buf[64];
        CHECK_INT(recv_text(s, buf, sizeof buf, NULL, 5000), HVRPC_OK);
        CHECK_STR(buf, "count=0 bytes=0");
        hvrpc_stream_free(s);
    }

    s = open_stream(c, "Range", HVRPC_SERVER_STREAMING, "4 0", NULL);
    if (s) {
        int n = 0, empty = 1;
        hvrpc_buf b;
        hvrpc_code r;
        while ((r = hvrpc_stream_recv(s, &b, 5000, &st)) == HVRPC_OK) {
            n++;
            empty = empty && b.len == 0;
            hvrpc_buf_free(&b);
        }
        CHECK_INT(r, HVRPC_END);
        CHECK_INT(n, 4);
        CHECK(empty);
        hvrpc_stream_free(s);
    }

    s = open_stream(c, "Echo", HVRPC_BIDI_STREAMING, NULL, NULL);
    if (s) {
        CHECK_INT(hvrpc_stream_send(s, "", 0, 5000, &st), HVRPC_OK);
        size_t len = 99;
        char buf[8];
        CHECK_INT(recv_text(s, buf, sizeof buf, &len, 5000), HVRPC_OK);
        CHECK_INT(len, 0);
        hvrpc_stream_free(s);
    }
    integ_count_calls(4);
}

/* --- early ends ---------------------------------------------------------- */

static void test_early_close(hvrpc_client *c)
{
    fprintf(stderr, "-- early close by the server\n");
    hvrpc_status st;
    char buf[64];
    hvrpc_stream *s = open_stream(c, "Echo", HVRPC_BIDI_STREAMING, NULL, NULL);
    if (s) {
        CHECK_INT(send_text(s, "one"), HVRPC_OK);
        CHECK_INT(recv_text(s, buf, sizeof buf, NULL, 5000), HVRPC_OK);
        CHECK_INT(send_text(s, "close"), HVRPC_OK);
        CHECK_INT(recv_text(s, buf, sizeof buf, NULL, 5000), HVRPC_END);
        /* Over: nothing more goes. */
        CHECK_INT(hvrpc_stream_send(s, "x", 1, 0, &st), HVRPC_END);
        hvrpc_stream_free(s);
    }
    s = open_stream(c, "Echo", HVRPC_BIDI_STREAMING, NULL, NULL);
    if (s) {
        CHECK_INT(send_text(s, "abort"), HVRPC_OK);
        CHECK_INT(recv_text(s, buf, sizeof buf, NULL, 5000), HVRPC_ABORTED);
        CHECK_STR(buf, "aborting as asked");
        CHECK_INT(hvrpc_stream_send(s, "x", 1, 0, &st), HVRPC_ABORTED);
        hvrpc_stream_free(s);
    }

    fprintf(stderr, "-- early close by the client\n");
    /* Cancel mid-way: this side sees CANCELLED at once, the server's
     * sender is stopped (its send returns CANCELLED). */
    s = open_stream(c, "Range", HVRPC_SERVER_STREAMING, "1000000 16 1", NULL);
    if (s) {
        for (int i = 0; i < 3; i++)
            CHECK_INT(recv_text(s, buf, sizeof buf, NULL, 5000), HVRPC_OK);
        hvrpc_stream_cancel(s);
        CHECK(hvrpc_stream_done(s));
        hvrpc_buf b;
        hvrpc_code r;
        while ((r = hvrpc_stream_recv(s, &b, 0, &st)) == HVRPC_OK)
            hvrpc_buf_free(&b); /* what had arrived still comes */
        CHECK_INT(r, HVRPC_CANCELLED);
        hvrpc_stream_free(s);
        CHECK_STR(wait_last_end(c, "CANCELLED", 5000), "CANCELLED");
    }
    /* Freed without a word mid-way: the same for the server. */
    s = open_stream(c, "Echo", HVRPC_BIDI_STREAMING, NULL, NULL);
    if (s) {
        CHECK_INT(send_text(s, "one"), HVRPC_OK);
        CHECK_INT(recv_text(s, buf, sizeof buf, NULL, 5000), HVRPC_OK);
        hvrpc_stream_free(s);
    }
    /* The connection is fine afterwards. */
    echo_req req = ECHO_REQ_INIT;
    CHECK_INT(integ_echo(c, &req, NULL, NULL, NULL), HVRPC_OK);
    integ_count_calls(4);
}

static void test_deadline(hvrpc_client *c)
{
    fprintf(stderr, "-- deadline\n");
    hvrpc_stream_options o = HVRPC_STREAM_OPTIONS_INIT;
    o.timeout_ms = 200;
    hvrpc_stream *s = open_stream(c, "Echo", HVRPC_BIDI_STREAMING, NULL, &o);
    if (!s)
        return;
    int64_t t0 = integ_now_ms();
    char buf[64];
    CHECK_INT(recv_text(s, buf, sizeof buf, NULL, HVRPC_WAIT_FOREVER),
              HVRPC_DEADLINE_EXCEEDED);
    int64_t dt = integ_now_ms() - t0;
    CHECK(dt >= 150 && dt < 3000);
    hvrpc_stream_free(s);
    /* A receive with a short timeout of its own leaves the stream be. */
    s = open_stream(c, "Echo", HVRPC_BIDI_STREAMING, NULL, NULL);
    if (s) {
        CHECK_INT(recv_text(s, buf, sizeof buf, NULL, 20), HVRPC_WOULD_BLOCK);
        CHECK(!hvrpc_stream_done(s));
        CHECK_INT(send_text(s, "still here"), HVRPC_OK);
        CHECK_INT(recv_text(s, buf, sizeof buf, NULL, 5000), HVRPC_OK);
        CHECK_STR(buf, "still here");
        hvrpc_stream_free(s);
    }
    integ_count_calls(2);
}

/* --- the wire's edge cases, by hand ------------------------------------ */

/* The next frame that is not a window grant (a windowed stream may get
 * grants at any time). */
static int read_answer(int fd, uint32_t *id, uint8_t *type, uint8_t *flags,
                       uint8_t *data, size_t size, size_t *len)
{
    for (;;) {
        if (raw_read_frame(fd, 5000, id, type, flags, data, size, len) != 0)
            return -1;
        if (*type != 0x10)
            return 0;
    }
}

static void test_raw(const char *uri)
{
    fprintf(stderr, "-- hand-written frames\n");
    int fd = integ_raw_connect(uri);
    CHECK(fd >= 0);
    if (fd < 0)
        return;
    uint8_t data[512];
    size_t len;
    uint32_t id;
    uint8_t type, flags;

    /* Data for a stream never opened: dropped, no answer. */
    CHECK_INT(raw_frame(fd, 7, 3, 0, "zz", 2), 0);
    CHECK_INT(raw_frame(fd, 7, 3, 1, NULL, 0), 0);

    /* A windowed client is granted the server's window first thing. */
    CHECK_INT(raw_request(fd, 9, 2, STREAMS_SERVICE, "Sum", NULL, 0, "4096"),
              0);
    CHECK_INT(
        raw_read_frame(fd, 5000, &id, &type, &flags, data, sizeof data, &len),
        0);
    CHECK_INT(id, 9);
    CHECK_INT(type, 0x10);
    CHECK_INT(len, 4);
    CHECK_INT(range_index(data), HVRPC_DEFAULT_STREAM_WINDOW);
    /* Data, close, then Data after close: INVALID_ARGUMENT. */
    CHECK_INT(raw_frame(fd, 9, 3, 0, "abc", 3), 0);
    CHECK_INT(raw_frame(fd, 9, 3, 0, "", 0), 0); /* an empty message */
    CHECK_INT(raw_frame(fd, 9, 3, 1 | 4, NULL, 0), 0);
    CHECK_INT(raw_frame(fd, 9, 3, 0, "late", 4), 0);
    /* The answer to Sum (count=2: "abc" and the empty one) comes, or the
     * INVALID_ARGUMENT if the late Data was seen first: either way the
     * stream gets exactly one end, and the connection lives on. */
    CHECK_INT(read_answer(fd, &id, &type, &flags, data, sizeof data, &len), 0);
    CHECK_INT(id, 9);
    CHECK_INT(type, 2);
    int code = raw_response_code(data, len);
    CHECK(code == 0 || code == HVRPC_INVALID_ARGUMENT);

    /* Data after close, ordered for sure: a plain client's Sum that the
     * handler cannot answer before the late frame (Stall reads nothing). */
    CHECK_INT(raw_request(fd, 11, 2, STREAMS_SERVICE, "Stall", NULL, 0, NULL),
              0);
    CHECK_INT(raw_frame(fd, 11, 3, 1, "last", 4), 0);
    CHECK_INT(raw_frame(fd, 11, 3, 0, "late", 4), 0);
    CHECK_INT(read_answer(fd, &id, &type, &flags, data, sizeof data, &len), 0);
    CHECK_INT(id, 11);
    CHECK_INT(type, 2);
    CHECK_INT(raw_response_code(data, len), HVRPC_INVALID_ARGUMENT);

    /* A plain ttrpc client (no window offer) that sends past the window
     * of a stream whose handler does not read: RESOURCE_EXHAUSTED on that
     * stream only. */
    CHECK_INT(raw_request(fd, 13, 2, STREAMS_SERVICE, "Stall", NULL, 0, NULL),
              0);
    static uint8_t chunk[1024];
    for (int i = 0; i < 300; i++)
        raw_frame(fd, 13, 3, 0, chunk, sizeof chunk);
    CHECK_INT(read_answer(fd, &id, &type, &flags, data, sizeof data, &len), 0);
    CHECK_INT(id, 13);
    CHECK_INT(type, 2);
    CHECK_INT(raw_response_code(data, len), HVRPC_RESOURCE_EXHAUSTED);

    /* Data on a unary call: dropped; the call is answered as usual. The
     * LastEnd call (id 15) gets its Data, then answers. */
    CHECK_INT(raw_request(fd, 15, 0, STREAMS_SERVICE, "LastEnd", NULL, 0, NULL),
              0);
    CHECK_INT(raw_frame(fd, 15, 3, 0, "zz", 2), 0);
    CHECK_INT(read_answer(fd, &id, &type, &flags, data, sizeof data, &len), 0);
    CHECK_INT(id, 15);
    CHECK_INT(type, 2);
    CHECK_INT(raw_response_code(data, len), 0);
    /* And a server-streaming call: the request's payload is its input. */
    CHECK_INT(raw_request(fd, 17, 1, STREAMS_SERVICE, "Range", "2 1", 3, NULL),
              0);
    int msgs = 0, end_flags = -1;
    for (int i = 0; i < 3; i++) {
        if (read_answer(fd, &id, &type, &flags, data, sizeof data, &len) != 0)
            break;
        if (type == 3 && !(flags & 4))
            msgs++;
        if (type == 3 && (flags & 1))
            end_flags = flags;
    }
    CHECK_INT(msgs, 2);
    CHECK_INT(end_flags, 1 | 4);
    close(fd);
    integ_count_calls(6);
}

static void test_stream_limit(const char *t)
{
    fprintf(stderr, "-- streams per connection\n");
    server_proc sp;
    if (stream_server_start(&sp, t, 4) != 0) {
        CHECK(0);
        return;
    }
    hvrpc_client *c = integ_connect(sp.uri, 0);
    hvrpc_stream *s[5] = {0};
    if (c) {
        for (int i = 0; i < 4; i++) {
            s[i] = open_stream(c, "Echo", HVRPC_BIDI_STREAMING, NULL, NULL);
            CHECK(s[i] != NULL);
            if (s[i])
                CHECK_INT(send_text(s[i], "x"), HVRPC_OK);
        }
        char buf[64];
        for (int i = 0; i < 4; i++)
            if (s[i])
                CHECK_INT(recv_text(s[i], buf, sizeof buf, NULL, 5000),
                          HVRPC_OK);
        s[4] = open_stream(c, "Echo", HVRPC_BIDI_STREAMING, NULL, NULL);
        if (s[4])
            CHECK_INT(recv_text(s[4], buf, sizeof buf, NULL, 5000),
                      HVRPC_RESOURCE_EXHAUSTED);
        /* Unary calls are not streams: still served. */
        echo_req req = ECHO_REQ_INIT;
        CHECK_INT(integ_echo(c, &req, NULL, NULL, NULL), HVRPC_OK);
        for (int i = 0; i < 5; i++)
            hvrpc_stream_free(s[i]);
        hvrpc_client_free(c);
    }
    CHECK_INT(server_proc_stop(&sp, 10000), 0);
    server_proc_cleanup(&sp);
}

/* --- the server dies mid-stream ---------------------------------------- */

static void test_server_dies(const char *t)
{
    fprintf(stderr, "-- the server dies mid-stream\n");
    server_proc sp;
    if (stream_server_start(&sp, t, 0) != 0) {
        CHECK(0);
        return;
    }
    hvrpc_client *c = integ_connect(sp.uri, 0);
    if (c) {
        hvrpc_stream *s =
            open_stream(c, "Echo", HVRPC_BIDI_STREAMING, NULL, NULL);
        hvrpc_stream *r =
            open_stream(c, "Range", HVRPC_SERVER_STREAMING, "100000 8 1", NULL);
        char buf[64];
        if (s && r) {
            CHECK_INT(send_text(s, "hi"), HVRPC_OK);
            CHECK_INT(recv_text(s, buf, sizeof buf, NULL, 5000), HVRPC_OK);
            CHECK_INT(recv_text(r, buf, sizeof buf, NULL, 5000), HVRPC_OK);
            server_proc_signal(&sp, SIGKILL);
            int64_t t0 = integ_now_ms();
            CHECK_INT(recv_text(s, buf, sizeof buf, NULL, 5000),
                      HVRPC_UNAVAILABLE);
            hvrpc_code code;
            while ((code = recv_text(r, buf, sizeof buf, NULL, 5000)) ==
                   HVRPC_OK)
                ;
            CHECK_INT(code, HVRPC_UNAVAILABLE);
            CHECK(integ_now_ms() - t0 < 5000);
            CHECK_INT(hvrpc_stream_send(s, "x", 1, 0, NULL), HVRPC_UNAVAILABLE);
        }
        hvrpc_stream_free(s);
        hvrpc_stream_free(r);
        hvrpc_client_free(c);
    }
    server_proc_cleanup(&sp);
}

int main(int argc, char **argv)
{
    transport = integ_transport(argc, argv);
    if (!transport)
        return 2;
    signal(SIGPIPE, SIG_IGN);
    server_proc sp;
    if (stream_server_start(&sp, transport, 0) != 0)
        return 1;
    test_client_dies(sp.uri);
    hvrpc_client *c = integ_connect(sp.uri, 0);
    CHECK(c != NULL);
    if (c) {
        test_server_streaming(c);
        test_client_streaming(c);
        test_bidi(c);
        test_empty(c);
        test_early_close(c);
        test_deadline(c);
        hvrpc_client_free(c);
    }
    if (strcmp(transport, "vsock") != 0)
        test_raw(sp.uri);
    /* The server stops cleanly with everything above behind it. */
    CHECK_INT(server_proc_stop(&sp, 10000), 0);
    server_proc_cleanup(&sp);
    test_stream_limit(transport);
    test_server_dies(transport);
    integ_report_calls(transport);
    return check_done();
}
