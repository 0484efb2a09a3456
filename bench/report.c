/*
 * bench/report.c - what a run produced: markdown tables of medians and
 * ratios, the targets of issue 7 met or missed, the block of
 * docs/BENCHMARKS.md, the latency CDF plot, saved results to compare with
 * a later run.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/utsname.h>
#include <unistd.h>

#include "bench.h"

#define DOC_BEGIN "<!-- hvrpc-bench results: begin -->"
#define DOC_END   "<!-- hvrpc-bench results: end -->"

/* --- metrics ---------------------------------------------------------- */

static double pick_p50(const run_result *r)
{
    return r->p50_us;
}
static double pick_p99(const run_result *r)
{
    return r->p99_us;
}
static double pick_p999(const run_result *r)
{
    return r->p999_us;
}
static double pick_rtt_ms(const run_result *r)
{
    return r->p50_us < 0 ? -1 : r->p50_us / 1000;
}
static double pick_calls(const run_result *r)
{
    return r->calls_per_s;
}
/* 1 MiB out and 1 MiB back per call. */
static double pick_mib_s(const run_result *r)
{
    return r->calls_per_s < 0 ? -1 : 2 * r->calls_per_s;
}
static double pick_rss(const run_result *r)
{
    return r->rss_mib;
}
static double pick_rss0(const run_result *r)
{
    return r->rss0_mib;
}
static double pick_server_allocs(const run_result *r)
{
    return r->server_allocs;
}
static double pick_client_allocs(const run_result *r)
{
    return r->client_allocs;
}

/* Which count a label's %u shows. */
typedef enum count_of { NO_COUNT, INFLIGHT, SCALE_CONNS, IDLE_CONNS } count_of;

typedef struct metric {
    const char *key;   /* in saved results */
    const char *label; /* after the count, if any */
    count_of count;
    bench_scenario sc;
    double (*pick)(const run_result *r);
    int decimals;
} metric;

static const metric metrics[] = {
    {"latency_p50_us", "64 B round trip p50 (us)", NO_COUNT, SC_LATENCY,
     pick_p50, 1},
    {"latency_p99_us", "64 B round trip p99 (us)", NO_COUNT, SC_LATENCY,
     pick_p99, 1},
    {"latency_p999_us", "64 B round trip p99.9 (us)", NO_COUNT, SC_LATENCY,
     pick_p999, 1},
    {"mib_rtt_ms", "1 MiB round trip p50 (ms)", NO_COUNT, SC_THROUGHPUT,
     pick_rtt_ms, 2},
    {"mib_per_s", "1 MiB echo, both ways (MiB/s)", NO_COUNT, SC_THROUGHPUT,
     pick_mib_s, 0},
    {"inflight_calls_per_s", "in flight, 1 connection (calls/s)", INFLIGHT,
     SC_CONCURRENCY, pick_calls, 0},
    {"scale_calls_per_s", "connections, 1 call each (calls/s)", SCALE_CONNS,
     SC_SCALE, pick_calls, 0},
    {"scale_rss_mib", "connections: server RSS (MiB)", SCALE_CONNS, SC_SCALE,
     pick_rss, 1},
    {"idle_rss_mib", "idle connections: server RSS (MiB)", IDLE_CONNS, SC_IDLE,
     pick_rss, 1},
    {"start_rss_mib", "no connection: server RSS (MiB)", NO_COUNT, SC_IDLE,
     pick_rss0, 1},
    {"server_allocs", "server heap allocations per call", NO_COUNT, SC_LATENCY,
     pick_server_allocs, 1},
    {"client_allocs", "client heap allocations per call", NO_COUNT, SC_LATENCY,
     pick_client_allocs, 1},
};
#define N_METRICS (sizeof metrics / sizeof metrics[0])

static const metric *metric_by_key(const char *key)
{
    for (size_t i = 0; i < N_METRICS; i++)
        if (strcmp(metrics[i].key, key) == 0)
            return &metrics[i];
    return NULL;
}

static void label_of(const bench_config *cfg, const metric *m, char *buf,
                     size_t size)
{
    unsigned n = m->count == INFLIGHT      ? cfg->inflight
                 : m->count == SCALE_CONNS ? cfg->scale_conns
                                           : cfg->idle_conns;
    if (m->count == NO_COUNT)
        snprintf(buf, size, "%s", m->label);
    else
        snprintf(buf, size, "%u %s", n, m->label);
}

