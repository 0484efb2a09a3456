/*
 * server.c - the server: endpoints, accepted connections, the dispatcher
 * and the stop sequence. One call's life is in call.c.
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

#define LISTEN_BACKLOG    128
#define ACCEPTS_PER_EVENT 64
#define MAX_WORKERS       256
/* After EMFILE, accepting pauses this long instead of spinning. */
#define ACCEPT_PAUSE_NS (100 * HVRPC__NS_PER_MS)
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

/* --- connections -------------------------------------------------------- */

void hvrpc__sconn_unref(hvrpc__sconn *sc)
{
    if (atomic_fetch_sub(&sc->refs, 1) != 1)
        return;
    hvrpc_server *srv = sc->srv;
    hvrpc__conn_destroy(&sc->conn);
    hvrpc__free(sc);
    hvrpc__server_live_dec(srv);
}

void hvrpc__sconn_send_status(hvrpc__sconn *sc, uint32_t stream_id,
                              hvrpc_code code, const char *fmt, ...)
{
    char msg[HVRPC_STATUS_MESSAGE_MAX];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    hvrpc__frame_buf f;
    bool built =
        hvrpc__encode_response(stream_id, code, msg, NULL,
                               sc->srv->opts.max_frame, &f) == HVRPC_OK;
    pthread_mutex_lock(&sc->conn.mu);
    if (built)
        hvrpc__conn_send_locked(&sc->conn, &f);
    else /* out of memory: the peer must not wait for this answer */
        hvrpc__conn_abort_locked(&sc->conn);
    pthread_mutex_unlock(&sc->conn.mu);
}

static const hvrpc_method *lookup(const hvrpc_endpoint *ep,
                                  const Ttrpc__Request *req,
                                  const hvrpc__registration **reg)
{
    for (size_t i = 0; i < ep->n_regs; i++) {
        const hvrpc_service *svc = ep->regs[i].svc;
        if (strcmp(svc->name, req->service) != 0)
            continue;
        *reg = &ep->regs[i];
        for (size_t j = 0; j < svc->n_methods; j++)
            if (strcmp(svc->methods[j].name, req->method) == 0)
                return &svc->methods[j];
        return NULL;
    }
    *reg = NULL;
    return NULL;
}

/* A streaming method: the stream keeps its request for its whole life, so
 * it gets its own copy rather than a call's arena. */
static void open_stream(hvrpc__sconn *sc, uint32_t id, uint8_t flags,
                        const uint8_t *data, uint32_t len,
                        const hvrpc__registration *reg, const hvrpc_method *m)
{
    const hvrpc_server_options *o = &sc->srv->opts;
    uint32_t open = atomic_load(&sc->n_streams);
    if (o->max_streams_per_connection &&
        open >= o->max_streams_per_connection) {
        hvrpc__sconn_send_status(sc, id, HVRPC_RESOURCE_EXHAUSTED,
                                 "%u streams open on this connection: "
                                 "the limit",
                                 open);
        return;
    }
    Ttrpc__Request *req =
        ttrpc__request__unpack(&hvrpc__pb_allocator, len, data);
    if (!req) {
        hvrpc__sconn_send_status(sc, id, HVRPC_RESOURCE_EXHAUSTED,
                                 "out of memory decoding the request");
        return;
    }
    hvrpc__stream_open_server(sc, id, flags, req, reg, m);
}

