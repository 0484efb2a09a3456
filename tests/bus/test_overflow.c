/*
 * tests/bus/test_overflow.c - what happens when a subscriber does not keep
 * up, policy by policy, and what a subscriber sees of it: drop-oldest
 * (gaps that match the dropped counters and the publishers' displaced
 * counts, the newest events kept), block (lossless while the subscriber
 * reads; a publisher held at most to its deadline, the event then a gap;
 * a subscriber that makes no room for the block timeout disconnected, so
 * many publishers are held once and briefly), disconnect, and a subscriber
 * that reconnects. Run as: bus_overflow unix|tcp|vsock.
 */
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "bus_util.h"
#include "check.h"

#define BLOCK_TIMEOUT_MS 2000
/* Payloads this big make one event fill a 1 KiB stream window, so what a
 * subscriber holds is its queue plus an event or two in flight. */
#define BIG 900

static server_proc sp;

static void big_payload(char *buf, int k)
{
    memset(buf, 'x', BIG);
    snprintf(buf, 16, "%06d", k);
    buf[6] = ' ';
}

static int payload_index(const bus_ev *e)
{
    char text[8];

    if (e->payload.len < 6)
        return -1;
    memcpy(text, e->payload.data, 6);
    text[6] = '\0';
    return atoi(text);
}

static hvrpc_stream *subscribe(hvrpc_client *c, const char *pattern,
                               int overflow, uint32_t queue)
{
    bus_sub_opts o = {.overflow = overflow,
                      .queue_size = queue,
                      .window = HVRPC_MIN_STREAM_WINDOW};
    hvrpc_status st;
    hvrpc_code r;
    hvrpc_stream *s = bus_subscribe(c, &pattern, 1, &o, &r, &st);

    if (s == NULL)
        fprintf(stderr, "subscribe %s: %s\n", pattern, st.message);
    CHECK(s != NULL);
    return s;
}

static hvrpc_code publish_big(hvrpc_client *c, const char *topic, int k,
                              uint32_t timeout_ms, bus_resp *r,
                              hvrpc_status *st)
{
    char buf[BIG];

    hvrpc_code code;

    big_payload(buf, k);
    memset(r, 0, sizeof *r);
    code = bus_publish(c, topic, buf, BIG, NULL, 0, timeout_ms, r, st);
    if (code == HVRPC_OK)
        CHECK_INT(r->matched, r->queued + r->dropped);
    return code;
}

/* --- drop-oldest ------------------------------------------------------- */

static void test_drop_oldest(hvrpc_client *c)
{
    enum { N = 40, QUEUE = 4 };
    hvrpc_stream *s = subscribe(c, "do.>", OV_DROP_OLDEST, QUEUE);
    uint64_t displaced = 0, received = 0, last_seq = 0, last_dropped = 0;
    bool got[N] = {false};
    hvrpc_status st;

    if (s == NULL)
        return;
    for (int k = 0; k < N; k++) {
        bus_resp r;

        CHECK_INT(publish_big(c, "do.x", k, 0, &r, &st), HVRPC_OK);
        CHECK_INT(r.matched, 1);
        CHECK_INT(r.queued, 1);
        CHECK_INT(r.dropped, 0);
        displaced += r.displaced;
    }
    while (last_seq < N) {
        bus_ev *e;

        if (bus_recv(s, &e, 5000, &st) != HVRPC_OK) {
            fprintf(stderr, "drop-oldest: %s\n", st.message);
            CHECK(!"all events up to the last");
            break;
        }
        CHECK(e->sequence > last_seq);
        /* dropped = the gaps so far, exactly. */
        CHECK_INT(e->dropped, e->sequence - 1 - received);
        /* One subscription matched every event: sequence k+1 is event k. */
        CHECK_INT(payload_index(e), e->sequence - 1);
        if (e->sequence >= 1 && e->sequence <= N)
            got[e->sequence - 1] = true;
        last_seq = e->sequence;
        last_dropped = e->dropped;
        received++;
        bus_ev_free(e);
    }
    fprintf(stderr, "drop-oldest: %llu of %d delivered, %llu dropped\n",
            (unsigned long long)received, N, (unsigned long long)last_dropped);
    CHECK_INT(received + last_dropped, N);
    CHECK(last_dropped > 0);
    /* Every drop was a displacement some publisher was told about. */
    CHECK_INT(displaced, last_dropped);
    /* The newest events stay. */
    for (int k = N - QUEUE; k < N; k++)
        CHECK(got[k]);
    hvrpc_stream_free(s);
}

