/*
 * tests/streaming/test_flow.c - flow control and scale, against a server
 * in another process:
 *   - a sender is held at the receiver's window: try-send reports
 *     HVRPC_WOULD_BLOCK, a timed send gives up, nothing is lost;
 *   - a slow reader next to fast ones: the fast streams keep their rate
 *     (the ratio of their time with and without the slow one is asserted,
 *     not absolute times), and the slow stream holds at most a window;
 *   - a client without flow control (a plain ttrpc peer's behaviour)
 *     that does not read: its stream fails RESOURCE_EXHAUSTED, alone;
 *   - 1000 concurrent streams on one connection.
 *
 * Usage: test_flow unix|tcp|vsock
 */
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "check.h"
#include "integ_util.h"
#include "stream_util.h"

#define MANY 1000

static const char *transport;

static void test_window_holds_sender(hvrpc_client *c)
{
    fprintf(stderr, "-- the receiver's window holds the sender\n");
    hvrpc_stream_options o = HVRPC_STREAM_OPTIONS_INIT;
    hvrpc_stream *s = open_stream(c, "Stall", HVRPC_CLIENT_STREAMING, NULL, &o);
    CHECK(s != NULL);
    if (!s)
        return;
    static uint8_t msg[1000];
    hvrpc_status st;
    int sent = 0;
    hvrpc_code r;
    /* The first send waits for the server's grant. */
    CHECK_INT(hvrpc_stream_send(s, msg, sizeof msg, 5000, &st), HVRPC_OK);
    sent++;
    CHECK(hvrpc_stream_flow_controlled(s));
    while ((r = hvrpc_stream_try_send(s, msg, sizeof msg, &st)) == HVRPC_OK)
        sent++;
    CHECK_INT(r, HVRPC_WOULD_BLOCK);
    /* Exactly what fits in the server's default window. */
    int fit = (int)(HVRPC_DEFAULT_STREAM_WINDOW /
                    (sizeof msg + HVRPC_STREAM_MESSAGE_OVERHEAD));
    CHECK_INT(sent, fit);
    int64_t t0 = integ_now_ms();
    CHECK_INT(hvrpc_stream_send(s, msg, sizeof msg, 100, &st),
              HVRPC_WOULD_BLOCK);
    CHECK(integ_now_ms() - t0 >= 90);
    CHECK(!hvrpc_stream_done(s)); /* would-block leaves the stream be */
    hvrpc_stream_cancel(s);
    hvrpc_stream_free(s);
    CHECK_STR(wait_last_end(c, "CANCELLED", 5000), "CANCELLED");
    integ_count_calls(1);
}

/* --- a slow reader next to fast ones --------------------------------- */

#define FAST       4
#define FAST_MSGS  3000
#define FAST_SIZE  512
#define SLOW_SIZE  1024
#define SLOW_READS 20

typedef struct fast_arg {
    hvrpc_client *c;
    int ok;
} fast_arg;

static void *fast_reader(void *arg)
{
    fast_arg *a = arg;
    char req[32];
    snprintf(req, sizeof req, "%d %d", FAST_MSGS, FAST_SIZE);
    hvrpc_stream *s =
        open_stream(a->c, "Range", HVRPC_SERVER_STREAMING, req, NULL);
    if (!s)
        return NULL;
    hvrpc_buf b;
    hvrpc_status st;
    hvrpc_code r;
    int n = 0, in_order = 1;
    while ((r = hvrpc_stream_recv(s, &b, 20000, &st)) == HVRPC_OK) {
        if (b.len != FAST_SIZE || range_index(b.data) != (uint32_t)n)
            in_order = 0;
        n++;
        hvrpc_buf_free(&b);
    }
    a->ok = r == HVRPC_END && n == FAST_MSGS && in_order;
    hvrpc_stream_free(s);
    return NULL;
}

