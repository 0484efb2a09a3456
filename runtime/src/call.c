/*
 * call.c - one incoming call: its handler task, its deadline, its answer.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "alloc.h"
#include "clock.h"
#include "envelope.h"
#include "server_internal.h"

typedef struct hvrpc__release {
    void (*fn)(void *);
    void *arg;
    struct hvrpc__release *next;
} hvrpc__release;

static void call_unref(hvrpc_call *call)
{
    if (atomic_fetch_sub(&call->refs, 1) != 1)
        return;
    while (call->releases) {
        hvrpc__release *r = call->releases;
        call->releases = r->next;
        r->fn(r->arg);
    }
    hvrpc__sconn *sc = call->sc;
    hvrpc_server *srv = sc->srv;
    atomic_store(&sc->last_active, hvrpc__now_ns());
    atomic_fetch_sub(&sc->n_calls, 1);
    hvrpc__call_discard(call);
    hvrpc__server_peer_call_end(sc);
    hvrpc__sconn_unref(sc);
    hvrpc__server_live_dec(srv);
}

/* c->mu held. Takes the call out of its connection's list. */
static void unlink_locked(hvrpc_call *call)
{
    if (!call->linked)
        return;
    hvrpc__sconn *sc = call->sc;
    if (call->prev)
        call->prev->next = call->next;
    else
        sc->calls = call->next;
    if (call->next)
        call->next->prev = call->prev;
    call->linked = false;
}

/* Sends f, or, when no frame could be built (f->data NULL: out of
 * memory), closes the connection: its peer must not wait for an answer
 * that will never come. c->mu held. */
static hvrpc_code send_or_abort_locked(hvrpc__conn *c, hvrpc__frame_buf *f)
{
    if (f->data)
        return hvrpc__conn_send_locked(c, f);
    hvrpc__conn_abort_locked(c);
    return HVRPC_RESOURCE_EXHAUSTED;
}

/* Sends frame f as the call's answer unless it was answered already.
 * Returns OK, or UNAVAILABLE when the answer was dropped. */
static hvrpc_code send_answer(hvrpc_call *call, hvrpc__frame_buf *f)
{
    hvrpc__conn *c = &call->sc->conn;
    hvrpc_code r;
    pthread_mutex_lock(&c->mu);
    if (call->answered) {
        hvrpc__frame_buf_free(f);
        r = HVRPC_UNAVAILABLE;
    } else {
        call->answered = true;
        unlink_locked(call);
        r = send_or_abort_locked(c, f);
    }
    pthread_mutex_unlock(&c->mu);
    return r;
}

/* Encodes a status-only answer; NULL data when out of memory. */
static hvrpc__frame_buf status_frame(const hvrpc_call *call, hvrpc_code code,
                                     const char *msg)
{
    hvrpc__frame_buf f = {0};
    hvrpc__encode_response(call->stream_id, code, msg, NULL,
                           call->sc->srv->opts.max_frame, &f);
    return f;
}

void hvrpc__call_answer_locked(hvrpc_call *call, hvrpc_code code,
                               const char *msg)
{
    if (call->answered)
        return;
    call->answered = true;
    unlink_locked(call);
    hvrpc__frame_buf f = status_frame(call, code, msg);
    send_or_abort_locked(&call->sc->conn, &f);
}

/* The handler's answer: send it, then drop the handler's reference and,
 * if the deadline timer is still armed, the timer's. */
