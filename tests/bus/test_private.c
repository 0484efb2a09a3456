/*
 * tests/bus/test_private.c - guest isolation on the bus (docs/BUS.md,
 * "Access"): two guests (forked processes of two uids, so two peer keys)
 * and the host (this process, uid 0: a host peer by default) on one
 * broker over a unix socket.
 *
 *   - a guest never receives the other's private events, even through
 *     ">" and "private.>"; it receives its own and those the host
 *     publishes for it; a publish's `matched` does not count the other
 *     guest's subscriptions;
 *   - a guest cannot publish in the other's private space nor subscribe
 *     to it by name (PERMISSION_DENIED naming the topic);
 *   - "private.self" is the caller's own key, in topics and patterns;
 *   - the host receives everything and publishes anywhere;
 *   - the authorize hook refuses before the built-in rule (the host too)
 *     and sees the rewritten topic;
 *   - hvrpc_bus_peer_key() spellings, the host_peers option's checks.
 *
 * The guest part needs root (two uids); without it the test runs the
 * rest and exits 77 (skipped). Run as: bus_private unix.
 */
#include <errno.h>
#include <grp.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "bus_util.h"
#include "check.h"

#define UID_A 60011
#define UID_B 60012
#define WAIT  20000

static server_proc sp;
static const char *keys[2] = {"uid:60011", "uid:60012"};

/* The broker's hook: refuses every topic or pattern with a segment
 * "blocked", quoting the topic as it got it. */
static hvrpc_code hook(const hvrpc_peer *peer, hvrpc_bus_action action,
                       const char *topic, void *arg, hvrpc_status *st)
{
    char key[HVRPC_BUS_PEER_KEY_MAX];
    size_t n = strlen(topic);

    (void)arg;
    if (strstr(topic, ".blocked.") == NULL && strncmp(topic, "blocked.", 8) &&
        !(n >= 8 && strcmp(topic + n - 8, ".blocked") == 0))
        return HVRPC_OK;
    hvrpc_bus_peer_key(peer, key, sizeof key);
    return hvrpc_status_set(
        st, HVRPC_PERMISSION_DENIED, "hook refused %s %s for %s",
        action == HVRPC_BUS_PUBLISH ? "topic" : "pattern", topic, key);
}

/* --- without a server ----------------------------------------------------- */

static void test_keys(void)
{
    hvrpc_peer p;
    char k[HVRPC_BUS_PEER_KEY_MAX];

    memset(&p, 0, sizeof p);
    p.kind = HVRPC_ADDR_VSOCK;
    p.vsock_cid = 3;
    hvrpc_bus_peer_key(&p, k, sizeof k);
    CHECK_STR(k, "vsock:3");
    p.kind = HVRPC_ADDR_UNIX;
    p.uid = 1000;
    hvrpc_bus_peer_key(&p, k, sizeof k);
    CHECK_STR(k, "uid:1000");
    p.kind = HVRPC_ADDR_HYBRID_VSOCK;
    hvrpc_bus_peer_key(&p, k, sizeof k);
    CHECK_STR(k, "hybrid:uid:1000");
    p.kind = HVRPC_ADDR_TCP;
    snprintf(p.tcp_addr, sizeof p.tcp_addr, "127.0.0.1:5555");
    hvrpc_bus_peer_key(&p, k, sizeof k);
    CHECK_STR(k, "tcp:127-0-0-1");
    snprintf(p.tcp_addr, sizeof p.tcp_addr, "[::1]:5555");
    hvrpc_bus_peer_key(&p, k, sizeof k);
    CHECK_STR(k, "tcp:[::1]");
    /* Every key is one topic segment. */
    char topic[128];
    snprintf(topic, sizeof topic, "private.%s.x", "tcp:127-0-0-1");
    CHECK_INT(hvrpc_bus_topic_check(topic, NULL, NULL), HVRPC_OK);
}