/* --- block ---------------------------------------------------------------- */

typedef struct block_pub {
    pthread_t t;
    hvrpc_client *c;
    const char *topic;
    int first, n;
    uint32_t timeout_ms;
    atomic_int done; /* publishes answered */
    int failures;
    uint32_t dropped;
    int64_t max_ms;
} block_pub;

static void *block_pub_main(void *arg)
{
    block_pub *p = arg;

    for (int k = p->first; k < p->first + p->n; k++) {
        bus_resp r;
        hvrpc_status st;
        int64_t t0 = integ_now_ms();
        hvrpc_code code =
            publish_big(p->c, p->topic, k, p->timeout_ms, &r, &st);
        int64_t ms = integ_now_ms() - t0;

        if (ms > p->max_ms)
            p->max_ms = ms;
        if (code != HVRPC_OK) {
            fprintf(stderr, "publish %s %d: %s\n", p->topic, k, st.message);
            p->failures++;
        }
        p->dropped += r.dropped;
        atomic_fetch_add(&p->done, 1);
    }
    return NULL;
}

/* A subscriber that falls behind but reads: nothing is lost, the
 * publisher waits for it. */
static void test_block_lossless(hvrpc_client *c)
{
    enum { N = 12 };
    hvrpc_stream *s = subscribe(c, "bl.>", OV_BLOCK, 2);
    hvrpc_client *pc = integ_connect(sp.uri, 0);
    block_pub p = {.c = pc, .topic = "bl.x", .n = N};

    if (s == NULL || pc == NULL) {
        hvrpc_stream_free(s);
        hvrpc_client_free(pc);
        return;
    }
    pthread_create(&p.t, NULL, block_pub_main, &p);
    usleep(300 * 1000);
    int early = atomic_load(&p.done);
    fprintf(stderr, "block: %d of %d published before the subscriber read\n",
            early, N);
    CHECK(early < N); /* the publisher is held */
    for (uint64_t n = 1; n <= N; n++) {
        bus_ev *e;
        hvrpc_status st;

        if (bus_recv(s, &e, 5000, &st) != HVRPC_OK) {
            fprintf(stderr, "block: event %llu: %s\n", (unsigned long long)n,
                    st.message);
            CHECK(!"every event");
            break;
        }
        CHECK_INT(e->sequence, n);
        CHECK_INT(e->dropped, 0);
        CHECK_INT(payload_index(e), n - 1);
        bus_ev_free(e);
    }
    pthread_join(p.t, NULL);
    CHECK_INT(p.failures, 0);
    CHECK_INT(p.dropped, 0);
    CHECK(p.max_ms >= 200);
    hvrpc_stream_free(s);
    hvrpc_client_free(pc);
}

/* A publisher's deadline bounds its wait; the event is then a gap for
 * that subscriber, which stays subscribed. */
