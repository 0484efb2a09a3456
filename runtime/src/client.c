/*
 * client.c - one connection, many concurrent calls.
 *
 * Every call is a pending entry keyed by its stream id. It is completed on
 * the client's loop thread, exactly once, by whichever comes first: its
 * Response, its deadline timer, or the connection closing. Since all of
 * those run on that one thread, a pending entry is only ever freed there
 * (or in hvrpc_client_free, after the thread has been joined).
 */
#include <stdio.h>
#include <semaphore.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "alloc.h"
#include "clock.h"
#include "conn.h"
#include "envelope.h"
#include "log.h"
#include "options.h"
#include "stream_internal.h"
#include "ttrpc/request.pb-c.h"

#include "hvrpc/service.h"

#define INITIAL_BUCKETS 64
/* Client stream ids are odd; the last usable one is UINT32_MAX. */
#define LAST_STREAM_ID UINT32_MAX

typedef struct waiter waiter;

/* A unary call's copy of what it sent, for the options' observer. */
typedef struct observed {
    hvrpc_call_record r; /* strings and bytes point into this allocation */
} observed;

typedef struct pending {
    hvrpc_client *c;
    uint32_t id;
    hvrpc__timer timer;
    hvrpc_done_fn done;
    void *arg;
    waiter *w; /* set for blocking calls instead of done */
    /* Set for hvrpc_client_invoke_async() instead of done. */
    hvrpc_message_done_fn mdone;
    const ProtobufCMessageDescriptor *rtype;
    /* Set for a stream: its frames go there, and it is never completed
     * through the functions below (stream.c and the stream section). */
    hvrpc_stream *stream;
    observed *obs;        /* set when the client has an observer */
    struct pending *next; /* hash chain */
} pending;

struct hvrpc_client {
    hvrpc_client_options opts;
    hvrpc__logger log;
    hvrpc__loop loop;
    hvrpc__conn conn; /* conn.mu guards the fields below */
    uint32_t next_id;
    pending **buckets;
    size_t n_buckets; /* a power of two */
    size_t n_pending;
    bool broken;
    hvrpc_status broken_why;
};

/* A blocking call waits on this, on its own stack. A semaphore, not a
 * condition variable: the waker posts once and never touches it again,
 * and the woken caller need not fight for a mutex still held. */
struct waiter {
    sem_t done;
    hvrpc_status st;
    hvrpc_buf resp;
};

void hvrpc_client_options_init(hvrpc_client_options *o)
{
    memset(o, 0, sizeof *o);
    o->size = sizeof *o;
    o->max_frame = HVRPC_DEFAULT_MAX_FRAME;
    o->connect_timeout_ms = 5000;
}

void hvrpc_buf_free(hvrpc_buf *b)
{
    if (!b)
        return;
    hvrpc__free(b->data);
    b->data = NULL;
    b->len = 0;
}

/* --- the pending table (conn.mu held) ----------------------------------- */

static size_t bucket_of(const hvrpc_client *c, uint32_t id)
{
    return (id >> 1) & (c->n_buckets - 1);
}

static bool table_insert(hvrpc_client *c, pending *p)
{
    if (c->n_pending >= 2 * c->n_buckets) {
        size_t n = 2 * c->n_buckets;
        pending **b = hvrpc__calloc(n, sizeof *b);
        if (!b)
            return false;
        for (size_t i = 0; i < c->n_buckets; i++) {
            pending *q = c->buckets[i];
            while (q) {
                pending *next = q->next;
                size_t j = (q->id >> 1) & (n - 1);
                q->next = b[j];
                b[j] = q;
                q = next;
            }
        }
        hvrpc__free(c->buckets);
        c->buckets = b;
        c->n_buckets = n;
    }
    size_t i = bucket_of(c, p->id);
    p->next = c->buckets[i];
    c->buckets[i] = p;
    c->n_pending++;
    return true;
}

static pending *table_find(hvrpc_client *c, uint32_t id)
{
    for (pending *p = c->buckets[bucket_of(c, id)]; p; p = p->next)
        if (p->id == id)
            return p;
    return NULL;
}

static pending *table_remove(hvrpc_client *c, uint32_t id)
{
    for (pending **pp = &c->buckets[bucket_of(c, id)]; *pp; pp = &(*pp)->next) {
        pending *p = *pp;
        if (p->id == id) {
            *pp = p->next;
            c->n_pending--;
            return p;
        }
    }
    return NULL;
}

/* --- completion (loop thread, no lock held) ------------------------------ */

/* Decodes the response of a typed call. A payload that is not a
 * response_type means the server broke the contract: INTERNAL. */