static void test_options(void)
{
    hvrpc_bus_options o;
    hvrpc_bus *bus = NULL;
    hvrpc_status st;
    const char *bad[] = {"uid:0", "vsock.3"};
    const char *good[] = {"vsock:2", "uid:0"};

    hvrpc_bus_options_init(&o);
    o.host_peers = bad;
    o.n_host_peers = 2;
    CHECK_INT(hvrpc_bus_create(&o, &bus, &st), HVRPC_INVALID_ARGUMENT);
    CHECK_CONTAINS(st.message, "host_peers[1]");
    CHECK(bus == NULL);
    o.n_host_peers = 65;
    CHECK_INT(hvrpc_bus_create(&o, &bus, &st), HVRPC_INVALID_ARGUMENT);
    o.host_peers = good;
    o.n_host_peers = 2;
    CHECK_INT(hvrpc_bus_create(&o, &bus, &st), HVRPC_OK);
    hvrpc_bus_free(bus);
}

/* --- pipes between this process and the guests -----------------------------
 */

static int read_word(int fd, const char *want)
{
    char buf[16];
    size_t n = 0, len = strlen(want);

    while (n < len) {
        struct pollfd pfd = {.fd = fd, .events = POLLIN};
        ssize_t k;

        if (poll(&pfd, 1, 30000) <= 0)
            return -1;
        k = read(fd, buf + n, len - n);
        if (k < 0 && errno == EINTR)
            continue;
        if (k <= 0)
            return -1;
        n += (size_t)k;
    }
    return memcmp(buf, want, len) == 0 ? 0 : -1;
}

static void say(int fd, const char *word)
{
    if (write(fd, word, strlen(word)) != (ssize_t)strlen(word))
        perror("write");
}

/* Reads events from s until one on topic last; returns their topics
 * joined by spaces (static buffer per slot). */
static const char *topics_until(hvrpc_stream *s, const char *last, int slot)
{
    static char out[4][2048];
    char *o = out[slot];
    size_t n = 0;

    o[0] = '\0';
    for (int i = 0; i < 64; i++) {
        bus_ev *e;
        hvrpc_status st;

        if (bus_recv(s, &e, WAIT, &st) != HVRPC_OK) {
            fprintf(stderr, "recv (waiting for %s): %s\n", last, st.message);
            break;
        }
        n += (size_t)snprintf(o + n, sizeof out[0] - n, "%s%s", n ? " " : "",
                              e->topic);
        bool done = strcmp(e->topic, last) == 0;
        bus_ev_free(e);
        if (done || n >= sizeof out[0])
            break;
    }
    return o;
}

static void expect_refused(hvrpc_code r, const hvrpc_status *st,
                           const char *quote)
{
    CHECK_INT(r, HVRPC_PERMISSION_DENIED);
    CHECK_CONTAINS(st->message, quote);
}

static hvrpc_code try_subscribe(hvrpc_client *c, const char *pattern,
                                hvrpc_status *st)
{
    hvrpc_code r;
    hvrpc_stream *s = bus_subscribe(c, &pattern, 1, NULL, &r, st);

    hvrpc_stream_free(s);
    return r;
}

static hvrpc_code try_publish(hvrpc_client *c, const char *topic,
                              bus_resp *resp, hvrpc_status *st)
{
    return bus_publish(c, topic, "x", 1, NULL, 0, 10000, resp, st);
}

/* --- a guest
 * ------------------------------------------------------------------ */