static hvrpc_code finish(hvrpc_call *call, hvrpc_code code, const char *msg,
                         const hvrpc__payload *payload)
{
    hvrpc_server *srv = call->sc->srv;
    hvrpc__frame_buf f = {0};
    /* A large request's frame may lend the answer what it echoes: the
     * frame then goes with the answer (the request is not the handler's
     * to read once it has answered). */
    hvrpc__payload pl = payload ? *payload : (hvrpc__payload){0};
    pl.lendable = call->frame;
    pl.lendable_len = call->frame_len;
    hvrpc_code r =
        hvrpc__encode_response(call->stream_id, code, msg, payload ? &pl : NULL,
                               srv->opts.max_frame, &f);
    if (r == HVRPC_OK && f.lent) {
        f.keep = call->frame;
        call->frame = NULL;
        call->frame_len = 0;
    }
    if (r != HVRPC_OK) {
        char why[128];
        snprintf(why, sizeof why, "reply exceeds the maximum frame of %u bytes",
                 srv->opts.max_frame);
        f = status_frame(call, HVRPC_RESOURCE_EXHAUSTED, why);
    }
    r = send_answer(call, &f);
    if (call->deadline &&
        hvrpc__loop_timer_stop(&srv->loop, &call->deadline_timer))
        call_unref(call);
    call_unref(call);
    return r;
}

static void on_deadline(hvrpc__timer *t)
{
    hvrpc_call *call =
        (hvrpc_call *)((char *)t - offsetof(hvrpc_call, deadline_timer));
    hvrpc__frame_buf f =
        status_frame(call, HVRPC_DEADLINE_EXCEEDED, "deadline exceeded");
    send_answer(call, &f);
    call_unref(call);
}

static void run_handler(hvrpc__task *t)
{
    hvrpc_call *call = (hvrpc_call *)((char *)t - offsetof(hvrpc_call, task));
    if (hvrpc_call_abandoned(call)) {
        /* Expired or orphaned while queued: no handler needs to see it. */
        finish(call, HVRPC_CANCELLED, NULL, NULL);
        return;
    }
    call->method->handler(call, call->req->payload.data, call->req->payload.len,
                          call->reg->user_data);
}

/* Arena bytes in the call block: the decoded envelope takes its size
 * (less its payload when that stays in the frame) plus a few hundred
 * bytes of structs; a typed request about as much again. What does not
 * fit goes to extra chunks. */
static size_t arena_size(size_t len, bool payload_in_frame)
{
    return (payload_in_frame ? len : 2 * len) + 1024;
}

hvrpc_call *hvrpc__call_alloc(size_t len, uint8_t *frame)
{
    size_t cap = arena_size(len, frame != NULL);
    hvrpc_call *call = hvrpc__malloc(sizeof *call + cap);
    if (!call) {
        hvrpc__free(frame);
        return NULL;
    }
    memset(call, 0, sizeof *call);
    call->frame = frame;
    call->frame_len = frame ? len : 0;
    hvrpc__arena_init(&call->arena, (uint8_t *)(call + 1), cap);
    return call;
}

void hvrpc__call_discard(hvrpc_call *call)
{
    hvrpc__arena_release(&call->arena);
    hvrpc__free(call->frame);
    hvrpc__free(call);
}

ProtobufCAllocator *hvrpc__call_allocator(hvrpc_call *call)
{
    return &call->arena.pb;
}

bool hvrpc__call_holds(const hvrpc_call *call, const uint8_t *p, size_t n)
{
    return hvrpc__lies_within(p, n, call->frame, call->frame_len);
}

void hvrpc__call_init(hvrpc_call *call, hvrpc__sconn *sc, uint32_t stream_id,
                      Ttrpc__Request *req, const hvrpc__registration *reg,
                      const hvrpc_method *m)
{
    call->sc = sc;
    call->stream_id = stream_id;
    call->req = req;
    call->reg = reg;
    call->method = m;
    call->task.fn = run_handler;
    call->deadline_timer.fn = on_deadline;
    atomic_init(&call->refs, 1);
    atomic_fetch_add(&sc->refs, 1);
    atomic_fetch_add(&sc->n_calls, 1);
    hvrpc__server_live_inc(sc->srv);

    pthread_mutex_lock(&sc->conn.mu);
    call->next = sc->calls;
    if (sc->calls)
        sc->calls->prev = call;
    sc->calls = call;
    call->linked = true;
    pthread_mutex_unlock(&sc->conn.mu);
}