static hvrpc_code decode_response(const ProtobufCMessageDescriptor *type,
                                  const uint8_t *data, size_t len,
                                  ProtobufCMessage **out, hvrpc_status *st)
{
    hvrpc_status why;
    if (hvrpc_message_unpack(type, data, len, out, &why) == HVRPC_OK)
        return HVRPC_OK;
    return hvrpc_status_set(st, HVRPC_INTERNAL, "malformed response: %s",
                            why.message);
}

static void complete_message(pending *p, const hvrpc_status *st,
                             const uint8_t *payload, size_t len)
{
    hvrpc_status dst = *st;
    ProtobufCMessage *msg = NULL;
    if (st->code == HVRPC_OK)
        decode_response(p->rtype, payload, len, &msg, &dst);
    p->mdone(&dst, msg, p->arg);
}

/* Shows the call to the client's observer, then drops the copy. */
static void observe(pending *p, const hvrpc_status *st, const uint8_t *payload,
                    size_t len)
{
    observed *o = p->obs;
    o->r.status = *st;
    o->r.response = st->code == HVRPC_OK ? payload : NULL;
    o->r.response_len = st->code == HVRPC_OK ? len : 0;
    p->c->opts.observer(&o->r, p->c->opts.observer_arg);
    hvrpc__free(o);
    p->obs = NULL;
}

/* Ends a call. For a blocking call the payload moves to its waiter. */
static void complete(pending *p, const hvrpc_status *st, uint8_t *payload,
                     size_t len)
{
    if (p->obs)
        observe(p, st, payload, len);
    if (p->w) {
        waiter *w = p->w;
        w->st = *st;
        if (st->code == HVRPC_OK && len) {
            w->resp.data = hvrpc__malloc(len);
            if (w->resp.data) {
                memcpy(w->resp.data, payload, len);
                w->resp.len = len;
            } else {
                hvrpc_status_set(&w->st, HVRPC_RESOURCE_EXHAUSTED,
                                 "out of memory for a %zu-byte response", len);
            }
        }
        sem_post(&w->done); /* w may be gone from here on */
    } else if (p->mdone) {
        complete_message(p, st, payload, len);
    } else {
        p->done(st, st->code == HVRPC_OK ? payload : NULL,
                st->code == HVRPC_OK ? len : 0, p->arg);
    }
    hvrpc__free(p);
}

static void complete_status(pending *p, hvrpc_code code, const char *msg)
{
    hvrpc_status st;
    hvrpc_status_set(&st, code, "%s", msg);
    complete(p, &st, NULL, 0);
}

static void on_deadline(hvrpc__timer *t)
{
    pending *p = (pending *)((char *)t - offsetof(pending, timer));
    hvrpc_client *c = p->c;
    pthread_mutex_lock(&c->conn.mu);
    table_remove(c, p->id);
    pthread_mutex_unlock(&c->conn.mu);
    complete_status(p, HVRPC_DEADLINE_EXCEEDED, "deadline exceeded");
}

/* Takes the pending entry of stream id out of the table, disarming its
 * timer; NULL for a stream we no longer wait for (it timed out). */
static pending *take(hvrpc_client *c, uint32_t id)
{
    pthread_mutex_lock(&c->conn.mu);
    pending *p = table_remove(c, id);
    pthread_mutex_unlock(&c->conn.mu);
    if (p)
        hvrpc__loop_timer_stop(&c->loop, &p->timer);
    return p;
}

static void on_response(pending *p, const uint8_t *data, uint32_t len)
{
    unsigned long failures = hvrpc__alloc_failures();
    Ttrpc__Response *resp =
        ttrpc__response__unpack(&hvrpc__pb_allocator, len, data);
    if (!resp) {
        if (hvrpc__alloc_failures() != failures)
            complete_status(p, HVRPC_RESOURCE_EXHAUSTED,
                            "out of memory decoding the response");
        else
            complete_status(p, HVRPC_INTERNAL,
                            "malformed response: not a ttrpc Response "
                            "message");
        return;
    }
    hvrpc_status st;
    hvrpc_status_clear(&st);
    /* A missing status, or code 0, means OK. */
    if (resp->status && resp->status->code != 0) {
        hvrpc_code code = hvrpc_code_from_wire(resp->status->code);
        hvrpc_status_set(&st, code, "%s",
                         resp->status->message && resp->status->message[0]
                             ? resp->status->message
                             : hvrpc_strerror(code));
    }
    complete(p, &st, resp->payload.data, resp->payload.len);
    ttrpc__response__free_unpacked(resp, &hvrpc__pb_allocator);
}