static int guest_main(int i, int rfd, int wfd)
{
    const char *me = keys[i], *other = keys[1 - i];
    char t[256], want[1024];
    hvrpc_client *c = integ_connect(sp.uri, 0);
    hvrpc_stream *all, *wild, *self;
    hvrpc_status st;
    bus_resp resp;

    if (c == NULL)
        return 2;
    all = bus_subscribe1(c, ">");
    wild = bus_subscribe1(c, "private.>");
    self = bus_subscribe1(c, "private.self.>");
    if (all == NULL || wild == NULL || self == NULL)
        return 2;

    /* The other guest's space, by name: refused, naming it. */
    snprintf(t, sizeof t, "private.%s.>", other);
    expect_refused(try_subscribe(c, t, &st), &st, t);
    snprintf(t, sizeof t, "private.%s.x", other);
    expect_refused(try_publish(c, t, NULL, &st), &st, t);
    expect_refused(try_publish(c, "private.vsock:3.x", NULL, &st), &st,
                   "private.vsock:3.x");
    /* The hook first, and on the rewritten topic. */
    snprintf(t, sizeof t, "private.%s.blocked", me);
    expect_refused(try_publish(c, "private.self.blocked", NULL, &st), &st, t);
    CHECK_CONTAINS(st.message, "hook refused topic");
    expect_refused(try_subscribe(c, "alerts.blocked.>", &st), &st,
                   "hook refused pattern alerts.blocked.>");
    say(wfd, "R");

    if (read_word(rfd, "G") != 0)
        return 2;
    /* Its own space, both spellings: its 3 subscriptions and the host's
     * ">" (and, for guest 0, the host's private.<guest 0>.>) match, none
     * of the other guest's. */
    snprintf(t, sizeof t, "private.self.g%d", i);
    CHECK_INT(try_publish(c, t, &resp, &st), HVRPC_OK);
    CHECK_INT(resp.matched, (i == 0 ? 5 : 4)); /* the host watches guest 0 */
    snprintf(t, sizeof t, "private.%s.explicit", me);
    CHECK_INT(try_publish(c, t, &resp, &st), HVRPC_OK);
    CHECK_INT(resp.matched, (i == 0 ? 5 : 4));
    snprintf(t, sizeof t, "pub.g%d", i);
    CHECK_INT(try_publish(c, t, &resp, &st), HVRPC_OK);
    CHECK_INT(resp.matched, 3); /* both guests' ">" and the host's */
    say(wfd, "D");

    /* Guest 0 published first, then guest 1; then the host. */
    want[0] = '\0';
    for (int g = 0; g < 2; g++) {
        size_t n = strlen(want);
        if (g == i)
            snprintf(want + n, sizeof want - n,
                     "private.%s.g%d private.%s.explicit pub.g%d ", me, g, me,
                     g);
        else
            snprintf(want + n, sizeof want - n, "pub.g%d ", g);
    }
    snprintf(t, sizeof t, "private.%s.h private.%s.end end", me, me);
    strncat(want, t, sizeof want - strlen(want) - 1);
    CHECK_STR(topics_until(all, "end", 0), want);
    snprintf(t, sizeof t, "private.%s.end", me);
    snprintf(want, sizeof want,
             "private.%s.g%d private.%s.explicit private.%s.h private.%s.end",
             me, i, me, me, me);
    CHECK_STR(topics_until(wild, t, 1), want);
    CHECK_STR(topics_until(self, t, 2), want);
    hvrpc_stream_free(all);
    hvrpc_stream_free(wild);
    hvrpc_stream_free(self);
    hvrpc_client_free(c);
    return check_failures ? 1 : 0;
}

static pid_t start_guest(int i, uid_t uid, int *to, int *from)
{
    int a[2], b[2];
    pid_t parent = getpid(), pid;

    if (pipe(a) != 0 || pipe(b) != 0)
        return -1;
    pid = fork();
    if (pid == 0) {
        close(a[1]);
        close(b[0]);
        /* Credentials first: changing them clears the death signal. */
        if (setgroups(0, NULL) != 0 || setgid(uid) != 0 || setuid(uid) != 0 ||
            prctl(PR_SET_PDEATHSIG, SIGKILL) != 0 || getppid() != parent)
            _exit(3);
        int rc = guest_main(i, a[0], b[1]);
        fprintf(stderr, "guest %s: exit %d\n", keys[i], rc);
        fflush(stderr);
        _exit(rc);
    }
    close(a[0]);
    close(b[1]);
    *to = a[1];
    *from = b[0];
    return pid;
}

/* --- the host
 * ------------------------------------------------------------------- */

