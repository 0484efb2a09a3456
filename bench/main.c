/*
 * bench/main.c - hvrpc-bench: hvrpc against the raw socket, gRPC C++ and
 * Go ttrpc, in one run. See docs/BENCHMARKS.md.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>

#include "bench.h"

static const char usage[] =
    "usage: hvrpc-bench [options]\n"
    "  --quick             everything, briefly (CI): 1 run of each, 100 ms,\n"
    "                      64 and 200 connections instead of 256 and 1000\n"
    "  --reps N            runs of each scenario; medians are reported (3)\n"
    "  --run-ms MS         measured time of each run (500)\n"
    "  --warm-ms MS        warm-up before it (100)\n"
    "  --systems LIST      of hvrpc,raw,grpc-sync,grpc-cb,ttrpc (all)\n"
    "  --transports LIST   of unix,tcp,vsock (unix,tcp); vsock needs a local\n"
    "                      vsock (vsock_loopback: tests/vm/vm.sh --bench)\n"
    "  --scenarios LIST    of latency,throughput,concurrency,scale,idle (all)\n"
    "  --doc FILE          write the results into FILE's results block\n"
    "                      (docs/BENCHMARKS.md)\n"
    "  --plot FILE         draw the latency CDF into FILE (PNG, gnuplot)\n"
    "  --save FILE         save the medians, to --compare a later run with\n"
    "  --compare FILE      show ours now against medians saved earlier\n"
    "  --grpc PROG         the gRPC C++ peer (default: the one built here)\n"
    "  --ttrpc PROG        the Go ttrpc peer (default: the one built here)\n"
    "The peers' side, run by hvrpc-bench itself:\n"
    "  hvrpc-bench serve hvrpc|raw URI\n"
    "  hvrpc-bench client hvrpc|raw URI SIZE CONNS INFLIGHT WARM_MS RUN_MS\n";

/* Sets on[i] for each name of keys[0..n) in the comma-separated list. */
static int parse_list(const char *list, const char *const *keys, int n,
                      bool *on)
{
    memset(on, 0, (size_t)n * sizeof *on);
    char buf[256];
    snprintf(buf, sizeof buf, "%s", list);
    for (char *save, *tok = strtok_r(buf, ",", &save); tok;
         tok = strtok_r(NULL, ",", &save)) {
        int i = 0;
        while (i < n && strcmp(tok, keys[i]) != 0)
            i++;
        if (i == n) {
            fprintf(stderr, "hvrpc-bench: unknown name \"%s\"\n", tok);
            return -1;
        }
        on[i] = true;
    }
    return 0;
}

static int parse_count(const char *s, unsigned max, unsigned *out)
{
    char *end;
    unsigned long v = s ? strtoul(s, &end, 10) : 0;
    if (!s || !*s || *end || v == 0 || v > max) {
        fprintf(stderr,
                "hvrpc-bench: expected a number from 1 to %u, not "
                "\"%s\"\n",
                max, s ? s : "");
        return -1;
    }
    *out = (unsigned)v;
    return 0;
}

/* The command line as typed, for the report. */
static void record_command(bench_config *cfg, int argc, char **argv)
{
    size_t off = 0;
    for (int i = 0; i < argc && off < sizeof cfg->command; i++)
        off += (size_t)snprintf(cfg->command + off, sizeof cfg->command - off,
                                "%s%s", i ? " " : "", argv[i]);
}

