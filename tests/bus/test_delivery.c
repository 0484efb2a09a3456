/*
 * tests/bus/test_delivery.c - delivery through one broker: guests in
 * separate processes publishing to and subscribing from each other
 * (identity stamps, forged headers, per-publisher order), fan-out to 100
 * subscribers, per-publisher order under concurrency for every policy,
 * patterns and headers. Run as: bus_delivery unix|tcp|vsock.
 */
#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "bus_util.h"
#include "check.h"

static server_proc sp;

/* --- cross-guest delivery ----------------------------------------------- */

/* Parses an event's "A B" payload (bytes, not NUL-terminated). */
static bool parse_pair(const bus_ev *e, int *a, int *b)
{
    char text[32];

    if (e->payload.len >= sizeof text)
        return false;
    memcpy(text, e->payload.data, e->payload.len);
    text[e->payload.len] = '\0';
    return sscanf(text, "%d %d", a, b) == 2;
}

#define GUESTS    4
#define PER_GUEST 25

/* Reads one line from fd within timeout_ms. 0, or -1. */
static int read_line(int fd, char *buf, size_t size, int timeout_ms)
{
    size_t n = 0;

    while (n + 1 < size) {
        struct pollfd pfd = {.fd = fd, .events = POLLIN};
        ssize_t k;

        if (poll(&pfd, 1, timeout_ms) <= 0)
            return -1;
        k = read(fd, buf + n, 1);
        if (k < 0 && errno == EINTR)
            continue;
        if (k <= 0)
            return -1;
        if (buf[n] == '\n') {
            buf[n] = '\0';
            return 0;
        }
        n++;
    }
    return -1;
}

static void write_str(int fd, const char *s)
{
    size_t n = strlen(s);

    while (n > 0) {
        ssize_t k = write(fd, s, n);
        if (k < 0 && errno == EINTR)
            continue;
        if (k <= 0)
            return;
        s += k;
        n -= (size_t)k;
    }
}

/* One guest: subscribes to every guest's topic, says who it is, waits for
 * the others' identities, publishes PER_GUEST events claiming (in a
 * header) to be the next guest, and checks what it receives: every
 * guest's events, each stamped with its real publisher, in order. */
static int guest_main(int i, int rfd, int wfd)
{
    char line[2048], ids[GUESTS][256];
    char *save = NULL, *tok;
    int next_k[GUESTS] = {0};
    hvrpc_client *c = integ_connect(sp.uri, 0);
    hvrpc_stream *s;
    char *id;

    if (c == NULL)
        return 2;
    id = strdup(bus_identity(c));
    s = bus_subscribe1(c, "guest.>");
    CHECK(s != NULL && id[0] != '\0');
    if (s == NULL)
        return 2;
    snprintf(line, sizeof line, "READY %s\n", id);
    write_str(wfd, line);
    if (read_line(rfd, line, sizeof line, 30000) != 0 ||
        strncmp(line, "GO ", 3) != 0) {
        fprintf(stderr, "guest %d: no GO\n", i);
        return 2;
    }
    tok = strtok_r(line + 3, " ", &save);
    for (int g = 0; g < GUESTS; g++) {
        snprintf(ids[g], sizeof ids[g], "%s", tok ? tok : "");
        tok = strtok_r(NULL, " ", &save);
    }
    CHECK_STR(ids[i], id);

    for (int k = 0; k < PER_GUEST; k++) {
        char topic[64], payload[64];
        const char *forged[] = {"publisher", ids[(i + 1) % GUESTS]};
        bus_resp r;
        hvrpc_status st;

        snprintf(topic, sizeof topic, "guest.%d.msg", i);
        snprintf(payload, sizeof payload, "%d %d", i, k);
        CHECK_INT(bus_publish(c, topic, payload, strlen(payload), forged, 1, 0,
                              &r, &st),
                  HVRPC_OK);
        CHECK(r.matched >= 1);
        CHECK_INT(r.dropped, 0);
    }

    for (uint64_t n = 1; n <= GUESTS * PER_GUEST; n++) {
        bus_ev *e;
        hvrpc_status st;
        int g = -1, k = -1;
        hvrpc_code r = bus_recv(s, &e, 20000, &st);

        CHECK_INT(r, HVRPC_OK);
        if (r != HVRPC_OK) {
            fprintf(stderr, "guest %d: event %llu: %s\n", i,
                    (unsigned long long)n, st.message);
            break;
        }
        CHECK_INT(e->sequence, n);
        CHECK_INT(e->dropped, 0);
        if (parse_pair(e, &g, &k) && g >= 0 && g < GUESTS) {
            char topic[64];
            snprintf(topic, sizeof topic, "guest.%d.msg", g);
            CHECK_STR(e->topic, topic);
            /* The stamp is the broker's, whatever the header claims. */
            CHECK_STR(e->publisher, ids[g]);
            CHECK_STR(bus_ev_header(e, "publisher"), ids[(g + 1) % GUESTS]);
            CHECK_INT(k, next_k[g]);
            next_k[g] = k + 1;
        } else {
            CHECK(!"payload is 'GUEST K'");
        }
        bus_ev_free(e);
    }
    for (int g = 0; g < GUESTS; g++)
        CHECK_INT(next_k[g], PER_GUEST);
    hvrpc_stream_free(s);
    hvrpc_client_free(c);
    free(id);
    return check_failures ? 1 : 0;
}

