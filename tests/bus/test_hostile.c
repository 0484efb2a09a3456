/*
 * tests/bus/test_hostile.c - a hostile peer against the broker's limits
 * (the defaults, docs/SECURITY.md): huge and malformed topics and
 * patterns, too many patterns, headers and subscriptions, payloads over
 * the limit, requests that are not messages. Each is refused with the
 * documented status, quickly, and the broker keeps serving.
 * Run as: bus_hostile unix|tcp|vsock.
 */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "bus_util.h"
#include "check.h"

static server_proc sp;

static void publish_refused(hvrpc_client *c, const char *topic, hvrpc_code want,
                            const char *why)
{
    hvrpc_status st;
    int64_t t0 = integ_now_ms();

    CHECK_INT(bus_publish(c, topic, "x", 1, NULL, 0, 5000, NULL, &st), want);
    CHECK_CONTAINS(st.message, why);
    CHECK(integ_now_ms() - t0 < 2000);
}

static void subscribe_refused(hvrpc_client *c, const char *const *patterns,
                              size_t n, int overflow, hvrpc_code want,
                              const char *why)
{
    bus_sub_opts o = {.overflow = overflow};
    hvrpc_status st;
    hvrpc_code code = HVRPC_OK;
    hvrpc_stream *s = bus_subscribe(c, patterns, n, &o, &code, &st);

    CHECK(s == NULL);
    CHECK_INT(code, want);
    CHECK_CONTAINS(st.message, why);
    hvrpc_stream_free(s);
}

static void test_topics(hvrpc_client *c)
{
    char *big = malloc(3u * 1024 * 1024 + 1);

    memset(big, 'a', 300);
    big[300] = '\0';
    publish_refused(c, big, HVRPC_INVALID_ARGUMENT, "longer than 256 bytes");
    /* 3 MiB of topic: within the frame limit, refused by the broker
     * without looking past its limit. */
    memset(big, 'a', 3u * 1024 * 1024);
    big[3u * 1024 * 1024] = '\0';
    publish_refused(c, big, HVRPC_INVALID_ARGUMENT, "longer than 256 bytes");
    publish_refused(c, "1.2.3.4.5.6.7.8.9.10.11.12.13.14.15.16.17",
                    HVRPC_INVALID_ARGUMENT, "more than 16 segments");
    publish_refused(c, "vm.*", HVRPC_INVALID_ARGUMENT, "byte 0x2a");
    publish_refused(c, "vm.>", HVRPC_INVALID_ARGUMENT, "byte 0x3e");
    publish_refused(c, "a..b", HVRPC_INVALID_ARGUMENT, "segment 2 is empty");
    publish_refused(c, "", HVRPC_INVALID_ARGUMENT, "empty");
    publish_refused(c, "a\nb", HVRPC_INVALID_ARGUMENT, "byte 0x0a");

    /* Patterns. */
    const char *none[1] = {NULL};
    subscribe_refused(c, none, 0, OV_DROP_OLDEST, HVRPC_INVALID_ARGUMENT,
                      "no topic pattern");
    const char *many[17];
    for (int i = 0; i < 17; i++)
        many[i] = ">";
    subscribe_refused(c, many, 17, OV_DROP_OLDEST, HVRPC_INVALID_ARGUMENT,
                      "17 patterns: the limit is 16");
    const char *bad[] = {"ok.>", ">.a"};
    subscribe_refused(c, bad, 2, OV_DROP_OLDEST, HVRPC_INVALID_ARGUMENT,
                      "'>' may only be the last segment");
    const char *huge[] = {big};
    subscribe_refused(c, huge, 1, OV_DROP_OLDEST, HVRPC_INVALID_ARGUMENT,
                      "longer than 256 bytes");
    const char *all[] = {">"};
    subscribe_refused(c, all, 1, 7, HVRPC_INVALID_ARGUMENT, "overflow 7");
    free(big);
}

