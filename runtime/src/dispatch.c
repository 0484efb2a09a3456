/*
 * dispatch.c - a server's connections: admitting one at accept, its frames,
 * the dispatcher (stream id rules, limits, authorizer, routing by
 * endpoint -> service -> method), its close, and the read, write and idle
 * timeouts.
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
 * it gets its own copy rather than a call's arena; its payload is left in
 * the frame, which the stream copies into its queue before this frame's
 * callback returns. */
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
    Ttrpc__Request *req;
    if (hvrpc__request_decode(data, len, &hvrpc__pb_allocator, true, &req) !=
        HVRPC_OK) { /* decoded once already: no memory */
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
    /* The call comes first: its request is decoded into its arena. A
     * large frame is in a buffer of its own, which the call takes so the
     * payload is read from it in place; a small one is in the loop's
     * shared read buffer, reused after this callback, so its payload is
     * copied into the arena. */
    uint8_t *frame = hvrpc__frame_reader_take_body(&sc->conn.reader, data);
    hvrpc_call *call = hvrpc__call_alloc(len, frame);
    if (!call) {
        hvrpc__sconn_send_status(sc, id, HVRPC_RESOURCE_EXHAUSTED,
                                 "out of memory for the call");
        return;
    }
    Ttrpc__Request *req;
    hvrpc_code dc = hvrpc__request_decode(
        data, len, hvrpc__call_allocator(call), frame != NULL, &req);
    if (dc != HVRPC_OK) {
        if (dc == HVRPC_RESOURCE_EXHAUSTED)
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
        /* data may be the call's frame: the stream decodes it first. */
        open_stream(sc, id, flags, data, len, reg, m);
        hvrpc__call_discard(call);
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
        hvrpc__idnode *n = hvrpc__idmap_find(&sc->streams, h->stream_id);
        hvrpc_stream *s = n ? HVRPC__CONTAINER_OF(n, hvrpc_stream, node) : NULL;
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

void hvrpc__sconn_accept(hvrpc_endpoint *ep, int fd, const hvrpc_peer *peer)
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

bool hvrpc__server_sweep_start(hvrpc_server *srv)
{
    const hvrpc_server_options *o = &srv->opts;
    if (!o->read_timeout_ms && !o->idle_timeout_ms && !o->write_timeout_ms)
        return true;
    srv->sweep.fn = on_sweep;
    return hvrpc__loop_timer_start(
        &srv->loop, &srv->sweep, hvrpc__deadline_after_ns(sweep_period_ns(o)));
}