static void test_cross_guest(void)
{
    pid_t pids[GUESTS];
    int to_guest[GUESTS], from_guest[GUESTS];
    char ids[GUESTS][256];
    char go[2048] = "GO";
    pid_t parent = getpid();

    for (int i = 0; i < GUESTS; i++) {
        int a[2], b[2];

        CHECK(pipe(a) == 0 && pipe(b) == 0);
        pids[i] = fork();
        if (pids[i] == 0) {
            if (prctl(PR_SET_PDEATHSIG, SIGKILL) != 0 || getppid() != parent)
                _exit(3);
            close(a[1]);
            close(b[0]);
            int rc = guest_main(i, a[0], b[1]);
            fprintf(stderr, "guest %d: exit %d\n", i, rc);
            fflush(stderr);
            _exit(rc);
        }
        close(a[0]);
        close(b[1]);
        to_guest[i] = a[1];
        from_guest[i] = b[0];
    }
    for (int i = 0; i < GUESTS; i++) {
        char line[512];

        ids[i][0] = '\0';
        if (read_line(from_guest[i], line, sizeof line, 30000) == 0 &&
            strncmp(line, "READY ", 6) == 0)
            snprintf(ids[i], sizeof ids[i], "%.255s", line + 6);
        CHECK(ids[i][0] != '\0');
        fprintf(stderr, "guest %d is %s\n", i, ids[i]);
        for (int j = 0; j < i; j++)
            CHECK(strcmp(ids[i], ids[j]) != 0); /* each its own identity */
        strncat(go, " ", sizeof go - strlen(go) - 1);
        strncat(go, ids[i], sizeof go - strlen(go) - 1);
    }
    strncat(go, "\n", sizeof go - strlen(go) - 1);
    for (int i = 0; i < GUESTS; i++)
        write_str(to_guest[i], go);
    for (int i = 0; i < GUESTS; i++) {
        int status = -1;
        int64_t until = integ_now_ms() + 60000;

        while (waitpid(pids[i], &status, WNOHANG) == 0) {
            if (integ_now_ms() > until) {
                kill(pids[i], SIGKILL);
                waitpid(pids[i], &status, 0);
                break;
            }
            usleep(10000);
        }
        CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0);
        close(to_guest[i]);
        close(from_guest[i]);
    }
}

/* --- patterns, headers, identity ---------------------------------------- */

