/*
 * bridge_main.c - hvrpc-bridge: bridges one host's bus to a NATS
 * JetStream cluster (docs/FLEET.md). Runs until SIGINT or SIGTERM.
 */
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "bridge.h"
#include "bridge_log.h"
#include "hvrpc/bridge/v1/bridge.hvrpc.h"
#include "reflection_service.h"
#include "svc_time.h"

static const char usage[] =
    "usage: hvrpc-bridge --host-id ID --bus URI --spool PATH [options]\n"
    "  --host-id ID        this host in subjects: hvrpc.ID.<topic>\n"
    "                      ([A-Za-z0-9_-], at most 64)\n"
    "  --bus URI           the host bus (hvrpc serve), e.g.\n"
    "                      unix:///run/hvrpc/bus.sock\n"
    "  --spool PATH        the spool (SQLite); instances sharing one hand\n"
    "                      over to each other (docs/FLEET.md)\n"
    "  --nats URL[,URL]    NATS servers (repeatable; default\n"
    "                      nats://127.0.0.1:4222); no credentials in URLs\n"
    "  --pattern P         bus topics to bridge (repeatable; default '>')\n"
    "  --import HOST       bring other hosts' events into this bus as\n"
    "                      fleet.HOST.<topic> (repeatable; '*': all hosts)\n"
    "  --stream NAME       the JetStream stream (default hvrpc-ID)\n"
    "  --replicas N        its replicas when the bridge creates it (1)\n"
    "  --dedup-window MS   its duplicate window when created (120000)\n"
    "  --spool-max N       events the spool holds; more are dropped\n"
    "                      and counted (100000)\n"
    "  --ack-wait MS       how long to wait for JetStream's ack (2000)\n"
    "  --listen URI        serve hvrpc.bridge.v1.Bridge/Stats there\n"
    "  --creds FILE        NATS user credentials (JWT + nkey seed)\n"
    "  --user-file FILE    NATS user and password: USER:PASSWORD, first line\n"
    "  --tls-ca FILE       CA certificates to verify the servers with\n"
    "  --tls-cert FILE     client certificate, with --tls-key FILE\n";

void bridge_log(const char *fmt, ...)
{
    char line[512];
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(line, sizeof line, fmt, ap);
    va_end(ap);
    fprintf(stderr, "hvrpc-bridge: %s\n", line);
}

void bridge_count(bridge *b, uint64_t *counter, uint64_t n)
{
    pthread_mutex_lock(&b->lock);
    *counter += n;
    pthread_mutex_unlock(&b->lock);
}

bool bridge_wait(bridge *b, uint32_t ms, bridge_wake until, uint64_t gen)
{
    /* b->wake has the default clock (bridge_main() sets none). */
    struct timespec deadline = hvrpc_svc_deadline(CLOCK_REALTIME, ms);
    bool stop;

    pthread_mutex_lock(&b->lock);
    while (!b->stop && !(until == BRIDGE_WAKE_ROWS && b->gen != gen)) {
        if (pthread_cond_timedwait(&b->wake, &b->lock, &deadline) != 0 ||
            until == BRIDGE_WAKE_ANY)
            break;
    }
    stop = b->stop;
    pthread_mutex_unlock(&b->lock);
    return stop;
}

static void stats(hvrpc_call *call, const Hvrpc__Bridge__V1__StatsRequest *req,
                  void *user_data)
{
    Hvrpc__Bridge__V1__StatsResponse r =
        HVRPC__BRIDGE__V1__STATS_RESPONSE__INIT;
    bridge *b = user_data;
    char url[256];

    (void)req;
    bridge_nats_connected_url(b, url, sizeof url);
    r.spool_depth = bridge_spool_depth(b->spool);
    pthread_mutex_lock(&b->lock);
    r.received = b->stats.received;
    r.bridged = b->stats.bridged;
    r.spooled = b->stats.spooled;
    r.replayed = b->stats.replayed;
    r.dropped = b->stats.dropped;
    r.refused = b->stats.refused;
    r.duplicates = b->stats.duplicates;
    r.imported = b->stats.imported;
    r.import_failed = b->stats.import_failed;
    r.publish_errors = b->stats.publish_errors;
    r.commands = b->stats.commands;
    r.command_redeliveries = b->stats.command_redeliveries;
    r.subscribed = b->stats.subscribed;
    r.nats_connected = b->stats.nats_connected;
    r.publishing = b->stats.publishing;
    pthread_mutex_unlock(&b->lock);
    r.host_id = (char *)b->cfg->host_id;
    r.connected_url = url;
    hvrpc__bridge__v1__bridge__stats_reply(call, &r);
}

