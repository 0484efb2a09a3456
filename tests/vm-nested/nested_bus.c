/*
 * nested_bus.c - the bus cases of the nested-guest suite (tests/vm-nested):
 * publishers and subscribers in L1 (the host, CID 2, where `hvrpc serve`
 * hosts the broker) and in L2 (the guest, CID 3), over real virtio-vsock.
 *
 *   nested_bus sub TARGET PATTERN N FROM WAIT_S
 *       subscribes to PATTERN at TARGET ("host": the generated guest-side
 *       helper hvrpc__bus__v1__bus_connect_host(), vsock://2:5001; or a
 *       URI), prints "READY" once the broker says SUBSCRIBED, then expects
 *       N events within WAIT_S seconds, numbered 1..N with nothing
 *       dropped, each carrying the payload and header "n" that `pub` gave
 *       it, and the publisher the broker stamped must be FROM: "vsock:CID"
 *       (vsock:CID:PORT exactly) or a literal prefix. Ends with a line
 *       "BUS-RESULT pass|fail ..." and exits 0 only on pass
 *   nested_bus pub TARGET TOPIC N WAIT_S
 *       publishes N events to TOPIC (one at a time: each waits for its
 *       answer), each of which must have been matched and queued by at
 *       least one subscription and dropped by none
 *   nested_bus result LOG WAIT_S
 *       waits for the BUS-RESULT line of a `sub` running in the background
 *       (its output in LOG), prints that output; exit status 0 on pass
 *
 * Counts, summed per direction by the harness: "calls answered: N over
 * vsock" (Publish calls that crossed; a pub to vsock://1 stays on the host
 * and says "locally") and "events received: N over vsock" (events that
 * crossed from the publisher's VM to the subscriber's).
 */
#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <hvrpc/hvrpc.h>

#include "hvrpc/bus/v1/bus.hvrpc.h"
#include "nested_util.h"

#define CALL_TIMEOUT_MS 30000u
#define MAX_EVENTS      1000

typedef Hvrpc__Bus__V1__Event bus_event;
typedef Hvrpc__Bus__V1__PublishResponse bus_response;

/* FROM "vsock:CID": exactly vsock:CID:PORT (a port of digits); any other
 * FROM is a prefix. */
static bool publisher_is(const char *publisher, const char *from)
{
    size_t n = strlen(from);
    if (!publisher || strncmp(publisher, from, n) != 0)
        return false;
    if (strncmp(from, "vsock:", 6) != 0 || strchr(from + 6, ':'))
        return true;
    const char *p = publisher + n;
    if (*p++ != ':' || *p == '\0')
        return false;
    for (; *p; p++)
        if (*p < '0' || *p > '9')
            return false;
    return true;
}

static const char *header(const bus_event *e, const char *key)
{
    for (size_t i = 0; i < e->n_headers; i++)
        if (e->headers[i]->key && strcmp(e->headers[i]->key, key) == 0)
            return e->headers[i]->value;
    return NULL;
}

/* Checks event number i (1-based); a message into why on failure. */
static bool event_ok(const bus_event *e, int i, const char *from, char *why,
                     size_t why_len)
{
    char payload[32], n[16];
    snprintf(payload, sizeof payload, "event %d", i);
    snprintf(n, sizeof n, "%d", i);
    const char *h = header(e, "n");
    if (e->kind != HVRPC__BUS__V1__EVENT__KIND__PUBLISHED)
        snprintf(why, why_len, "kind %d, not PUBLISHED", (int)e->kind);
    else if (e->sequence != (uint64_t)i || e->dropped != 0)
        snprintf(why, why_len,
                 "sequence %" PRIu64 " dropped %" PRIu64 ", want %d and 0",
                 e->sequence, e->dropped, i);
    else if (e->payload.len != strlen(payload) ||
             memcmp(e->payload.data, payload, e->payload.len) != 0)
        snprintf(why, why_len, "payload of %zu bytes is not '%s'",
                 e->payload.len, payload);
    else if (!h || strcmp(h, n) != 0)
        snprintf(why, why_len, "header n is %s, want %s", h ? h : "missing", n);
    else if (!publisher_is(e->publisher, from))
        snprintf(why, why_len, "publisher '%.64s' is not %s",
                 e->publisher ? e->publisher : "", from);
    else
        return true;
    return false;
}

