/*
 * bench/peer.c - the C side of the peer protocol (see peer.h).
 */
#include "peer.h"

#include <inttypes.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "alloc_count.h"

/* Room for one sample per 2.5 us of the phase: more than the fastest
 * round trip here allows. */
#define SAMPLES_PER_MS 400

int64_t peer_now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static int parse_uint(const char *s, unsigned long long max,
                      unsigned long long *out)
{
    char *end;
    if (!s || !*s || *s == '-')
        return -1;
    unsigned long long v = strtoull(s, &end, 10);
    if (*end || v > max)
        return -1;
    *out = v;
    return 0;
}

int peer_parse_load(char **argv, peer_load *l)
{
    static const char *const names[PEER_LOAD_ARGS] = {
        "SIZE", "CONNS", "INFLIGHT", "WARM_MS", "RUN_MS"};
    static const unsigned long long max[PEER_LOAD_ARGS] = {
        64u << 20, 100000, 100000, 3600000, 3600000};
    unsigned long long v[PEER_LOAD_ARGS];
    for (int i = 0; i < PEER_LOAD_ARGS; i++)
        if (parse_uint(argv[i], max[i], &v[i]) != 0)
            return -peer_error("bad %s \"%s\" (at most %llu)", names[i],
                               argv[i] ? argv[i] : "", max[i]);
    if (v[1] == 0)
        return -peer_error("CONNS must be at least 1");
    l->size = (size_t)v[0];
    l->conns = (unsigned)v[1];
    l->inflight = (unsigned)v[2];
    l->warm_ms = (unsigned)v[3];
    l->run_ms = (unsigned)v[4];
    return 0;
}

bool peer_load_timed(const peer_load *l)
{
    return l->conns == 1 && l->inflight == 1;
}

int peer_samples_init(peer_samples *s, unsigned run_ms)
{
    s->n = 0;
    s->cap = (size_t)run_ms * SAMPLES_PER_MS + 1024;
    s->ns = malloc(s->cap * sizeof *s->ns);
    return s->ns ? 0 : -1;
}

void peer_samples_add(peer_samples *s, int64_t ns)
{
    if (s->n < s->cap)
        s->ns[s->n++] = ns;
}

void peer_samples_free(peer_samples *s)
{
    free(s->ns);
    s->ns = NULL;
    s->n = s->cap = 0;
}

int64_t peer_run_timed(int (*call)(void *arg), void *arg, int64_t end_ns,
                       peer_samples *samples)
{
    int64_t n = 0;
    for (int64_t now = peer_now_ns(); now < end_ns; n++) {
        if (call(arg) != 0)
            return -1;
        int64_t t1 = peer_now_ns();
        if (samples)
            peer_samples_add(samples, t1 - now);
        now = t1;
    }
    return n;
}

/* Reads stdin until a newline or EOF. */
static void read_line(void)
{
    int ch;
    while ((ch = getchar()) != EOF && ch != '\n')
        ;
}

void peer_client_warm(void)
{
    printf("warm\n");
    fflush(stdout);
    read_line();
}

void peer_client_result(const peer_samples *s, uint64_t calls,
                        int64_t elapsed_ns, int64_t allocs)
{
    for (size_t i = 0; s && i < s->n; i++)
        printf("s %" PRId64 "\n", s->ns[i]);
    printf("result calls=%" PRIu64 " ns=%" PRId64 " allocs=%" PRId64 "\n",
           calls, elapsed_ns, allocs);
    fflush(stdout);
    while (getchar() != EOF)
        ;
}

int peer_error(const char *fmt, ...)
{
    char msg[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    for (char *p = msg; *p; p++)
        if (*p == '\n')
            *p = ' ';
    printf("error %s\n", msg);
    fflush(stdout);
    return 1;
}

static sigset_t serve_signals;

void peer_serve_init(void)
{
    signal(SIGPIPE, SIG_IGN);
    sigemptyset(&serve_signals);
    sigaddset(&serve_signals, SIGTERM);
    sigaddset(&serve_signals, SIGINT);
    sigaddset(&serve_signals, SIGUSR1);
    pthread_sigmask(SIG_BLOCK, &serve_signals, NULL);
}

void peer_serve_ready(const char *uri)
{
    printf("ready %s\n", uri);
    fflush(stdout);
}

void peer_serve_wait(void)
{
    for (;;) {
        int sig = 0;
        if (sigwait(&serve_signals, &sig) != 0)
            continue;
        if (sig != SIGUSR1)
            return;
        int64_t n = alloc_count_enabled() ? (int64_t)alloc_count_get() : -1;
        printf("allocs %" PRId64 "\n", n);
        fflush(stdout);
    }
}