static int bad(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

static int bad(const char *fmt, ...)
{
    va_list ap;

    fprintf(stderr, "hvrpc-bridge: ");
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fprintf(stderr, "\n%s", usage);
    return 2;
}

static bool parse_num(const char *v, uint64_t lo, uint64_t hi, uint64_t *out)
{
    char *end;
    unsigned long long n;

    if (v == NULL || *v < '0' || *v > '9')
        return false;
    n = strtoull(v, &end, 10);
    if (*end != '\0' || n < lo || n > hi)
        return false;
    *out = n;
    return true;
}

/* Splits a comma list of NATS URLs into cfg->servers (in place). A URL
 * with user information is refused: secrets belong in --creds. */
static int add_servers(bridge_config *cfg, char *list)
{
    for (char *tok = strtok(list, ","); tok; tok = strtok(NULL, ",")) {
        if (strchr(tok, '@') != NULL)
            return bad("--nats %s: credentials in a URL are refused (they "
                       "show in ps); use --creds FILE",
                       tok);
        if (cfg->n_servers == BRIDGE_MAX_LIST)
            return bad("--nats %s: too many servers", tok);
        cfg->servers[cfg->n_servers++] = tok;
    }
    return 0;
}

static int parse(int argc, char **argv, bridge_config *cfg)
{
    static char stream[80];
    uint64_t n;

    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        char *v = i + 1 < argc ? argv[i + 1] : NULL;

        if (strcmp(a, "-h") == 0 || strcmp(a, "--help") == 0) {
            fputs(usage, stdout);
            return -1;
        }
        if (v == NULL)
            return bad("%s: expected a value (or unknown)", a);
        i++;
        if (strcmp(a, "--host-id") == 0) {
            cfg->host_id = v;
        } else if (strcmp(a, "--bus") == 0) {
            cfg->bus_uri = v;
        } else if (strcmp(a, "--spool") == 0) {
            cfg->spool_path = v;
        } else if (strcmp(a, "--listen") == 0) {
            cfg->listen_uri = v;
        } else if (strcmp(a, "--stream") == 0) {
            cfg->stream = v;
        } else if (strcmp(a, "--nats") == 0) {
            if (add_servers(cfg, v) != 0)
                return 2;
        } else if (strcmp(a, "--pattern") == 0) {
            if (cfg->n_patterns == BRIDGE_MAX_LIST)
                return bad("--pattern %s: at most 16", v);
            cfg->patterns[cfg->n_patterns++] = v;
        } else if (strcmp(a, "--import") == 0) {
            if (cfg->n_imports == BRIDGE_MAX_LIST ||
                (strcmp(v, "*") != 0 && !bridge_host_id_valid(v)))
                return bad("--import %s: a host id or '*' (at most 16)", v);
            cfg->imports[cfg->n_imports++] = v;
        } else if (strcmp(a, "--creds") == 0) {
            cfg->creds = v;
        } else if (strcmp(a, "--user-file") == 0) {
            cfg->user_file = v;
        } else if (strcmp(a, "--tls-ca") == 0) {
            cfg->tls_ca = v;
        } else if (strcmp(a, "--tls-cert") == 0) {
            cfg->tls_cert = v;
        } else if (strcmp(a, "--tls-key") == 0) {
            cfg->tls_key = v;
        } else if (strcmp(a, "--replicas") == 0) {
            if (!parse_num(v, 1, 5, &n))
                return bad("--replicas %s: 1 to 5", v);
            cfg->replicas = (int)n;
        } else if (strcmp(a, "--dedup-window") == 0) {
            if (!parse_num(v, 1000, 86400000, &n))
                return bad("--dedup-window %s: 1000 to 86400000 ms", v);
            cfg->dedup_window_ms = (int64_t)n;
        } else if (strcmp(a, "--spool-max") == 0) {
            if (!parse_num(v, 1, 1000000000, &n))
                return bad("--spool-max %s: 1 to 1000000000", v);
            cfg->spool_max = n;
        } else if (strcmp(a, "--ack-wait") == 0) {
            if (!parse_num(v, 100, 60000, &n))
                return bad("--ack-wait %s: 100 to 60000 ms", v);
            cfg->ack_wait_ms = (uint32_t)n;
        } else {
            return bad("unknown option %s", a);
        }
    }
    if (!bridge_host_id_valid(cfg->host_id))
        return bad("--host-id '%s': 1 to 64 of [A-Za-z0-9_-]",
                   cfg->host_id ? cfg->host_id : "");
    if (cfg->bus_uri == NULL || cfg->spool_path == NULL)
        return bad("%s", "--bus and --spool are required");
    if (cfg->creds && cfg->user_file)
        return bad("%s", "--creds or --user-file, not both");
    if ((cfg->tls_cert == NULL) != (cfg->tls_key == NULL))
        return bad("%s", "--tls-cert and --tls-key go together");
    if (cfg->n_servers == 0)
        cfg->servers[cfg->n_servers++] = "nats://127.0.0.1:4222";
    if (cfg->n_patterns == 0)
        cfg->patterns[cfg->n_patterns++] = ">";
    if (cfg->stream == NULL) {
        snprintf(stream, sizeof stream, "hvrpc-%s", cfg->host_id);
        cfg->stream = stream;
    }
    return 0;
}