static void test_isolation(void)
{
    int to[2], from[2], status;
    pid_t pids[2];
    uid_t uids[2] = {UID_A, UID_B};
    hvrpc_client *c;
    hvrpc_stream *all, *a_only;
    hvrpc_status st;
    char t[256], want[1024];

    /* Guests of other uids reach the socket, as any guest reaches the
     * host's vsock port. */
    CHECK(chmod(sp.dir, 0755) == 0);
    CHECK(chmod(sp.uri + strlen("unix://"), 0666) == 0);
    /* Forked while this process has no threads (no client yet). */
    for (int i = 0; i < 2; i++)
        pids[i] = start_guest(i, uids[i], &to[i], &from[i]);
    for (int i = 0; i < 2; i++)
        CHECK_INT(read_word(from[i], "R"), 0);

    c = integ_connect(sp.uri, 0);
    CHECK(c != NULL);
    all = bus_subscribe1(c, ">");
    snprintf(t, sizeof t, "private.%s.>", keys[0]);
    a_only = bus_subscribe1(c, t); /* the host may name any space */
    CHECK(all != NULL && a_only != NULL);
    /* The hook binds the host too. */
    expect_refused(try_publish(c, "ops.blocked", NULL, &st), &st,
                   "hook refused topic ops.blocked for uid:0");

    for (int i = 0; i < 2; i++) {
        say(to[i], "G");
        CHECK_INT(read_word(from[i], "D"), 0);
    }
    for (int i = 0; i < 2; i++) {
        snprintf(t, sizeof t, "private.%s.h", keys[i]);
        CHECK_INT(bus_publish_text(c, t, "for one guest", NULL), HVRPC_OK);
    }
    CHECK_INT(bus_publish_text(c, "private.vsock:3.h", "for nobody here", NULL),
              HVRPC_OK);
    for (int i = 0; i < 2; i++) {
        snprintf(t, sizeof t, "private.%s.end", keys[i]);
        CHECK_INT(bus_publish_text(c, t, "", NULL), HVRPC_OK);
    }
    CHECK_INT(bus_publish_text(c, "end", "", NULL), HVRPC_OK);

    for (int i = 0; i < 2; i++) {
        CHECK(waitpid(pids[i], &status, 0) == pids[i]);
        CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0);
        close(to[i]);
        close(from[i]);
    }
    /* The host sees every event, in order. */
    snprintf(want, sizeof want,
             "private.%s.g0 private.%s.explicit pub.g0 "
             "private.%s.g1 private.%s.explicit pub.g1 "
             "private.%s.h private.%s.h private.vsock:3.h "
             "private.%s.end private.%s.end end",
             keys[0], keys[0], keys[1], keys[1], keys[0], keys[1], keys[0],
             keys[1]);
    CHECK_STR(topics_until(all, "end", 0), want);
    snprintf(t, sizeof t, "private.%s.end", keys[0]);
    snprintf(want, sizeof want,
             "private.%s.g0 private.%s.explicit private.%s.h private.%s.end",
             keys[0], keys[0], keys[0], keys[0]);
    CHECK_STR(topics_until(a_only, t, 1), want);
    hvrpc_stream_free(all);
    hvrpc_stream_free(a_only);
    hvrpc_client_free(c);
}

int main(int argc, char **argv)
{
    const char *transport = integ_transport(argc, argv);
    hvrpc_bus_options o;

    if (transport == NULL)
        return 2;
    signal(SIGPIPE, SIG_IGN);
    test_keys();
    test_options();
    if (strcmp(transport, "unix") != 0 || geteuid() != 0) {
        fprintf(stderr, "the guests need root and unix sockets (two uids); "
                        "skipped them\n");
        return check_failures ? check_done() : 77;
    }
    hvrpc_bus_options_init(&o);
    o.authorize = hook;
    if (bus_server_start(&sp, transport, &o) != 0)
        return 1;
    test_isolation();
    CHECK_INT(server_proc_stop(&sp, 10000), 0);
    server_proc_cleanup(&sp);
    return check_done();
}