static void on_request(hvrpc__sconn *sc, uint32_t id, uint8_t flags,
                       const uint8_t *data, uint32_t len)
{
    if (id % 2 == 0) {
        hvrpc__sconn_send_status(sc, id, HVRPC_INVALID_ARGUMENT,
                                 "stream id %u is even: client streams use "
                                 "odd ids",
                                 id);
        return;
    }
    if (id <= sc->last_stream) {
        hvrpc__sconn_send_status(sc, id, HVRPC_INVALID_ARGUMENT,
                                 "stream id %u reused: ids must increase "
                                 "(last was %u)",
                                 id, sc->last_stream);
        return;
    }
    sc->last_stream = id;
    const hvrpc_server_options *o = &sc->srv->opts;
    uint32_t in_flight = atomic_load(&sc->n_calls);
    if (o->max_calls_per_connection &&
        in_flight >= o->max_calls_per_connection) {
        hvrpc__sconn_send_status(sc, id, HVRPC_RESOURCE_EXHAUSTED,
                                 "%u calls in flight on this connection: "
                                 "the limit",
                                 in_flight);
        return;
    }
    hvrpc__request_limits lim = {o->max_name_length, o->max_metadata_entries,
                                 o->max_metadata_bytes};
    hvrpc_status why;
    if (hvrpc__request_check(data, len, &lim, &why) != HVRPC_OK) {
        hvrpc__sconn_send_status(sc, id, why.code, "%s", why.message);
        return;
    }
    /* The call comes first: its request is decoded into its arena. */
    hvrpc_call *call = hvrpc__call_alloc(len);
    if (!call) {
        hvrpc__sconn_send_status(sc, id, HVRPC_RESOURCE_EXHAUSTED,
                                 "out of memory for the call");
        return;
    }
    unsigned long failures = hvrpc__alloc_failures();
    Ttrpc__Request *req =
        ttrpc__request__unpack(hvrpc__call_allocator(call), len, data);
    if (!req) {
        if (hvrpc__alloc_failures() != failures)
            hvrpc__sconn_send_status(sc, id, HVRPC_RESOURCE_EXHAUSTED,
                                     "out of memory decoding the request");
        else
            hvrpc__sconn_send_status(sc, id, HVRPC_INVALID_ARGUMENT,
                                     "malformed request: not a ttrpc "
                                     "Request message");
        hvrpc__call_discard(call);
        return;
    }
    if (sc->ep->authorize) {
        hvrpc_status_set(&why, HVRPC_PERMISSION_DENIED, NULL);
        hvrpc_code c = sc->ep->authorize(&sc->peer, req->service, req->method,
                                         sc->ep->authorize_arg, &why);
        if (c != HVRPC_OK) {
            hvrpc__sconn_send_status(sc, id, c, "%s", why.message);
            hvrpc__call_discard(call);
            return;
        }
    }
    const hvrpc__registration *reg;
    const hvrpc_method *m = lookup(sc->ep, req, &reg);
    if (!m) {
        if (reg)
            hvrpc__sconn_send_status(sc, id, HVRPC_UNIMPLEMENTED,
                                     "unknown method %s.%s", req->service,
                                     req->method);
        else
            hvrpc__sconn_send_status(sc, id, HVRPC_UNIMPLEMENTED,
                                     "unknown service \"%s\"", req->service);
        hvrpc__call_discard(call);
        return;
    }
    if (m->kind != HVRPC_UNARY) {
        hvrpc__call_discard(call);
        open_stream(sc, id, flags, data, len, reg, m);
        return;
    }
    if (!hvrpc__server_peer_call_begin(sc)) {
        hvrpc__call_discard(call);
        hvrpc__sconn_send_status(sc, id, HVRPC_RESOURCE_EXHAUSTED,
                                 "%u calls of this peer in flight: the limit",
                                 sc->srv->opts.max_calls_per_peer);
        return;
    }
    hvrpc__call_init(call, sc, id, req, reg, m);
    hvrpc__call_start(call);
}

