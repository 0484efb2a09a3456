/*
 * stream.c - streams: per-stream queues and windows, the functions of
 * hvrpc/stream.h, and the server side of a stream (open, handler thread,
 * finish). The client side is in client.c.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "hvrpc/service.h"

#include "alloc.h"
#include "clock.h"
#include "server_internal.h"
#include "stream_internal.h"

/* A stream handler's thread stack: handlers that recurse deeply (decoding
 * nested messages) have room; the pages are only touched when used. */
#define HANDLER_STACK (1024 * 1024)
/* How often a sender waiting for the connection's queue to drain looks
 * again (the queue has no waiters list of its own). */
#define OUT_POLL_NS (2 * HVRPC__NS_PER_MS)

/* --- one stream ------------------------------------------------------------
 */

static uint64_t cost_of(size_t len)
{
    return (uint64_t)len + HVRPC_STREAM_MESSAGE_OVERHEAD;
}

hvrpc_stream *hvrpc__stream_new(hvrpc__conn *conn, hvrpc_method_kind kind,
                                bool server, uint32_t window,
                                uint32_t max_frame)
{
    hvrpc_stream *s = hvrpc__calloc(1, sizeof *s);
    if (!s)
        return NULL;
    if (hvrpc__cond_init_monotonic(&s->cv) != 0) {
        hvrpc__free(s);
        return NULL;
    }
    s->conn = conn;
    s->kind = kind;
    s->server = server;
    s->window = window;
    s->max_frame = max_frame;
    atomic_init(&s->refs, 1);
    return s;
}

void hvrpc__stream_destroy(hvrpc_stream *s)
{
    hvrpc__smsg *m = s->q_head;
    while (m) {
        hvrpc__smsg *next = m->next;
        hvrpc__free(m);
        m = next;
    }
    pthread_cond_destroy(&s->cv);
    hvrpc__free(s);
}

bool hvrpc__stream_push_locked(hvrpc_stream *s, const uint8_t *data, size_t len)
{
    hvrpc__smsg *m = hvrpc__malloc(sizeof *m + (len ? len : 1));
    if (!m)
        return false;
    m->next = NULL;
    m->len = len;
    if (len)
        memcpy(m->data, data, len);
    if (s->q_tail)
        s->q_tail->next = m;
    else
        s->q_head = m;
    s->q_tail = m;
    s->q_cost += cost_of(len);
    pthread_cond_broadcast(&s->cv);
    return true;
}

void hvrpc__stream_end_locked(hvrpc_stream *s, hvrpc_code code, const char *msg)
{
    if (!s->done) {
        s->done = true;
        hvrpc_status_set(&s->final, code, "%s", msg);
    }
    pthread_cond_broadcast(&s->cv);
}

void hvrpc__stream_send_control_locked(hvrpc_stream *s, uint8_t flags,
                                       uint32_t increment)
{
    hvrpc__frame_buf f;
    size_t n = flags & HVRPC__FLAG_RESET ? 0 : 4;
    if (hvrpc__frame_buf_alloc(&f, s->node.id, HVRPC__FRAME_WINDOW, flags, n,
                               0) != HVRPC_OK) {
        /* A lost grant would stall the stream for good. */
        hvrpc__conn_abort_locked(s->conn);
        return;
    }
    if (n) {
        uint8_t *p = f.data + HVRPC__FRAME_HEADER_LEN;
        p[0] = (uint8_t)(increment >> 24);
        p[1] = (uint8_t)(increment >> 16);
        p[2] = (uint8_t)(increment >> 8);
        p[3] = (uint8_t)increment;
    }
    hvrpc__conn_send_locked(s->conn, &f);
}

void hvrpc__stream_send_close_locked(hvrpc_stream *s)
{
    hvrpc__frame_buf f;
    if (hvrpc__frame_buf_alloc(&f, s->node.id, HVRPC__FRAME_DATA,
                               HVRPC__FLAG_REMOTE_CLOSED | HVRPC__FLAG_NO_DATA,
                               0, 0) != HVRPC_OK) {
        hvrpc__conn_abort_locked(s->conn);
        return;
    }
    hvrpc__conn_send_locked(s->conn, &f);
}

