/*
 * bench/plot.c - the latency CDF (docs/bench-latency.png) with gnuplot.
 *
 * Each curve is the distribution of every 64-byte round trip of a
 * system's latency runs, merged. The x axis is logarithmic, so that the
 * raw socket's microseconds and gRPC's tens of them fit side by side, and
 * the same in both panels; points are denser towards the tail so that p99
 * and p99.9 show. The slowest 0.01 % are left out: single outliers of a
 * busy machine would only stretch the axis.
 */
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "bench.h"

#define Q_LAST 0.9999

/* Writes "microseconds fraction" points of the CDF of v to path and
 * widens [*lo, *hi] to cover them. */
static int write_cdf(const char *path, const int64_t *v, size_t n, double *lo,
                     double *hi)
{
    int64_t *s = malloc(n * sizeof *s);
    FILE *f = s ? fopen(path, "w") : NULL;
    if (!f) {
        free(s);
        return -1;
    }
    memcpy(s, v, n * sizeof *s);
    qsort(s, n, sizeof *s, bench_cmp_i64);
    double us = 0;
    for (double q = 0.001; q <= Q_LAST; q += q < 0.98    ? 0.002
                                             : q < 0.998 ? 0.0002
                                                         : 0.00002) {
        size_t i = (size_t)(q * (double)n);
        us = (double)s[i < n ? i : n - 1] / 1000.0;
        fprintf(f, "%.3f %.6f\n", us, q);
        if (us < *lo)
            *lo = us;
    }
    if (us > *hi)
        *hi = us;
    free(s);
    return fclose(f) == 0 ? 0 : -1;
}

static void data_path(char *buf, size_t size, const char *dir, int tr, int s)
{
    snprintf(buf, size, "%s/%s-%s.dat", dir, bench_transport_key[tr],
             bench_system_key[s]);
}

/* The gnuplot script: one panel per transport, one curve per system. */
static void write_script(FILE *gp, const bench_config *cfg,
                         const bench_results *res, const char *dir, double lo,
                         double hi)
{
    int panels = 0;
    for (int tr = 0; tr < TR_N; tr++)
        panels += bench_transport_measured(cfg, res, tr);
    fprintf(gp,
            "set terminal pngcairo size %d,480 font ',10'\n"
            "set output '%s'\n"
            "set multiplot layout 1,%d title 'hvrpc-bench: 64-byte echo, one "
            "caller, round-trip CDF (%s)'\n"
            "set logscale x\nset xrange [%g:%g]\n"
            "set xlabel 'round trip (us)'\nset ylabel 'fraction of calls'\n"
            "set yrange [0:1]\nset grid\nset key bottom right\n",
            panels > 1 ? 1100 : 620, cfg->plot_path, panels, res->date,
            lo / 1.2, hi * 1.2);
    for (int tr = 0; tr < TR_N; tr++) {
        if (!bench_transport_measured(cfg, res, tr))
            continue;
        fprintf(gp, "set title '%s'\nplot", bench_transport_label[tr]);
        const char *sep = "";
        for (int s = 0; s < SYS_N; s++) {
            if (!res->cell[s][tr][SC_LATENCY].n_samples)
                continue;
            char data[128];
            data_path(data, sizeof data, dir, tr, s);
            fprintf(gp, "%s '%s' using 1:2 with lines lt %d lw 2 title '%s'",
                    sep, data, s + 1, bench_system_label[s]);
            sep = ", \\\n    ";
        }
        /* A panel without data still needs something to plot. */
        fprintf(gp, "%s\n", *sep ? "" : " 1/0 notitle");
    }
    fprintf(gp, "unset multiplot\n");
}

int bench_plot(const bench_config *cfg, const bench_results *res)
{
    if (system("command -v gnuplot >/dev/null 2>&1") != 0) {
        fprintf(stderr, "hvrpc-bench: no plot: gnuplot is not installed "
                        "(apt-get install gnuplot-nox)\n");
        return -1;
    }
    bool any = false;
    for (int tr = 0; tr < TR_N; tr++)
        any = any || bench_transport_measured(cfg, res, tr);
    if (!any) {
        fprintf(stderr, "hvrpc-bench: no plot: no transport was measured\n");
        return -1;
    }
    char dir[] = "/tmp/hvrpc-bench-plot-XXXXXX";
    if (!mkdtemp(dir)) {
        perror("hvrpc-bench: mkdtemp");
        return -1;
    }
    char data[128], script[128], cmd[160];
    double lo = 1e12, hi = 0;
    int rc = 0;
    for (int tr = 0; tr < TR_N; tr++)
        for (int s = 0; s < SYS_N; s++) {
            const bench_cell *c = &res->cell[s][tr][SC_LATENCY];
            data_path(data, sizeof data, dir, tr, s);
            if (bench_transport_measured(cfg, res, tr) && c->n_samples &&
                write_cdf(data, c->samples, c->n_samples, &lo, &hi) != 0)
                rc = -1;
        }
    snprintf(script, sizeof script, "%s/cdf.gp", dir);
    FILE *gp = fopen(script, "w");
    if (gp) {
        write_script(gp, cfg, res, dir, hi > 0 ? lo : 1, hi > 0 ? hi : 1000);
        rc = fclose(gp) == 0 ? rc : -1;
    }
    snprintf(cmd, sizeof cmd, "gnuplot '%s'", script);
    if (!gp || rc != 0 || system(cmd) != 0) {
        fprintf(stderr, "hvrpc-bench: no plot: gnuplot failed\n");
        rc = -1;
    }
    for (int tr = 0; tr < TR_N; tr++)
        for (int s = 0; s < SYS_N; s++) {
            data_path(data, sizeof data, dir, tr, s);
            unlink(data);
        }
    unlink(script);
    rmdir(dir);
    return rc;
}