static void stream_frame_locked(hvrpc_stream *s, const hvrpc__frame_header *h,
                                const uint8_t *data, bool oversize);

static int client_on_frame(hvrpc__conn *conn, const hvrpc__frame_header *h,
                           const uint8_t *data, bool oversize)
{
    hvrpc_client *c =
        (hvrpc_client *)((char *)conn - offsetof(hvrpc_client, conn));
    if (h->type == HVRPC__FRAME_RESPONSE || h->type == HVRPC__FRAME_DATA ||
        h->type == HVRPC__FRAME_WINDOW) {
        pthread_mutex_lock(&conn->mu);
        pending *sp = table_find(c, h->stream_id);
        hvrpc_stream *s = sp ? sp->stream : NULL;
        if (s)
            stream_frame_locked(s, h, data, oversize);
        pthread_mutex_unlock(&conn->mu);
        if (s || h->type != HVRPC__FRAME_RESPONSE)
            return 0; /* Data for no stream of ours: dropped */
    }
    if (h->type != HVRPC__FRAME_RESPONSE)
        return 0;
    pending *p = take(c, h->stream_id);
    if (!p)
        return 0;
    if (oversize) {
        hvrpc_status st;
        hvrpc_status_set(&st, HVRPC_RESOURCE_EXHAUSTED,
                         "response of %u bytes exceeds the maximum frame of "
                         "%u bytes",
                         h->length, c->opts.max_frame);
        complete(p, &st, NULL, 0);
        return 0;
    }
    on_response(p, data, h->length);
    return 0;
}

/* The connection is gone: every pending call fails now, with why. */
static void client_on_close(hvrpc__conn *conn, const hvrpc_status *why)
{
    hvrpc_client *c =
        (hvrpc_client *)((char *)conn - offsetof(hvrpc_client, conn));
    pending *all = NULL;
    pthread_mutex_lock(&conn->mu);
    c->broken = true;
    c->broken_why = *why;
    for (size_t i = 0; i < c->n_buckets; i++) {
        pending *p = c->buckets[i];
        while (p) {
            pending *next = p->next;
            if (p->stream) {
                p->stream->in_table = false;
                hvrpc__stream_end_locked(p->stream, why->code, why->message);
                hvrpc__free(p);
            } else {
                p->next = all;
                all = p;
            }
            p = next;
        }
        c->buckets[i] = NULL;
    }
    c->n_pending = 0;
    pthread_mutex_unlock(&conn->mu);
    hvrpc__log(&c->log, HVRPC_LOG_DEBUG, "connection closed: %s", why->message);
    while (all) {
        pending *next = all->next;
        hvrpc__loop_timer_stop(&c->loop, &all->timer);
        hvrpc_status st;
        hvrpc_status_set(&st, why->code, "%s", why->message);
        complete(all, &st, NULL, 0);
        all = next;
    }
}

static const hvrpc__conn_ops client_conn_ops = {
    .on_frame = client_on_frame,
    .on_close = client_on_close,
};

/* --- connect and free ------------------------------------------------------
 */

hvrpc_code hvrpc_client_connect(const char *uri,
                                const hvrpc_client_options *opts,
                                hvrpc_client **out, hvrpc_status *st)
{
    hvrpc_client_options o;
    hvrpc_client_options_init(&o);
    hvrpc_code code;
    if (opts) {
        code = hvrpc__check_options_size("client options", opts->size, sizeof o,
                                         st);
        if (code != HVRPC_OK)
            return code;
        o = *opts;
    }
    code = hvrpc__check_max_frame("client options", o.max_frame, st);
    if (code != HVRPC_OK)
        return code;
    hvrpc_address a;
    code = hvrpc_address_parse(uri, &a, st);
    if (code != HVRPC_OK)
        return code;
    const hvrpc__transport *tp = hvrpc__transport_for(a.kind);
    int64_t deadline =
        o.connect_timeout_ms
            ? hvrpc__deadline_after_ns((int64_t)o.connect_timeout_ms *
                                       HVRPC__NS_PER_MS)
            : 0;
    int fd;
    code = tp->connect(&a, deadline, &fd, st);
    if (code != HVRPC_OK)
        return code;

    hvrpc_client *c = hvrpc__calloc(1, sizeof *c);
    pending **buckets = hvrpc__calloc(INITIAL_BUCKETS, sizeof *buckets);
    if (!c || !buckets) {
        hvrpc__free(c);
        hvrpc__free(buckets);
        hvrpc__sock_close(fd);
        return hvrpc_status_set(st, HVRPC_RESOURCE_EXHAUSTED,
                                "out of memory for the client");
    }
    c->opts = o;
    c->log.fn = o.log;
    c->log.arg = o.log_arg;
    c->next_id = 1;
    c->buckets = buckets;
    c->n_buckets = INITIAL_BUCKETS;
    code = hvrpc__loop_init(&c->loop, st);
    if (code != HVRPC_OK) {
        hvrpc__sock_close(fd);
        hvrpc__free(buckets);
        hvrpc__free(c);
        return code;
    }
    hvrpc__conn_init(&c->conn, &c->loop, tp, fd, &client_conn_ops, o.max_frame);
    if (hvrpc__conn_start(&c->conn) != 0)
        code =
            hvrpc_status_set(st, HVRPC_INTERNAL, "cannot watch the connection");
    else
        code = hvrpc__loop_start(&c->loop, st);
    if (code != HVRPC_OK) {
        hvrpc__sock_close(fd);
        hvrpc__conn_destroy(&c->conn);
        hvrpc__loop_destroy(&c->loop);
        hvrpc__free(buckets);
        hvrpc__free(c);
        return code;
    }
    *out = c;
    return HVRPC_OK;
}

