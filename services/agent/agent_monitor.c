/*
 * agent_monitor.c - hvrpc-agent-monitor: the host side of the agents'
 * heartbeats (docs/AGENT.md).
 *
 *   hvrpc-agent-monitor [--bus URI] [--listen URI] [--interval SEC]
 *                       [--misses N] [--verbose] [--quiet]
 *
 * Subscribes to agent.*.heartbeat on the host's bus (--bus, or
 * HVRPC_HVRPC_BUS_V1_BUS_ADDR, default unix:///run/hvrpc/bus.sock) and
 * keeps one health status per guest name: SERVING from its first beat,
 * NOT_SERVING once no beat came for --misses intervals of --interval
 * seconds, SERVING again at the next beat. The statuses are served as
 * grpc.health.v1.Health on --listen (default
 * unix:///run/hvrpc/agent-monitor.sock) under the service name
 * hvrpc.agent.<name>, so `hvrpc health URI hvrpc.agent.web1 --watch`
 * follows a guest; each change is also published on the bus as
 * agent.<name>.health with payload SERVING or NOT_SERVING.
 *
 * A name belongs to the first guest identity that beat with it (the
 * broker's stamp without the port or pid: vsock:3, unix:uid=0): beats
 * with that name from anyone else are logged and ignored, so one guest
 * cannot keep another's status alive.
 */
#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "health_service.h"
#include "hvrpc/agent/v1/agent.hvrpc.h"
#include "hvrpc/bus/v1/bus.hvrpc.h"

#define DEFAULT_BUS    "unix:///run/hvrpc/bus.sock"
#define DEFAULT_LISTEN "unix:///run/hvrpc/agent-monitor.sock"
#define MAX_GUESTS     4096
#define NAME_MAX_      64
#define IDENT_MAX      128
#define MAX_PAYLOAD    1024 /* a heartbeat is under 200 bytes */
#define RECV_POLL      100
#define EXIT_USAGE     2
#define SERVING        GRPC__HEALTH__V1__HEALTH_CHECK_RESPONSE__SERVING_STATUS__SERVING
#define NOT_SERVING                                                            \
    GRPC__HEALTH__V1__HEALTH_CHECK_RESPONSE__SERVING_STATUS__NOT_SERVING

static const char usage[] =
    "usage: hvrpc-agent-monitor [--bus URI] [--listen URI] [--interval SEC]\n"
    "                           [--misses N] [--verbose] [--quiet]\n"
    "  --bus URI       the host's bus (default $HVRPC_HVRPC_BUS_V1_BUS_ADDR,\n"
    "                  else " DEFAULT_BUS ")\n"
    "  --listen URI    serve the guests' health here (default\n"
    "                  " DEFAULT_LISTEN ")\n"
    "  --interval SEC  the agents' heartbeat interval (default 5)\n"
    "  --misses N      NOT_SERVING after N intervals without a beat "
    "(default 3)\n"
    "  --verbose       print every heartbeat\n"
    "  --quiet         print only errors\n";

typedef struct guest {
    char name[NAME_MAX_ + 1];
    char ident[IDENT_MAX];
    uint64_t last_ms;
    uint64_t seq;
    bool healthy;
} guest;

typedef struct monitor {
    const char *bus_uri;
    uint32_t interval_ms;
    uint32_t misses;
    bool verbose, quiet;
    hvrpc_health *health;
    guest *guests;
    size_t n_guests;
    atomic_bool stop;
} monitor;

static uint64_t mono_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

static void say(const monitor *m, const char *fmt, ...) HVRPC_PRINTF(2, 3);

static void say(const monitor *m, const char *fmt, ...)
{
    va_list ap;

    if (m->quiet)
        return;
    va_start(ap, fmt);
    fputs("hvrpc-agent-monitor: ", stdout);
    vprintf(fmt, ap);
    fputc('\n', stdout);
    fflush(stdout);
    va_end(ap);
}

/* The guest identity of a publisher stamp (hvrpc_peer_format): without
 * the vsock port, the unix gid and pid, the tcp port. */