void hvrpc__call_start(hvrpc_call *call)
{
    hvrpc_server *srv = call->sc->srv;
    int64_t timeout = call->req->timeout_nano;
    if (timeout > 0) {
        call->deadline = hvrpc__deadline_after_ns(timeout);
        atomic_fetch_add(&call->refs, 1);
        if (!hvrpc__loop_timer_start(&srv->loop, &call->deadline_timer,
                                     call->deadline)) {
            call->deadline = 0;
            atomic_fetch_sub(&call->refs, 1);
            finish(call, HVRPC_RESOURCE_EXHAUSTED,
                   "out of memory for the call's deadline", NULL);
            return;
        }
    }
    if (srv->opts.inline_handlers ||
        (call->method->flags & HVRPC_METHOD_INLINE))
        run_handler(&call->task); /* no hand-off: this is the loop thread */
    else
        hvrpc__workers_push(&srv->workers, &call->task);
}

/* --- the public face of a call ----------------------------------------- */

const hvrpc_peer *hvrpc_call_peer(const hvrpc_call *call)
{
    return &call->sc->peer;
}

const char *hvrpc_call_service(const hvrpc_call *call)
{
    return call->req->service;
}

const char *hvrpc_call_method(const hvrpc_call *call)
{
    return call->req->method;
}

hvrpc_server *hvrpc_call_server(const hvrpc_call *call)
{
    return call->sc->srv;
}

int64_t hvrpc_call_deadline(const hvrpc_call *call)
{
    return call->deadline;
}

bool hvrpc_call_abandoned(const hvrpc_call *call)
{
    hvrpc__conn *c = &call->sc->conn;
    pthread_mutex_lock(&c->mu);
    bool done = call->answered;
    pthread_mutex_unlock(&c->mu);
    return done;
}

size_t hvrpc_call_metadata_count(const hvrpc_call *call)
{
    return call->req->n_metadata;
}

void hvrpc_call_metadata_at(const hvrpc_call *call, size_t i, const char **key,
                            const char **value)
{
    if (i >= call->req->n_metadata) {
        *key = *value = NULL;
        return;
    }
    *key = call->req->metadata[i]->key;
    *value = call->req->metadata[i]->value;
}

const char *hvrpc_call_metadata_get(const hvrpc_call *call, const char *key)
{
    for (size_t i = 0; i < call->req->n_metadata; i++)
        if (strcmp(call->req->metadata[i]->key, key) == 0)
            return call->req->metadata[i]->value;
    return NULL;
}

hvrpc_code hvrpc_call_on_release(hvrpc_call *call, void (*fn)(void *),
                                 void *arg, hvrpc_status *st)
{
    hvrpc__release *r = hvrpc__arena_alloc(&call->arena, sizeof *r);
    if (!r)
        return hvrpc_status_set(st, HVRPC_RESOURCE_EXHAUSTED,
                                "out of memory for a release function");
    r->fn = fn;
    r->arg = arg;
    r->next = call->releases;
    call->releases = r;
    return HVRPC_OK;
}

hvrpc_code hvrpc_call_reply(hvrpc_call *call, const void *payload, size_t len)
{
    hvrpc__payload pl = {.data = payload, .len = len};
    return finish(call, HVRPC_OK, NULL, &pl);
}

hvrpc_code hvrpc_call_reply_message(hvrpc_call *call,
                                    const ProtobufCMessage *msg)
{
    hvrpc__payload pl = {.msg = msg};
    return finish(call, HVRPC_OK, NULL, &pl);
}

hvrpc_code hvrpc_call_fail(hvrpc_call *call, hvrpc_code code, const char *fmt,
                           ...)
{
    char msg[HVRPC_STATUS_MESSAGE_MAX];
    if (code == HVRPC_OK)
        code = HVRPC_UNKNOWN;
    if (fmt) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(msg, sizeof msg, fmt, ap);
        va_end(ap);
    } else {
        snprintf(msg, sizeof msg, "%s", hvrpc_strerror(code));
    }
    return finish(call, code, msg, NULL);
}