void hvrpc_client_free(hvrpc_client *c)
{
    if (!c)
        return;
    hvrpc__loop_stop(&c->loop);
    /* The loop is joined: closing here completes what is still pending. */
    hvrpc__conn_close(&c->conn, HVRPC_CANCELLED, "the client was freed");
    hvrpc__conn_destroy(&c->conn);
    hvrpc__loop_destroy(&c->loop);
    hvrpc__free(c->buckets);
    hvrpc__free(c);
}

/* --- calls ------------------------------------------------------------------
 */

/* What a Request frame carries besides service, method and payload. */
typedef struct request_extras {
    uint32_t timeout_ms;
    const hvrpc_metadata *md;
    size_t n_md;
    uint8_t flags; /* the frame's flags (streams) */
} request_extras;

static hvrpc_code check_request(const char *service, const char *method,
                                const hvrpc_metadata *md, size_t n_md,
                                hvrpc_status *st)
{
    if (!service || !method)
        return hvrpc_status_set(st, HVRPC_INVALID_ARGUMENT,
                                "service and method are required");
    for (size_t i = 0; i < n_md; i++)
        if (!md[i].key || !md[i].value)
            return hvrpc_status_set(st, HVRPC_INVALID_ARGUMENT,
                                    "metadata entry %zu has a NULL key or "
                                    "value",
                                    i);
    return HVRPC_OK;
}

/* Sends the Request of p (a call, or a stream when p->stream is set). */
static hvrpc_code start_request(hvrpc_client *c, const char *service,
                                const char *method, const hvrpc__payload *pl,
                                const request_extras *x, pending *p,
                                hvrpc_status *st)
{
    int64_t timeout_ns = (int64_t)x->timeout_ms * HVRPC__NS_PER_MS;
    hvrpc__frame_buf f;
    hvrpc_code code =
        hvrpc__encode_request(0, service, method, pl, timeout_ns, x->md,
                              x->n_md, c->opts.max_frame, &f, st);
    if (code != HVRPC_OK)
        return code;
    f.data[9] = x->flags; /* the header's flags byte (frame.h) */

    p->c = c;
    p->timer.fn = on_deadline;
    pthread_mutex_lock(&c->conn.mu);
    if (c->broken) {
        code = hvrpc_status_set(st,
                                c->broken_why.code == HVRPC_CANCELLED
                                    ? HVRPC_CANCELLED
                                    : HVRPC_UNAVAILABLE,
                                "connection lost: %s", c->broken_why.message);
    } else if (c->next_id == 0 || c->next_id > LAST_STREAM_ID - 1) {
        code = hvrpc_status_set(st, HVRPC_RESOURCE_EXHAUSTED,
                                "stream ids exhausted on this connection: "
                                "connect a new client");
    } else {
        p->id = c->next_id;
        if (!table_insert(c, p))
            code = hvrpc_status_set(st, HVRPC_RESOURCE_EXHAUSTED,
                                    "out of memory for a pending call");
    }
    if (code == HVRPC_OK && p->stream) {
        /* A stream has no timer: its waits end at its deadline. */
        p->stream->id = p->id;
        p->stream->in_table = true;
        if (timeout_ns > 0)
            p->stream->deadline = hvrpc__deadline_after_ns(timeout_ns);
    } else if (code == HVRPC_OK && timeout_ns > 0 &&
               !hvrpc__loop_timer_start(&c->loop, &p->timer,
                                        hvrpc__deadline_after_ns(timeout_ns))) {
        table_remove(c, p->id);
        code = hvrpc_status_set(st, HVRPC_RESOURCE_EXHAUSTED,
                                "out of memory for the call's deadline");
    }
    if (code != HVRPC_OK) {
        pthread_mutex_unlock(&c->conn.mu);
        hvrpc__free(f.data);
        return code;
    }
    /* Ids are taken and frames queued under one lock, so they leave in
     * increasing order, as the server requires. */
    c->next_id += 2;
    hvrpc__frame_set_stream(&f, p->id);
    /* A failed send breaks the connection; closing it then fails this
     * call through the table like every other. */
    hvrpc__conn_send_locked(&c->conn, &f);
    pthread_mutex_unlock(&c->conn.mu);
    return HVRPC_OK;
}