/* A Data frame carrying one message. RESOURCE_EXHAUSTED when it is over
 * max_frame or out of memory (st says which). */
static hvrpc_code encode_data(const hvrpc_stream *s, const hvrpc__payload *pl,
                              hvrpc__frame_buf *f, size_t *len,
                              hvrpc_status *st)
{
    size_t n = pl->msg ? protobuf_c_message_get_packed_size(pl->msg) : pl->len;
    *len = n;
    if (n > s->max_frame)
        return hvrpc_status_set(st, HVRPC_RESOURCE_EXHAUSTED,
                                "message of %zu bytes exceeds the maximum "
                                "frame of %u bytes (not sent)",
                                n, s->max_frame);
    if (hvrpc__frame_buf_alloc(f, s->node.id, HVRPC__FRAME_DATA, 0, n, 0) !=
        HVRPC_OK)
        return hvrpc_status_set(st, HVRPC_RESOURCE_EXHAUSTED,
                                "out of memory for a %zu-byte message", n);
    uint8_t *p = f->data + HVRPC__FRAME_HEADER_LEN;
    if (pl->msg)
        protobuf_c_message_pack(pl->msg, p);
    else if (n)
        memcpy(p, pl->data, n);
    return HVRPC_OK;
}

/* --- ending a stream from this side ----------------------------------- */

/* Server: answers the client with a status (once) and ends the stream. */
static void server_abort_locked(hvrpc_stream *s, hvrpc_code code,
                                const char *msg)
{
    hvrpc__stream_end_locked(s, code, msg);
    if (s->answered)
        return;
    s->answered = true;
    s->out_closed = true;
    hvrpc__frame_buf f;
    if (hvrpc__encode_response(s->node.id, code, msg, NULL, s->max_frame, &f) ==
        HVRPC_OK)
        hvrpc__conn_send_locked(s->conn, &f);
    else
        hvrpc__conn_abort_locked(s->conn);
}

/* Ends s from this side with a formatted reason; conn->mu held. */
HVRPC_PRINTF(3, 4)
static void abort_locked(hvrpc_stream *s, hvrpc_code code, const char *fmt, ...)
{
    char msg[HVRPC_STATUS_MESSAGE_MAX];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    if (s->server)
        server_abort_locked(s, code, msg);
    else
        hvrpc__client_stream_abort_locked(s, code, msg);
}

/* Ends s when its deadline has passed. True when it is over. */
static bool check_deadline_locked(hvrpc_stream *s)
{
    if (s->done)
        return true;
    if (s->deadline && hvrpc__now_ns() >= s->deadline) {
        abort_locked(s, HVRPC_DEADLINE_EXCEEDED, "deadline exceeded");
        return true;
    }
    return false;
}

/* --- frames from the peer (loop thread, conn->mu held) --------------------
 */

void hvrpc__stream_on_data_locked(hvrpc_stream *s, uint8_t flags,
                                  const uint8_t *data, uint32_t len,
                                  bool oversize)
{
    if (s->done)
        return;
    if (oversize) {
        abort_locked(s, HVRPC_RESOURCE_EXHAUSTED,
                     "message of %u bytes exceeds the maximum frame of %u "
                     "bytes",
                     len, s->max_frame);
        return;
    }
    bool has_data = !(flags & HVRPC__FLAG_NO_DATA);
    if (s->in_closed) {
        if (has_data)
            abort_locked(s, HVRPC_INVALID_ARGUMENT,
                         "a message on stream %u after its sender closed "
                         "it",
                         s->node.id);
        return;
    }
    if (has_data) {
        uint64_t c = cost_of(len);
        if (s->q_cost && s->q_cost + c > s->window) {
            abort_locked(s, HVRPC_RESOURCE_EXHAUSTED,
                         "stream %u: the peer sent past the receive window "
                         "of %u bytes (%llu queued, %u more)",
                         s->node.id, s->window, (unsigned long long)s->q_cost,
                         len);
            return;
        }
        if (!hvrpc__stream_push_locked(s, data, len)) {
            abort_locked(s, HVRPC_RESOURCE_EXHAUSTED,
                         "out of memory for a %u-byte message", len);
            return;
        }
    }
    if (flags & HVRPC__FLAG_REMOTE_CLOSED) {
        s->in_closed = true;
        pthread_cond_broadcast(&s->cv);
    }
}