static hvrpc_code start_stats(bridge *b, hvrpc_server **out, hvrpc_status *st)
{
    static const hvrpc__bridge__v1__bridge_handlers h = {.stats = stats};
    hvrpc_server *srv = NULL;
    hvrpc_endpoint *ep = NULL;
    hvrpc_code r;

    r = hvrpc_server_create(NULL, &srv, st);
    if (r == HVRPC_OK)
        r = hvrpc_server_listen(srv, b->cfg->listen_uri, &ep, st);
    if (r == HVRPC_OK)
        r = hvrpc__bridge__v1__bridge_register(srv, ep, &h, b, st);
    if (r == HVRPC_OK)
        r = hvrpc_reflection_register(srv, ep, st);
    if (r == HVRPC_OK)
        r = hvrpc_server_start(srv, st);
    if (r != HVRPC_OK) {
        hvrpc_server_free(srv);
        return r;
    }
    *out = srv;
    return HVRPC_OK;
}

int main(int argc, char **argv)
{
    bridge_config cfg = {
        .replicas = 1,
        .dedup_window_ms = 120000,
        .spool_max = 100000,
        .ack_wait_ms = 2000,
    };
    bridge b = {.cfg = &cfg};
    hvrpc_server *srv = NULL;
    pthread_t ingest, publisher, commands;
    bool threads = false;
    hvrpc_status st;
    sigset_t stop;
    int sig, rc;

    rc = parse(argc, argv, &cfg);
    if (rc != 0)
        return rc < 0 ? 0 : rc;
    /* Blocked before any thread starts (they inherit the mask): only the
     * sigwait() below sees these. */
    sigemptyset(&stop);
    sigaddset(&stop, SIGINT);
    sigaddset(&stop, SIGTERM);
    pthread_sigmask(SIG_BLOCK, &stop, NULL);
    signal(SIGPIPE, SIG_IGN);
    pthread_mutex_init(&b.lock, NULL);
    pthread_cond_init(&b.wake, NULL);
    pthread_mutex_init(&b.import_lock, NULL);

    rc = 1;
    if (bridge_spool_open(cfg.spool_path, cfg.spool_max, &b.spool, &st) !=
        HVRPC_OK) {
        bridge_log("%s", st.message);
        goto out;
    }
    if (bridge_nats_start(&b, &st) != HVRPC_OK) {
        bridge_log("NATS: %s", st.message);
        goto out;
    }
    if (cfg.listen_uri && start_stats(&b, &srv, &st) != HVRPC_OK) {
        bridge_log("--listen %s: %s", cfg.listen_uri, st.message);
        goto out;
    }
    if (pthread_create(&ingest, NULL, bridge_ingest_main, &b) != 0)
        goto out;
    if (pthread_create(&publisher, NULL, bridge_publisher_main, &b) != 0) {
        pthread_mutex_lock(&b.lock);
        b.stop = true;
        pthread_mutex_unlock(&b.lock);
        pthread_join(ingest, NULL);
        goto out;
    }
    if (pthread_create(&commands, NULL, bridge_commands_main, &b) != 0) {
        pthread_mutex_lock(&b.lock);
        b.stop = true;
        pthread_cond_broadcast(&b.wake);
        pthread_mutex_unlock(&b.lock);
        pthread_join(ingest, NULL);
        pthread_join(publisher, NULL);
        goto out;
    }
    threads = true;
    bridge_log("host %s: bus %s -> stream %s (%zu patterns), spool %s "
               "(%llu events now)",
               cfg.host_id, cfg.bus_uri, cfg.stream, cfg.n_patterns,
               cfg.spool_path, (unsigned long long)bridge_spool_depth(b.spool));

    sigwait(&stop, &sig);
    rc = 0;
out:
    pthread_mutex_lock(&b.lock);
    b.stop = true;
    pthread_cond_broadcast(&b.wake);
    pthread_mutex_unlock(&b.lock);
    if (threads) {
        pthread_join(ingest, NULL);
        pthread_join(publisher, NULL);
        pthread_join(commands, NULL);
    }
    /* The stats server first (it reads the connection), then NATS (its
     * callbacks publish into the bus with the import client). */
    hvrpc_server_free(srv);
    bridge_nats_stop(&b);
    hvrpc_client_free(b.import_client);
    if (b.spool)
        bridge_log("stopped; %llu events left in the spool",
                   (unsigned long long)bridge_spool_depth(b.spool));
    bridge_spool_close(b.spool);
    pthread_mutex_destroy(&b.import_lock);
    pthread_cond_destroy(&b.wake);
    pthread_mutex_destroy(&b.lock);
    return rc;
}