static int sconn_on_frame(hvrpc__conn *c, const hvrpc__frame_header *h,
                          const uint8_t *data, bool oversize)
{
    hvrpc__sconn *sc = (hvrpc__sconn *)c;
    if (h->type == HVRPC__FRAME_DATA || h->type == HVRPC__FRAME_WINDOW) {
        /* For an open stream; dropped for any other id (a unary call, a
         * stream that has ended, one never opened). */
        pthread_mutex_lock(&c->mu);
        hvrpc_stream *s = hvrpc__smap_find(&sc->streams, h->stream_id);
        if (s && h->type == HVRPC__FRAME_DATA)
            hvrpc__stream_on_data_locked(s, h->flags, data, h->length,
                                         oversize);
        else if (s && !oversize)
            hvrpc__stream_on_window_locked(s, h->flags, data, h->length);
        pthread_mutex_unlock(&c->mu);
        return 0;
    }
    if (h->type != HVRPC__FRAME_REQUEST)
        return 0; /* Responses and unknown types: ignored. */
    if (oversize) {
        hvrpc__sconn_send_status(sc, h->stream_id, HVRPC_RESOURCE_EXHAUSTED,
                                 "request of %u bytes exceeds the maximum "
                                 "frame of %u bytes",
                                 h->length, sc->srv->opts.max_frame);
        return 0;
    }
    on_request(sc, h->stream_id, h->flags, data, h->length);
    return 0;
}

static void sconn_on_close(hvrpc__conn *c, const hvrpc_status *why)
{
    hvrpc__sconn *sc = (hvrpc__sconn *)c;
    hvrpc_server *srv = sc->srv;
    char peer[128];
    hvrpc_peer_format(&sc->peer, peer, sizeof peer);
    hvrpc__log(&srv->log, HVRPC_LOG_DEBUG, "connection from %s closed: %s",
               peer, why->message);

    /* Calls still running lose their connection: their answers drop. */
    pthread_mutex_lock(&c->mu);
    for (hvrpc_call *call = sc->calls; call; call = call->next) {
        call->answered = true;
        call->linked = false;
    }
    sc->calls = NULL;
    pthread_mutex_unlock(&c->mu);
    hvrpc__stream_conn_closed(sc, why);

    pthread_mutex_lock(&srv->mu);
    if (sc->prev)
        sc->prev->next = sc->next;
    else
        srv->conns = sc->next;
    if (sc->next)
        sc->next->prev = sc->prev;
    srv->n_conns--;
    hvrpc__peer_table_remove(srv->peers, sc->peer_count);
    pthread_mutex_unlock(&srv->mu);
    hvrpc__sconn_unref(sc);
}

static const hvrpc__conn_ops sconn_ops = {
    .on_frame = sconn_on_frame,
    .on_close = sconn_on_close,
};

/* Refuses a connection at accept: closed before it can send a byte. */
static void refuse(hvrpc_server *srv, int fd, const hvrpc_peer *peer,
                   const char *why)
{
    char who[128];
    hvrpc_peer_format(peer, who, sizeof who);
    hvrpc__sock_close(fd);
    hvrpc__log(&srv->log, HVRPC_LOG_WARN, "connection from %s refused: %s", who,
               why);
}