static void test_basics(void)
{
    hvrpc_client *c = integ_connect(sp.uri, 0);
    const char *pats[] = {"vm.*.hb", "alerts.>"};
    const char *headers[] = {"k", "v", "k", "v2", "publisher", "forged"};
    hvrpc_stream *s, *all;
    hvrpc_status st;
    bus_resp r;
    bus_ev *e;
    char id[256];

    if (c == NULL) {
        CHECK(!"connect");
        return;
    }
    snprintf(id, sizeof id, "%s", bus_identity(c));
    s = bus_subscribe(c, pats, 2, NULL, NULL, &st);
    CHECK(s != NULL);
    if (s == NULL) {
        hvrpc_client_free(c);
        return;
    }
    CHECK_INT(bus_publish(c, "vm.a.hb", "one", 3, headers, 3, 0, &r, &st),
              HVRPC_OK);
    CHECK_INT(r.matched, 1);
    CHECK_INT(r.queued, 1);
    CHECK_INT(bus_publish_text(c, "vm.a.other", "no", &r), HVRPC_OK);
    CHECK_INT(r.matched, 0);
    CHECK_INT(bus_publish(c, "alerts.x.y", NULL, 0, NULL, 0, 0, &r, &st),
              HVRPC_OK);
    CHECK_INT(r.matched, 1);

    CHECK_INT(bus_recv(s, &e, 5000, &st), HVRPC_OK);
    if (e != NULL) {
        struct timespec now;
        clock_gettime(CLOCK_REALTIME, &now);
        int64_t ns = (int64_t)now.tv_sec * 1000000000 + now.tv_nsec;
        CHECK_INT(e->kind, HVRPC__BUS__V1__EVENT__KIND__PUBLISHED);
        CHECK_INT(e->sequence, 1);
        CHECK_INT(e->dropped, 0);
        CHECK_STR(e->topic, "vm.a.hb");
        CHECK(e->payload.len == 3 && memcmp(e->payload.data, "one", 3) == 0);
        CHECK_STR(e->publisher, id);
        CHECK_INT(e->n_headers, 3);
        if (e->n_headers == 3) {
            CHECK_STR(e->headers[0]->key, "k");
            CHECK_STR(e->headers[0]->value, "v");
            CHECK_STR(e->headers[1]->value, "v2");
            CHECK_STR(e->headers[2]->value, "forged");
        }
        CHECK(e->time_unix_nano > ns - 60 * 1000000000LL &&
              e->time_unix_nano <= ns);
    }
    bus_ev_free(e);
    CHECK_INT(bus_recv(s, &e, 5000, &st), HVRPC_OK);
    if (e != NULL) {
        CHECK_INT(e->sequence, 2);
        CHECK_STR(e->topic, "alerts.x.y");
        CHECK_INT(e->payload.len, 0);
    }
    bus_ev_free(e);
    /* vm.a.other matched nothing. */
    CHECK_INT(bus_recv(s, &e, 200, &st), HVRPC_WOULD_BLOCK);

    /* Reserved header keys cannot be sent at all. */
    const char *reserved[] = {"HVRPC-Peer", "x"};
    CHECK_INT(bus_publish(c, "vm.a.hb", "x", 1, reserved, 1, 0, &r, &st),
              HVRPC_INVALID_ARGUMENT);
    CHECK_CONTAINS(st.message, "reserved");

    /* Two subscriptions of one client each get their copy. */
    all = bus_subscribe1(c, ">");
    CHECK(all != NULL);
    CHECK_INT(bus_publish_text(c, "vm.b.hb", "two", &r), HVRPC_OK);
    CHECK_INT(r.matched, 2);
    CHECK_INT(bus_recv(s, &e, 5000, &st), HVRPC_OK);
    CHECK(e != NULL && e->sequence == 3);
    bus_ev_free(e);
    if (all != NULL) {
        CHECK_INT(bus_recv(all, &e, 5000, &st), HVRPC_OK);
        CHECK(e != NULL && e->sequence == 1 &&
              strcmp(e->topic, "vm.b.hb") == 0);
        bus_ev_free(e);
    }
    hvrpc_stream_free(all);
    hvrpc_stream_free(s);
    hvrpc_client_free(c);
}

/* --- fan-out ------------------------------------------------------------ */

/* Waits until no subscription matches topic: a subscription the client
 * freed is gone once the broker has seen its reset, which may come after
 * a publish on another connection. */
static void wait_unmatched(hvrpc_client *c, const char *topic)
{
    int64_t until = integ_now_ms() + 5000;
    bus_resp r = {.matched = 1};

    while (integ_now_ms() < until &&
           bus_publish_text(c, topic, "probe", &r) == HVRPC_OK &&
           r.matched != 0)
        usleep(10000);
    CHECK_INT(r.matched, 0);
}

#define FAN_CLIENTS 4
#define FAN_SUBS    100
#define FAN_EVENTS  50