static void identity_of(const char *publisher, char *out, size_t size)
{
    const char *cut = NULL;

    if (strncmp(publisher, "vsock:", 6) == 0 ||
        strncmp(publisher, "tcp:", 4) == 0)
        cut = strrchr(publisher, ':');
    else if (strncmp(publisher, "unix:", 5) == 0 ||
             strncmp(publisher, "hybrid+vsock:", 13) == 0)
        cut = strstr(publisher, ",gid=");
    snprintf(out, size, "%.*s",
             cut ? (int)(cut - publisher) : (int)strlen(publisher), publisher);
}

/* "agent.NAME.heartbeat" -> NAME; false for anything else. */
static bool name_of(const char *topic, char *out, size_t size)
{
    const char *start = topic + 6, *end;

    if (strncmp(topic, "agent.", 6) != 0)
        return false;
    end = strchr(start, '.');
    if (!end || strcmp(end, ".heartbeat") != 0 || end == start ||
        (size_t)(end - start) >= size)
        return false;
    snprintf(out, size, "%.*s", (int)(end - start), start);
    return true;
}

static void set_status(monitor *m, hvrpc_client *bus, const guest *g,
                       bool healthy)
{
    Hvrpc__Bus__V1__PublishRequest req = HVRPC__BUS__V1__PUBLISH_REQUEST__INIT;
    Hvrpc__Bus__V1__PublishResponse *resp;
    hvrpc_call_options co = HVRPC_CALL_OPTIONS_INIT;
    char service[NAME_MAX_ + 32], topic[NAME_MAX_ + 32];
    const char *word = healthy ? "SERVING" : "NOT_SERVING";
    hvrpc_status st;

    snprintf(service, sizeof service, "hvrpc.agent.%s", g->name);
    if (hvrpc_health_set(m->health, service, healthy ? SERVING : NOT_SERVING,
                         &st) != HVRPC_OK)
        fprintf(stderr, "hvrpc-agent-monitor: health %s: %s\n", service,
                st.message);
    snprintf(topic, sizeof topic, "agent.%s.health", g->name);
    req.topic = topic;
    req.payload.data = (uint8_t *)word;
    req.payload.len = strlen(word);
    co.timeout_ms = 2000;
    if (bus && hvrpc__bus__v1__bus__publish_call(bus, &req, &resp, &co, &st) ==
                   HVRPC_OK)
        protobuf_c_message_free_unpacked(&resp->base, NULL);
}

static guest *find_guest(monitor *m, const char *name)
{
    for (size_t i = 0; i < m->n_guests; i++)
        if (strcmp(m->guests[i].name, name) == 0)
            return &m->guests[i];
    return NULL;
}

static void on_event(monitor *m, hvrpc_client *bus,
                     const Hvrpc__Bus__V1__Event *ev)
{
    Hvrpc__Agent__V1__Heartbeat *hb = NULL;
    char name[NAME_MAX_ + 1], ident[IDENT_MAX];
    uint64_t now = mono_ms();
    guest *g;

    if (ev->kind != HVRPC__BUS__V1__EVENT__KIND__PUBLISHED)
        return;
    if (!name_of(ev->topic, name, sizeof name)) {
        say(m, "ignored event on %s: not agent.<name>.heartbeat", ev->topic);
        return;
    }
    identity_of(ev->publisher, ident, sizeof ident);
    /* Bounded before decoding: a heartbeat is small. */
    if (ev->payload.len <= MAX_PAYLOAD)
        hb = hvrpc__agent__v1__heartbeat__unpack(NULL, ev->payload.len,
                                                 ev->payload.data);
    if (!hb) {
        say(m, "ignored heartbeat for %s from %s: not a Heartbeat message",
            name, ident);
        return;
    }
    g = find_guest(m, name);
    if (!g) {
        if (m->n_guests == MAX_GUESTS) {
            say(m, "ignored heartbeat for %s: %d guests known, the limit", name,
                MAX_GUESTS);
            goto out;
        }
        g = &m->guests[m->n_guests++];
        memset(g, 0, sizeof *g);
        snprintf(g->name, sizeof g->name, "%s", name);
        snprintf(g->ident, sizeof g->ident, "%s", ident);
    } else if (strcmp(g->ident, ident) != 0) {
        say(m, "refused heartbeat for %s from %s: %s belongs to %s", name,
            ident, name, g->ident);
        goto out;
    }
    if (m->verbose)
        say(m,
            "heartbeat %s #%" PRIu64 " from %s (guest clock %+.3f ms from the "
            "broker's)",
            name, hb->sequence, ev->publisher,
            (double)(hb->realtime_unix_nano - ev->time_unix_nano) / 1e6);
    if (!g->healthy) {
        if (g->seq == 0)
            say(m, "%s SERVING: first heartbeat (#%" PRIu64 ") from %s", name,
                hb->sequence, ident);
        else
            say(m, "%s SERVING again: heartbeat #%" PRIu64 " after %.1f s",
                name, hb->sequence, (double)(now - g->last_ms) / 1e3);
        g->healthy = true;
        set_status(m, bus, g, true);
    }
    g->last_ms = now;
    g->seq = hb->sequence;
out:
    protobuf_c_message_free_unpacked(&hb->base, NULL);
}