static double value(const bench_results *res, bench_system s,
                    bench_transport tr, const metric *m)
{
    if (bench_skipped(res, s, tr))
        return -1;
    return bench_median(&res->cell[s][tr][m->sc], m->pick);
}

static void put_value(FILE *out, double v, int decimals)
{
    if (v < 0)
        fprintf(out, " - |");
    else
        fprintf(out, " %.*f |", decimals, v);
}

static void put_ratio(FILE *out, double ours, double theirs)
{
    if (ours < 0 || theirs <= 0)
        fprintf(out, " - |");
    else
        fprintf(out, " %.2fx |", ours / theirs);
}

/* --- the tables ------------------------------------------------------- */

static void print_table(FILE *out, const bench_config *cfg,
                        const bench_results *res, bench_transport tr)
{
    bool ours = !bench_skipped(res, SYS_HVRPC, tr);
    fprintf(out, "| %s |", bench_transport_label[tr]);
    for (int s = 0; s < SYS_N; s++)
        if (!bench_skipped(res, s, tr))
            fprintf(out, " %s |", bench_system_label[s]);
    for (int s = SYS_HVRPC + 1; ours && s < SYS_N; s++)
        if (!bench_skipped(res, s, tr))
            fprintf(out, " hvrpc / %s |", bench_system_label[s]);
    fprintf(out, "\n|---|");
    for (int s = 0; s < SYS_N; s++)
        if (!bench_skipped(res, s, tr))
            fprintf(out, "--:|%s", ours && s != SYS_HVRPC ? "--:|" : "");
    fprintf(out, "\n");
    for (size_t i = 0; i < N_METRICS; i++) {
        const metric *m = &metrics[i];
        if (!cfg->scenario_on[m->sc])
            continue;
        char label[96];
        label_of(cfg, m, label, sizeof label);
        fprintf(out, "| %s |", label);
        for (int s = 0; s < SYS_N; s++)
            if (!bench_skipped(res, s, tr))
                put_value(out, value(res, s, tr, m), m->decimals);
        double v = value(res, SYS_HVRPC, tr, m);
        for (int s = SYS_HVRPC + 1; ours && s < SYS_N; s++)
            if (!bench_skipped(res, s, tr))
                put_ratio(out, v, value(res, s, tr, m));
        fprintf(out, "\n");
    }
    fprintf(out, "\n");
}

/* The targets of issue 7. A ratio target compares our median with a
 * baseline's; an absolute one our median alone. */
typedef struct target {
    const char *text;
    const char *key;
    bench_system vs[2]; /* SYS_N: none; two: the better of both */
    bool at_most;
    double limit;
} target;

static const target targets[] = {
    {"64 B latency p50 at most 1.3x the raw socket's",
     "latency_p50_us",
     {SYS_RAW, SYS_N},
     true,
     1.3},
    {"1 MiB round trip at most 1.25x the raw socket's",
     "mib_rtt_ms",
     {SYS_RAW, SYS_N},
     true,
     1.25},
    {"64 in flight: calls/s at least 1.5x Go ttrpc's",
     "inflight_calls_per_s",
     {SYS_TTRPC, SYS_N},
     false,
     1.5},
    {"64 in flight: calls/s at least 5x gRPC C++'s (the better server)",
     "inflight_calls_per_s",
     {SYS_GRPC_SYNC, SYS_GRPC_CB},
     false,
     5},
    {"at most 4 heap allocations per small call, server",
     "server_allocs",
     {SYS_N, SYS_N},
     true,
     4},
    {"at most 4 heap allocations per small call, client",
     "client_allocs",
     {SYS_N, SYS_N},
     true,
     4},
    {"at most 20 MiB server RSS with 1000 idle connections",
     "idle_rss_mib",
     {SYS_N, SYS_N},
     true,
     20},
};