static void test_fanout(void)
{
    hvrpc_client *cs[FAN_CLIENTS] = {0};
    hvrpc_stream *subs[FAN_SUBS] = {0};
    hvrpc_client *pub = integ_connect(sp.uri, 0);
    int64_t t0 = integ_now_ms();

    if (pub != NULL)
        wait_unmatched(pub, "fan.probe");
    for (int i = 0; i < FAN_CLIENTS; i++)
        cs[i] = integ_connect(sp.uri, 0);
    for (int i = 0; i < FAN_SUBS; i++) {
        subs[i] = cs[i % FAN_CLIENTS]
                      ? bus_subscribe1(cs[i % FAN_CLIENTS], "fan.>")
                      : NULL;
        CHECK(subs[i] != NULL);
    }
    for (int k = 0; k < FAN_EVENTS && pub != NULL; k++) {
        char topic[32], payload[32];
        bus_resp r = {0};

        snprintf(topic, sizeof topic, "fan.%d", k);
        snprintf(payload, sizeof payload, "%d", k);
        CHECK_INT(bus_publish_text(pub, topic, payload, &r), HVRPC_OK);
        CHECK_INT(r.matched, FAN_SUBS);
        CHECK_INT(r.queued, FAN_SUBS);
    }
    int complete = 0;
    for (int i = 0; i < FAN_SUBS; i++) {
        int k;

        for (k = 0; subs[i] != NULL && k < FAN_EVENTS; k++) {
            bus_ev *e;
            hvrpc_status st;
            char want[32];

            if (bus_recv(subs[i], &e, 10000, &st) != HVRPC_OK) {
                fprintf(stderr, "fan-out sub %d event %d: %s\n", i, k,
                        st.message);
                break;
            }
            snprintf(want, sizeof want, "%d", k);
            CHECK_INT(e->sequence, k + 1);
            CHECK_INT(e->dropped, 0);
            CHECK(e->payload.len == strlen(want) &&
                  memcmp(e->payload.data, want, e->payload.len) == 0);
            bus_ev_free(e);
        }
        complete += k == FAN_EVENTS;
    }
    CHECK_INT(complete, FAN_SUBS);
    fprintf(stderr, "fan-out: %d events to %d subscribers in %lld ms\n",
            FAN_EVENTS, FAN_SUBS, (long long)(integ_now_ms() - t0));
    for (int i = 0; i < FAN_SUBS; i++)
        hvrpc_stream_free(subs[i]);
    for (int i = 0; i < FAN_CLIENTS; i++)
        hvrpc_client_free(cs[i]);
    hvrpc_client_free(pub);
}

/* --- per-publisher order under concurrency ----------------------------- */

#define PUBLISHERS 8
#define PER_PUB    200

typedef struct pub_thread {
    pthread_t t;
    int index;
    char id[256];
    int failures;
} pub_thread;

static void *publisher_main(void *arg)
{
    pub_thread *p = arg;
    hvrpc_client *c = integ_connect(sp.uri, 0);

    if (c == NULL) {
        p->failures++;
        return NULL;
    }
    snprintf(p->id, sizeof p->id, "%s", bus_identity(c));
    for (int k = 0; k < PER_PUB; k++) {
        char topic[32], payload[32];

        snprintf(topic, sizeof topic, "ord.%d", p->index);
        snprintf(payload, sizeof payload, "%d %d", p->index, k);
        if (bus_publish_text(c, topic, payload, NULL) != HVRPC_OK)
            p->failures++;
    }
    hvrpc_client_free(c);
    return NULL;
}

typedef struct reader {
    pthread_t t;
    hvrpc_stream *s;
    const pub_thread *pubs;
    const char *name;
    int got;
    int failures;
} reader;

/* Reads PUBLISHERS * PER_PUB events: contiguous sequences, each
 * publisher's events in its order, each stamped with its identity (known
 * once its thread has finished: checked by check_stamps). */
static void *reader_main(void *arg)
{
    reader *rd = arg;
    int next_k[PUBLISHERS] = {0};

    while (rd->got < PUBLISHERS * PER_PUB) {
        bus_ev *e;
        hvrpc_status st;
        int p = -1, k = -1;

        if (bus_recv(rd->s, &e, 20000, &st) != HVRPC_OK) {
            fprintf(stderr, "%s: after %d events: %s\n", rd->name, rd->got,
                    st.message);
            rd->failures++;
            return NULL;
        }
        rd->got++;
        if (e->sequence != (uint64_t)rd->got || e->dropped != 0 ||
            !parse_pair(e, &p, &k) || p < 0 || p >= PUBLISHERS ||
            k != next_k[p]) {
            if (rd->failures++ < 5)
                fprintf(stderr,
                        "%s: event %d: sequence %llu dropped %llu, "
                        "publisher %d event %d, want event %d\n",
                        rd->name, rd->got, (unsigned long long)e->sequence,
                        (unsigned long long)e->dropped, p, k,
                        p >= 0 && p < PUBLISHERS ? next_k[p] : -1);
        } else {
            next_k[p]++;
        }
        bus_ev_free(e);
    }
    return NULL;
}

