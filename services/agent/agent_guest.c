/*
 * agent_guest.c - hvrpc-agent: the guest agent (docs/AGENT.md).
 *
 *   hvrpc-agent [--listen URI] [--bus URI] [--name NAME] [--heartbeat SEC]
 *               [--allow PATH]... [--exec-allow FILE] [--exec-timeout SEC]
 *               [--exec-max-output BYTES] [--shutdown-cmd "CMD ARGS"]
 *               [--caller-cid CID]... [--caller-uid UID]... [--quiet]
 *
 * Serves hvrpc.agent.v1.Agent on vsock://any:5004 (or
 * HVRPC_HVRPC_AGENT_V1_AGENT_ADDR, or --listen) and publishes a heartbeat
 * to the host's bus (vsock://2:5001, or HVRPC_HVRPC_BUS_V1_BUS_ADDR, or
 * --bus) every --heartbeat seconds on topic agent.<name>.heartbeat,
 * reconnecting when the bus goes away. Runs until SIGINT or SIGTERM.
 */
#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "agent_service.h"
#include "hvrpc/bus/v1/bus.hvrpc.h"
#include "svc_time.h"

#define NAME_MAX_  64
#define EXIT_USAGE 2

static const char usage[] =
    "usage: hvrpc-agent [--listen URI] [--bus URI] [--name NAME]\n"
    "                   [--heartbeat SEC] [--allow PATH]... [--exec-allow "
    "FILE]\n"
    "                   [--exec-timeout SEC] [--exec-max-output BYTES]\n"
    "                   [--shutdown-cmd \"CMD ARGS\"] [--caller-cid CID]...\n"
    "                   [--caller-uid UID]... [--quiet]\n"
    "  --listen URI        where the host calls the agent (default\n"
    "                      vsock://any:5004, or "
    "$HVRPC_HVRPC_AGENT_V1_AGENT_ADDR)\n"
    "  --bus URI           the host's bus for heartbeats (default "
    "vsock://2:5001,\n"
    "                      or $HVRPC_HVRPC_BUS_V1_BUS_ADDR)\n"
    "  --name NAME         the name in the heartbeat topic (default: the\n"
    "                      hostname; letters, digits, '-' and '_')\n"
    "  --heartbeat SEC     beat this often (default 5; 0: no heartbeat)\n"
    "  --allow PATH        let the host run this executable (absolute path,\n"
    "                      exact match; repeatable). Without any --allow or\n"
    "                      --exec-allow, command execution is off\n"
    "  --exec-allow FILE   the allow list from a file, one path a line\n"
    "  --exec-timeout SEC  kill a command after this long (default 10)\n"
    "  --exec-max-output N kill a command after N bytes of output (default\n"
    "                      1048576)\n"
    "  --shutdown-cmd CMD  run this (split at spaces, no shell) when the host\n"
    "                      asks for a shutdown (default: none, a dry run)\n"
    "  --caller-cid CID    also treat this vsock CID as the host (2 always "
    "is)\n"
    "  --caller-uid UID    also treat this uid as the host on unix sockets\n"
    "                      (uid 0 and the agent's own uid always are)\n"
    "  --quiet             log nothing but errors\n";

typedef struct beat_ctx {
    const char *bus_uri; /* NULL: the generated connect_host */
    char name[NAME_MAX_ + 1];
    uint32_t interval_ms;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    bool stop;
    bool quiet;
} beat_ctx;

static void log_line(const char *line, void *arg)
{
    (void)arg;
    printf("hvrpc-agent: %s\n", line);
    fflush(stdout);
}

static void server_log(hvrpc_log_level level, const char *line, void *arg)
{
    (void)arg;
    if (level <= HVRPC_LOG_WARN)
        fprintf(stderr, "hvrpc-agent: %s\n", line);
}