/* Runs FAST fast streams at once; their wall time in ms, -1 on failure. */
static int64_t run_fast(hvrpc_client *c)
{
    pthread_t t[FAST];
    fast_arg a[FAST];
    int64_t t0 = integ_now_ms();
    for (int i = 0; i < FAST; i++) {
        a[i] = (fast_arg){c, 0};
        pthread_create(&t[i], NULL, fast_reader, &a[i]);
    }
    int ok = 1;
    for (int i = 0; i < FAST; i++) {
        pthread_join(t[i], NULL);
        ok = ok && a[i].ok;
    }
    return ok ? integ_now_ms() - t0 : -1;
}

static void test_slow_reader(hvrpc_client *c)
{
    fprintf(stderr, "-- a slow reader next to fast ones\n");
    int64_t alone = run_fast(c);
    CHECK(alone >= 0);

    /* The slow stream's server could send 1,000,000 messages; its reader
     * takes one now and then. */
    char req[32];
    snprintf(req, sizeof req, "1000000 %d", SLOW_SIZE);
    hvrpc_stream *slow =
        open_stream(c, "Range", HVRPC_SERVER_STREAMING, req, NULL);
    CHECK(slow != NULL);
    if (!slow)
        return;
    char buf[8];
    CHECK_INT(recv_text(slow, buf, sizeof buf, NULL, 5000), HVRPC_OK);
    usleep(100 * 1000); /* let it fill its window */
    int64_t beside = run_fast(c);
    CHECK(beside >= 0);
    fprintf(stderr,
            "fast streams: %lld ms alone, %lld ms beside a slow "
            "reader\n",
            (long long)alone, (long long)beside);
    /* The fast ones keep their rate: at most 3 times slower (+100 ms of
     * slack for a loaded machine) - without per-stream flow control they
     * would wait for the slow reader, that is forever. */
    CHECK(alone >= 0 && beside >= 0 && beside <= 3 * alone + 100);

    /* The slow stream was held at its window: had the server sent more
     * than that ahead of this reader, the client would have failed the
     * stream RESOURCE_EXHAUSTED (the receive side enforces the bound).
     * Draining it now (each take grants more, so the server refills as
     * we go) finds every message in order. */
    hvrpc_buf b;
    hvrpc_status st;
    int queued = 0;
    uint32_t next = 1;
    int in_order = 1;
    while (queued < 100000 && hvrpc_stream_recv(slow, &b, 0, &st) == HVRPC_OK) {
        in_order = in_order && range_index(b.data) == next++;
        queued++;
        hvrpc_buf_free(&b);
    }
    int window_msgs = (int)(HVRPC_DEFAULT_STREAM_WINDOW /
                            (SLOW_SIZE + HVRPC_STREAM_MESSAGE_OVERHEAD));
    fprintf(stderr, "slow stream: %d messages ready (window: %d)\n", queued,
            window_msgs);
    CHECK(queued >= window_msgs / 2);
    CHECK(in_order);
    /* And it goes on where it stopped: nothing lost, nothing reordered. */
    for (int i = 0; i < SLOW_READS; i++) {
        CHECK_INT(hvrpc_stream_recv(slow, &b, 5000, &st), HVRPC_OK);
        if (b.data)
            in_order = in_order && range_index(b.data) == next++;
        hvrpc_buf_free(&b);
    }
    CHECK(in_order);
    hvrpc_stream_free(slow);
    CHECK_STR(wait_last_end(c, "CANCELLED", 5000), "CANCELLED");
    integ_count_calls(2 * FAST + 1);
}

/* --- no flow control --------------------------------------------------- */