/* Copies what a call sends, in one allocation, for the observer. */
static observed *observed_new(const char *service, const char *method,
                              const hvrpc__payload *pl,
                              const hvrpc_call_options *opts)
{
    size_t req_len =
        pl->msg ? protobuf_c_message_get_packed_size(pl->msg) : pl->len;
    size_t n = sizeof(observed) + strlen(service) + strlen(method) + 2 +
               req_len + opts->n_metadata * sizeof(hvrpc_metadata);
    for (size_t i = 0; i < opts->n_metadata; i++)
        n +=
            strlen(opts->metadata[i].key) + strlen(opts->metadata[i].value) + 2;
    observed *o = hvrpc__calloc(1, n);
    if (!o)
        return NULL;
    /* The metadata array first (aligned after the struct), then bytes. */
    hvrpc_metadata *md = (hvrpc_metadata *)(o + 1);
    char *at = (char *)(md + opts->n_metadata);
    o->r.metadata = md;
    o->r.n_metadata = opts->n_metadata;
    o->r.timeout_ms = opts->timeout_ms;
    for (size_t i = 0; i < opts->n_metadata; i++) {
        md[i].key = strcpy(at, opts->metadata[i].key);
        at += strlen(at) + 1;
        md[i].value = strcpy(at, opts->metadata[i].value);
        at += strlen(at) + 1;
    }
    o->r.service = strcpy(at, service);
    at += strlen(at) + 1;
    o->r.method = strcpy(at, method);
    at += strlen(at) + 1;
    if (pl->msg)
        protobuf_c_message_pack(pl->msg, (uint8_t *)at);
    else if (req_len)
        memcpy(at, pl->data, req_len);
    o->r.request = (const uint8_t *)at;
    o->r.request_len = req_len;
    return o;
}

static hvrpc_code start_call(hvrpc_client *c, const char *service,
                             const char *method, const hvrpc__payload *pl,
                             const hvrpc_call_options *opts, pending *p,
                             hvrpc_status *st)
{
    hvrpc_call_options none = HVRPC_CALL_OPTIONS_INIT;
    if (!opts)
        opts = &none;
    hvrpc_code code =
        hvrpc__check_options_size("call options", opts->size, sizeof *opts, st);
    if (code != HVRPC_OK)
        return code;
    code = check_request(service, method, opts->metadata, opts->n_metadata, st);
    if (code != HVRPC_OK)
        return code;
    request_extras x = {opts->timeout_ms, opts->metadata, opts->n_metadata, 0};
    if (c->opts.observer) {
        p->obs = observed_new(service, method, pl, opts);
        if (!p->obs)
            return hvrpc_status_set(st, HVRPC_RESOURCE_EXHAUSTED,
                                    "out of memory recording the call for "
                                    "the client's observer");
    }
    code = start_request(c, service, method, pl, &x, p, st);
    if (code != HVRPC_OK) {
        hvrpc__free(p->obs);
        p->obs = NULL;
    }
    return code;
}

hvrpc_code hvrpc_client_call_async(hvrpc_client *c, const char *service,
                                   const char *method, const void *request,
                                   size_t request_len,
                                   const hvrpc_call_options *opts,
                                   hvrpc_done_fn done, void *arg,
                                   hvrpc_status *st)
{
    if (!done)
        return hvrpc_status_set(st, HVRPC_INVALID_ARGUMENT,
                                "a completion callback is required");
    pending *p = hvrpc__calloc(1, sizeof *p);
    if (!p)
        return hvrpc_status_set(st, HVRPC_RESOURCE_EXHAUSTED,
                                "out of memory for a call");
    p->done = done;
    p->arg = arg;
    hvrpc__payload pl = {.data = request, .len = request_len};
    hvrpc_code code = start_call(c, service, method, &pl, opts, p, st);
    if (code != HVRPC_OK)
        hvrpc__free(p);
    return code;
}