static void print_target(FILE *out, const bench_config *cfg,
                         const bench_results *res, const target *t,
                         bench_transport tr)
{
    const metric *m = metric_by_key(t->key);
    double v = value(res, SYS_HVRPC, tr, m);
    if (!bench_transport_measured(cfg, res, tr) || !cfg->scenario_on[m->sc] ||
        v < 0 || (m->sc == SC_IDLE && cfg->idle_conns != 1000)) {
        fprintf(out, " not measured |");
        return;
    }
    if (t->vs[0] == SYS_N) {
        bool met = t->at_most ? v <= t->limit : v >= t->limit;
        fprintf(out, " %.*f: **%s** |", m->decimals, v, met ? "met" : "missed");
        return;
    }
    double base = -1;
    bench_system by = t->vs[0];
    for (int i = 0; i < 2 && t->vs[i] != SYS_N; i++) {
        double b = value(res, t->vs[i], tr, m);
        /* The better baseline: the lower time, the higher rate. */
        if (b > 0 && (base < 0 || (t->at_most ? b < base : b > base))) {
            base = b;
            by = t->vs[i];
        }
    }
    if (base <= 0) {
        fprintf(out, " no baseline |");
        return;
    }
    double ratio = v / base;
    bool met = t->at_most ? ratio <= t->limit : ratio >= t->limit;
    fprintf(out, " %.2fx %s: **%s** |", ratio, bench_system_label[by],
            met ? "met" : "missed");
}

static void print_targets(FILE *out, const bench_config *cfg,
                          const bench_results *res)
{
    /* A column per transport measured; none (vsock skipped): no table. */
    bool col[TR_N];
    int cols = 0;
    for (int tr = 0; tr < TR_N; tr++)
        cols += col[tr] = bench_transport_measured(cfg, res, tr);
    if (!cols)
        return;
    fprintf(out, "| target (issue 7) |");
    for (int tr = 0; tr < TR_N; tr++)
        if (col[tr])
            fprintf(out, " %s |", bench_transport_label[tr]);
    fprintf(out, "\n|---|");
    for (int tr = 0; tr < TR_N; tr++)
        if (col[tr])
            fprintf(out, "---|");
    fprintf(out, "\n");
    for (size_t i = 0; i < sizeof targets / sizeof targets[0]; i++) {
        fprintf(out, "| %s |", targets[i].text);
        for (int tr = 0; tr < TR_N; tr++)
            if (col[tr])
                print_target(out, cfg, res, &targets[i], tr);
        fprintf(out, "\n");
    }
    fprintf(out, "\n");
}

/* --- the machine ------------------------------------------------------ */

static void cpu_model(char *buf, size_t size)
{
    snprintf(buf, size, "unknown CPU");
    FILE *f = fopen("/proc/cpuinfo", "r");
    char line[256];
    while (f && fgets(line, sizeof line, f)) {
        char *colon = strchr(line, ':');
        if (strncmp(line, "model name", 10) == 0 && colon) {
            snprintf(buf, size, "%s", colon + 2);
            buf[strcspn(buf, "\n")] = '\0';
            break;
        }
    }
    if (f)
        fclose(f);
}

/* `git describe` of the source tree, "" when there is none. */
static void source_version(char *buf, size_t size)
{
    buf[0] = '\0';
    FILE *p = popen("git -C '" HVRPC_BENCH_SOURCE_DIR "' describe --always "
                    "--dirty 2>/dev/null",
                    "r");
    if (!p)
        return;
    if (!fgets(buf, (int)size, p))
        buf[0] = '\0';
    buf[strcspn(buf, "\n")] = '\0';
    pclose(p);
}