static void accept_one(hvrpc_endpoint *ep, int fd, const hvrpc_peer *peer)
{
    hvrpc_server *srv = ep->srv;
    const hvrpc_server_options *o = &srv->opts;
    if (!hvrpc__endpoint_admits(ep, peer)) {
        refuse(srv, fd, peer, "not on the endpoint's allow list");
        return;
    }
    if (o->max_connections && srv->n_conns >= o->max_connections) {
        refuse(srv, fd, peer, "the server's connection limit is reached");
        return;
    }
    hvrpc__sconn *sc = hvrpc__calloc(1, sizeof *sc);
    struct hvrpc__peer_count *pc = NULL;
    if (sc) {
        pthread_mutex_lock(&srv->mu);
        pc = hvrpc__peer_table_add(srv->peers, peer,
                                   o->max_connections_per_peer);
        pthread_mutex_unlock(&srv->mu);
    }
    if (!pc) {
        hvrpc__free(sc);
        refuse(srv, fd, peer,
               sc ? "the peer's connection limit is reached" : "out of memory");
        return;
    }
    hvrpc__conn_init(&sc->conn, &srv->loop, ep->tp, fd, &sconn_ops,
                     srv->opts.max_frame);
    sc->srv = srv;
    sc->ep = ep;
    sc->peer = *peer;
    sc->peer_count = pc;
    /* Room for a couple of full answers before a peer that does not read
     * them stops being read. */
    sc->conn.pause_at = 2 * (size_t)o->max_frame + 65536;
    atomic_init(&sc->refs, 1);
    atomic_init(&sc->n_calls, 0);
    atomic_init(&sc->n_streams, 0);
    atomic_init(&sc->last_active, hvrpc__now_ns());
    if (hvrpc__conn_start(&sc->conn) != 0) {
        hvrpc__log(&srv->log, HVRPC_LOG_WARN, "cannot watch connection: %s",
                   strerror(errno));
        pthread_mutex_lock(&srv->mu);
        hvrpc__peer_table_remove(srv->peers, pc);
        pthread_mutex_unlock(&srv->mu);
        hvrpc__conn_destroy(&sc->conn);
        hvrpc__sock_close(fd);
        hvrpc__free(sc);
        return;
    }
    pthread_mutex_lock(&srv->mu);
    srv->n_conns++;
    srv->live++;
    sc->next = srv->conns;
    if (srv->conns)
        srv->conns->prev = sc;
    srv->conns = sc;
    pthread_mutex_unlock(&srv->mu);
}

static void on_resume(hvrpc__timer *t)
{
    hvrpc_endpoint *ep =
        (hvrpc_endpoint *)((char *)t - offsetof(hvrpc_endpoint, resume));
    hvrpc__loop_mod(&ep->srv->loop, &ep->io, EPOLLIN);
}

static void on_listener(hvrpc__io *io, uint32_t events)
{
    hvrpc_endpoint *ep =
        (hvrpc_endpoint *)((char *)io - offsetof(hvrpc_endpoint, io));
    (void)events;
    for (int i = 0; i < ACCEPTS_PER_EVENT; i++) {
        int fd;
        hvrpc_peer peer;
        int err = ep->tp->accept(io->fd, &ep->bound, &fd, &peer);
        if (err == EAGAIN || err == EWOULDBLOCK)
            return;
        if (err == EINTR || err == ECONNABORTED)
            continue;
        if (err) {
            /* Out of fds or memory: pause this listener, do not spin. */
            hvrpc__log(&ep->srv->log, HVRPC_LOG_WARN,
                       "accept failed, pausing the listener: %s",
                       strerror(err));
            hvrpc__loop_mod(&ep->srv->loop, io, 0);
            hvrpc__loop_timer_start(&ep->srv->loop, &ep->resume,
                                    hvrpc__deadline_after_ns(ACCEPT_PAUSE_NS));
            return;
        }
        accept_one(ep, fd, &peer);
    }
}

/* --- timeouts --------------------------------------------------------- */

/* How often the sweep looks: often enough that a timeout fires at most a
 * quarter late, at most once a second. */
static int64_t sweep_period_ns(const hvrpc_server_options *o)
{
    uint32_t ms = 1000;
    const uint32_t timeouts[] = {o->read_timeout_ms, o->idle_timeout_ms,
                                 o->write_timeout_ms};
    for (size_t i = 0; i < sizeof timeouts / sizeof timeouts[0]; i++)
        if (timeouts[i] && timeouts[i] / 4 < ms)
            ms = timeouts[i] / 4;
    return (int64_t)(ms ? ms : 1) * HVRPC__NS_PER_MS;
}

