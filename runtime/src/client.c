/*
 * client.c - the client's connection: connect, frames in, the pending
 * map, sending a Request, reconnecting with backoff, keepalive, free.
 * Unary calls are in client_call.c, streams in client_stream.c; the
 * state they share is described in client_internal.h.
 */
#include <poll.h>
#include <stdio.h>
#include <string.h>

#include "alloc.h"
#include "client_internal.h"
#include "clock.h"
#include "options.h"
#include "stream_internal.h"

/* Client stream ids are odd; the last usable one is UINT32_MAX. */
#define LAST_STREAM_ID           UINT32_MAX
#define DEFAULT_RECONNECT_MAX_MS 30000

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

/* --- the pending map (conn.mu held) -------------------------------------- */

hvrpc__pending *hvrpc__client_find_locked(hvrpc_client *c, uint32_t id)
{
    hvrpc__idnode *n = hvrpc__idmap_find(&c->pending, id);
    return n ? HVRPC__CONTAINER_OF(n, hvrpc__pending, node) : NULL;
}

hvrpc__pending *hvrpc__client_forget_locked(hvrpc_client *c, uint32_t id)
{
    hvrpc__idnode *n = hvrpc__idmap_remove(&c->pending, id);
    return n ? HVRPC__CONTAINER_OF(n, hvrpc__pending, node) : NULL;
}

/* Takes the pending call of stream id out of the map, disarming its
 * timer; NULL for a call we no longer wait for (it timed out). A leader
 * takes its answer on its own thread: when the call's timer has fired
 * meanwhile (it is no longer armed), the timer's callback ends the call,
 * not us: a call is completed once. */
static hvrpc__pending *take(hvrpc_client *c, uint32_t id)
{
    pthread_mutex_lock(&c->conn.mu);
    hvrpc__pending *p = hvrpc__client_forget_locked(c, id);
    pthread_mutex_unlock(&c->conn.mu);
    if (p && !hvrpc__loop_timer_stop(&c->loop, &p->timer) && p->timed)
        return NULL;
    return p;
}

/* --- sending a Request --------------------------------------------------- */

