/*
 * bench/peer.h - the protocol between hvrpc-bench and the programs it
 * measures, and its C side.
 *
 * Each system under test is a server program and a client program, run by
 * hvrpc-bench in child processes (servers and clients never share one):
 *
 *   PEER serve ... URI   listens on URI (unix:///path, tcp://127.0.0.1:0,
 *                        vsock://any:any), prints "ready URI" with the
 *                        address it really listens on (vsock://any:PORT:
 *                        hvrpc-bench has clients connect to
 *                        vsock://local:PORT) and serves until SIGTERM
 *                        (exit 0). On SIGUSR1 it prints "allocs N": the
 *                        heap allocations the process has made so far, -1
 *                        when it cannot count them.
 *   PEER client ... URI SIZE CONNS INFLIGHT WARM_MS RUN_MS
 *                        opens CONNS connections and makes one call on
 *                        each; runs the load for WARM_MS; prints "warm" and
 *                        waits for a line on stdin; runs the load for
 *                        RUN_MS; prints "s NS" for each call it timed, then
 *                        "result calls=N ns=T allocs=A" (calls completed
 *                        within the T ns, its own allocations meanwhile or
 *                        -1); then waits until stdin closes, closes its
 *                        connections and exits 0. On failure it prints
 *                        "error MESSAGE" and exits 1.
 *
 * The load keeps INFLIGHT calls in flight on every connection; INFLIGHT 0
 * leaves the connections idle. A call sends a hvrpc.echo.v1.EchoRequest
 * whose payload is SIZE bytes and gets back an EchoResponse with the same
 * payload (the raw socket peer sends the bare bytes behind a 4-byte
 * length). Calls are timed one by one only with one connection and one
 * call in flight.
 *
 * The C peers (peer_hvrpc.c, peer_raw.c) and the gRPC peer (grpc/) use the
 * functions below; the Go peer (go/ttrpc-bench) speaks the same lines.
 */
#ifndef HVRPC_BENCH_PEER_H
#define HVRPC_BENCH_PEER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* The arguments of a client after the URI. */
typedef struct peer_load {
    size_t size;       /* payload bytes of each request and response */
    unsigned conns;    /* connections */
    unsigned inflight; /* calls in flight per connection; 0: idle */
    unsigned warm_ms;
    unsigned run_ms;
} peer_load;

#define PEER_LOAD_ARGS 5

/* CLOCK_MONOTONIC in nanoseconds. */
int64_t peer_now_ns(void);

/* Parses SIZE CONNS INFLIGHT WARM_MS RUN_MS from argv[0..4]. 0, or -1
 * after printing an "error" line. */
int peer_parse_load(char **argv, peer_load *l);

/* True when the load times each call: one connection, one call. */
bool peer_load_timed(const peer_load *l);

/* Round-trip times of one phase, allocated up front (run_ms decides how
 * many fit) so that recording them allocates nothing. */
typedef struct peer_samples {
    int64_t *ns;
    size_t n, cap;
} peer_samples;

int peer_samples_init(peer_samples *s, unsigned run_ms);
void peer_samples_add(peer_samples *s, int64_t ns);
void peer_samples_free(peer_samples *s);

/* Client side: makes call(arg) back to back until end_ns, timing each
 * into samples (may be NULL). Returns the calls made, -1 when one failed
 * (call returns non-zero). */
int64_t peer_run_timed(int (*call)(void *arg), void *arg, int64_t end_ns,
                       peer_samples *samples);

/* Client side: prints "warm" and waits for the go-ahead on stdin. */
void peer_client_warm(void);

/* Client side: prints the samples and the result line, then waits until
 * stdin closes. allocs is -1 when not counted. */
void peer_client_result(const peer_samples *s, uint64_t calls,
                        int64_t elapsed_ns, int64_t allocs);

/* Prints "error MESSAGE" (one line) and returns 1, the exit code. */
int peer_error(const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 1, 2)))
#endif
    ;

/* Server side. Call first, before any thread exists: blocks SIGTERM,
 * SIGINT and SIGUSR1 so that only peer_serve_wait() receives them, and
 * ignores SIGPIPE. */
void peer_serve_init(void);

/* Prints "ready URI". */
void peer_serve_ready(const char *uri);

/* Answers SIGUSR1 with the allocation count until SIGTERM or SIGINT
 * arrives, then returns. */
void peer_serve_wait(void);

#ifdef __cplusplus
}
#endif

#endif /* HVRPC_BENCH_PEER_H */