static int sub_fail(const char *what)
{
    printf("BUS-RESULT fail %s\n", what);
    fflush(stdout);
    return 1;
}

static int run_sub(const char *target, const char *pattern, int n,
                   const char *from, int wait_s)
{
    int64_t deadline = nested_now_ms() + (int64_t)wait_s * 1000;
    hvrpc_client *c =
        nested_connect(target, &hvrpc__bus__v1__bus_info, 0, wait_s);
    if (!c)
        return sub_fail("cannot connect");
    char *patterns[] = {(char *)pattern};
    Hvrpc__Bus__V1__SubscribeRequest req =
        HVRPC__BUS__V1__SUBSCRIBE_REQUEST__INIT;
    req.patterns = patterns;
    req.n_patterns = 1;
    hvrpc_stream *s = NULL;
    hvrpc_status st;
    if (hvrpc__bus__v1__bus__subscribe_open(c, &req, NULL, &s, &st) !=
        HVRPC_OK) {
        fprintf(stderr, "subscribe %s: %s\n", pattern, st.message);
        hvrpc_client_free(c);
        return sub_fail("subscribe failed");
    }
    char why[192] = "";
    int got = 0;
    const char *publisher_seen = "";
    char publisher_copy[80] = "";
    /* got 0 waits for SUBSCRIBED, then events 1..n. */
    while (got <= n) {
        int64_t left = deadline - nested_now_ms();
        bus_event *e = NULL;
        hvrpc_code r = hvrpc__bus__v1__bus__subscribe_recv(
            s, &e, left > 0 ? (int)left : 0, &st);
        if (r != HVRPC_OK) {
            snprintf(why, sizeof why, "after %d of %d events: %s: %.96s", got,
                     n, hvrpc_code_name(r), st.message);
            break;
        }
        bool ok;
        if (got == 0) {
            ok = e->kind == HVRPC__BUS__V1__EVENT__KIND__SUBSCRIBED;
            if (!ok)
                snprintf(why, sizeof why, "first message is not SUBSCRIBED");
            else {
                printf("READY subscribed to %s at %s\n", pattern, target);
                fflush(stdout);
            }
        } else {
            ok = event_ok(e, got, from, why, sizeof why);
            if (ok) {
                snprintf(publisher_copy, sizeof publisher_copy, "%s",
                         e->publisher);
                publisher_seen = publisher_copy;
                fprintf(stderr, "event %" PRIu64 " on %s from %s\n",
                        e->sequence, e->topic, e->publisher);
            }
        }
        protobuf_c_message_free_unpacked(&e->base, NULL);
        if (!ok)
            break;
        got++;
    }
    hvrpc_stream_free(s);
    hvrpc_client_free(c);
    if (got <= n)
        return sub_fail(why);
    fprintf(stderr, "events received: %d over vsock\n", n);
    printf("BUS-RESULT pass events=%d publisher=%s\n", n, publisher_seen);
    fflush(stdout);
    return 0;
}