static void test_block_deadline(hvrpc_client *c)
{
    enum { N = 6, DEADLINE_MS = 150 };
    hvrpc_stream *s = subscribe(c, "bd.>", OV_BLOCK, 1);
    int expired = 0, ok = 0;
    hvrpc_status st;

    if (s == NULL)
        return;
    for (int k = 0; k < N; k++) {
        bus_resp r;
        int64_t t0 = integ_now_ms();
        hvrpc_code code = publish_big(c, "bd.x", k, DEADLINE_MS, &r, &st);
        int64_t ms = integ_now_ms() - t0;

        if (code == HVRPC_OK && r.dropped == 1) {
            /* Answered just before the deadline, the event counted lost
             * (or, on a slow day, DEADLINE_EXCEEDED: the same for the
             * subscriber). */
            expired++;
            CHECK(ms >= DEADLINE_MS - 50);
            CHECK(ms < BLOCK_TIMEOUT_MS); /* the deadline, not the timeout */
        } else if (code == HVRPC_DEADLINE_EXCEEDED) {
            expired++;
            CHECK(ms < BLOCK_TIMEOUT_MS);
        } else {
            CHECK_INT(code, HVRPC_OK);
            CHECK_INT(r.queued, 1);
            ok++;
        }
    }
    fprintf(stderr, "block with deadline: %d queued, %d expired\n", ok,
            expired);
    CHECK(expired > 0);
    /* A publisher that saw DEADLINE_EXCEEDED (its clock ran out before the
     * broker's, which starts when the request arrives) may leave its event
     * waiting a moment longer: let the broker's timers run out too. */
    usleep(300 * 1000);
    /* Now read: the queued events, then one more published while reading;
     * the expired ones are gaps counted in `dropped`. */
    uint64_t received = 0, last_seq = 0;
    bus_ev *e = NULL;
    for (int i = 0; i < ok; i++) {
        CHECK_INT(bus_recv(s, &e, 5000, &st), HVRPC_OK);
        if (e == NULL)
            break;
        CHECK(e->sequence > last_seq);
        CHECK_INT(e->dropped, e->sequence - 1 - received);
        last_seq = e->sequence;
        received++;
        bus_ev_free(e);
    }
    bus_resp r;
    CHECK_INT(publish_big(c, "bd.x", N, 0, &r, &st), HVRPC_OK);
    CHECK_INT(r.queued, 1);
    CHECK_INT(bus_recv(s, &e, 5000, &st), HVRPC_OK);
    if (e != NULL) {
        CHECK_INT(e->sequence, N + 1);
        CHECK_INT(e->dropped, expired);
        CHECK_INT(payload_index(e), N);
    }
    bus_ev_free(e);
    hvrpc_stream_free(s);
}

/* A subscriber that stops reading: publishers without a deadline are held
 * at most the block timeout, once, then it is disconnected. */
static void test_block_timeout(hvrpc_client *c)
{
    enum { PUBS = 8, EACH = 3 };
    hvrpc_stream *stuck = subscribe(c, "bt.>", OV_BLOCK, 1);
    hvrpc_stream *other = subscribe(c, "bt.>", OV_DROP_OLDEST, 64);
    hvrpc_client *pcs[PUBS] = {0};
    block_pub p[PUBS];
    uint32_t dropped = 0;
    int64_t t0, max_ms = 0;
    hvrpc_status st;

    if (stuck == NULL || other == NULL)
        goto out;
    for (int i = 0; i < PUBS; i++) {
        pcs[i] = integ_connect(sp.uri, 0);
        p[i] = (block_pub){
            .c = pcs[i], .topic = "bt.x", .first = i * EACH, .n = EACH};
    }
    t0 = integ_now_ms();
    for (int i = 0; i < PUBS; i++)
        pthread_create(&p[i].t, NULL, block_pub_main, &p[i]);
    /* Meanwhile, a topic the stuck subscriber does not match is not held. */
    usleep(200 * 1000);
    int64_t t1 = integ_now_ms();
    bus_resp r;
    CHECK_INT(publish_big(c, "unrelated", 0, 0, &r, &st), HVRPC_OK);
    CHECK(integ_now_ms() - t1 < 1000);
    for (int i = 0; i < PUBS; i++) {
        pthread_join(p[i].t, NULL);
        CHECK_INT(p[i].failures, 0);
        dropped += p[i].dropped;
        if (p[i].max_ms > max_ms)
            max_ms = p[i].max_ms;
    }
    int64_t total = integ_now_ms() - t0;
    fprintf(stderr,
            "block timeout: %d publishers, longest publish %lld ms, all done "
            "in %lld ms, %u events lost to the stuck subscriber\n",
            PUBS, (long long)max_ms, (long long)total, dropped);
    CHECK(max_ms >= BLOCK_TIMEOUT_MS - 100);
    CHECK(max_ms < BLOCK_TIMEOUT_MS + 1500);
    CHECK(total < BLOCK_TIMEOUT_MS + 2500); /* held once, not per publish */
    CHECK(dropped >= 1);

    /* The stuck subscriber: what was in flight, contiguous, then the end,
     * saying why and what it lost. */
    uint64_t n = 0;
    hvrpc_code code;
    for (;;) {
        bus_ev *e;

        code = bus_recv(stuck, &e, 5000, &st);
        if (code != HVRPC_OK)
            break;
        CHECK_INT(e->sequence, ++n);
        bus_ev_free(e);
    }
    CHECK_INT(code, HVRPC_RESOURCE_EXHAUSTED);
    CHECK_CONTAINS(st.message, "overflow BLOCK");
    CHECK_CONTAINS(st.message, "not delivered");
    fprintf(stderr, "stuck subscriber: %llu events, then: %s\n",
            (unsigned long long)n, st.message);
    /* The reading subscriber got every event. */
    for (n = 0; n < PUBS * EACH; n++) {
        bus_ev *e;

        if (bus_recv(other, &e, 5000, &st) != HVRPC_OK)
            break;
        CHECK_INT(e->dropped, 0);
        bus_ev_free(e);
    }
    CHECK_INT(n, PUBS * EACH);
out:
    for (int i = 0; i < PUBS; i++)
        hvrpc_client_free(pcs[i]);
    hvrpc_stream_free(stuck);
    hvrpc_stream_free(other);
}