void hvrpc__stream_on_window_locked(hvrpc_stream *s, uint8_t flags,
                                    const uint8_t *data, uint32_t len)
{
    if (s->done)
        return;
    if (flags & HVRPC__FLAG_RESET) {
        if (s->server) {
            /* The client has forgotten the stream: nothing to answer. */
            s->answered = true;
            s->out_closed = true;
            hvrpc__stream_end_locked(s, HVRPC_CANCELLED,
                                     "the client cancelled the stream");
        }
        return;
    }
    if (len != 4)
        return; /* not a grant we know: ignored */
    uint32_t inc = (uint32_t)data[0] << 24 | (uint32_t)data[1] << 16 |
                   (uint32_t)data[2] << 8 | (uint32_t)data[3];
    if (inc == 0 || inc > INT32_MAX)
        return;
    if (!s->server && !s->grant_seen) {
        /* The server's first grant: its receive window. */
        s->grant_seen = true;
        s->peer_window = inc;
        s->credit = 0;
    }
    if (s->credit < (int64_t)INT32_MAX * 4)
        s->credit += inc;
    pthread_cond_broadcast(&s->cv);
}

/* --- waiting ------------------------------------------------------------ */

/* The absolute time an operation with timeout_ms gives up (0: never). */
static int64_t op_until(int timeout_ms)
{
    if (timeout_ms < 0)
        return 0;
    return hvrpc__now_ns() + (int64_t)timeout_ms * HVRPC__NS_PER_MS;
}

static int64_t earliest(int64_t a, int64_t b)
{
    if (!a)
        return b;
    if (!b)
        return a;
    return a < b ? a : b;
}

/* Waits on s->cv until woken or `until` (0: no limit); conn->mu held. */
static void wait_locked(hvrpc_stream *s, int64_t until)
{
    if (!until) {
        pthread_cond_wait(&s->cv, &s->conn->mu);
        return;
    }
    struct timespec ts = hvrpc__timespec_at(until);
    pthread_cond_timedwait(&s->cv, &s->conn->mu, &ts);
}

static hvrpc_code not_from_loop(const hvrpc_stream *s, hvrpc_status *st)
{
    if (!s->server && hvrpc__loop_in_thread(s->conn->loop))
        return hvrpc_status_set(st, HVRPC_FAILED_PRECONDITION,
                                "a blocking stream call from a completion "
                                "callback of the same client would "
                                "deadlock");
    return HVRPC_OK;
}

/* The end as a send or receive reports it: HVRPC_END for a clean end. */
static hvrpc_code end_code(const hvrpc_stream *s, hvrpc_status *st)
{
    if (s->final.code == HVRPC_OK)
        return hvrpc_status_set(st, HVRPC_END, "the stream has ended");
    if (st)
        *st = s->final;
    return s->final.code;
}

/* --- sending -------------------------------------------------------------
 */

/* Whether the window lets a message of cost c go now. */
static bool window_open(const hvrpc_stream *s, uint64_t c)
{
    if (!s->windowed)
        return true;
    if (!s->grant_seen)
        return false;
    return (int64_t)c <= s->credit || s->credit >= s->peer_window;
}

/* Whether the connection's queue has room: a peer that does not read its
 * socket stops every sender of that connection, not the server's memory. */
static bool conn_has_room(const hvrpc_stream *s)
{
    return s->conn->out_bytes <= 2 * (size_t)s->max_frame + 65536;
}