static void test_sizes(hvrpc_client *c)
{
    hvrpc_stream *s = bus_subscribe1(c, "size.>");
    size_t max = 1024 * 1024;
    uint8_t *p = calloc(1, max + 1);
    hvrpc_status st;
    bus_resp r;

    CHECK_INT(bus_publish(c, "size.big", p, max + 1, NULL, 0, 5000, &r, &st),
              HVRPC_RESOURCE_EXHAUSTED);
    CHECK_CONTAINS(st.message, "the limit is 1048576");
    /* Exactly the limit goes through, also past a 256 KiB stream window
     * and into a 1 MiB queue (an empty queue takes any one event). */
    CHECK_INT(bus_publish(c, "size.big", p, max, NULL, 0, 5000, &r, &st),
              HVRPC_OK);
    CHECK_INT(r.queued, 1);
    if (s != NULL) {
        bus_ev *e;
        CHECK_INT(bus_recv(s, &e, 5000, &st), HVRPC_OK);
        CHECK(e != NULL && e->payload.len == max && e->dropped == 0);
        bus_ev_free(e);
    }
    free(p);

    /* Headers: 16 fit, 17 do not; 4 KiB of them; empty and reserved
     * keys. */
    const char *h[2 * 17];
    for (int i = 0; i < 17; i++) {
        h[2 * i] = "k";
        h[2 * i + 1] = "v";
    }
    CHECK_INT(bus_publish(c, "size.h", NULL, 0, h, 16, 5000, NULL, &st),
              HVRPC_OK);
    CHECK_INT(bus_publish(c, "size.h", NULL, 0, h, 17, 5000, NULL, &st),
              HVRPC_INVALID_ARGUMENT);
    CHECK_CONTAINS(st.message, "17 headers: the limit is 16");
    char *v = malloc(4097);
    memset(v, 'v', 4096);
    v[4096] = '\0';
    const char *fat[] = {"k", v};
    CHECK_INT(bus_publish(c, "size.h", NULL, 0, fat, 1, 5000, NULL, &st),
              HVRPC_INVALID_ARGUMENT);
    CHECK_CONTAINS(st.message, "headers over 4096 bytes");
    free(v);
    const char *empty[] = {"", "v"};
    CHECK_INT(bus_publish(c, "size.h", NULL, 0, empty, 1, 5000, NULL, &st),
              HVRPC_INVALID_ARGUMENT);
    CHECK_CONTAINS(st.message, "empty key");
    const char *reserved[] = {"hvrpc-publisher", "someone else"};
    CHECK_INT(bus_publish(c, "size.h", NULL, 0, reserved, 1, 5000, NULL, &st),
              HVRPC_INVALID_ARGUMENT);
    CHECK_CONTAINS(st.message, "reserved");

    /* A queue far over the maximum is lowered, not refused. */
    const char *pat = "qsize";
    bus_sub_opts o = {.queue_size = 4000000000u};
    hvrpc_stream *q = bus_subscribe(c, &pat, 1, &o, NULL, &st);
    CHECK(q != NULL);
    CHECK_INT(bus_publish_text(c, "qsize", "fits", &r), HVRPC_OK);
    CHECK_INT(r.queued, 1);
    hvrpc_stream_free(q);
    hvrpc_stream_free(s);

    /* Requests that are not the methods' messages. */
    hvrpc_buf b;
    static const uint8_t junk[] = {0xff, 0xff, 0xff, 0xff, 0x0f};
    CHECK_INT(hvrpc_client_call(c, "hvrpc.bus.v1.Bus", "Publish", junk,
                                sizeof junk, NULL, &b, &st),
              HVRPC_INVALID_ARGUMENT);
    hvrpc_stream *js = NULL;
    if (hvrpc_client_stream(c, "hvrpc.bus.v1.Bus", "Subscribe",
                            HVRPC_SERVER_STREAMING, junk, sizeof junk, NULL,
                            &js, &st) == HVRPC_OK) {
        hvrpc_buf m;
        CHECK_INT(hvrpc_stream_recv(js, &m, 5000, &st), HVRPC_INVALID_ARGUMENT);
    }
    hvrpc_stream_free(js);
}