static hvrpc_code call_blocking(hvrpc_client *c, const char *service,
                                const char *method, const hvrpc__payload *pl,
                                const hvrpc_call_options *opts, hvrpc_buf *resp,
                                hvrpc_status *st)
{
    if (resp) {
        resp->data = NULL;
        resp->len = 0;
    }
    if (hvrpc__loop_in_thread(&c->loop))
        return hvrpc_status_set(st, HVRPC_FAILED_PRECONDITION,
                                "a blocking call from a completion callback "
                                "of the same client would deadlock");
    pending *p = hvrpc__calloc(1, sizeof *p);
    if (!p)
        return hvrpc_status_set(st, HVRPC_RESOURCE_EXHAUSTED,
                                "out of memory for a call");
    waiter w;
    memset(&w, 0, sizeof w);
    sem_init(&w.done, 0, 0);
    p->w = &w;
    hvrpc_code code = start_call(c, service, method, pl, opts, p, st);
    if (code != HVRPC_OK) {
        hvrpc__free(p);
    } else {
        while (sem_wait(&w.done) != 0)
            ; /* EINTR */
        code = w.st.code;
        if (st)
            *st = w.st;
        if (resp && code == HVRPC_OK)
            *resp = w.resp;
        else
            hvrpc__free(w.resp.data);
    }
    sem_destroy(&w.done);
    return code;
}

hvrpc_code hvrpc_client_call(hvrpc_client *c, const char *service,
                             const char *method, const void *request,
                             size_t request_len, const hvrpc_call_options *opts,
                             hvrpc_buf *resp, hvrpc_status *st)
{
    hvrpc__payload pl = {.data = request, .len = request_len};
    return call_blocking(c, service, method, &pl, opts, resp, st);
}

hvrpc_code hvrpc_client_call_message(hvrpc_client *c, const char *service,
                                     const char *method,
                                     const ProtobufCMessage *request,
                                     const hvrpc_call_options *opts,
                                     hvrpc_buf *resp, hvrpc_status *st)
{
    hvrpc__payload pl = {.msg = request};
    return call_blocking(c, service, method, &pl, opts, resp, st);
}

hvrpc_code hvrpc_client_invoke(hvrpc_client *c, const char *service,
                               const char *method,
                               const ProtobufCMessage *request,
                               const ProtobufCMessageDescriptor *response_type,
                               const hvrpc_call_options *opts,
                               ProtobufCMessage **resp, hvrpc_status *st)
{
    *resp = NULL;
    if (!request || !response_type)
        return hvrpc_status_set(st, HVRPC_INVALID_ARGUMENT,
                                "request and response type are required");
    hvrpc__payload pl = {.msg = request};
    hvrpc_buf buf;
    hvrpc_code code = call_blocking(c, service, method, &pl, opts, &buf, st);
    if (code != HVRPC_OK)
        return code;
    code = decode_response(response_type, buf.data, buf.len, resp, st);
    hvrpc_buf_free(&buf);
    return code;
}

hvrpc_code
hvrpc_client_invoke_async(hvrpc_client *c, const char *service,
                          const char *method, const ProtobufCMessage *request,
                          const ProtobufCMessageDescriptor *response_type,
                          const hvrpc_call_options *opts,
                          hvrpc_message_done_fn done, void *arg,
                          hvrpc_status *st)
{
    if (!request || !response_type || !done)
        return hvrpc_status_set(st, HVRPC_INVALID_ARGUMENT,
                                "request, response type and completion "
                                "callback are required");
    pending *p = hvrpc__calloc(1, sizeof *p);
    if (!p)
        return hvrpc_status_set(st, HVRPC_RESOURCE_EXHAUSTED,
                                "out of memory for a call");
    p->mdone = done;
    p->rtype = response_type;
    p->arg = arg;
    hvrpc__payload pl = {.msg = request};
    hvrpc_code code = start_call(c, service, method, &pl, opts, p, st);
    if (code != HVRPC_OK)
        hvrpc__free(p);
    return code;
}

/* --- streams ------------------------------------------------------------- */

void hvrpc__client_stream_forget_locked(hvrpc_stream *s)
{
    if (!s->in_table)
        return;
    hvrpc__free(table_remove(s->client, s->id));
    s->in_table = false;
}