hvrpc_code hvrpc__client_check_request(const char *service, const char *method,
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

/* Gives p the next stream id and sends its frame f; conn.mu held. */
static hvrpc_code send_locked(hvrpc_client *c, hvrpc__pending *p,
                              hvrpc__frame_buf *f, hvrpc_status *st)
{
    if (c->next_id == 0 || c->next_id > LAST_STREAM_ID - 1) {
        hvrpc__frame_buf_free(f);
        return hvrpc_status_set(st, HVRPC_RESOURCE_EXHAUSTED,
                                "stream ids exhausted on this connection: "
                                "connect a new client");
    }
    p->node.id = c->next_id;
    if (!hvrpc__idmap_insert(&c->pending, &p->node)) {
        hvrpc__frame_buf_free(f);
        return hvrpc_status_set(st, HVRPC_RESOURCE_EXHAUSTED,
                                "out of memory for a pending call");
    }
    /* Ids are taken and frames queued under one lock, so they leave in
     * increasing order, as the server requires. */
    c->next_id += 2;
    hvrpc__frame_set_stream(f, p->node.id);
    /* A failed send breaks the connection; closing it then fails this
     * call through the map like every other. */
    hvrpc__conn_send_locked(&c->conn, f);
    return HVRPC_OK;
}

static void wait_list_append(hvrpc_client *c, hvrpc__pending *p)
{
    p->wnext = NULL;
    if (c->wait_tail)
        c->wait_tail->wnext = p;
    else
        c->wait_head = p;
    c->wait_tail = p;
}

/* Unlinks p from the waiting list; false when it is not there. */
static bool wait_list_remove(hvrpc_client *c, hvrpc__pending *p)
{
    hvrpc__pending *prev = NULL;
    for (hvrpc__pending *q = c->wait_head; q; prev = q, q = q->wnext) {
        if (q != p)
            continue;
        if (prev)
            prev->wnext = q->wnext;
        else
            c->wait_head = q->wnext;
        if (c->wait_tail == q)
            c->wait_tail = prev;
        return true;
    }
    return false;
}

hvrpc_code hvrpc__client_start_request(hvrpc_client *c, const char *service,
                                       const char *method,
                                       const hvrpc__payload *pl,
                                       const hvrpc__request_extras *x,
                                       hvrpc__pending *p, hvrpc_status *st)
{
    int64_t timeout_ns = (int64_t)x->timeout_ms * HVRPC__NS_PER_MS;
    hvrpc__frame_buf f;
    hvrpc_code code =
        hvrpc__encode_request(0, service, method, pl, timeout_ns, x->md,
                              x->n_md, c->opts.max_frame, &f, st);
    if (code != HVRPC_OK)
        return code;
    f.data[9] = x->flags; /* the header's flags byte (frame.h) */
    p->lent = f.lent != NULL;

    p->c = c;
    p->timer.fn = hvrpc__client_on_deadline;
    int64_t deadline =
        timeout_ns > 0 ? hvrpc__deadline_after_ns(timeout_ns) : 0;
    pthread_mutex_lock(&c->conn.mu);
    bool wait = false;
    if (c->broken) {
        hvrpc__frame_buf_free(&f);
        code = hvrpc_status_set(st,
                                c->broken_why.code == HVRPC_CANCELLED
                                    ? HVRPC_CANCELLED
                                    : HVRPC_UNAVAILABLE,
                                "connection lost: %s", c->broken_why.message);
    } else if (c->down && p->stream) {
        hvrpc__frame_buf_free(&f);
        code = hvrpc_status_set(st, HVRPC_UNAVAILABLE,
                                "not connected (%s); reconnecting: streams "
                                "are opened once connected",
                                c->broken_why.message);
    } else if (c->down) {
        p->held = f;
        wait = true;
    } else {
        code = send_locked(c, p, &f, st);
        /* Its frames must not be read by a leader but by the loop; a
         * blocking call's unless it leads (else it unparks then). */
        if (code == HVRPC_OK) {
            hvrpc__client_nudge_leader_locked(c);
            if (!p->w || p->stream)
                hvrpc__conn_unpark_locked(&c->conn);
        }
    }
    if (code == HVRPC_OK && p->stream) {
        /* A stream has no timer: its waits end at its deadline. */
        p->stream->node.id = p->node.id;
        p->stream->in_table = true;
        p->stream->deadline = deadline;
    } else if (code == HVRPC_OK && deadline) {
        p->timed = hvrpc__loop_timer_start(&c->loop, &p->timer, deadline);
        if (!p->timed) {
            /* Not sent yet when waiting; else the answer finds no call. */
            if (!wait)
                hvrpc__idmap_remove(&c->pending, p->node.id);
            hvrpc__frame_buf_free(&p->held);
            wait = false;
            code = hvrpc_status_set(st, HVRPC_RESOURCE_EXHAUSTED,
                                    "out of memory for the call's deadline");
        }
    }
    if (wait)
        wait_list_append(c, p);
    pthread_mutex_unlock(&c->conn.mu);
    return code;
}

void hvrpc__client_unlend(hvrpc_client *c, const hvrpc__pending *p)
{
    pthread_mutex_lock(&c->conn.mu);
    hvrpc__conn_unlend_locked(&c->conn, p->node.id);
    pthread_mutex_unlock(&c->conn.mu);
}

bool hvrpc__client_unwait(hvrpc_client *c, hvrpc__pending *p)
{
    pthread_mutex_lock(&c->conn.mu);
    bool was = wait_list_remove(c, p);
    if (was) {
        hvrpc__frame_buf_free(&p->held);
    } else {
        /* Gone already when a leader took its answer just now. */
        if (hvrpc__client_find_locked(c, p->node.id) == p)
            hvrpc__idmap_remove(&c->pending, p->node.id);
        if (c->lead_id == p->node.id)
            hvrpc__client_nudge_leader_locked(c); /* its deadline passed */
    }
    pthread_mutex_unlock(&c->conn.mu);
    return was;
}

/* --- frames in and the connection's end (loop thread) -------------------- */

static int client_on_frame(hvrpc__conn *conn, const hvrpc__frame_header *h,
                           const uint8_t *data, bool oversize)
{
    hvrpc_client *c = HVRPC__CONTAINER_OF(conn, hvrpc_client, conn);
    if (h->type == HVRPC__FRAME_RESPONSE || h->type == HVRPC__FRAME_DATA ||
        h->type == HVRPC__FRAME_WINDOW) {
        pthread_mutex_lock(&conn->mu);
        hvrpc__pending *sp = hvrpc__client_find_locked(c, h->stream_id);
        hvrpc_stream *s = sp ? sp->stream : NULL;
        if (s)
            hvrpc__client_stream_frame_locked(s, h, data, oversize);
        pthread_mutex_unlock(&conn->mu);
        if (s || h->type != HVRPC__FRAME_RESPONSE)
            return 0; /* Data for no stream of ours: dropped */
    }
    if (h->type != HVRPC__FRAME_RESPONSE)
        return 0;
    hvrpc__pending *p = take(c, h->stream_id);
    if (!p)
        return 0;
    if (oversize) {
        hvrpc_status st;
        hvrpc_status_set(&st, HVRPC_RESOURCE_EXHAUSTED,
                         "response of %u bytes exceeds the maximum frame of "
                         "%u bytes",
                         h->length, c->opts.max_frame);
        hvrpc__client_complete(p, &st, NULL, 0);
        return 0;
    }
    hvrpc__client_on_response(p, data, h->length);
    return 0;
}

/* The connection is gone: every call in flight fails now, with why. A
 * reconnecting client goes down and wakes its connector. */
static void client_on_close(hvrpc__conn *conn, const hvrpc_status *why)
{
    hvrpc_client *c = HVRPC__CONTAINER_OF(conn, hvrpc_client, conn);
    pthread_mutex_lock(&conn->mu);
    c->broken_why = *why;
    if (c->has_connector && !c->stopping) {
        c->down = true;
        pthread_cond_signal(&c->wake);
    } else {
        c->broken = true;
    }
    hvrpc__idnode *gone = hvrpc__idmap_take_all(&c->pending);
    hvrpc__pending *calls = NULL;
    while (gone) {
        hvrpc__idnode *next = gone->next;
        hvrpc__pending *p = HVRPC__CONTAINER_OF(gone, hvrpc__pending, node);
        if (p->stream) {
            p->stream->in_table = false;
            hvrpc__stream_end_locked(p->stream, why->code, why->message);
            hvrpc__free(p);
        } else {
            p->wnext = calls;
            calls = p;
        }
        gone = next;
    }
    pthread_mutex_unlock(&conn->mu);
    hvrpc__log(&c->log, HVRPC_LOG_DEBUG, "connection closed: %s", why->message);
    while (calls) {
        hvrpc__pending *next = calls->wnext;
        hvrpc__loop_timer_stop(&c->loop, &calls->timer);
        hvrpc_status st;
        hvrpc_status_set(&st, why->code, "%s", why->message);
        hvrpc__client_complete(calls, &st, NULL, 0);
        calls = next;
    }
}

static const hvrpc__conn_ops client_conn_ops = {
    .on_frame = client_on_frame,
    .on_close = client_on_close,
};

/* --- reconnecting -----------------------------------------------------------
 */

/* The wait before the next attempt: the backoff less up to a quarter. */
static int64_t next_wait_ns(hvrpc_client *c)
{
    uint32_t b = c->backoff_ms;
    uint32_t max = c->opts.reconnect_max_ms ? c->opts.reconnect_max_ms
                                            : DEFAULT_RECONNECT_MAX_MS;
    c->backoff_ms = b > max / 2 ? max : 2 * b;
    if (c->backoff_ms < c->opts.reconnect_ms)
        c->backoff_ms = c->opts.reconnect_ms;
    /* xorshift32: jitter needs no quality, only no shared state. */
    c->rng ^= c->rng << 13;
    c->rng ^= c->rng >> 17;
    c->rng ^= c->rng << 5;
    uint32_t jitter = c->rng % (b / 4 + 1);
    return (int64_t)(b - jitter) * HVRPC__NS_PER_MS;
}

/* The loop takes the connector's new connection and sends what waited. */
static void take_fd(hvrpc__task *t)
{
    hvrpc_client *c = HVRPC__CONTAINER_OF(t, hvrpc_client, take_fd);
    pthread_mutex_lock(&c->conn.mu);
    int fd = c->ready_fd;
    c->ready_fd = -1;
    pthread_mutex_unlock(&c->conn.mu);
    if (fd < 0)
        return;
    hvrpc__conn_reopen(&c->conn, fd);
    if (hvrpc__conn_start(&c->conn) != 0) {
        /* Closing it goes down again, through on_close. */
        hvrpc__conn_close(&c->conn, HVRPC_UNAVAILABLE,
                          "cannot watch the new connection");
        return;
    }
    hvrpc_status st;
    pthread_mutex_lock(&c->conn.mu);
    c->down = false;
    c->next_id = 1;
    c->backoff_ms = c->opts.reconnect_ms;
    c->connections++;
    hvrpc__pending *p = c->wait_head, *failed = NULL;
    c->wait_head = c->wait_tail = NULL;
    while (p) {
        hvrpc__pending *next = p->wnext;
        hvrpc__frame_buf f = p->held;
        p->held.data = NULL;
        if (send_locked(c, p, &f, &st) != HVRPC_OK) {
            p->wnext = failed;
            failed = p;
        }
        p = next;
    }
    pthread_mutex_unlock(&c->conn.mu);
    hvrpc__log(&c->log, HVRPC_LOG_INFO, "reconnected");
    while (failed) {
        hvrpc__pending *next = failed->wnext;
        hvrpc__loop_timer_stop(&c->loop, &failed->timer);
        hvrpc__client_complete(failed, &st, NULL, 0);
        failed = next;
    }
}

/* The connector thread: while the client is down, waits its backoff, then
 * connects (blocking, up to connect_timeout_ms) and hands the new socket
 * to the loop. */
static void *connector_main(void *arg)
{
    hvrpc_client *c = arg;
    pthread_mutex_lock(&c->conn.mu);
    while (!c->stopping) {
        if (!c->down || c->ready_fd >= 0) {
            pthread_cond_wait(&c->wake, &c->conn.mu);
            continue;
        }
        struct timespec until =
            hvrpc__timespec_at(hvrpc__deadline_after_ns(next_wait_ns(c)));
        while (!c->stopping &&
               pthread_cond_timedwait(&c->wake, &c->conn.mu, &until) == 0)
            ;
        if (c->stopping)
            break;
        pthread_mutex_unlock(&c->conn.mu);
        int64_t deadline =
            c->opts.connect_timeout_ms
                ? hvrpc__deadline_after_ns((int64_t)c->opts.connect_timeout_ms *
                                           HVRPC__NS_PER_MS)
                : 0;
        int fd = -1;
        hvrpc_status st;
        hvrpc_code code = c->tp->connect(&c->addr, deadline, &fd, &st);
        pthread_mutex_lock(&c->conn.mu);
        if (code != HVRPC_OK) {
            hvrpc__log(&c->log, HVRPC_LOG_DEBUG, "reconnect failed: %s",
                       st.message);
            continue;
        }
        c->ready_fd = fd;
        hvrpc__loop_post(&c->loop, &c->take_fd);
    }
    pthread_mutex_unlock(&c->conn.mu);
    return NULL;
}

static hvrpc_code start_connector(hvrpc_client *c, hvrpc_status *st)
{
    if (hvrpc__cond_init_monotonic(&c->wake) != 0)
        return hvrpc_status_set(st, HVRPC_RESOURCE_EXHAUSTED,
                                "cannot create the reconnect condition");
    if (pthread_create(&c->connector, NULL, connector_main, c) != 0) {
        pthread_cond_destroy(&c->wake);
        return hvrpc_status_set(st, HVRPC_RESOURCE_EXHAUSTED,
                                "cannot start the reconnect thread");
    }
    c->has_connector = true;
    return HVRPC_OK;
}

static void stop_connector(hvrpc_client *c)
{
    if (!c->has_connector)
        return;
    pthread_mutex_lock(&c->conn.mu);
    c->stopping = true;
    pthread_cond_signal(&c->wake);
    pthread_mutex_unlock(&c->conn.mu);
    pthread_join(c->connector, NULL);
    pthread_cond_destroy(&c->wake);
}

/* --- keepalive (loop thread) --------------------------------------------- */

static void probe_done(const hvrpc_status *st, const uint8_t *resp, size_t len,
                       void *arg)
{
    (void)resp;
    (void)len;
    hvrpc_client *c = arg;
    c->probing = false;
    if (st->code != HVRPC_DEADLINE_EXCEEDED)
        return; /* any answer shows the peer alive; a loss is known */
    char why[96];
    snprintf(why, sizeof why,
             "the peer did not answer a keepalive within %u ms",
             c->opts.keepalive_timeout_ms ? c->opts.keepalive_timeout_ms
                                          : c->opts.keepalive_ms);
    hvrpc__log(&c->log, HVRPC_LOG_WARN, "%s: closing the connection", why);
    hvrpc__conn_close(&c->conn, HVRPC_UNAVAILABLE, why);
}

static void probe(hvrpc_client *c)
{
    hvrpc__pending *p = hvrpc__calloc(1, sizeof *p);
    if (!p)
        return; /* the next period tries again */
    hvrpc__request_extras x = {
        .timeout_ms = c->opts.keepalive_timeout_ms
                          ? c->opts.keepalive_timeout_ms
                          : c->opts.keepalive_ms,
    };
    hvrpc__payload none = {.len = 0};
    hvrpc_status st;
    p->done = probe_done;
    p->arg = c;
    c->probing = true;
    if (hvrpc__client_start_request(c, "grpc.health.v1.Health", "Check", &none,
                                    &x, p, &st) != HVRPC_OK) {
        c->probing = false;
        hvrpc__free(p);
    }
}

static void on_keepalive(hvrpc__timer *t)
{
    hvrpc_client *c = HVRPC__CONTAINER_OF(t, hvrpc_client, keepalive);
    int64_t period = (int64_t)c->opts.keepalive_ms * HVRPC__NS_PER_MS;
    int64_t now = hvrpc__now_ns();
    int64_t next = c->conn.last_rx_ns + period;
    pthread_mutex_lock(&c->conn.mu);
    bool up = !c->down && !c->broken;
    pthread_mutex_unlock(&c->conn.mu);
    if (next <= now) {
        /* Quiet for a period: probe, unless a probe is out already. */
        if (up && !c->probing)
            probe(c);
        next = now + period;
    }
    hvrpc__loop_timer_start(&c->loop, t, next);
}

/* --- connect and free -------------------------------------------------------
 */

/* What a retry may mend: the peer is not there or not answering. */
static bool retryable(hvrpc_code code)
{
    return code == HVRPC_UNAVAILABLE || code == HVRPC_DEADLINE_EXCEEDED;
}

static void client_release(hvrpc_client *c)
{
    hvrpc__client_lead_close(c->lead_fd);
    hvrpc__conn_destroy(&c->conn);
    hvrpc__loop_destroy(&c->loop);
    hvrpc__idmap_free(&c->pending);
    hvrpc__free(c);
}

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
    int fd = -1;
    code = tp->connect(&a, deadline, &fd, st);
    if (code != HVRPC_OK && !(o.reconnect_ms && retryable(code)))
        return code;

    hvrpc_client *c = hvrpc__calloc(1, sizeof *c);
    if (!c) {
        hvrpc__sock_close(fd);
        return hvrpc_status_set(st, HVRPC_RESOURCE_EXHAUSTED,
                                "out of memory for the client");
    }
    c->opts = o;
    c->log.fn = o.log;
    c->log.arg = o.log_arg;
    c->addr = a;
    c->tp = tp;
    c->next_id = 1;
    c->ready_fd = -1;
    c->backoff_ms = o.reconnect_ms;
    c->rng = (uint32_t)hvrpc__now_ns() | 1;
    c->take_fd.fn = take_fd;
    c->keepalive.fn = on_keepalive;
    /* Without an eventfd calls simply wait for the loop. Observers are
     * called on the loop thread, so a leader never completes a call. */
    c->lead_fd = o.observer ? -1 : hvrpc__client_lead_open();
    hvrpc__conn_init(&c->conn, &c->loop, tp, fd, &client_conn_ops, o.max_frame);
    /* A client reads its answers into one buffer, call after call: it
     * keeps it (a server hands each request's buffer to its call). */
    c->conn.reader.keep = o.max_frame;
    if (fd < 0) {
        /* Down from the start: the connector makes the first one. */
        c->conn.closed = true;
        c->down = true;
        c->broken_why = *st;
    } else {
        c->connections = 1;
    }
    hvrpc_code ok = hvrpc__loop_init(&c->loop, st);
    if (ok == HVRPC_OK && fd >= 0 && hvrpc__conn_start(&c->conn) != 0)
        ok =
            hvrpc_status_set(st, HVRPC_INTERNAL, "cannot watch the connection");
    if (ok == HVRPC_OK && o.keepalive_ms &&
        !hvrpc__loop_timer_start(
            &c->loop, &c->keepalive,
            hvrpc__deadline_after_ns((int64_t)o.keepalive_ms *
                                     HVRPC__NS_PER_MS)))
        ok = hvrpc_status_set(st, HVRPC_RESOURCE_EXHAUSTED,
                              "out of memory for the keepalive timer");
    if (ok == HVRPC_OK)
        ok = hvrpc__loop_start(&c->loop, st);
    if (ok == HVRPC_OK && o.reconnect_ms) {
        ok = start_connector(c, st);
        if (ok != HVRPC_OK)
            hvrpc__loop_stop(&c->loop);
    }
    if (ok != HVRPC_OK) {
        hvrpc__sock_close(fd);
        client_release(c);
        return ok;
    }
    if (fd < 0) {
        pthread_mutex_lock(&c->conn.mu);
        pthread_cond_signal(&c->wake);
        pthread_mutex_unlock(&c->conn.mu);
    }
    *out = c;
    return HVRPC_OK;
}