static hvrpc_code send_payload(hvrpc_stream *s, const hvrpc__payload *pl,
                               int timeout_ms, hvrpc_status *st)
{
    hvrpc_code r = not_from_loop(s, st);
    if (r != HVRPC_OK)
        return r;
    hvrpc_method_kind sending =
        s->server ? HVRPC_SERVER_STREAMING : HVRPC_CLIENT_STREAMING;
    if (!(s->kind & sending))
        return hvrpc_status_set(st, HVRPC_FAILED_PRECONDITION,
                                s->server ? "a client-streaming method "
                                            "answers with hvrpc_stream_reply"
                                          : "a server-streaming call sends "
                                            "only its request");
    hvrpc__frame_buf f;
    size_t len;
    r = encode_data(s, pl, &f, &len, st);
    if (r != HVRPC_OK)
        return r;
    uint64_t c = cost_of(len);
    int64_t until = op_until(timeout_ms);
    hvrpc__conn *conn = s->conn;
    pthread_mutex_lock(&conn->mu);
    for (;;) {
        if (check_deadline_locked(s)) {
            r = end_code(s, st);
            break;
        }
        if (s->out_closed) {
            r = hvrpc_status_set(st, HVRPC_FAILED_PRECONDITION,
                                 "this side of the stream is closed");
            break;
        }
        bool win = window_open(s, c), room = conn_has_room(s);
        if (win && room) {
            if (s->windowed)
                s->credit -= (int64_t)c;
            r = hvrpc__conn_send_locked(conn, &f);
            f.data = NULL;
            if (r != HVRPC_OK)
                hvrpc_status_set(st, r, "the connection is closed");
            break;
        }
        int64_t now = hvrpc__now_ns();
        if (until && now >= until) {
            r = hvrpc_status_set(st, HVRPC_WOULD_BLOCK,
                                 win ? "the connection's send queue is full"
                                     : "the peer's receive window is full");
            break;
        }
        int64_t wake = earliest(until, s->deadline);
        if (!room)
            wake = earliest(wake, now + OUT_POLL_NS);
        wait_locked(s, wake);
    }
    pthread_mutex_unlock(&conn->mu);
    hvrpc__free(f.data);
    return r;
}

hvrpc_code hvrpc_stream_send(hvrpc_stream *s, const void *data, size_t len,
                             int timeout_ms, hvrpc_status *st)
{
    hvrpc__payload pl = {.data = data, .len = len};
    return send_payload(s, &pl, timeout_ms, st);
}

hvrpc_code hvrpc_stream_send_message(hvrpc_stream *s,
                                     const ProtobufCMessage *msg,
                                     int timeout_ms, hvrpc_status *st)
{
    if (!msg)
        return hvrpc_status_set(st, HVRPC_INVALID_ARGUMENT,
                                "no message to send");
    hvrpc__payload pl = {.msg = msg};
    return send_payload(s, &pl, timeout_ms, st);
}

hvrpc_code hvrpc_stream_try_send(hvrpc_stream *s, const void *data, size_t len,
                                 hvrpc_status *st)
{
    return hvrpc_stream_send(s, data, len, 0, st);
}

/* --- receiving ----------------------------------------------------------- */

/* Grants the peer what the application has taken, when it is worth a
 * frame. conn->mu held. */
static void maybe_grant_locked(hvrpc_stream *s, uint64_t c)
{
    bool obeys = s->server ? s->windowed : s->grant_seen;
    if (!obeys || s->in_closed || s->done)
        return;
    s->ungranted += c;
    if (s->ungranted >= s->window / 4 || !s->q_head) {
        uint64_t g = s->ungranted;
        while (g) {
            uint32_t part = g > INT32_MAX ? INT32_MAX : (uint32_t)g;
            hvrpc__stream_send_control_locked(s, 0, part);
            g -= part;
        }
        s->ungranted = 0;
    }
}

