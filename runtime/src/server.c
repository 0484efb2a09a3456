/*
 * server.c - the server's life: options, create, start, scheduled
 * functions, the stop sequence, free. Endpoints are in endpoint.c, the
 * connections and the dispatcher in dispatch.c, one call in call.c.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <unistd.h>

#include "alloc.h"
#include "clock.h"
#include "envelope.h"
#include "options.h"
#include "server_internal.h"

#define MAX_WORKERS 256
/* How long stop waits for the UNAVAILABLE answers to drain. */
#define STOP_FLUSH_NS (1000 * HVRPC__NS_PER_MS)

typedef struct hvrpc__scheduled {
    hvrpc__timer timer;
    hvrpc__task task;
    hvrpc_server *srv;
    void (*fn)(void *);
    void *arg;
    struct hvrpc__scheduled *prev, *next; /* srv->scheduled, under srv->mu */
} hvrpc__scheduled;

void hvrpc_server_options_init(hvrpc_server_options *o)
{
    memset(o, 0, sizeof *o);
    o->size = sizeof *o;
    o->max_frame = HVRPC_DEFAULT_MAX_FRAME;
    o->workers = 4;
    o->max_connections = 4096;
    o->max_connections_per_peer = 64;
    o->max_calls_per_connection = 128;
    o->max_calls_per_peer = 256;
    o->max_metadata_entries = 64;
    o->max_metadata_bytes = 16 * 1024;
    o->max_name_length = 256;
    o->read_timeout_ms = 10000;
    o->idle_timeout_ms = 0;
    o->write_timeout_ms = 10000;
    o->max_streams_per_connection = 128;
    o->stream_window = HVRPC_DEFAULT_STREAM_WINDOW;
}

bool hvrpc__server_started(const hvrpc_server *srv)
{
    return atomic_load(&srv->state) != SERVER_CREATED;
}

void hvrpc__server_live_inc(hvrpc_server *srv)
{
    pthread_mutex_lock(&srv->mu);
    srv->live++;
    pthread_mutex_unlock(&srv->mu);
}

bool hvrpc__server_peer_call_begin(hvrpc__sconn *sc)
{
    hvrpc_server *srv = sc->srv;
    pthread_mutex_lock(&srv->mu);
    bool ok = hvrpc__peer_table_call_begin(sc->peer_count,
                                           srv->opts.max_calls_per_peer);
    pthread_mutex_unlock(&srv->mu);
    return ok;
}

void hvrpc__server_peer_call_end(hvrpc__sconn *sc)
{
    hvrpc_server *srv = sc->srv;
    pthread_mutex_lock(&srv->mu);
    hvrpc__peer_table_call_end(srv->peers, sc->peer_count);
    pthread_mutex_unlock(&srv->mu);
}

void hvrpc__server_live_dec(hvrpc_server *srv)
{
    pthread_mutex_lock(&srv->mu);
    if (--srv->live == 0)
        pthread_cond_broadcast(&srv->cv);
    pthread_mutex_unlock(&srv->mu);
}

hvrpc_code hvrpc_server_create(const hvrpc_server_options *opts,
                               hvrpc_server **out, hvrpc_status *st)
{
    hvrpc_server_options o;
    hvrpc_server_options_init(&o);
    hvrpc_code c;
    if (opts) {
        c = hvrpc__check_options_size("server options", opts->size, sizeof o,
                                      st);
        if (c != HVRPC_OK)
            return c;
        o = *opts;
    }
    c = hvrpc__check_max_frame("server options", o.max_frame, st);
    if (c != HVRPC_OK)
        return c;
    if (o.stream_window < HVRPC_MIN_STREAM_WINDOW ||
        o.stream_window > HVRPC_MAX_STREAM_WINDOW)
        return hvrpc_status_set(st, HVRPC_INVALID_ARGUMENT,
                                "server options: stream_window %u is outside "
                                "%u..%u",
                                o.stream_window, HVRPC_MIN_STREAM_WINDOW,
                                HVRPC_MAX_STREAM_WINDOW);
    if (o.workers < 1 || o.workers > MAX_WORKERS)
        return hvrpc_status_set(st, HVRPC_INVALID_ARGUMENT,
                                "server options: workers %u is outside 1..%d",
                                o.workers, MAX_WORKERS);
    hvrpc_server *srv = hvrpc__calloc(1, sizeof *srv);
    if (!srv)
        return hvrpc_status_set(st, HVRPC_RESOURCE_EXHAUSTED,
                                "out of memory for the server");
    srv->opts = o;
    srv->log.fn = o.log;
    srv->log.arg = o.log_arg;
    srv->peers = hvrpc__peer_table_new();
    if (!srv->peers) {
        hvrpc__free(srv);
        return hvrpc_status_set(st, HVRPC_RESOURCE_EXHAUSTED,
                                "out of memory for the server");
    }
    c = hvrpc__loop_init(&srv->loop, st);
    if (c != HVRPC_OK) {
        hvrpc__peer_table_free(srv->peers);
        hvrpc__free(srv);
        return c;
    }
    pthread_mutex_init(&srv->mu, NULL);
    pthread_cond_init(&srv->cv, NULL);
    atomic_init(&srv->state, SERVER_CREATED);
    *out = srv;
    return HVRPC_OK;
}