/* Subscriptions per peer: 64 open, the 65th refused, one more once one
 * closes; the broker's other work goes on meanwhile. */
static void test_subscriptions(hvrpc_client *c)
{
    enum { LIMIT = 64 };
    hvrpc_client *cs[2] = {integ_connect(sp.uri, 0), integ_connect(sp.uri, 0)};
    hvrpc_stream *subs[LIMIT] = {0};
    const char *pat = "many.>";
    hvrpc_status st;
    hvrpc_code code = HVRPC_OK;
    int opened = 0;

    if (cs[0] == NULL || cs[1] == NULL)
        goto out;
    /* Earlier subscriptions of this peer leave when the broker sees their
     * streams end. */
    int64_t until = integ_now_ms() + 5000;
    for (int i = 0; i < LIMIT; i++) {
        do {
            subs[i] = bus_subscribe(cs[i % 2], &pat, 1, NULL, &code, &st);
        } while (subs[i] == NULL && code == HVRPC_RESOURCE_EXHAUSTED &&
                 integ_now_ms() < until && usleep(20000) == 0);
        opened += subs[i] != NULL;
    }
    CHECK_INT(opened, LIMIT);
    hvrpc_stream *extra = bus_subscribe(c, &pat, 1, NULL, &code, &st);
    CHECK(extra == NULL);
    CHECK_INT(code, HVRPC_RESOURCE_EXHAUSTED);
    CHECK_CONTAINS(st.message, "64 subscriptions of this peer");
    hvrpc_stream_free(extra);

    /* Every one of them gets an event. */
    bus_resp r;
    CHECK_INT(bus_publish_text(c, "many.x", "all", &r), HVRPC_OK);
    CHECK_INT(r.matched, LIMIT);

    hvrpc_stream_free(subs[0]);
    subs[0] = NULL;
    until = integ_now_ms() + 5000;
    do {
        extra = bus_subscribe(c, &pat, 1, NULL, &code, &st);
    } while (extra == NULL && code == HVRPC_RESOURCE_EXHAUSTED &&
             integ_now_ms() < until && usleep(20000) == 0);
    CHECK(extra != NULL);
    hvrpc_stream_free(extra);
out:
    for (int i = 0; i < LIMIT; i++)
        hvrpc_stream_free(subs[i]);
    hvrpc_client_free(cs[0]);
    hvrpc_client_free(cs[1]);
}

int main(int argc, char **argv)
{
    const char *transport = integ_transport(argc, argv);
    hvrpc_client *c;

    if (transport == NULL)
        return 2;
    signal(SIGPIPE, SIG_IGN);
    if (bus_server_start(&sp, transport, NULL) != 0)
        return 1;
    c = integ_connect(sp.uri, 0);
    CHECK(c != NULL);
    if (c != NULL) {
        test_topics(c);
        test_sizes(c);
        test_subscriptions(c);
        /* Still serving (once the broker has seen the 64 go). */
        const char *pat = "after";
        hvrpc_stream *s;
        hvrpc_status st;
        hvrpc_code code;
        int64_t until = integ_now_ms() + 5000;
        while ((s = bus_subscribe(c, &pat, 1, NULL, &code, &st)) == NULL &&
               code == HVRPC_RESOURCE_EXHAUSTED && integ_now_ms() < until)
            usleep(20000);
        CHECK(s != NULL);
        bus_resp r;
        CHECK_INT(bus_publish_text(c, "after", "ok", &r), HVRPC_OK);
        if (s != NULL) {
            bus_ev *e;
            CHECK_INT(bus_recv(s, &e, 5000, &st), HVRPC_OK);
            CHECK(e != NULL && e->sequence == 1);
            bus_ev_free(e);
        }
        hvrpc_stream_free(s);
        hvrpc_client_free(c);
    }
    CHECK_INT(server_proc_stop(&sp, 10000), 0);
    server_proc_cleanup(&sp);
    integ_report_calls(transport);
    return check_done();
}
