/*
 * bench/runner.c - runs every scenario on every system and transport.
 *
 * One run: start the system's server (a child), start its client (another
 * child) with the scenario's load, wait for "warm", read the server's
 * allocation count, say "go", collect the samples and the result, read
 * the server's RSS and allocation count again, stop both. A fresh server
 * for every run, so no run inherits another's memory. Runs are repeated
 * cfg->reps times, every system in turn within each repetition, so drift
 * of a noisy machine spreads over all of them alike.
 */
#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <hvrpc/hvrpc.h>

#include "bench.h"
#include "proc.h"

#define READY_TIMEOUT_MS 20000
#define SETUP_TIMEOUT_MS 120000 /* connecting and warming up */
#define STOP_TIMEOUT_MS  10000
#define LINE_MAX_LEN     512
#define MIB              (1024.0 * 1024.0)

const char *const bench_system_key[SYS_N] = {"hvrpc", "raw", "grpc-sync",
                                             "grpc-cb", "ttrpc"};
const char *const bench_system_label[SYS_N] = {
    "hvrpc", "raw socket", "gRPC sync", "gRPC callback", "Go ttrpc"};
const char *const bench_transport_key[TR_N] = {"unix", "tcp", "vsock"};
const char *const bench_transport_label[TR_N] = {
    "unix socket", "tcp 127.0.0.1", "vsock, CID 1 (vsock_loopback)"};
const char *const bench_scenario_key[SC_N] = {"latency", "throughput",
                                              "concurrency", "scale", "idle"};

/* How each system's programs are started: PROG serve [MODE] URI and
 * PROG client [MODE] URI LOAD... (peer.h). */
typedef struct launcher {
    const char *prog;
    const char *serve_mode, *client_mode; /* NULL: none */
    const char *missing; /* why prog was not built, when it was not */
} launcher;

typedef struct runner {
    const bench_config *cfg;
    bench_results *res;
    launcher launch[SYS_N];
    char self[PATH_MAX];
    char dir[64]; /* for unix sockets */
    unsigned done, total;
} runner;

static peer_load load_of(const bench_config *cfg, bench_scenario sc)
{
    peer_load l = {64, 1, 1, cfg->warm_ms, cfg->run_ms};
    switch (sc) {
    case SC_LATENCY:
        break;
    case SC_THROUGHPUT:
        l.size = 1u << 20;
        break;
    case SC_CONCURRENCY:
        l.inflight = cfg->inflight;
        break;
    case SC_SCALE:
        l.conns = cfg->scale_conns;
        break;
    case SC_IDLE:
        l.conns = cfg->idle_conns;
        l.inflight = 0;
        l.warm_ms = l.run_ms = 0;
        break;
    case SC_N:
        break;
    }
    return l;
}

static void cell_add_sample(bench_cell *c, int64_t ns)
{
    if (c->n_samples == c->cap_samples) {
        size_t cap = c->cap_samples ? 2 * c->cap_samples : 65536;
        int64_t *p = realloc(c->samples, cap * sizeof *p);
        if (!p)
            return;
        c->samples = p;
        c->cap_samples = cap;
    }
    c->samples[c->n_samples++] = ns;
}