static void test_ordering(void)
{
    hvrpc_client *c = integ_connect(sp.uri, 0);
    pub_thread pubs[PUBLISHERS];
    reader rds[3] = {
        {.name = "block (read concurrently)"},
        {.name = "drop-oldest (read after)"},
        {.name = "disconnect (read after)"},
    };
    const bus_sub_opts opts[3] = {
        {.overflow = OV_BLOCK, .queue_size = 16},
        {.overflow = OV_DROP_OLDEST, .queue_size = 4096},
        {.overflow = OV_DISCONNECT, .queue_size = 4096},
    };
    const char *pat = "ord.>";
    int64_t t0;

    if (c == NULL) {
        CHECK(!"connect");
        return;
    }
    for (int i = 0; i < 3; i++) {
        hvrpc_status st;
        rds[i].s = bus_subscribe(c, &pat, 1, &opts[i], NULL, &st);
        rds[i].pubs = pubs;
        CHECK(rds[i].s != NULL);
    }
    if (rds[0].s != NULL)
        pthread_create(&rds[0].t, NULL, reader_main, &rds[0]);
    t0 = integ_now_ms();
    for (int i = 0; i < PUBLISHERS; i++) {
        pubs[i] = (pub_thread){.index = i};
        pthread_create(&pubs[i].t, NULL, publisher_main, &pubs[i]);
    }
    for (int i = 0; i < PUBLISHERS; i++) {
        pthread_join(pubs[i].t, NULL);
        CHECK_INT(pubs[i].failures, 0);
    }
    fprintf(stderr, "ordering: %d publishers x %d events in %lld ms\n",
            PUBLISHERS, PER_PUB, (long long)(integ_now_ms() - t0));
    for (int i = 1; i < 3; i++) {
        if (rds[i].s != NULL)
            pthread_create(&rds[i].t, NULL, reader_main, &rds[i]);
    }
    for (int i = 0; i < 3; i++) {
        if (rds[i].s == NULL)
            continue;
        pthread_join(rds[i].t, NULL);
        CHECK_INT(rds[i].failures, 0);
        CHECK_INT(rds[i].got, PUBLISHERS * PER_PUB);
        hvrpc_stream_free(rds[i].s);
    }

    /* Stamps: one more event per publisher identity, checked exactly. */
    hvrpc_stream *s = bus_subscribe1(c, "stamp");
    hvrpc_client *other = integ_connect(sp.uri, 0);
    if (s != NULL && other != NULL) {
        char mine[256], theirs[256];
        bus_ev *e;
        hvrpc_status st;

        snprintf(mine, sizeof mine, "%s", bus_identity(c));
        snprintf(theirs, sizeof theirs, "%s", bus_identity(other));
        CHECK_INT(bus_publish_text(c, "stamp", "a", NULL), HVRPC_OK);
        CHECK_INT(bus_publish_text(other, "stamp", "b", NULL), HVRPC_OK);
        CHECK_INT(bus_recv(s, &e, 5000, &st), HVRPC_OK);
        CHECK(e != NULL && strcmp(e->publisher, mine) == 0);
        bus_ev_free(e);
        CHECK_INT(bus_recv(s, &e, 5000, &st), HVRPC_OK);
        CHECK(e != NULL && strcmp(e->publisher, theirs) == 0);
        bus_ev_free(e);
    }
    hvrpc_stream_free(s);
    hvrpc_client_free(other);
    hvrpc_client_free(c);
}

int main(int argc, char **argv)
{
    const char *transport = integ_transport(argc, argv);
    hvrpc_bus_options o;

    if (transport == NULL)
        return 2;
    signal(SIGPIPE, SIG_IGN);
    hvrpc_bus_options_init(&o);
    o.max_subscriptions_per_peer = 256;
    /* Order, not timing, is tested here: a slow machine must not cut the
     * BLOCK subscriber. */
    o.block_timeout_ms = 20000;
    if (bus_server_start(&sp, transport, &o) != 0)
        return 1;
    /* Guests are forked first, while this process has no threads. */
    test_cross_guest();
    test_basics();
    test_fanout();
    test_ordering();
    CHECK_INT(server_proc_stop(&sp, 10000), 0);
    server_proc_cleanup(&sp);
    integ_report_calls(transport);
    return check_done();
}
