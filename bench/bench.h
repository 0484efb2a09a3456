/*
 * bench/bench.h - hvrpc-bench: the systems, scenarios and results shared
 * by its parts.
 *
 *   main.c        options; the serve / client modes of the C peers
 *   runner.c      runs every scenario on every system and transport
 *   report.c      tables, targets, BENCHMARKS.md, the plot, saved results
 *   proc.c        child processes
 *   peer.c        the line protocol of the peers (peer.h)
 *   peer_hvrpc.c  our server and client
 *   peer_raw.c    the raw socket ping-pong
 *   vsock_probe.c whether this kernel has a local vsock
 *   alloc_count.c the counting allocator
 *   grpc/, go/    the gRPC C++ and Go ttrpc peers
 */
#ifndef HVRPC_BENCH_H
#define HVRPC_BENCH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "peer.h"

typedef enum bench_system {
    SYS_HVRPC,
    SYS_RAW,
    SYS_GRPC_SYNC,
    SYS_GRPC_CB,
    SYS_TTRPC,
    SYS_N
} bench_system;

/* vsock: CID 1 (vsock_loopback), servers on vsock://any:any; only where
 * the kernel has a local vsock transport (the QEMU guest of tests/vm). */
typedef enum bench_transport {
    TR_UNIX,
    TR_TCP,
    TR_VSOCK,
    TR_N
} bench_transport;

typedef enum bench_scenario {
    SC_LATENCY,     /* one caller, 64 B, every call timed */
    SC_THROUGHPUT,  /* one caller, 1 MiB each way */
    SC_CONCURRENCY, /* 64 calls in flight on one connection */
    SC_SCALE,       /* scale_conns connections, one call in flight each */
    SC_IDLE,        /* idle_conns connections, idle */
    SC_N
} bench_scenario;

#define BENCH_MAX_REPS 15

typedef struct bench_config {
    bool quick;
    unsigned reps;
    unsigned warm_ms, run_ms;
    unsigned settle_ms; /* before reading the idle server's RSS */
    unsigned inflight, scale_conns, idle_conns;
    bool system_on[SYS_N], transport_on[TR_N], scenario_on[SC_N];
    const char *peer_grpc, *peer_ttrpc; /* programs; "" when not built */
    const char *grpc_skip, *ttrpc_skip; /* why they were not built */
    const char *ttrpc_vsock_skip; /* why the Go peer has no vsock, or "" */
    const char *doc_path, *plot_path, *save_path, *compare_path;
    char command[2048]; /* how this run was started */
} bench_config;

/* One run of one scenario. Values below 0 are unknown. */
typedef struct run_result {
    double p50_us, p99_us, p999_us; /* per-call round trips */
    double calls_per_s;
    double rss0_mib;                     /* server RSS before any connection */
    double rss_mib;                      /* server RSS at the end of the load */
    double server_allocs, client_allocs; /* per call */
} run_result;

/* Every run of one scenario on one system and transport. */
typedef struct bench_cell {
    run_result runs[BENCH_MAX_REPS];
    unsigned n_runs, failures;
    char why[256]; /* the last failure */
    /* Round trips of every latency run, merged (for the plot). */
    int64_t *samples;
    size_t n_samples, cap_samples;
} bench_cell;

typedef struct bench_results {
    bench_cell cell[SYS_N][TR_N][SC_N];
    const char *skip[SYS_N]; /* why a system did not run, or NULL */
    /* Why a system did not run on one transport (gRPC on vsock), or NULL. */
    const char *skip_on[SYS_N][TR_N];
    /* Why a selected transport was not measured at all (no local vsock),
     * or "". */
    char transport_skip[TR_N][192];
    char date[64];  /* when the run started, UTC */
    double seconds; /* how long it took */
} bench_results;

extern const char *const bench_system_key[SYS_N];     /* "hvrpc", "grpc-cb" */
extern const char *const bench_system_label[SYS_N];   /* "gRPC callback" */
extern const char *const bench_transport_key[TR_N];   /* "unix", "tcp" */
extern const char *const bench_transport_label[TR_N]; /* "tcp 127.0.0.1" */
extern const char *const bench_scenario_key[SC_N];    /* "latency" */

/* Runs everything cfg selects into *res (zeroed first). 0 when every run
 * succeeded, 1 when any failed. */
int bench_run(const bench_config *cfg, bench_results *res);
void bench_results_free(bench_results *res);

/* Why system s has no figures on transport tr, or NULL when it has. */
const char *bench_skipped(const bench_results *res, bench_system s,
                          bench_transport tr);

/* True when tr was selected and could be measured. */
bool bench_transport_measured(const bench_config *cfg, const bench_results *res,
                              bench_transport tr);

/* qsort() comparison of int64_t. */
int bench_cmp_i64(const void *a, const void *b);

/* The median over the successful runs of a value picked from each, or -1
 * when there is none. */
double bench_median(const bench_cell *c, double (*pick)(const run_result *r));

/* The report (report.c): prints the tables and targets to out; writes the
 * doc, the plot and the saved results when cfg asks. 0 or -1. */
int bench_report(const bench_config *cfg, const bench_results *res, FILE *out);

/* Draws the CDF of the latency runs' round trips, one curve per system
 * and a panel per transport, with gnuplot into cfg->plot_path (PNG). 0, or
 * -1 after saying why on stderr (gnuplot missing, say). */
int bench_plot(const bench_config *cfg, const bench_results *res);

/* 0 when a vsock connection to CID 1 works here (vsock_probe.c); else -1
 * with why filled. */
int bench_vsock_probe(char *why, size_t size);

/* The C peers (peer_hvrpc.c, peer_raw.c). Exit codes. */
int bench_hvrpc_serve(const char *uri);
int bench_hvrpc_client(const char *uri, const peer_load *l);
int bench_raw_serve(const char *uri);
int bench_raw_client(const char *uri, const peer_load *l);

#endif /* HVRPC_BENCH_H */