static void print_block(FILE *out, const bench_config *cfg,
                        const bench_results *res, const char *plot_ref)
{
    struct utsname u;
    char cpu[128], version[128];
    uname(&u);
    cpu_model(cpu, sizeof cpu);
    source_version(version, sizeof version);
    fprintf(out, "Command: `%s`\n\n", cfg->command);
    fprintf(out,
            "Machine: %ld cores (%s), Linux %s, %s. Source: %s. %u run%s "
            "of every scenario (%u ms warm-up, %u ms measured each), "
            "medians shown; the whole run took %.0f s.\n\n",
            sysconf(_SC_NPROCESSORS_ONLN), cpu, u.release, res->date,
            version[0] ? version : "not a git checkout", cfg->reps,
            cfg->reps == 1 ? "" : "s", cfg->warm_ms, cfg->run_ms, res->seconds);
    for (int tr = 0; tr < TR_N; tr++)
        if (bench_transport_measured(cfg, res, tr))
            print_table(out, cfg, res, tr);
    print_targets(out, cfg, res);
    bool listed = false; /* any skip or failure: a list to end */
    for (int tr = 0; tr < TR_N; tr++)
        if (cfg->transport_on[tr] && res->transport_skip[tr][0]) {
            fprintf(out, "- %s: skipped: %s.\n", bench_transport_key[tr],
                    res->transport_skip[tr]);
            listed = true;
        }
    for (int s = 0; s < SYS_N; s++) {
        if (res->skip[s]) {
            fprintf(out, "- %s: skipped: %s.\n", bench_system_label[s],
                    res->skip[s]);
            listed = true;
        }
        for (int tr = 0; tr < TR_N && !res->skip[s]; tr++)
            if (bench_transport_measured(cfg, res, tr) && res->skip_on[s][tr]) {
                fprintf(out, "- %s, %s: skipped: %s.\n", bench_system_label[s],
                        bench_transport_key[tr], res->skip_on[s][tr]);
                listed = true;
            }
        for (int tr = 0; tr < TR_N; tr++)
            for (int sc = 0; sc < SC_N; sc++) {
                const bench_cell *c = &res->cell[s][tr][sc];
                if (!c->failures)
                    continue;
                fprintf(out, "- %s, %s, %s: %u run(s) failed: %s\n",
                        bench_system_label[s], bench_transport_key[tr],
                        bench_scenario_key[sc], c->failures, c->why);
                listed = true;
            }
    }
    if (plot_ref)
        fprintf(out, "%s![64 B round trip, CDF per system](%s)\n",
                listed ? "\n" : "", plot_ref);
}

/* --- files ------------------------------------------------------------ */

/* The whole of a text file, NUL-terminated; NULL when it cannot. */
static char *slurp(const char *path)
{
    FILE *f = fopen(path, "r");
    char *buf = NULL;
    size_t len = 0;
    FILE *mem = f ? open_memstream(&buf, &len) : NULL;
    char chunk[8192];
    size_t k;
    while (mem && (k = fread(chunk, 1, sizeof chunk, f)) > 0)
        fwrite(chunk, 1, k, mem);
    if (mem)
        fclose(mem);
    if (f)
        fclose(f);
    return buf;
}

/* Replaces the text between the markers of path with block; a file that
 * does not exist yet gets the markers and the block. */
static int write_doc(const char *path, const char *block)
{
    char *doc = slurp(path);
    const char *begin = doc ? strstr(doc, DOC_BEGIN) : NULL;
    const char *end = begin ? strstr(begin, DOC_END) : NULL;
    if (doc && !end) {
        fprintf(stderr,
                "hvrpc-bench: %s has no \"%s\" ... \"%s\" block to "
                "replace\n",
                path, DOC_BEGIN, DOC_END);
        free(doc);
        return -1;
    }
    FILE *f = fopen(path, "w");
    if (!f) {
        fprintf(stderr, "hvrpc-bench: %s: %s\n", path, strerror(errno));
        free(doc);
        return -1;
    }
    if (doc)
        fwrite(doc, 1, (size_t)(begin - doc), f);
    fprintf(f, "%s\n%s%s", DOC_BEGIN, block, DOC_END);
    fputs(doc ? end + strlen(DOC_END) : "\n", f);
    free(doc);
    return fclose(f) == 0 ? 0 : -1;
}

/* The plot's path as the doc refers to it: relative to the doc's folder
 * when both share it. */
static const char *plot_ref(const bench_config *cfg)
{
    if (!cfg->plot_path || !cfg->doc_path)
        return NULL;
    const char *ds = strrchr(cfg->doc_path, '/');
    const char *ps = strrchr(cfg->plot_path, '/');
    size_t dl = ds ? (size_t)(ds - cfg->doc_path) : 0;
    size_t pl = ps ? (size_t)(ps - cfg->plot_path) : 0;
    if (dl == pl && strncmp(cfg->doc_path, cfg->plot_path, dl) == 0)
        return ps ? ps + 1 : cfg->plot_path;
    return cfg->plot_path;
}