static int parse_options(bench_config *cfg, int argc, char **argv)
{
    memset(cfg, 0, sizeof *cfg);
    for (int i = 0; i < SYS_N; i++)
        cfg->system_on[i] = true;
    cfg->transport_on[TR_UNIX] = cfg->transport_on[TR_TCP] = true;
    for (int i = 0; i < SC_N; i++)
        cfg->scenario_on[i] = true;
    cfg->peer_grpc = HVRPC_BENCH_GRPC_PEER;
    cfg->peer_ttrpc = HVRPC_BENCH_TTRPC_PEER;
    cfg->grpc_skip = HVRPC_BENCH_GRPC_SKIP;
    cfg->ttrpc_skip = HVRPC_BENCH_TTRPC_SKIP;
    cfg->ttrpc_vsock_skip = HVRPC_BENCH_TTRPC_VSOCK_SKIP;
    cfg->inflight = 64;
    unsigned reps = 0, run_ms = 0, warm_ms = 0;
    for (int i = 1; i < argc; i++) {
        const char *o = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        int r = 0;
        if (strcmp(o, "--quick") == 0) {
            cfg->quick = true;
            continue;
        } else if (strcmp(o, "--help") == 0 || strcmp(o, "-h") == 0) {
            fputs(usage, stdout);
            exit(0);
        } else if (!v) {
            fprintf(stderr,
                    "hvrpc-bench: %s: unknown, or missing its "
                    "value\n%s",
                    o, usage);
            return -1;
        } else if (strcmp(o, "--reps") == 0) {
            r = parse_count(v, BENCH_MAX_REPS, &reps);
        } else if (strcmp(o, "--run-ms") == 0) {
            r = parse_count(v, 600000, &run_ms);
        } else if (strcmp(o, "--warm-ms") == 0) {
            r = parse_count(v, 600000, &warm_ms);
        } else if (strcmp(o, "--systems") == 0) {
            r = parse_list(v, bench_system_key, SYS_N, cfg->system_on);
        } else if (strcmp(o, "--transports") == 0) {
            r = parse_list(v, bench_transport_key, TR_N, cfg->transport_on);
        } else if (strcmp(o, "--scenarios") == 0) {
            r = parse_list(v, bench_scenario_key, SC_N, cfg->scenario_on);
        } else if (strcmp(o, "--doc") == 0) {
            cfg->doc_path = v;
        } else if (strcmp(o, "--plot") == 0) {
            cfg->plot_path = v;
        } else if (strcmp(o, "--save") == 0) {
            cfg->save_path = v;
        } else if (strcmp(o, "--compare") == 0) {
            cfg->compare_path = v;
        } else if (strcmp(o, "--grpc") == 0) {
            cfg->peer_grpc = v;
        } else if (strcmp(o, "--ttrpc") == 0) {
            cfg->peer_ttrpc = v;
        } else {
            fprintf(stderr, "hvrpc-bench: unknown option %s\n%s", o, usage);
            return -1;
        }
        if (r != 0)
            return -1;
        i++;
    }
    cfg->reps = reps ? reps : cfg->quick ? 1 : 3;
    cfg->run_ms = run_ms ? run_ms : cfg->quick ? 100 : 500;
    cfg->warm_ms = warm_ms ? warm_ms : cfg->quick ? 20 : 100;
    cfg->settle_ms = cfg->quick ? 20 : 200;
    cfg->scale_conns = cfg->quick ? 64 : 256;
    cfg->idle_conns = cfg->quick ? 200 : 1000;
    record_command(cfg, argc, argv);
    return 0;
}

/* The peers' modes: serve and client. */
static int peer_main(int argc, char **argv)
{
    bool serve = strcmp(argv[1], "serve") == 0;
    int want = serve ? 4 : 4 + PEER_LOAD_ARGS;
    bool ours = strcmp(argv[2], "hvrpc") == 0;
    if (argc != want || (!ours && strcmp(argv[2], "raw") != 0)) {
        fputs(usage, stderr);
        return 2;
    }
    if (serve)
        return ours ? bench_hvrpc_serve(argv[3]) : bench_raw_serve(argv[3]);
    peer_load l;
    if (peer_parse_load(argv + 4, &l) != 0)
        return 1;
    return ours ? bench_hvrpc_client(argv[3], &l)
                : bench_raw_client(argv[3], &l);
}

int main(int argc, char **argv)
{
    if (argc >= 3 &&
        (strcmp(argv[1], "serve") == 0 || strcmp(argv[1], "client") == 0))
        return peer_main(argc, argv);

    bench_config cfg;
    if (parse_options(&cfg, argc, argv) != 0)
        return 2;
    /* 1000 idle connections need more descriptors than the usual 1024,
     * in both children: they inherit this. */
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
        rl.rlim_cur = rl.rlim_max;
        setrlimit(RLIMIT_NOFILE, &rl);
    }
    bench_results *res = malloc(sizeof *res);
    if (!res) {
        fprintf(stderr, "hvrpc-bench: out of memory\n");
        return 1;
    }
    fprintf(stderr, "hvrpc-bench: %s\n", cfg.command);
    int rc = bench_run(&cfg, res);
    if (bench_report(&cfg, res, stdout) != 0)
        rc = 1;
    bench_results_free(res);
    free(res);
    return rc;
}