void hvrpc__client_stream_abort_locked(hvrpc_stream *s, hvrpc_code code,
                                       const char *msg)
{
    if (s->done)
        return;
    hvrpc__stream_end_locked(s, code, msg);
    if (!s->in_table)
        return;
    /* An hvrpc server (it granted a window) forgets the stream at a reset;
     * a plain ttrpc server only learns that this side has closed. */
    if (s->grant_seen)
        hvrpc__stream_send_control_locked(s, HVRPC__FLAG_RESET, 0);
    else if (!s->out_closed)
        hvrpc__stream_send_close_locked(s);
    s->out_closed = true;
    hvrpc__client_stream_forget_locked(s);
}

/* The server's Response ends the stream with its status; an OK one
 * carries the response of a client-streaming call. */
static void stream_response_locked(hvrpc_stream *s, const uint8_t *data,
                                   uint32_t len, bool oversize)
{
    hvrpc__client_stream_forget_locked(s);
    s->in_closed = true;
    if (oversize) {
        hvrpc__stream_end_locked(s, HVRPC_RESOURCE_EXHAUSTED,
                                 "response exceeds the maximum frame");
        return;
    }
    unsigned long failures = hvrpc__alloc_failures();
    Ttrpc__Response *resp =
        ttrpc__response__unpack(&hvrpc__pb_allocator, len, data);
    if (!resp) {
        hvrpc__stream_end_locked(s,
                                 hvrpc__alloc_failures() != failures
                                     ? HVRPC_RESOURCE_EXHAUSTED
                                     : HVRPC_INTERNAL,
                                 "malformed response: not a ttrpc Response "
                                 "message");
        return;
    }
    hvrpc_code code = HVRPC_OK;
    const char *msg = "ok";
    if (resp->status && resp->status->code != 0) {
        code = hvrpc_code_from_wire(resp->status->code);
        msg = resp->status->message && resp->status->message[0]
                  ? resp->status->message
                  : hvrpc_strerror(code);
    }
    if (code == HVRPC_OK &&
        (resp->payload.len || !(s->kind & HVRPC_SERVER_STREAMING)) &&
        !hvrpc__stream_push_locked(s, resp->payload.data, resp->payload.len)) {
        code = HVRPC_RESOURCE_EXHAUSTED;
        msg = "out of memory for the response";
    }
    hvrpc__stream_end_locked(s, code, msg);
    ttrpc__response__free_unpacked(resp, &hvrpc__pb_allocator);
}

static void stream_frame_locked(hvrpc_stream *s, const hvrpc__frame_header *h,
                                const uint8_t *data, bool oversize)
{
    if (h->type == HVRPC__FRAME_WINDOW) {
        if (!oversize)
            hvrpc__stream_on_window_locked(s, h->flags, data, h->length);
        return;
    }
    /* An hvrpc server grants before anything else on the stream: one that
     * has not is a plain ttrpc server, and knows no windows. */
    if (!s->grant_seen)
        s->windowed = false;
    if (h->type == HVRPC__FRAME_RESPONSE) {
        stream_response_locked(s, data, h->length, oversize);
        return;
    }
    hvrpc__stream_on_data_locked(s, h->flags, data, h->length, oversize);
    if (s->in_closed && !s->done) {
        /* The server's clean end of its half ends the call. */
        hvrpc__client_stream_forget_locked(s);
        hvrpc__stream_end_locked(s, HVRPC_OK, "ok");
    }
}