hvrpc_code hvrpc_stream_recv(hvrpc_stream *s, hvrpc_buf *msg, int timeout_ms,
                             hvrpc_status *st)
{
    msg->data = NULL;
    msg->len = 0;
    hvrpc_code r = not_from_loop(s, st);
    if (r != HVRPC_OK)
        return r;
    int64_t until = op_until(timeout_ms);
    hvrpc__conn *conn = s->conn;
    pthread_mutex_lock(&conn->mu);
    for (;;) {
        hvrpc__smsg *m = s->q_head;
        if (m) {
            s->q_head = m->next;
            if (!s->q_head)
                s->q_tail = NULL;
            uint64_t c = cost_of(m->len);
            s->q_cost -= c;
            maybe_grant_locked(s, c);
            pthread_mutex_unlock(&conn->mu);
            /* The message becomes the caller's buffer: move its bytes to
             * the front so hvrpc_buf_free() frees the block. */
            size_t len = m->len;
            memmove(m, m->data, len);
            msg->data = (uint8_t *)m;
            msg->len = len;
            return HVRPC_OK;
        }
        if (check_deadline_locked(s)) {
            r = end_code(s, st);
            break;
        }
        if (s->in_closed) {
            r = hvrpc_status_set(st, HVRPC_END,
                                 "the peer has no more messages");
            break;
        }
        if (until && hvrpc__now_ns() >= until) {
            r = hvrpc_status_set(st, HVRPC_WOULD_BLOCK, "no message yet");
            break;
        }
        wait_locked(s, earliest(until, s->deadline));
    }
    pthread_mutex_unlock(&conn->mu);
    return r;
}

hvrpc_code hvrpc_stream_recv_message(hvrpc_stream *s,
                                     const ProtobufCMessageDescriptor *type,
                                     ProtobufCMessage **out, int timeout_ms,
                                     hvrpc_status *st)
{
    *out = NULL;
    hvrpc_buf b;
    hvrpc_code r = hvrpc_stream_recv(s, &b, timeout_ms, st);
    if (r != HVRPC_OK)
        return r;
    hvrpc_status why;
    r = hvrpc_message_unpack(type, b.data, b.len, out, &why);
    hvrpc_buf_free(&b);
    if (r == HVRPC_OK)
        return HVRPC_OK;
    hvrpc_code code = s->server ? HVRPC_INVALID_ARGUMENT : HVRPC_INTERNAL;
    const char *what = s->server ? "request" : "malformed response";
    pthread_mutex_lock(&s->conn->mu);
    abort_locked(s, code, "%s: %s", what, why.message);
    pthread_mutex_unlock(&s->conn->mu);
    return hvrpc_status_set(st, code, "%s: %s", what, why.message);
}

/* --- both sides: cancel and state --------------------------------------- */

void hvrpc_stream_cancel(hvrpc_stream *s)
{
    if (!s)
        return;
    pthread_mutex_lock(&s->conn->mu);
    if (!s->done) {
        s->cancelled = true;
        abort_locked(s, HVRPC_CANCELLED, "the stream was cancelled");
    }
    pthread_mutex_unlock(&s->conn->mu);
}

hvrpc_method_kind hvrpc_stream_kind(const hvrpc_stream *s)
{
    return s->kind;
}

bool hvrpc_stream_done(const hvrpc_stream *s)
{
    pthread_mutex_lock(&s->conn->mu);
    bool done = s->done;
    pthread_mutex_unlock(&s->conn->mu);
    return done;
}

bool hvrpc_stream_flow_controlled(const hvrpc_stream *s)
{
    pthread_mutex_lock(&s->conn->mu);
    bool w = s->server ? s->windowed : s->windowed && s->grant_seen;
    pthread_mutex_unlock(&s->conn->mu);
    return w;
}

/* --- the server side --------------------------------------------------- */

static void server_unref(hvrpc_stream *s)
{
    if (atomic_fetch_sub(&s->refs, 1) != 1)
        return;
    hvrpc__sconn *sc = s->sc;
    hvrpc_server *srv = sc->srv;
    hvrpc__request_free(s->req, &hvrpc__pb_allocator);
    atomic_store(&sc->last_active, hvrpc__now_ns());
    atomic_fetch_sub(&sc->n_streams, 1);
    hvrpc__stream_destroy(s);
    hvrpc__sconn_unref(sc);
    hvrpc__server_live_dec(srv);
}