/* Why sc should be closed now, or NULL. Loop thread. */
static const char *timed_out(hvrpc__sconn *sc, int64_t now)
{
    const hvrpc_server_options *o = &sc->srv->opts;
    hvrpc__conn *c = &sc->conn;
    if (o->read_timeout_ms && hvrpc__frame_reader_partial(&c->reader) &&
        now - c->last_rx_ns > (int64_t)o->read_timeout_ms * HVRPC__NS_PER_MS)
        return "read timeout: part of a frame and no byte since";
    if (o->write_timeout_ms &&
        hvrpc__conn_stalled_ns(c, now) >
            (int64_t)o->write_timeout_ms * HVRPC__NS_PER_MS)
        return "write timeout: the peer does not read its answers";
    if (o->idle_timeout_ms && atomic_load(&sc->n_calls) == 0 &&
        atomic_load(&sc->n_streams) == 0 &&
        !hvrpc__frame_reader_partial(&c->reader)) {
        int64_t last = atomic_load(&sc->last_active);
        if (c->last_rx_ns > last)
            last = c->last_rx_ns;
        if (now - last > (int64_t)o->idle_timeout_ms * HVRPC__NS_PER_MS)
            return "idle timeout";
    }
    return NULL;
}

static void on_sweep(hvrpc__timer *t)
{
    hvrpc_server *srv =
        (hvrpc_server *)((char *)t - offsetof(hvrpc_server, sweep));
    int64_t now = hvrpc__now_ns();
    /* Closing unlinks a connection: find the next one before. */
    hvrpc__sconn *sc = srv->conns;
    while (sc) {
        hvrpc__sconn *next = sc->next;
        const char *why = timed_out(sc, now);
        if (why) {
            char who[128];
            hvrpc_peer_format(&sc->peer, who, sizeof who);
            hvrpc__log(&srv->log, HVRPC_LOG_INFO, "closing %s: %s", who, why);
            hvrpc__conn_close(&sc->conn, HVRPC_UNAVAILABLE, why);
        }
        sc = next;
    }
    hvrpc__loop_timer_start(&srv->loop, &srv->sweep,
                            now + sweep_period_ns(&srv->opts));
}

/* --- endpoints and services ---------------------------------------------- */

static hvrpc_code require_state(const hvrpc_server *srv,
                                hvrpc__server_state want, const char *what,
                                hvrpc_status *st)
{
    if (atomic_load(&srv->state) == want)
        return HVRPC_OK;
    return hvrpc_status_set(st, HVRPC_FAILED_PRECONDITION,
                            "%s: only before hvrpc_server_start()", what);
}

hvrpc_code hvrpc_server_listen(hvrpc_server *srv, const char *uri,
                               hvrpc_endpoint **out, hvrpc_status *st)
{
    hvrpc_code c =
        require_state(srv, SERVER_CREATED, "hvrpc_server_listen", st);
    if (c != HVRPC_OK)
        return c;
    hvrpc_address a;
    c = hvrpc_address_parse(uri, &a, st);
    if (c != HVRPC_OK)
        return c;
    hvrpc_endpoint *ep = hvrpc__calloc(1, sizeof *ep);
    hvrpc_endpoint **eps =
        hvrpc__realloc(srv->eps, (srv->n_eps + 1) * sizeof *eps);
    if (!ep || !eps) {
        hvrpc__free(ep);
        if (eps)
            srv->eps = eps;
        return hvrpc_status_set(st, HVRPC_RESOURCE_EXHAUSTED,
                                "out of memory for an endpoint");
    }
    srv->eps = eps;
    ep->srv = srv;
    ep->tp = hvrpc__transport_for(a.kind);
    ep->io.fn = on_listener;
    ep->resume.fn = on_resume;
    c = ep->tp->listen(&a, LISTEN_BACKLOG, &ep->io.fd, &ep->bound, st);
    if (c != HVRPC_OK) {
        hvrpc__free(ep);
        return c;
    }
    srv->eps[srv->n_eps++] = ep;
    if (out)
        *out = ep;
    return HVRPC_OK;
}

const hvrpc_address *hvrpc_endpoint_address(const hvrpc_endpoint *ep)
{
    return &ep->bound;
}