static void check(monitor *m, hvrpc_client *bus)
{
    uint64_t now = mono_ms(), limit = (uint64_t)m->interval_ms * m->misses;

    for (size_t i = 0; i < m->n_guests; i++) {
        guest *g = &m->guests[i];
        if (g->healthy && now - g->last_ms > limit) {
            say(m, "%s NOT_SERVING: no heartbeat for %.1f s (%u missed)",
                g->name, (double)(now - g->last_ms) / 1e3, m->misses);
            g->healthy = false;
            set_status(m, bus, g, false);
        }
    }
}

/* Subscribes and follows until stopped; reconnects every second when the
 * bus goes away, and keeps checking meanwhile (no beats: unhealthy). */
static void *follow(void *arg)
{
    monitor *m = arg;
    hvrpc_client *c = NULL;
    hvrpc_stream *s = NULL;
    uint64_t retry_at = 0;
    bool warned = false;

    while (!atomic_load(&m->stop)) {
        hvrpc_status st;

        if (!s && mono_ms() >= retry_at) {
            Hvrpc__Bus__V1__SubscribeRequest req =
                HVRPC__BUS__V1__SUBSCRIBE_REQUEST__INIT;
            char *patterns[] = {"agent.*.heartbeat"};
            hvrpc_client_options o;

            req.patterns = patterns;
            req.n_patterns = 1;
            hvrpc_client_options_init(&o);
            o.connect_timeout_ms = 2000;
            if ((c ||
                 hvrpc_client_connect(m->bus_uri, &o, &c, &st) == HVRPC_OK) &&
                hvrpc__bus__v1__bus__subscribe_open(c, &req, NULL, &s, &st) ==
                    HVRPC_OK) {
                say(m, "subscribed to agent.*.heartbeat on %s", m->bus_uri);
                warned = false;
            } else {
                if (!warned)
                    fprintf(stderr,
                            "hvrpc-agent-monitor: bus %s: %s: %s "
                            "(retrying every second)\n",
                            m->bus_uri, hvrpc_code_name(st.code), st.message);
                warned = true;
                hvrpc_client_free(c);
                c = NULL;
                s = NULL;
                retry_at = mono_ms() + 1000;
            }
        }
        if (s) {
            Hvrpc__Bus__V1__Event *ev;
            hvrpc_code code =
                hvrpc__bus__v1__bus__subscribe_recv(s, &ev, RECV_POLL, &st);
            if (code == HVRPC_OK) {
                on_event(m, c, ev);
                protobuf_c_message_free_unpacked(&ev->base, NULL);
            } else if (code != HVRPC_WOULD_BLOCK) {
                fprintf(stderr,
                        "hvrpc-agent-monitor: subscription ended: "
                        "%s: %s\n",
                        hvrpc_code_name(code),
                        code == HVRPC_END ? "end" : st.message);
                hvrpc_stream_free(s);
                hvrpc_client_free(c);
                s = NULL;
                c = NULL;
                retry_at = mono_ms() + 1000;
            }
        } else {
            usleep(RECV_POLL * 1000);
        }
        check(m, c);
    }
    hvrpc_stream_free(s);
    hvrpc_client_free(c);
    return NULL;
}

static bool parse_sec(const char *s, uint32_t *out)
{
    char *end;
    double v;

    errno = 0;
    v = strtod(s, &end);
    if (*s == '\0' || *end != '\0' || errno || v < 0.01 || v > 3600)
        return false;
    *out = (uint32_t)(v * 1000.0 + 0.5);
    return true;
}