static void *handler_main(void *arg)
{
    hvrpc_stream *s = arg;
    hvrpc_server *srv = s->sc->srv;
    /* s may be gone once the handler returns (it finished the stream). */
    s->method->stream(s, s->reg->user_data);
    hvrpc__server_live_dec(srv);
    return NULL;
}

/* The client's window offer: true and *w when it made a valid one. */
static hvrpc_code parse_window(const Ttrpc__Request *req, uint32_t *w,
                               bool *offered)
{
    *offered = false;
    for (size_t i = 0; i < req->n_metadata; i++) {
        const Ttrpc__KeyValue *kv = req->metadata[i];
        if (strcmp(kv->key, HVRPC_STREAM_WINDOW_KEY) != 0)
            continue;
        char *end = NULL;
        errno = 0;
        unsigned long long v = strtoull(kv->value, &end, 10);
        if (errno || !end || *end || end == kv->value ||
            v < HVRPC_MIN_STREAM_WINDOW || v > HVRPC_MAX_STREAM_WINDOW)
            return HVRPC_INVALID_ARGUMENT;
        *w = (uint32_t)v;
        *offered = true;
        return HVRPC_OK;
    }
    return HVRPC_OK;
}

void hvrpc__stream_open_server(hvrpc__sconn *sc, uint32_t id, uint8_t flags,
                               Ttrpc__Request *req,
                               const hvrpc__registration *reg,
                               const hvrpc_method *m)
{
    hvrpc_server *srv = sc->srv;
    const hvrpc_server_options *o = &srv->opts;
    uint32_t peer_window = 0;
    bool offered;
    if (parse_window(req, &peer_window, &offered) != HVRPC_OK) {
        hvrpc__sconn_send_status(sc, id, HVRPC_INVALID_ARGUMENT,
                                 "metadata %s must be a window of %u..%u "
                                 "bytes",
                                 HVRPC_STREAM_WINDOW_KEY,
                                 HVRPC_MIN_STREAM_WINDOW,
                                 HVRPC_MAX_STREAM_WINDOW);
        hvrpc__request_free(req, &hvrpc__pb_allocator);
        return;
    }
    hvrpc_stream *s = hvrpc__stream_new(&sc->conn, m->kind, true,
                                        o->stream_window, o->max_frame);
    if (!s) {
        hvrpc__request_free(req, &hvrpc__pb_allocator);
        hvrpc__sconn_send_status(sc, id, HVRPC_RESOURCE_EXHAUSTED,
                                 "out of memory for the stream");
        return;
    }
    s->node.id = id;
    s->sc = sc;
    s->req = req;
    s->reg = reg;
    s->method = m;
    s->windowed = offered;
    s->grant_seen = offered;
    s->peer_window = s->credit = peer_window;
    if (req->timeout_nano > 0)
        s->deadline = hvrpc__deadline_after_ns(req->timeout_nano);
    atomic_init(&s->refs, 2); /* the handler's and the table's */
    atomic_fetch_add(&sc->refs, 1);
    atomic_fetch_add(&sc->n_streams, 1);
    hvrpc__server_live_inc(srv);

    hvrpc__conn *c = &sc->conn;
    pthread_mutex_lock(&c->mu);
    bool ok = hvrpc__idmap_insert(&sc->streams, &s->node);
    s->in_table = ok;
    if (!ok)
        atomic_store(&s->refs, 1); /* no table holds it: the handler's only */
    /* A method the client does not stream to takes the request's payload
     * as its one message; a streaming one takes a non-empty payload as
     * its first message. */
    bool input_open =
        (m->kind & HVRPC_CLIENT_STREAMING) && (flags & HVRPC__FLAG_REMOTE_OPEN);
    if (ok && (!(m->kind & HVRPC_CLIENT_STREAMING) || req->payload.len))
        ok = hvrpc__stream_push_locked(s, req->payload.data, req->payload.len);
    /* The payload was in the request's frame, gone after this callback:
     * the stream has its copy (pushed above). */
    req->payload = (ProtobufCBinaryData){0, NULL};
    s->in_closed = !input_open;
    if (!ok) {
        server_abort_locked(s, HVRPC_RESOURCE_EXHAUSTED,
                            "out of memory for the stream");
    } else if (offered) {
        /* Always, so the client learns at once that this server does flow
         * control (and may reset streams). */
        hvrpc__stream_send_control_locked(s, 0, s->window);
    }
    pthread_mutex_unlock(&c->mu);

    hvrpc__server_live_inc(srv); /* the handler's thread */
    pthread_attr_t attr;
    pthread_attr_init(&attr);
    pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
    pthread_attr_setstacksize(&attr, HANDLER_STACK);
    pthread_t t; /* not in s: the thread may be done with s already */
    int err = pthread_create(&t, &attr, handler_main, s);
    pthread_attr_destroy(&attr);
    if (err) {
        hvrpc__server_live_dec(srv);
        pthread_mutex_lock(&c->mu);
        server_abort_locked(s, HVRPC_RESOURCE_EXHAUSTED,
                            "no thread for the stream's handler");
        pthread_mutex_unlock(&c->mu);
        hvrpc_stream_finish(s, HVRPC_RESOURCE_EXHAUSTED, NULL);
    }
}