static void test_unwindowed_overrun(hvrpc_client *c)
{
    fprintf(stderr, "-- a client without flow control that does not read\n");
    hvrpc_stream_options o = HVRPC_STREAM_OPTIONS_INIT;
    o.flow = HVRPC_FLOW_OFF;
    o.window = 64 * 1024;
    hvrpc_stream *s =
        open_stream(c, "Range", HVRPC_SERVER_STREAMING, "100000 1024", &o);
    hvrpc_stream *ok =
        open_stream(c, "Range", HVRPC_SERVER_STREAMING, "10 16", NULL);
    CHECK(s != NULL && ok != NULL);
    if (!s || !ok)
        return;
    CHECK(!hvrpc_stream_flow_controlled(s));
    usleep(300 * 1000);
    hvrpc_buf b;
    hvrpc_status st;
    hvrpc_code r;
    int n = 0;
    while ((r = hvrpc_stream_recv(s, &b, 5000, &st)) == HVRPC_OK) {
        n++;
        hvrpc_buf_free(&b);
    }
    CHECK_INT(r, HVRPC_RESOURCE_EXHAUSTED);
    CHECK(n > 0 && n <= (int)(o.window / (1024 + 64)) + 1);
    /* The other stream on the connection is served in full. */
    n = 0;
    while ((r = hvrpc_stream_recv(ok, &b, 5000, &st)) == HVRPC_OK) {
        n++;
        hvrpc_buf_free(&b);
    }
    CHECK_INT(r, HVRPC_END);
    CHECK_INT(n, 10);
    hvrpc_stream_free(s);
    hvrpc_stream_free(ok);
    integ_count_calls(2);
}

/* --- 1000 streams at once ---------------------------------------------- */

static void test_many(hvrpc_client *c)
{
    fprintf(stderr, "-- %d concurrent streams on one connection\n", MANY);
    hvrpc_stream **s = calloc(MANY, sizeof *s);
    int opened = 0, echoed = 0, ended = 0;
    for (int i = 0; i < MANY; i++) {
        s[i] = open_stream(c, "Echo", HVRPC_BIDI_STREAMING, NULL, NULL);
        if (!s[i])
            break;
        opened++;
        char m[16];
        snprintf(m, sizeof m, "s%d", i);
        send_text(s[i], m);
    }
    CHECK_INT(opened, MANY);
    for (int i = 0; i < opened; i++) {
        char m[16], in[16];
        snprintf(m, sizeof m, "s%d", i);
        if (recv_text(s[i], in, sizeof in, NULL, 20000) == HVRPC_OK &&
            strcmp(in, m) == 0)
            echoed++;
    }
    CHECK_INT(echoed, MANY);
    /* Every stream is still open on both sides: a second round. */
    for (int i = 0; i < opened; i++)
        send_text(s[i], "again");
    for (int i = 0; i < opened; i++) {
        char in[16];
        hvrpc_status st;
        recv_text(s[i], in, sizeof in, NULL, 20000);
        hvrpc_stream_close_send(s[i], &st);
    }
    for (int i = 0; i < opened; i++) {
        char in[16];
        if (recv_text(s[i], in, sizeof in, NULL, 20000) == HVRPC_END)
            ended++;
        hvrpc_stream_free(s[i]);
    }
    CHECK_INT(ended, MANY);
    free(s);
    integ_count_calls(echoed);
}

int main(int argc, char **argv)
{
    transport = integ_transport(argc, argv);
    if (!transport)
        return 2;
    signal(SIGPIPE, SIG_IGN);
    server_proc sp;
    /* Room for MANY beside streams of the earlier tests still ending
     * (the unwindowed one's server sends on until it has sent all). */
    if (stream_server_start(&sp, transport, MANY + 16) != 0)
        return 1;
    hvrpc_client *c = integ_connect(sp.uri, 0);
    CHECK(c != NULL);
    if (c) {
        test_window_holds_sender(c);
        test_slow_reader(c);
        test_unwindowed_overrun(c);
        test_many(c);
        hvrpc_client_free(c);
    }
    CHECK_INT(server_proc_stop(&sp, 20000), 0);
    server_proc_cleanup(&sp);
    integ_report_calls(transport);
    return check_done();
}