int main(int argc, char **argv)
{
    monitor m;
    const char *listen_uri = DEFAULT_LISTEN;
    hvrpc_server *srv = NULL;
    hvrpc_endpoint *ep;
    hvrpc_server_options so;
    hvrpc_status st;
    char where[HVRPC_ADDRESS_STRLEN];
    pthread_t thread;
    bool following = false;
    sigset_t stop;
    int sig, rc = 1;

    memset(&m, 0, sizeof m);
    m.interval_ms = 5000;
    m.misses = 3;
    m.bus_uri = getenv(hvrpc__bus__v1__bus_info.env_var);
    if (!m.bus_uri || !*m.bus_uri)
        m.bus_uri = DEFAULT_BUS;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        const char *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0) {
            fputs(usage, stdout);
            return 0;
        } else if (strcmp(a, "--verbose") == 0) {
            m.verbose = true;
        } else if (strcmp(a, "--quiet") == 0) {
            m.quiet = true;
        } else if (v && strcmp(a, "--bus") == 0) {
            m.bus_uri = v;
            i++;
        } else if (v && strcmp(a, "--listen") == 0) {
            listen_uri = v;
            i++;
        } else if (v && strcmp(a, "--interval") == 0) {
            if (!parse_sec(v, &m.interval_ms)) {
                fprintf(stderr,
                        "hvrpc-agent-monitor: bad --interval %s "
                        "(0.01..3600)\n",
                        v);
                return EXIT_USAGE;
            }
            i++;
        } else if (v && strcmp(a, "--misses") == 0) {
            char *end;
            unsigned long n = strtoul(v, &end, 10);
            if (*v == '\0' || *end || n < 1 || n > 1000) {
                fprintf(stderr,
                        "hvrpc-agent-monitor: bad --misses %s "
                        "(1..1000)\n",
                        v);
                return EXIT_USAGE;
            }
            m.misses = (uint32_t)n;
            i++;
        } else {
            fprintf(stderr, "hvrpc-agent-monitor: unknown argument %s\n%s", a,
                    usage);
            return EXIT_USAGE;
        }
    }
    m.guests = calloc(MAX_GUESTS, sizeof *m.guests);
    if (!m.guests) {
        fprintf(stderr, "hvrpc-agent-monitor: out of memory\n");
        return 1;
    }
    sigemptyset(&stop);
    sigaddset(&stop, SIGINT);
    sigaddset(&stop, SIGTERM);
    pthread_sigmask(SIG_BLOCK, &stop, NULL);
    signal(SIGPIPE, SIG_IGN);

    hvrpc_server_options_init(&so);
    if (hvrpc_health_create(&m.health, &st) != HVRPC_OK ||
        hvrpc_server_create(&so, &srv, &st) != HVRPC_OK ||
        hvrpc_server_listen(srv, listen_uri, &ep, &st) != HVRPC_OK ||
        hvrpc_health_register(srv, ep, m.health, &st) != HVRPC_OK ||
        hvrpc_server_start(srv, &st) != HVRPC_OK) {
        fprintf(stderr, "hvrpc-agent-monitor: %s: %s\n",
                hvrpc_code_name(st.code), st.message);
        goto out;
    }
    hvrpc_address_format(hvrpc_endpoint_address(ep), where, sizeof where);
    say(&m, "health of hvrpc.agent.<name> on %s", where);
    say(&m, "NOT_SERVING after %u missed beats of %.3g s", m.misses,
        m.interval_ms / 1e3);
    if (pthread_create(&thread, NULL, follow, &m) != 0) {
        fprintf(stderr, "hvrpc-agent-monitor: cannot start a thread\n");
        goto out;
    }
    following = true;
    sigwait(&stop, &sig);
    rc = 0;
out:
    atomic_store(&m.stop, true);
    if (following)
        pthread_join(thread, NULL);
    hvrpc_health_shutdown(m.health);
    hvrpc_server_free(srv);
    hvrpc_health_free(m.health);
    free(m.guests);
    if (rc == 0)
        say(&m, "stopped");
    return rc;
}