void hvrpc__stream_conn_closed(hvrpc__sconn *sc, const hvrpc_status *why)
{
    hvrpc__conn *c = &sc->conn;
    pthread_mutex_lock(&c->mu);
    hvrpc__idnode *gone = hvrpc__idmap_take_all(&sc->streams);
    for (hvrpc__idnode *n = gone; n; n = n->next) {
        hvrpc_stream *s = HVRPC__CONTAINER_OF(n, hvrpc_stream, node);
        s->answered = true;
        s->out_closed = true;
        s->in_table = false;
        hvrpc__stream_end_locked(s, HVRPC_UNAVAILABLE, why->message);
    }
    pthread_mutex_unlock(&c->mu);
    while (gone) {
        hvrpc__idnode *next = gone->next;
        server_unref(HVRPC__CONTAINER_OF(gone, hvrpc_stream, node));
        gone = next;
    }
}

static void abort_for_stop_locked(hvrpc__idnode *n, void *arg)
{
    (void)arg;
    server_abort_locked(HVRPC__CONTAINER_OF(n, hvrpc_stream, node),
                        HVRPC_UNAVAILABLE, "the server is shutting down");
}

void hvrpc__stream_conn_stopping_locked(hvrpc__sconn *sc)
{
    hvrpc__idmap_each(&sc->streams, abort_for_stop_locked, NULL);
}

/* The handler's end: the last frame (unless the stream is over), out of
 * the table, both references dropped. */
static hvrpc_code finish(hvrpc_stream *s, hvrpc_code code, const char *msg,
                         const hvrpc__payload *payload)
{
    hvrpc__frame_buf f = {0};
    if (code == HVRPC_OK && (s->kind & HVRPC_SERVER_STREAMING)) {
        hvrpc__frame_buf_alloc(&f, s->node.id, HVRPC__FRAME_DATA,
                               HVRPC__FLAG_REMOTE_CLOSED | HVRPC__FLAG_NO_DATA,
                               0, 0);
    } else if (hvrpc__encode_response(s->node.id, code, msg, payload,
                                      s->max_frame, &f) != HVRPC_OK) {
        char why[128];
        snprintf(why, sizeof why, "reply exceeds the maximum frame of %u bytes",
                 s->max_frame);
        f.data = NULL;
        hvrpc__encode_response(s->node.id, HVRPC_RESOURCE_EXHAUSTED, why, NULL,
                               s->max_frame, &f);
    }
    hvrpc__conn *c = s->conn;
    hvrpc_code r = HVRPC_OK;
    pthread_mutex_lock(&c->mu);
    if (s->finished) {
        pthread_mutex_unlock(&c->mu);
        hvrpc__free(f.data);
        return HVRPC_FAILED_PRECONDITION;
    }
    s->finished = true;
    if (s->answered) {
        hvrpc__free(f.data);
        r = HVRPC_UNAVAILABLE;
    } else {
        s->answered = true;
        if (f.data)
            r = hvrpc__conn_send_locked(c, &f);
        else
            hvrpc__conn_abort_locked(c);
    }
    s->out_closed = true;
    hvrpc__stream_end_locked(s, code, msg ? msg : hvrpc_strerror(code));
    bool in_table = s->in_table;
    if (in_table) {
        hvrpc__idmap_remove(&s->sc->streams, s->node.id);
        s->in_table = false;
    }
    pthread_mutex_unlock(&c->mu);
    if (in_table)
        server_unref(s);
    server_unref(s);
    return r;
}