int bench_cmp_i64(const void *a, const void *b)
{
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return (x > y) - (x < y);
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* Nearest-rank percentile of sorted v, in microseconds. */
static double percentile_us(const int64_t *v, size_t n, double q)
{
    if (n == 0)
        return -1;
    size_t i = (size_t)ceil(q * (double)n);
    return (double)v[i ? i - 1 : 0] / 1000.0;
}

double bench_median(const bench_cell *c, double (*pick)(const run_result *r))
{
    double v[BENCH_MAX_REPS];
    size_t n = 0;
    for (unsigned i = 0; i < c->n_runs; i++) {
        double x = pick(&c->runs[i]);
        if (x >= 0)
            v[n++] = x;
    }
    if (n == 0)
        return -1;
    qsort(v, n, sizeof *v, cmp_double);
    return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

/* Asks the server for its allocation count: -1 when it has none. */
static int64_t server_allocs(proc *srv)
{
    char line[LINE_MAX_LEN];
    long long n;
    proc_signal(srv, SIGUSR1);
    if (proc_read_line(srv, line, sizeof line, STOP_TIMEOUT_MS) != 1 ||
        sscanf(line, "allocs %lld", &n) != 1)
        return -1;
    return n;
}

static double per_call(int64_t allocs, uint64_t calls)
{
    return allocs >= 0 && calls ? (double)allocs / (double)calls : -1;
}

/* Reads the client's lines until want ("warm" or "result ..."); samples
 * go to *v. 0, or -1 with why filled. */
static int expect(proc *cl, const char *want, int timeout_ms, char *line,
                  int64_t **v, size_t *n, size_t *cap, char *why,
                  size_t why_size)
{
    for (;;) {
        int r = proc_read_line(cl, line, LINE_MAX_LEN, timeout_ms);
        if (r != 1) {
            snprintf(why, why_size, "client: %s before \"%s\"",
                     r == 0 ? "exited" : "timed out", want);
            return -1;
        }
        if (strncmp(line, want, strlen(want)) == 0)
            return 0;
        long long ns;
        if (sscanf(line, "s %lld", &ns) == 1) {
            if (*n == *cap) {
                size_t c = *cap ? 2 * *cap : 65536;
                int64_t *p = realloc(*v, c * sizeof *p);
                if (!p)
                    continue;
                *v = p;
                *cap = c;
            }
            (*v)[(*n)++] = ns;
            continue;
        }
        snprintf(why, why_size, "client: %s", line);
        return -1;
    }
}

/* Where sys listens on the unix transport. */
static const char *socket_path(runner *rn, bench_system sys)
{
    static char path[128];
    snprintf(path, sizeof path, "%s/%s.sock", rn->dir, bench_system_key[sys]);
    return path;
}

/* The address a client connects to, from the one a server says it
 * listens on: a vsock listener on CID any is reached at CID 1 (local). */
static void client_uri(const char *bound, char *uri, size_t uri_size)
{
    hvrpc_address a;
    if (hvrpc_address_parse(bound, &a, NULL) == HVRPC_OK &&
        a.kind == HVRPC_ADDR_VSOCK && a.u.vsock.cid == HVRPC_VSOCK_CID_ANY) {
        a.u.vsock.cid = HVRPC_VSOCK_CID_LOCAL;
        hvrpc_address_format(&a, uri, uri_size);
        return;
    }
    snprintf(uri, uri_size, "%s", bound);
}

/* Starts sys's server listening on tr; its address goes to uri. */
static int start_server(runner *rn, bench_system sys, bench_transport tr,
                        proc *srv, char *uri, size_t uri_size, char *why,
                        size_t why_size)
{
    const launcher *ln = &rn->launch[sys];
    char listen[256], line[LINE_MAX_LEN] = "";
    if (tr == TR_UNIX) {
        snprintf(listen, sizeof listen, "unix://%s", socket_path(rn, sys));
        unlink(socket_path(rn, sys)); /* a previous run's, if left */
    } else if (tr == TR_TCP) {
        snprintf(listen, sizeof listen, "tcp://127.0.0.1:0");
    } else {
        snprintf(listen, sizeof listen, "vsock://any:any");
    }
    /* PROG serve [MODE] URI NULL */
    char *argv[5] = {(char *)ln->prog, "serve"}, **a = argv + 2;
    if (ln->serve_mode)
        *a++ = (char *)ln->serve_mode;
    *a = listen;
    if (proc_spawn(srv, argv, why, why_size) != 0)
        return -1;
    if (proc_read_line(srv, line, sizeof line, READY_TIMEOUT_MS) != 1 ||
        strncmp(line, "ready ", 6) != 0) {
        snprintf(why, why_size, "server: %s",
                 line[0] ? line : "no \"ready\" line");
        return -1;
    }
    client_uri(line + 6, uri, uri_size);
    return 0;
}

/* Starts sys's client with load l against uri. */
static int start_client(runner *rn, bench_system sys, const peer_load *l,
                        char *uri, proc *cl, char *why, size_t why_size)
{
    const launcher *ln = &rn->launch[sys];
    char args[PEER_LOAD_ARGS][24];
    snprintf(args[0], sizeof args[0], "%zu", l->size);
    snprintf(args[1], sizeof args[1], "%u", l->conns);
    snprintf(args[2], sizeof args[2], "%u", l->inflight);
    snprintf(args[3], sizeof args[3], "%u", l->warm_ms);
    snprintf(args[4], sizeof args[4], "%u", l->run_ms);
    /* PROG client [MODE] URI LOAD... NULL */
    char *argv[5 + PEER_LOAD_ARGS] = {(char *)ln->prog, "client"},
                   **a = argv + 2;
    if (ln->client_mode)
        *a++ = (char *)ln->client_mode;
    *a++ = uri;
    for (int i = 0; i < PEER_LOAD_ARGS; i++)
        *a++ = args[i];
    *a = NULL;
    return proc_spawn(cl, argv, why, why_size);
}

static void sleep_ms(unsigned ms)
{
    struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000};
    nanosleep(&ts, NULL);
}

/* One run (see the top of this file). Samples of a latency run are also
 * merged into its cell. */
static int run_once(runner *rn, bench_system sys, bench_transport tr,
                    bench_scenario sc, run_result *out, char *why,
                    size_t why_size)
{
    peer_load l = load_of(rn->cfg, sc);
    char uri[LINE_MAX_LEN], line[LINE_MAX_LEN];
    proc srv, cl;
    memset(&srv, 0, sizeof srv);
    memset(&cl, 0, sizeof cl);
    int64_t *samples = NULL;
    size_t n = 0, cap = 0;
    unsigned long long calls;
    long long elapsed, callocs;
    int rc = -1;
    if (start_server(rn, sys, tr, &srv, uri, sizeof uri, why, why_size) != 0)
        goto out;
    long rss0 = proc_rss_kib(srv.pid);
    if (start_client(rn, sys, &l, uri, &cl, why, why_size) != 0 ||
        expect(&cl, "warm", SETUP_TIMEOUT_MS, line, &samples, &n, &cap, why,
               why_size) != 0)
        goto out;
    int64_t a0 = server_allocs(&srv);
    proc_write(&cl, "go\n");
    if (expect(&cl, "result", (int)l.run_ms + SETUP_TIMEOUT_MS, line, &samples,
               &n, &cap, why, why_size) != 0)
        goto out;
    if (sscanf(line, "result calls=%llu ns=%lld allocs=%lld", &calls, &elapsed,
               &callocs) != 3) {
        snprintf(why, why_size, "client: bad result line \"%.160s\"", line);
        goto out;
    }
    if (sc == SC_IDLE)
        sleep_ms(rn->cfg->settle_ms);
    long rss = proc_rss_kib(srv.pid);
    int64_t a1 = server_allocs(&srv);

    if (n)
        qsort(samples, n, sizeof *samples, bench_cmp_i64);
    out->p50_us = percentile_us(samples, n, 0.50);
    out->p99_us = percentile_us(samples, n, 0.99);
    out->p999_us = percentile_us(samples, n, 0.999);
    out->calls_per_s = elapsed > 0 ? (double)calls * 1e9 / (double)elapsed : -1;
    out->rss0_mib = rss0 < 0 ? -1 : (double)rss0 / 1024.0;
    out->rss_mib = rss < 0 ? -1 : (double)rss / 1024.0;
    out->server_allocs = a0 >= 0 && a1 >= a0 ? per_call(a1 - a0, calls) : -1;
    out->client_allocs = per_call(callocs, calls);
    for (size_t i = 0; sc == SC_LATENCY && i < n; i++)
        cell_add_sample(&rn->res->cell[sys][tr][sc], samples[i]);
    if (sc != SC_IDLE && calls == 0)
        snprintf(why, why_size, "no call completed");
    else
        rc = 0;
out:
    free(samples);
    /* Closing its stdin tells the client to close up and exit. */
    int st = cl.pid ? proc_finish(&cl, STOP_TIMEOUT_MS) : 0;
    if (st != 0 && rc == 0) {
        snprintf(why, why_size, "client exited with status %d", st);
        rc = -1;
    }
    proc_signal(&srv, SIGTERM);
    st = proc_finish(&srv, STOP_TIMEOUT_MS);
    if (st != 0 && rc == 0) {
        snprintf(why, why_size, "server exited with status %d", st);
        rc = -1;
    }
    return rc;
}

/* One line of progress on stderr. */
static void progress(runner *rn, bench_system sys, bench_transport tr,
                     bench_scenario sc, const run_result *r, const char *why)
{
    fprintf(stderr, "[%3u/%u] %-5s %-11s %-9s ", ++rn->done, rn->total,
            bench_transport_key[tr], bench_scenario_key[sc],
            bench_system_key[sys]);
    if (why)
        fprintf(stderr, "FAILED: %s\n", why);
    else if (sc == SC_LATENCY)
        fprintf(stderr, "p50 %.1f us, p99 %.1f us\n", r->p50_us, r->p99_us);
    else if (sc == SC_THROUGHPUT)
        fprintf(stderr, "round trip %.2f ms\n", r->p50_us / 1000);
    else if (sc == SC_IDLE)
        fprintf(stderr, "server RSS %.1f MiB\n", r->rss_mib);
    else
        fprintf(stderr, "%.0f calls/s, server RSS %.1f MiB\n", r->calls_per_s,
                r->rss_mib);
}

/* Fills the launchers; a system whose peer is missing is skipped. */
static int setup(runner *rn)
{
    const bench_config *cfg = rn->cfg;
    ssize_t k = readlink("/proc/self/exe", rn->self, sizeof rn->self - 1);
    if (k <= 0) {
        fprintf(stderr, "hvrpc-bench: /proc/self/exe: %s\n", strerror(errno));
        return -1;
    }
    rn->self[k] = '\0';
    rn->launch[SYS_HVRPC] = (launcher){rn->self, "hvrpc", "hvrpc", NULL};
    rn->launch[SYS_RAW] = (launcher){rn->self, "raw", "raw", NULL};
    rn->launch[SYS_GRPC_SYNC] =
        (launcher){cfg->peer_grpc, "sync", NULL, cfg->grpc_skip};
    rn->launch[SYS_GRPC_CB] =
        (launcher){cfg->peer_grpc, "callback", NULL, cfg->grpc_skip};
    rn->launch[SYS_TTRPC] =
        (launcher){cfg->peer_ttrpc, NULL, NULL, cfg->ttrpc_skip};
    snprintf(rn->dir, sizeof rn->dir, "/tmp/hvrpc-bench-XXXXXX");
    if (!mkdtemp(rn->dir)) {
        fprintf(stderr, "hvrpc-bench: mkdtemp: %s\n", strerror(errno));
        return -1;
    }
    return 0;
}

const char *bench_skipped(const bench_results *res, bench_system s,
                          bench_transport tr)
{
    if (res->skip[s])
        return res->skip[s];
    if (res->transport_skip[tr][0])
        return res->transport_skip[tr];
    return res->skip_on[s][tr];
}

bool bench_transport_measured(const bench_config *cfg, const bench_results *res,
                              bench_transport tr)
{
    return cfg->transport_on[tr] && !res->transport_skip[tr][0];
}

/* What cannot run on a transport: vsock without a local vsock, gRPC on
 * vsock at all, the Go peer when it was built without vsock. */
static void transport_skips(const bench_config *cfg, bench_results *res)
{
    char *why = res->transport_skip[TR_VSOCK];
    if (cfg->transport_on[TR_VSOCK] &&
        bench_vsock_probe(why, sizeof res->transport_skip[TR_VSOCK]) != 0)
        fprintf(stderr, "hvrpc-bench: vsock skipped: %s\n", why);
    res->skip_on[SYS_GRPC_SYNC][TR_VSOCK] =
        res->skip_on[SYS_GRPC_CB][TR_VSOCK] =
            "gRPC has no vsock transport (Debian's gRPC 1.51 knows unix, "
            "unix-abstract, ipv4, ipv6 and dns addresses, no AF_VSOCK)";
    if (*cfg->ttrpc_vsock_skip)
        res->skip_on[SYS_TTRPC][TR_VSOCK] = cfg->ttrpc_vsock_skip;
}

/* The reason s cannot run on any transport selected (gRPC with only
 * vsock), or NULL: it then stands for the system as a whole. */
static const char *skipped_everywhere(const bench_config *cfg,
                                      const bench_results *res, int s)
{
    const char *why = NULL;
    for (int tr = 0; tr < TR_N; tr++) {
        if (!cfg->transport_on[tr])
            continue;
        if (!res->skip_on[s][tr])
            return NULL;
        why = why ? why : res->skip_on[s][tr];
    }
    return why;
}

int bench_run(const bench_config *cfg, bench_results *res)
{
    memset(res, 0, sizeof *res);
    runner rn = {.cfg = cfg, .res = res};
    if (setup(&rn) != 0)
        return 1;
    time_t t = time(NULL);
    strftime(res->date, sizeof res->date, "%Y-%m-%d %H:%M UTC", gmtime(&t));
    transport_skips(cfg, res);
    unsigned per_rep = 0;
    for (int s = 0; s < SYS_N; s++) {
        const launcher *ln = &rn.launch[s];
        const char *why = skipped_everywhere(cfg, res, s);
        if (!why && !cfg->system_on[s])
            why = "not selected (--systems)";
        else if (!why && !*ln->prog)
            why = *ln->missing ? ln->missing : "its peer was not built";
        else if (!why && access(ln->prog, X_OK) != 0)
            why = "its peer program is missing";
        res->skip[s] = why;
        for (int tr = 0; tr < TR_N; tr++)
            for (int sc = 0; sc < SC_N; sc++)
                per_rep += cfg->transport_on[tr] && cfg->scenario_on[sc] &&
                           !bench_skipped(res, s, tr);
    }
    rn.total = per_rep * cfg->reps;
    int64_t t0 = peer_now_ns();
    int failed = 0;
    for (unsigned rep = 0; rep < cfg->reps; rep++)
        for (int tr = 0; tr < TR_N; tr++)
            for (int sc = 0; sc < SC_N; sc++)
                for (int s = 0; s < SYS_N; s++) {
                    if (bench_skipped(res, s, tr) || !cfg->transport_on[tr] ||
                        !cfg->scenario_on[sc])
                        continue;
                    bench_cell *c = &res->cell[s][tr][sc];
                    run_result r = {-1, -1, -1, -1, -1, -1, -1, -1};
                    char why[256];
                    if (run_once(&rn, s, tr, sc, &r, why, sizeof why) == 0) {
                        c->runs[c->n_runs++] = r;
                        progress(&rn, s, tr, sc, &r, NULL);
                    } else {
                        c->failures++;
                        snprintf(c->why, sizeof c->why, "%s", why);
                        progress(&rn, s, tr, sc, &r, why);
                        /* Ours failing is a failure; a baseline's peer
                         * failing (gRPC, Go) is reported in the table
                         * and does not fail the run. */
                        if (s == SYS_HVRPC || s == SYS_RAW)
                            failed = 1;
                    }
                }
    res->seconds = (double)(peer_now_ns() - t0) / 1e9;
    for (int s = 0; s < SYS_N; s++)
        unlink(socket_path(&rn, s));
    rmdir(rn.dir);
    return failed;
}

void bench_results_free(bench_results *res)
{
    for (int s = 0; s < SYS_N; s++)
        for (int tr = 0; tr < TR_N; tr++)
            for (int sc = 0; sc < SC_N; sc++)
                free(res->cell[s][tr][sc].samples);
}