/* --- saved results --------------------------------------------------- */

/* One line per transport, system and metric: TRANSPORT SYSTEM KEY VALUE,
 * tab-separated, after a comment line saying when and how. */
static int save(const bench_config *cfg, const bench_results *res)
{
    FILE *f = fopen(cfg->save_path, "w");
    if (!f) {
        fprintf(stderr, "hvrpc-bench: %s: %s\n", cfg->save_path,
                strerror(errno));
        return -1;
    }
    fprintf(f, "# hvrpc-bench results, %s: %s\n", res->date, cfg->command);
    for (int tr = 0; tr < TR_N; tr++)
        for (int s = 0; s < SYS_N; s++)
            for (size_t i = 0; i < N_METRICS; i++) {
                double v = value(res, s, tr, &metrics[i]);
                if (bench_transport_measured(cfg, res, tr) && v >= 0)
                    fprintf(f, "%s\t%s\t%s\t%.6g\n", bench_transport_key[tr],
                            bench_system_key[s], metrics[i].key, v);
            }
    return fclose(f) == 0 ? 0 : -1;
}

/* A value from saved results, -1 when absent. */
static double saved_value(const char *text, const char *tr, const char *sys,
                          const char *key)
{
    char want[128];
    int n = snprintf(want, sizeof want, "%s\t%s\t%s\t", tr, sys, key);
    for (const char *p = text; p && *p; p = strchr(p, '\n')) {
        p += *p == '\n';
        if (strncmp(p, want, (size_t)n) == 0)
            return strtod(p + n, NULL);
    }
    return -1;
}

/* Our figures against those saved by an earlier run, with the raw
 * socket's as a measure of how much the machine itself changed. */
static int compare(const bench_config *cfg, const bench_results *res, FILE *out)
{
    char *text = slurp(cfg->compare_path);
    if (!text) {
        fprintf(stderr, "hvrpc-bench: %s: %s\n", cfg->compare_path,
                strerror(errno));
        return -1;
    }
    fprintf(out, "\nCompared with %s (%.*s):\n\n", cfg->compare_path,
            (int)strcspn(text, "\n"), text);
    for (int tr = 0; tr < TR_N; tr++) {
        if (!bench_transport_measured(cfg, res, tr))
            continue;
        fprintf(out,
                "| %s | hvrpc before | hvrpc now | hvrpc now / before | "
                "raw now / before |\n|---|--:|--:|--:|--:|\n",
                bench_transport_label[tr]);
        for (size_t i = 0; i < N_METRICS; i++) {
            const metric *m = &metrics[i];
            const char *t = bench_transport_key[tr];
            double then = saved_value(text, t, "hvrpc", m->key);
            double now = value(res, SYS_HVRPC, tr, m);
            if (then < 0 && now < 0)
                continue;
            char label[96];
            label_of(cfg, m, label, sizeof label);
            fprintf(out, "| %s |", label);
            put_value(out, then, m->decimals);
            put_value(out, now, m->decimals);
            put_ratio(out, now, then);
            put_ratio(out, value(res, SYS_RAW, tr, m),
                      saved_value(text, t, "raw", m->key));
            fprintf(out, "\n");
        }
        fprintf(out, "\n");
    }
    free(text);
    return 0;
}

/* --- all of it -------------------------------------------------------- */

int bench_report(const bench_config *cfg, const bench_results *res, FILE *out)
{
    int rc = 0;
    bool plotted = cfg->plot_path && bench_plot(cfg, res) == 0;
    char *block = NULL;
    size_t len = 0;
    FILE *mem = open_memstream(&block, &len);
    if (!mem)
        return -1;
    print_block(mem, cfg, res, plotted ? plot_ref(cfg) : NULL);
    fclose(mem);
    fprintf(out, "\n%s", block);
    if (cfg->doc_path && write_doc(cfg->doc_path, block) != 0)
        rc = -1;
    else if (cfg->doc_path)
        fprintf(out, "\nhvrpc-bench: results written to %s\n", cfg->doc_path);
    free(block);
    if (cfg->save_path && save(cfg, res) != 0)
        rc = -1;
    if (cfg->compare_path && compare(cfg, res, out) != 0)
        rc = -1;
    return rc;
}