static hvrpc_code open_stream(hvrpc_client *c, const char *service,
                              const char *method, hvrpc_method_kind kind,
                              const hvrpc__payload *pl,
                              const hvrpc_stream_options *opts,
                              hvrpc_stream **out, hvrpc_status *st)
{
    *out = NULL;
    hvrpc_stream_options none = HVRPC_STREAM_OPTIONS_INIT;
    if (!opts)
        opts = &none;
    hvrpc_code code = hvrpc__check_options_size("stream options", opts->size,
                                                sizeof *opts, st);
    if (code != HVRPC_OK)
        return code;
    if (kind < HVRPC_CLIENT_STREAMING || kind > HVRPC_BIDI_STREAMING)
        return hvrpc_status_set(st, HVRPC_INVALID_ARGUMENT,
                                "kind %d is not a streaming kind", (int)kind);
    if ((kind & HVRPC_CLIENT_STREAMING) && (pl->msg || pl->len))
        return hvrpc_status_set(st, HVRPC_INVALID_ARGUMENT,
                                "only a server-streaming call has a request "
                                "message: send the others' messages on the "
                                "stream");
    uint32_t window = opts->window ? opts->window : HVRPC_DEFAULT_STREAM_WINDOW;
    if (window < HVRPC_MIN_STREAM_WINDOW || window > HVRPC_MAX_STREAM_WINDOW)
        return hvrpc_status_set(st, HVRPC_INVALID_ARGUMENT,
                                "stream options: window %u is outside %u..%u",
                                window, HVRPC_MIN_STREAM_WINDOW,
                                HVRPC_MAX_STREAM_WINDOW);
    if (opts->flow != HVRPC_FLOW_AUTO && opts->flow != HVRPC_FLOW_OFF)
        return hvrpc_status_set(st, HVRPC_INVALID_ARGUMENT,
                                "stream options: unknown flow mode %d",
                                (int)opts->flow);
    code = check_request(service, method, opts->metadata, opts->n_metadata, st);
    if (code != HVRPC_OK)
        return code;
    if (hvrpc__loop_in_thread(&c->loop))
        return hvrpc_status_set(st, HVRPC_FAILED_PRECONDITION,
                                "streams are not opened from a completion "
                                "callback of the same client");

    /* The user's metadata, and our window offer. */
    size_t n_md = opts->n_metadata + (opts->flow == HVRPC_FLOW_AUTO);
    hvrpc_metadata *md = hvrpc__calloc(n_md ? n_md : 1, sizeof *md);
    hvrpc_stream *s =
        hvrpc__stream_new(&c->conn, kind, false, window, c->opts.max_frame);
    pending *p = hvrpc__calloc(1, sizeof *p);
    if (!md || !s || !p) {
        hvrpc__free(md);
        hvrpc__free(p);
        if (s)
            hvrpc__stream_destroy(s);
        return hvrpc_status_set(st, HVRPC_RESOURCE_EXHAUSTED,
                                "out of memory for a stream");
    }
    char wtext[16];
    snprintf(wtext, sizeof wtext, "%u", window);
    for (size_t i = 0; i < opts->n_metadata; i++)
        md[i] = opts->metadata[i];
    if (opts->flow == HVRPC_FLOW_AUTO)
        md[opts->n_metadata] = (hvrpc_metadata){HVRPC_STREAM_WINDOW_KEY, wtext};
    s->client = c;
    s->windowed = opts->flow == HVRPC_FLOW_AUTO;
    s->in_closed = false;
    s->out_closed = !(kind & HVRPC_CLIENT_STREAMING);
    p->stream = s;
    request_extras x = {opts->timeout_ms, md, n_md,
                        kind & HVRPC_CLIENT_STREAMING
                            ? HVRPC__FLAG_REMOTE_OPEN
                            : HVRPC__FLAG_REMOTE_CLOSED};
    code = start_request(c, service, method, pl, &x, p, st);
    hvrpc__free(md);
    if (code != HVRPC_OK) {
        hvrpc__free(p);
        hvrpc__stream_destroy(s);
        return code;
    }
    *out = s;
    return HVRPC_OK;
}

hvrpc_code hvrpc_client_stream(hvrpc_client *c, const char *service,
                               const char *method, hvrpc_method_kind kind,
                               const void *request, size_t request_len,
                               const hvrpc_stream_options *opts,
                               hvrpc_stream **out, hvrpc_status *st)
{
    hvrpc__payload pl = {.data = request, .len = request_len};
    return open_stream(c, service, method, kind, &pl, opts, out, st);
}

hvrpc_code hvrpc_client_stream_message(hvrpc_client *c, const char *service,
                                       const char *method,
                                       hvrpc_method_kind kind,
                                       const ProtobufCMessage *request,
                                       const hvrpc_stream_options *opts,
                                       hvrpc_stream **out, hvrpc_status *st)
{
    hvrpc__payload pl = {.msg = request};
    return open_stream(c, service, method, kind, &pl, opts, out, st);
}

hvrpc_code hvrpc_stream_close_send(hvrpc_stream *s, hvrpc_status *st)
{
    if (s->server)
        return hvrpc_status_set(st, HVRPC_FAILED_PRECONDITION,
                                "a server ends its side with "
                                "hvrpc_stream_finish");
    pthread_mutex_lock(&s->conn->mu);
    if (!s->out_closed) {
        s->out_closed = true;
        if (!s->done)
            hvrpc__stream_send_close_locked(s);
    }
    pthread_mutex_unlock(&s->conn->mu);
    return HVRPC_OK;
}

void hvrpc_stream_free(hvrpc_stream *s)
{
    if (!s || s->server)
        return;
    pthread_mutex_lock(&s->conn->mu);
    if (!s->done) {
        s->cancelled = true;
        hvrpc__client_stream_abort_locked(s, HVRPC_CANCELLED,
                                          "the stream was freed");
    }
    hvrpc__client_stream_forget_locked(s);
    pthread_mutex_unlock(&s->conn->mu);
    hvrpc__stream_destroy(s);
}
