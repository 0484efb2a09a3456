/*
 * client.c - one connection, many concurrent calls.
 *
 * Every call is a pending entry keyed by its stream id. It is completed on
 * the client's loop thread, exactly once, by whichever comes first: its
 * Response, its deadline timer, or the connection closing. Since all of
 * those run on that one thread, a pending entry is only ever freed there
 * (or in hvrpc_client_free, after the thread has been joined).
 */
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
#include "ttrpc/request.pb-c.h"

#include "hvrpc/service.h"

#define INITIAL_BUCKETS 64
/* Client stream ids are odd; the last usable one is UINT32_MAX. */
#define LAST_STREAM_ID UINT32_MAX

typedef struct waiter waiter;

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

/* Ends a call. For a blocking call the payload moves to its waiter. */
static void complete(pending *p, const hvrpc_status *st, uint8_t *payload,
                     size_t len)
{
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

static int client_on_frame(hvrpc__conn *conn, const hvrpc__frame_header *h,
                           const uint8_t *data, bool oversize)
{
    hvrpc_client *c =
        (hvrpc_client *)((char *)conn - offsetof(hvrpc_client, conn));
    if (h->type != HVRPC__FRAME_RESPONSE)
        return 0; /* Data frames belong to streams, which come later. */
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
            p->next = all;
            all = p;
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
        close(fd);
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
        close(fd);
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
        close(fd);
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
    if (!service || !method)
        return hvrpc_status_set(st, HVRPC_INVALID_ARGUMENT,
                                "service and method are required");
    for (size_t i = 0; i < opts->n_metadata; i++)
        if (!opts->metadata[i].key || !opts->metadata[i].value)
            return hvrpc_status_set(st, HVRPC_INVALID_ARGUMENT,
                                    "metadata entry %zu has a NULL key or "
                                    "value",
                                    i);
    int64_t timeout_ns = (int64_t)opts->timeout_ms * HVRPC__NS_PER_MS;
    hvrpc__frame_buf f;
    code = hvrpc__encode_request(0, service, method, pl, timeout_ns,
                                 opts->metadata, opts->n_metadata,
                                 c->opts.max_frame, &f, st);
    if (code != HVRPC_OK)
        return code;

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
    if (code == HVRPC_OK && timeout_ns > 0 &&
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