static int run_pub(const char *target, const char *topic, int n, int wait_s)
{
    hvrpc_client *c =
        nested_connect(target, &hvrpc__bus__v1__bus_info, 0, wait_s);
    if (!c)
        return 1;
    int answered = 0, rc = 0;
    for (int i = 1; i <= n && rc == 0; i++) {
        char payload[32], num[16];
        snprintf(payload, sizeof payload, "event %d", i);
        snprintf(num, sizeof num, "%d", i);
        Hvrpc__Bus__V1__Header h = HVRPC__BUS__V1__HEADER__INIT;
        Hvrpc__Bus__V1__Header *hs[] = {&h};
        h.key = "n";
        h.value = num;
        Hvrpc__Bus__V1__PublishRequest req =
            HVRPC__BUS__V1__PUBLISH_REQUEST__INIT;
        req.topic = (char *)topic;
        req.payload.data = (uint8_t *)payload;
        req.payload.len = strlen(payload);
        req.headers = hs;
        req.n_headers = 1;
        hvrpc_call_options o = HVRPC_CALL_OPTIONS_INIT;
        o.timeout_ms = CALL_TIMEOUT_MS;
        bus_response *resp = NULL;
        hvrpc_status st;
        hvrpc_code r =
            hvrpc__bus__v1__bus__publish_call(c, &req, &resp, &o, &st);
        if (r != HVRPC_OK) {
            fprintf(stderr, "publish %d to %s: %s: %s\n", i, topic,
                    hvrpc_code_name(r), st.message);
            rc = 1;
            break;
        }
        answered++;
        /* A subscriber must be there: the case is delivery across. */
        if (resp->matched < 1 || resp->queued < 1 || resp->dropped != 0) {
            fprintf(stderr,
                    "publish %d to %s: matched %u queued %u dropped %u "
                    "(want a subscription that took it)\n",
                    i, topic, resp->matched, resp->queued, resp->dropped);
            rc = 1;
        }
        protobuf_c_message_free_unpacked(&resp->base, NULL);
    }
    hvrpc_client_free(c);
    if (strncmp(target, "vsock://1:", 10) == 0)
        fprintf(stderr, "calls answered locally: %d (vsock_loopback)\n",
                answered);
    else
        fprintf(stderr, "calls answered: %d over vsock\n", answered);
    return rc;
}

static int run_result(const char *log, int wait_s)
{
    int64_t deadline = nested_now_ms() + (int64_t)wait_s * 1000;
    char line[512];
    int verdict = -1; /* -1 none yet, 0 pass, 1 fail */
    while (verdict < 0 && nested_now_ms() < deadline) {
        FILE *f = fopen(log, "r");
        while (f && fgets(line, sizeof line, f))
            if (strncmp(line, "BUS-RESULT ", 11) == 0)
                verdict = strncmp(line + 11, "pass", 4) == 0 ? 0 : 1;
        if (f)
            fclose(f);
        if (verdict < 0)
            usleep(200 * 1000);
    }
    FILE *f = fopen(log, "r");
    while (f && fgets(line, sizeof line, f))
        fputs(line, stdout);
    if (f)
        fclose(f);
    if (verdict < 0)
        printf("no BUS-RESULT in %s within %d s\n", log, wait_s);
    return verdict == 0 ? 0 : 1;
}

static int count_arg(const char *s)
{
    int n = atoi(s);
    return n > 0 && n <= MAX_EVENTS ? n : -1;
}

int main(int argc, char **argv)
{
    setvbuf(stderr, NULL, _IOLBF, 0);
    if (argc == 7 && strcmp(argv[1], "sub") == 0 && count_arg(argv[4]) > 0)
        return run_sub(argv[2], argv[3], count_arg(argv[4]), argv[5],
                       atoi(argv[6]));
    if (argc == 6 && strcmp(argv[1], "pub") == 0 && count_arg(argv[4]) > 0)
        return run_pub(argv[2], argv[3], count_arg(argv[4]), atoi(argv[5]));
    if (argc == 4 && strcmp(argv[1], "result") == 0)
        return run_result(argv[2], atoi(argv[3]));
    fprintf(stderr, "usage: nested_bus sub TARGET PATTERN N FROM WAIT_S\n"
                    "       nested_bus pub TARGET TOPIC N WAIT_S\n"
                    "       nested_bus result LOG WAIT_S\n");
    return 2;
}