static hvrpc_code check_service(const hvrpc_service *svc, hvrpc_status *st)
{
    if (!svc || !svc->name || !svc->name[0])
        return hvrpc_status_set(st, HVRPC_INVALID_ARGUMENT,
                                "service without a name");
    if (svc->n_methods && !svc->methods)
        return hvrpc_status_set(st, HVRPC_INVALID_ARGUMENT,
                                "service %s: no method table", svc->name);
    for (size_t i = 0; i < svc->n_methods; i++) {
        const hvrpc_method *m = &svc->methods[i];
        if (!m->name || !m->name[0])
            return hvrpc_status_set(st, HVRPC_INVALID_ARGUMENT,
                                    "service %s: method %zu has no name",
                                    svc->name, i);
        if (m->kind < HVRPC_UNARY || m->kind > HVRPC_BIDI_STREAMING)
            return hvrpc_status_set(st, HVRPC_INVALID_ARGUMENT,
                                    "service %s: method %s has kind %d, "
                                    "not a hvrpc_method_kind",
                                    svc->name, m->name, (int)m->kind);
        if (m->kind == HVRPC_UNARY ? !m->handler : !m->stream)
            return hvrpc_status_set(
                st, HVRPC_INVALID_ARGUMENT, "service %s: method %s has no %s",
                svc->name, m->name,
                m->kind == HVRPC_UNARY ? "handler" : "stream handler");
    }
    return HVRPC_OK;
}

hvrpc_code hvrpc_server_register(hvrpc_server *srv, hvrpc_endpoint *ep,
                                 const hvrpc_service *svc, void *user_data,
                                 void (*user_data_free)(void *),
                                 hvrpc_status *st)
{
    hvrpc_code c =
        require_state(srv, SERVER_CREATED, "hvrpc_server_register", st);
    if (c != HVRPC_OK)
        return c;
    if (!ep || ep->srv != srv)
        return hvrpc_status_set(st, HVRPC_INVALID_ARGUMENT,
                                "endpoint does not belong to this server");
    c = check_service(svc, st);
    if (c != HVRPC_OK)
        return c;
    for (size_t i = 0; i < ep->n_regs; i++)
        if (strcmp(ep->regs[i].svc->name, svc->name) == 0)
            return hvrpc_status_set(st, HVRPC_ALREADY_EXISTS,
                                    "service %s is already registered on "
                                    "this endpoint",
                                    svc->name);
    hvrpc__registration *regs =
        hvrpc__realloc(ep->regs, (ep->n_regs + 1) * sizeof *regs);
    if (!regs)
        return hvrpc_status_set(st, HVRPC_RESOURCE_EXHAUSTED,
                                "out of memory registering %s", svc->name);
    ep->regs = regs;
    ep->regs[ep->n_regs++] =
        (hvrpc__registration){svc, user_data, user_data_free};
    return HVRPC_OK;
}

/* --- start, schedule, stop, free ---------------------------------------- */

hvrpc_code hvrpc_server_start(hvrpc_server *srv, hvrpc_status *st)
{
    hvrpc_code c = require_state(srv, SERVER_CREATED, "hvrpc_server_start", st);
    if (c != HVRPC_OK)
        return c;
    for (size_t i = 0; i < srv->n_eps; i++)
        if (hvrpc__loop_add(&srv->loop, &srv->eps[i]->io, EPOLLIN) != 0)
            return hvrpc_status_set(st, HVRPC_INTERNAL,
                                    "cannot watch a listener: %s",
                                    strerror(errno));
    if (srv->opts.read_timeout_ms || srv->opts.idle_timeout_ms ||
        srv->opts.write_timeout_ms) {
        srv->sweep.fn = on_sweep;
        if (!hvrpc__loop_timer_start(
                &srv->loop, &srv->sweep,
                hvrpc__deadline_after_ns(sweep_period_ns(&srv->opts))))
            return hvrpc_status_set(st, HVRPC_RESOURCE_EXHAUSTED,
                                    "out of memory for the timeout sweep");
    }
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