hvrpc_code hvrpc__server_require_state(const hvrpc_server *srv,
                                       hvrpc__server_state want,
                                       const char *what, hvrpc_status *st)
{
    if (atomic_load(&srv->state) == want)
        return HVRPC_OK;
    return hvrpc_status_set(st, HVRPC_FAILED_PRECONDITION,
                            "%s: only before hvrpc_server_start()", what);
}

/* --- start, schedule, stop, free ---------------------------------------- */

hvrpc_code hvrpc_server_start(hvrpc_server *srv, hvrpc_status *st)
{
    hvrpc_code c = hvrpc__server_require_state(srv, SERVER_CREATED,
                                               "hvrpc_server_start", st);
    if (c != HVRPC_OK)
        return c;
    for (size_t i = 0; i < srv->n_eps; i++)
        if (hvrpc__loop_add(&srv->loop, &srv->eps[i]->io, EPOLLIN) != 0)
            return hvrpc_status_set(st, HVRPC_INTERNAL,
                                    "cannot watch a listener: %s",
                                    strerror(errno));
    if (!hvrpc__server_sweep_start(srv))
        return hvrpc_status_set(st, HVRPC_RESOURCE_EXHAUSTED,
                                "out of memory for the timeout sweep");
    c = hvrpc__workers_start(&srv->workers, srv->opts.workers, st);
    if (c != HVRPC_OK)
        return c;
    c = hvrpc__loop_start(&srv->loop, st);
    if (c != HVRPC_OK) {
        hvrpc__workers_stop(&srv->workers);
        return c;
    }
    atomic_store(&srv->state, SERVER_RUNNING);
    return HVRPC_OK;
}

static void unlink_scheduled(hvrpc__scheduled *s)
{
    hvrpc_server *srv = s->srv;
    pthread_mutex_lock(&srv->mu);
    if (s->prev)
        s->prev->next = s->next;
    else
        srv->scheduled = s->next;
    if (s->next)
        s->next->prev = s->prev;
    pthread_mutex_unlock(&srv->mu);
}

static void run_scheduled(hvrpc__task *t)
{
    hvrpc__scheduled *s =
        (hvrpc__scheduled *)((char *)t - offsetof(hvrpc__scheduled, task));
    s->fn(s->arg);
    hvrpc__free(s);
}

/* Loop thread: hand the function to a worker. */
static void on_scheduled(hvrpc__timer *t)
{
    hvrpc__scheduled *s =
        (hvrpc__scheduled *)((char *)t - offsetof(hvrpc__scheduled, timer));
    unlink_scheduled(s);
    hvrpc__workers_push(&s->srv->workers, &s->task);
}

hvrpc_code hvrpc_server_schedule(hvrpc_server *srv, uint32_t delay_ms,
                                 void (*fn)(void *arg), void *arg,
                                 hvrpc_status *st)
{
    hvrpc__scheduled *s = hvrpc__calloc(1, sizeof *s);
    if (!s)
        return hvrpc_status_set(st, HVRPC_RESOURCE_EXHAUSTED,
                                "out of memory scheduling a function");
    s->srv = srv;
    s->fn = fn;
    s->arg = arg;
    s->timer.fn = on_scheduled;
    s->task.fn = run_scheduled;
    pthread_mutex_lock(&srv->mu);
    if (atomic_load(&srv->state) != SERVER_RUNNING) {
        pthread_mutex_unlock(&srv->mu);
        hvrpc__free(s);
        return hvrpc_status_set(st, HVRPC_UNAVAILABLE,
                                "the server is not running");
    }
    s->next = srv->scheduled;
    if (srv->scheduled)
        srv->scheduled->prev = s;
    srv->scheduled = s;
    /* Armed under srv->mu so stop cannot miss it. */
    bool armed = hvrpc__loop_timer_start(
        &srv->loop, &s->timer,
        hvrpc__deadline_after_ns((int64_t)delay_ms * HVRPC__NS_PER_MS));
    pthread_mutex_unlock(&srv->mu);
    if (!armed) {
        unlink_scheduled(s);
        hvrpc__free(s);
        return hvrpc_status_set(st, HVRPC_RESOURCE_EXHAUSTED,
                                "out of memory scheduling a function");
    }
    return HVRPC_OK;
}