unsigned long hvrpc_client_connections(hvrpc_client *c)
{
    pthread_mutex_lock(&c->conn.mu);
    unsigned long n = c->connections;
    pthread_mutex_unlock(&c->conn.mu);
    return n;
}

void hvrpc_client_free(hvrpc_client *c)
{
    if (!c)
        return;
    stop_connector(c);
    hvrpc__loop_stop(&c->loop);
    /* A caller reading its answer gives the socket back first. */
    pthread_mutex_lock(&c->conn.mu);
    hvrpc__client_nudge_leader_locked(c);
    while (c->conn.led) {
        pthread_mutex_unlock(&c->conn.mu);
        poll(NULL, 0, 1); /* it is woken: a matter of microseconds */
        pthread_mutex_lock(&c->conn.mu);
    }
    pthread_mutex_unlock(&c->conn.mu);
    /* The loop is joined: closing here completes what is in flight. */
    hvrpc__conn_close(&c->conn, HVRPC_CANCELLED, "the client was freed");
    pthread_mutex_lock(&c->conn.mu);
    c->broken = true;
    hvrpc__pending *p = c->wait_head;
    c->wait_head = c->wait_tail = NULL;
    if (c->ready_fd >= 0)
        hvrpc__sock_close(c->ready_fd);
    pthread_mutex_unlock(&c->conn.mu);
    while (p) {
        hvrpc__pending *next = p->wnext;
        hvrpc__frame_buf_free(&p->held);
        hvrpc__loop_timer_stop(&c->loop, &p->timer);
        hvrpc__client_complete_status(p, HVRPC_CANCELLED,
                                      "the client was freed while waiting to "
                                      "reconnect");
        p = next;
    }
    client_release(c);
}