/* --- disconnect ----------------------------------------------------------- */

static void test_disconnect(hvrpc_client *c)
{
    enum { N = 10 };
    hvrpc_stream *s = subscribe(c, "dc.>", OV_DISCONNECT, 2);
    int queued = 0, cut = 0, after = 0;
    hvrpc_status st;

    if (s == NULL)
        return;
    for (int k = 0; k < N; k++) {
        bus_resp r;

        CHECK_INT(publish_big(c, "dc.x", k, 0, &r, &st), HVRPC_OK);
        if (cut == 0 && r.queued == 1) {
            queued++;
        } else if (cut == 0) {
            CHECK_INT(r.matched, 1);
            CHECK_INT(r.dropped, 1);
            cut++;
        } else {
            CHECK_INT(r.matched, 0); /* the subscription is gone */
            after++;
        }
    }
    fprintf(stderr, "disconnect: %d queued, then cut\n", queued);
    CHECK_INT(cut, 1);
    uint64_t n = 0;
    hvrpc_code code;
    for (;;) {
        bus_ev *e;

        code = bus_recv(s, &e, 5000, &st);
        if (code != HVRPC_OK)
            break;
        CHECK_INT(e->sequence, ++n);
        CHECK_INT(e->dropped, 0);
        bus_ev_free(e);
    }
    CHECK_INT(code, HVRPC_RESOURCE_EXHAUSTED);
    CHECK_CONTAINS(st.message, "overflow DISCONNECT");
    CHECK(n <= (uint64_t)queued); /* the queued rest is discarded */
    hvrpc_stream_free(s);

    /* Subscribing again works at once. */
    s = subscribe(c, "dc.>", OV_DISCONNECT, 2);
    bus_resp r;
    CHECK_INT(publish_big(c, "dc.x", N, 0, &r, &st), HVRPC_OK);
    CHECK_INT(r.queued, 1);
    if (s != NULL) {
        bus_ev *e;
        CHECK_INT(bus_recv(s, &e, 5000, &st), HVRPC_OK);
        CHECK(e != NULL && e->sequence == 1 && payload_index(e) == N);
        bus_ev_free(e);
    }
    hvrpc_stream_free(s);
}

/* --- reconnect ------------------------------------------------------------ */

typedef struct ticker {
    pthread_t t;
    hvrpc_client *c;
    atomic_int stop;
    int sent;
} ticker;