uint32_t hvrpc_server_max_frame(const hvrpc_server *srv)
{
    return srv->opts.max_frame;
}

bool hvrpc_server_stopping(const hvrpc_server *srv)
{
    return atomic_load(&srv->state) >= SERVER_STOPPING;
}

void hvrpc_server_stop(hvrpc_server *srv)
{
    hvrpc__server_state s = atomic_load(&srv->state);
    if (s == SERVER_STOPPED || s == SERVER_STOPPING)
        return;
    pthread_mutex_lock(&srv->mu);
    atomic_store(&srv->state, SERVER_STOPPING);
    pthread_mutex_unlock(&srv->mu);
    if (s == SERVER_CREATED) {
        atomic_store(&srv->state, SERVER_STOPPED);
        return;
    }

    /* From here this thread does what the loop did. */
    hvrpc__loop_stop(&srv->loop);
    for (size_t i = 0; i < srv->n_eps; i++)
        hvrpc__loop_del(&srv->loop, &srv->eps[i]->io);

    for (hvrpc__sconn *sc = srv->conns; sc; sc = sc->next) {
        pthread_mutex_lock(&sc->conn.mu);
        while (sc->calls)
            hvrpc__call_answer_locked(sc->calls, HVRPC_UNAVAILABLE,
                                      "the server is shutting down");
        hvrpc__stream_conn_stopping_locked(sc);
        pthread_mutex_unlock(&sc->conn.mu);
    }
    int64_t flush_deadline = hvrpc__deadline_after_ns(STOP_FLUSH_NS);
    for (hvrpc__sconn *sc = srv->conns; sc; sc = sc->next)
        hvrpc__conn_drain(&sc->conn, flush_deadline);
    while (srv->conns)
        hvrpc__conn_close(&srv->conns->conn, HVRPC_UNAVAILABLE,
                          "the server is shutting down");

    /* Scheduled functions run now rather than at their time. */
    pthread_mutex_lock(&srv->mu);
    hvrpc__scheduled *sched = srv->scheduled;
    srv->scheduled = NULL;
    pthread_mutex_unlock(&srv->mu);
    while (sched) {
        hvrpc__scheduled *next = sched->next;
        hvrpc__loop_timer_stop(&srv->loop, &sched->timer);
        hvrpc__workers_push(&srv->workers, &sched->task);
        sched = next;
    }

    /* Handlers still hold calls: wait until they have answered them. */
    pthread_mutex_lock(&srv->mu);
    while (srv->live > 0)
        pthread_cond_wait(&srv->cv, &srv->mu);
    pthread_mutex_unlock(&srv->mu);
    hvrpc__workers_stop(&srv->workers);
    atomic_store(&srv->state, SERVER_STOPPED);
}

void hvrpc_server_free(hvrpc_server *srv)
{
    if (!srv)
        return;
    hvrpc_server_stop(srv);
    for (size_t i = 0; i < srv->n_eps; i++) {
        hvrpc_endpoint *ep = srv->eps[i];
        ep->tp->unlisten(ep->io.fd, &ep->bound);
        for (size_t j = 0; j < ep->n_regs; j++)
            if (ep->regs[j].user_data_free)
                ep->regs[j].user_data_free(ep->regs[j].user_data);
        hvrpc__free(ep->regs);
        hvrpc__free(ep->allow);
        hvrpc__free(ep);
    }
    hvrpc__free(srv->eps);
    hvrpc__files_free(srv->files);
    hvrpc__peer_table_free(srv->peers);
    hvrpc__loop_destroy(&srv->loop);
    pthread_cond_destroy(&srv->cv);
    pthread_mutex_destroy(&srv->mu);
    hvrpc__free(srv);
}