hvrpc_code hvrpc_stream_finish(hvrpc_stream *s, hvrpc_code code,
                               const char *fmt, ...)
{
    if (!s->server)
        return HVRPC_FAILED_PRECONDITION;
    char msg[HVRPC_STATUS_MESSAGE_MAX];
    if (fmt) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(msg, sizeof msg, fmt, ap);
        va_end(ap);
    } else {
        snprintf(msg, sizeof msg, "%s", hvrpc_strerror(code));
    }
    return finish(s, code, msg, NULL);
}

static hvrpc_code reply(hvrpc_stream *s, const hvrpc__payload *pl)
{
    if (!s->server)
        return HVRPC_FAILED_PRECONDITION;
    if (!(s->kind & HVRPC_SERVER_STREAMING))
        return finish(s, HVRPC_OK, NULL, pl);
    hvrpc_status st;
    hvrpc_code r = send_payload(s, pl, HVRPC_WAIT_FOREVER, &st);
    hvrpc_code f =
        finish(s, r == HVRPC_OK ? HVRPC_OK : st.code, st.message, NULL);
    return r == HVRPC_OK ? f : r;
}

hvrpc_code hvrpc_stream_reply(hvrpc_stream *s, const void *payload, size_t len)
{
    hvrpc__payload pl = {.data = payload, .len = len};
    return reply(s, &pl);
}

hvrpc_code hvrpc_stream_reply_message(hvrpc_stream *s,
                                      const ProtobufCMessage *msg)
{
    hvrpc__payload pl = {.msg = msg};
    return reply(s, &pl);
}

const hvrpc_peer *hvrpc_stream_peer(const hvrpc_stream *s)
{
    return s->server ? &s->sc->peer : NULL;
}

const char *hvrpc_stream_service(const hvrpc_stream *s)
{
    return s->req ? s->req->service : NULL;
}

const char *hvrpc_stream_method(const hvrpc_stream *s)
{
    return s->req ? s->req->method : NULL;
}

hvrpc_server *hvrpc_stream_server(const hvrpc_stream *s)
{
    return s->server ? s->sc->srv : NULL;
}

int64_t hvrpc_stream_deadline(const hvrpc_stream *s)
{
    return s->deadline;
}

size_t hvrpc_stream_metadata_count(const hvrpc_stream *s)
{
    return s->req ? s->req->n_metadata : 0;
}

void hvrpc_stream_metadata_at(const hvrpc_stream *s, size_t i, const char **key,
                              const char **value)
{
    if (!s->req || i >= s->req->n_metadata) {
        *key = *value = NULL;
        return;
    }
    *key = s->req->metadata[i]->key;
    *value = s->req->metadata[i]->value;
}

const char *hvrpc_stream_metadata_get(const hvrpc_stream *s, const char *key)
{
    for (size_t i = 0; s->req && i < s->req->n_metadata; i++)
        if (strcmp(s->req->metadata[i]->key, key) == 0)
            return s->req->metadata[i]->value;
    return NULL;
}