static void *ticker_main(void *arg)
{
    ticker *t = arg;

    while (!atomic_load(&t->stop)) {
        char text[16];

        snprintf(text, sizeof text, "%d", t->sent);
        if (bus_publish_text(t->c, "rc.tick", text, NULL) != HVRPC_OK)
            break;
        t->sent++;
        usleep(5000);
    }
    return NULL;
}

/* Reads n events from a fresh subscription: sequences from 1, ticks
 * consecutive. Returns the last tick, -1 on failure; *first the first. */
static int read_ticks(hvrpc_stream *s, int n, int *first)
{
    int last = -1;

    for (int i = 0; i < n; i++) {
        bus_ev *e;
        hvrpc_status st;
        char text[16];

        if (bus_recv(s, &e, 5000, &st) != HVRPC_OK) {
            fprintf(stderr, "reconnect: tick %d: %s\n", i, st.message);
            return -1;
        }
        CHECK_INT(e->sequence, i + 1);
        CHECK_INT(e->dropped, 0);
        snprintf(text, sizeof text, "%.*s", (int)e->payload.len,
                 (const char *)e->payload.data);
        int tick = atoi(text);
        if (i == 0)
            *first = tick;
        else
            CHECK_INT(tick, last + 1);
        last = tick;
        bus_ev_free(e);
    }
    return last;
}

static void test_reconnect(void)
{
    ticker t = {.c = integ_connect(sp.uri, 0)};
    hvrpc_client *c1 = integ_connect(sp.uri, 0);
    hvrpc_client *c2 = NULL;
    hvrpc_stream *s;
    int first1 = -1, last1, first2 = -1, last2;

    if (t.c == NULL || c1 == NULL)
        goto out;
    pthread_create(&t.t, NULL, ticker_main, &t);
    s = bus_subscribe1(c1, "rc.>");
    last1 = s != NULL ? read_ticks(s, 20, &first1) : -1;
    CHECK(last1 >= 0);
    /* The subscriber goes away (its connection with it) and comes back. */
    hvrpc_stream_free(s);
    hvrpc_client_free(c1);
    c1 = NULL;
    usleep(100 * 1000);
    c2 = integ_connect(sp.uri, 0);
    s = c2 != NULL ? bus_subscribe1(c2, "rc.>") : NULL;
    last2 = s != NULL ? read_ticks(s, 20, &first2) : -1;
    CHECK(last2 >= 0);
    /* The new subscription numbers from 1 again and starts after the
     * ticks published while there was none: the broker keeps no history,
     * and the gap shows in the publisher's own counter. */
    fprintf(stderr,
            "reconnect: ticks %d-%d, then (missed %d) ticks %d-%d on the new "
            "subscription\n",
            first1, last1, first2 - last1 - 1, first2, last2);
    CHECK(first2 > last1 + 1);
    hvrpc_stream_free(s);
    atomic_store(&t.stop, 1);
    pthread_join(t.t, NULL);
out:
    hvrpc_client_free(c1);
    hvrpc_client_free(c2);
    hvrpc_client_free(t.c);
}

int main(int argc, char **argv)
{
    const char *transport = integ_transport(argc, argv);
    hvrpc_bus_options o;
    hvrpc_client *c;

    if (transport == NULL)
        return 2;
    signal(SIGPIPE, SIG_IGN);
    hvrpc_bus_options_init(&o);
    o.block_timeout_ms = BLOCK_TIMEOUT_MS;
    if (bus_server_start(&sp, transport, &o) != 0)
        return 1;
    c = integ_connect(sp.uri, 0);
    if (c != NULL) {
        test_drop_oldest(c);
        test_block_lossless(c);
        test_block_deadline(c);
        test_block_timeout(c);
        test_disconnect(c);
        hvrpc_client_free(c);
    }
    CHECK(c != NULL);
    test_reconnect();
    CHECK_INT(server_proc_stop(&sp, 10000), 0);
    server_proc_cleanup(&sp);
    integ_report_calls(transport);
    return check_done();
}