static uint64_t clock_ns(clockid_t id)
{
    struct timespec ts;

    clock_gettime(id, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/* A topic segment: letters, digits, '-' and '_' (others become '-'). */
static void sanitize_name(const char *in, char *out, size_t size)
{
    size_t n = 0;

    for (; *in && n + 1 < size; in++) {
        char c = *in;
        bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
                  (c >= '0' && c <= '9') || c == '-' || c == '_';
        out[n++] = ok ? c : '-';
    }
    out[n] = '\0';
    if (n == 0)
        snprintf(out, size, "guest");
}

/* Waits ms or until stop; true when stopping. */
static bool beat_wait(beat_ctx *b, uint32_t ms)
{
    /* b->cv has the default clock (main() sets none). */
    struct timespec until = hvrpc_svc_deadline(CLOCK_REALTIME, ms);
    bool stop;

    pthread_mutex_lock(&b->mu);
    while (!b->stop &&
           pthread_cond_timedwait(&b->cv, &b->mu, &until) != ETIMEDOUT)
        ;
    stop = b->stop;
    pthread_mutex_unlock(&b->mu);
    return stop;
}

static hvrpc_code bus_connect(beat_ctx *b, hvrpc_client **c, hvrpc_status *st)
{
    hvrpc_client_options o;

    hvrpc_client_options_init(&o);
    o.connect_timeout_ms = 2000;
    if (b->bus_uri)
        return hvrpc_client_connect(b->bus_uri, &o, c, st);
    return hvrpc__bus__v1__bus_connect_host(&o, c, st);
}

/* The heartbeat thread: connect, publish every interval, reconnect. */
static void *beat_main(void *arg)
{
    beat_ctx *b = arg;
    hvrpc_client *c = NULL;
    char topic[NAME_MAX_ + 32];
    uint64_t seq = 0;
    bool warned = false;

    snprintf(topic, sizeof topic, "agent.%s.heartbeat", b->name);
    do {
        Hvrpc__Agent__V1__Heartbeat hb = HVRPC__AGENT__V1__HEARTBEAT__INIT;
        Hvrpc__Bus__V1__PublishRequest req =
            HVRPC__BUS__V1__PUBLISH_REQUEST__INIT;
        Hvrpc__Bus__V1__PublishResponse *resp = NULL;
        hvrpc_call_options co = HVRPC_CALL_OPTIONS_INIT;
        uint8_t payload[256];
        hvrpc_status st;

        if (!c && bus_connect(b, &c, &st) != HVRPC_OK) {
            if (!warned)
                fprintf(stderr, "hvrpc-agent: bus: %s: %s (retrying)\n",
                        hvrpc_code_name(st.code), st.message);
            warned = true;
            c = NULL;
            continue;
        }
        hb.name = b->name;
        hb.sequence = ++seq;
        hb.realtime_unix_nano = (int64_t)clock_ns(CLOCK_REALTIME);
        hb.monotonic_nano = clock_ns(CLOCK_MONOTONIC);
        hb.interval_ms = b->interval_ms;
        hb.version = (char *)HVRPC_VERSION_STRING;
        if (protobuf_c_message_get_packed_size(&hb.base) > sizeof payload)
            hb.version = "";
        req.topic = topic;
        req.payload.data = payload;
        req.payload.len = protobuf_c_message_pack(&hb.base, payload);
        co.timeout_ms = b->interval_ms > 2000 ? b->interval_ms : 2000;
        if (hvrpc__bus__v1__bus__publish_call(c, &req, &resp, &co, &st) !=
            HVRPC_OK) {
            fprintf(stderr, "hvrpc-agent: heartbeat %" PRIu64 ": %s: %s\n", seq,
                    hvrpc_code_name(st.code), st.message);
            if (st.code == HVRPC_UNAVAILABLE) {
                hvrpc_client_free(c);
                c = NULL;
            }
            continue;
        }
        if (warned || seq == 1) {
            if (!b->quiet)
                printf("hvrpc-agent: heartbeat on %s every %" PRIu32
                       " ms (%u subscriber%s)\n",
                       topic, b->interval_ms, resp->matched,
                       resp->matched == 1 ? "" : "s");
            fflush(stdout);
            warned = false;
        }
        protobuf_c_message_free_unpacked(&resp->base, NULL);
    } while (!beat_wait(b, b->interval_ms));
    hvrpc_client_free(c);
    return NULL;
}

static bool parse_u32(const char *s, uint32_t *out)
{
    char *end;
    unsigned long v;

    errno = 0;
    v = strtoul(s, &end, 10);
    if (*s == '\0' || *s == '-' || *end != '\0' || errno || v > UINT32_MAX)
        return false;
    *out = (uint32_t)v;
    return true;
}

/* Seconds (decimal fractions allowed) to milliseconds. */
static bool parse_sec(const char *s, uint32_t max_ms, uint32_t *out)
{
    char *end;
    double v;

    errno = 0;
    v = strtod(s, &end);
    if (*s == '\0' || *end != '\0' || errno || v < 0 ||
        v * 1000.0 > (double)max_ms)
        return false;
    *out = (uint32_t)(v * 1000.0 + 0.5);
    return true;
}

static int usage_error(const char *what, const char *arg)
{
    fprintf(stderr, "hvrpc-agent: %s %s\n%s", what, arg ? arg : "", usage);
    return EXIT_USAGE;
}

static int run(int argc, char **argv, hvrpc_agent_config *cfg)
{
    const char *listen_uri = NULL, *name = NULL;
    beat_ctx beat;
    uint32_t heartbeat_ms = 5000;
    bool quiet = false;
    hvrpc_agent *agent = NULL;
    hvrpc_server *srv = NULL;
    hvrpc_endpoint *ep = NULL;
    hvrpc_server_options so;
    hvrpc_status st;
    char where[HVRPC_ADDRESS_STRLEN], host[256];
    pthread_t beat_thread;
    bool beating = false;
    sigset_t stop;
    int sig, rc = 1;

    memset(&beat, 0, sizeof beat);
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        const char *v = i + 1 < argc ? argv[i + 1] : NULL;
        uint32_t u;

        if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0) {
            fputs(usage, stdout);
            return 0;
        } else if (strcmp(a, "--quiet") == 0) {
            quiet = true;
            continue;
        } else if (!v) {
            return usage_error("unknown argument or missing value:", a);
        }
        i++;
        if (strcmp(a, "--listen") == 0) {
            listen_uri = v;
        } else if (strcmp(a, "--bus") == 0) {
            beat.bus_uri = v;
        } else if (strcmp(a, "--name") == 0) {
            name = v;
        } else if (strcmp(a, "--heartbeat") == 0) {
            if (!parse_sec(v, 3600000u, &heartbeat_ms) ||
                (heartbeat_ms > 0 && heartbeat_ms < 10))
                return usage_error("bad --heartbeat (0, or 0.01..3600):", v);
        } else if (strcmp(a, "--allow") == 0) {
            if (cfg->n_allow == HVRPC_AGENT_MAX_ALLOW)
                return usage_error("too many --allow:", v);
            cfg->allow[cfg->n_allow++] = v;
        } else if (strcmp(a, "--exec-allow") == 0) {
            if (hvrpc_agent_read_allow_file(cfg, v, &st) != HVRPC_OK)
                return usage_error("--exec-allow:", st.message);
        } else if (strcmp(a, "--exec-timeout") == 0) {
            if (!parse_sec(v, HVRPC_AGENT_MAX_TIMEOUT, &cfg->exec_timeout_ms) ||
                cfg->exec_timeout_ms == 0)
                return usage_error("bad --exec-timeout (0.001..3600):", v);
        } else if (strcmp(a, "--exec-max-output") == 0) {
            if (!parse_u32(v, &cfg->exec_max_output) ||
                cfg->exec_max_output == 0 ||
                cfg->exec_max_output > HVRPC_AGENT_MAX_OUTPUT)
                return usage_error("bad --exec-max-output (1..67108864):", v);
        } else if (strcmp(a, "--shutdown-cmd") == 0) {
            cfg->shutdown_cmd = v;
        } else if (strcmp(a, "--caller-cid") == 0) {
            if (!parse_u32(v, &u) ||
                cfg->n_caller_cids == HVRPC_AGENT_MAX_CALLERS)
                return usage_error("bad --caller-cid:", v);
            cfg->caller_cids[cfg->n_caller_cids++] = u;
        } else if (strcmp(a, "--caller-uid") == 0) {
            if (!parse_u32(v, &u) ||
                cfg->n_caller_uids == HVRPC_AGENT_MAX_CALLERS)
                return usage_error("bad --caller-uid:", v);
            cfg->caller_uids[cfg->n_caller_uids++] = u;
        } else {
            return usage_error("unknown argument", a);
        }
    }
    if (!name) {
        if (gethostname(host, sizeof host) != 0)
            snprintf(host, sizeof host, "guest");
        host[sizeof host - 1] = '\0';
        name = host;
    }
    sanitize_name(name, beat.name, sizeof beat.name);
    beat.interval_ms = heartbeat_ms;
    beat.quiet = quiet;
    cfg->log = quiet ? NULL : log_line;

    /* Blocked before any thread starts (they inherit the mask): only
     * sigwait() below sees these. */
    sigemptyset(&stop);
    sigaddset(&stop, SIGINT);
    sigaddset(&stop, SIGTERM);
    pthread_sigmask(SIG_BLOCK, &stop, NULL);
    signal(SIGPIPE, SIG_IGN);

    if (hvrpc_agent_create(cfg, &agent, &st) != HVRPC_OK) {
        fprintf(stderr, "hvrpc-agent: %s\n", st.message);
        return EXIT_USAGE;
    }
    hvrpc_server_options_init(&so);
    so.log = server_log;
    if (hvrpc_server_create(&so, &srv, &st) != HVRPC_OK ||
        (listen_uri
             ? hvrpc_server_listen(srv, listen_uri, &ep, &st)
             : hvrpc__agent__v1__agent_listen(srv, &ep, &st)) != HVRPC_OK ||
        hvrpc_agent_register(srv, ep, agent, &st) != HVRPC_OK ||
        hvrpc_server_start(srv, &st) != HVRPC_OK) {
        fprintf(stderr, "hvrpc-agent: %s: %s\n", hvrpc_code_name(st.code),
                st.message);
        goto out;
    }
    hvrpc_address_format(hvrpc_endpoint_address(ep), where, sizeof where);
    printf("hvrpc-agent: %s on %s as %s\n", HVRPC__AGENT__V1__AGENT_NAME, where,
           beat.name);
    if (cfg->n_allow == 0)
        printf("hvrpc-agent: exec is off (no --allow)\n");
    else
        for (size_t i = 0; i < cfg->n_allow; i++)
            printf("hvrpc-agent: exec allows %s\n", cfg->allow[i]);
    printf("hvrpc-agent: shutdown: %s\n", cfg->shutdown_cmd
                                              ? cfg->shutdown_cmd
                                              : "dry run (no --shutdown-cmd)");
    fflush(stdout);

    pthread_mutex_init(&beat.mu, NULL);
    pthread_cond_init(&beat.cv, NULL);
    if (heartbeat_ms > 0) {
        if (pthread_create(&beat_thread, NULL, beat_main, &beat) != 0) {
            fprintf(stderr, "hvrpc-agent: cannot start the heartbeat\n");
            goto out_beat;
        }
        beating = true;
    }
    sigwait(&stop, &sig);
    rc = 0;
out_beat:
    if (beating) {
        pthread_mutex_lock(&beat.mu);
        beat.stop = true;
        pthread_cond_signal(&beat.cv);
        pthread_mutex_unlock(&beat.mu);
        pthread_join(beat_thread, NULL);
    }
    pthread_cond_destroy(&beat.cv);
    pthread_mutex_destroy(&beat.mu);
out:
    hvrpc_server_free(srv);
    hvrpc_agent_free(agent);
    if (rc == 0 && !quiet) {
        printf("hvrpc-agent: stopped\n");
        fflush(stdout);
    }
    return rc;
}

int main(int argc, char **argv)
{
    hvrpc_agent_config cfg;
    int rc;

    memset(&cfg, 0, sizeof cfg);
    rc = run(argc, argv, &cfg);
    hvrpc_agent_config_release(&cfg);
    return rc;
}
