/*
 * bus_subscribe.c - the Subscribe handler: a subscription's life
 * (bus_internal.h says how the broker is split).
 *
 * A subscription is checked (syntax, limits, then each pattern's access:
 * bus_access.c, which also rewrites private.self), put on the bus within
 * the total and per-peer limits, and served by the Subscribe stream's
 * handler thread (one thread per open stream, docs/RUNTIME.md): its
 * sender. The sender sends SUBSCRIBED, then takes events from the queue
 * and sends them, waiting for the stream's window; while it waits the
 * queue fills and the overflow policy decides (bus_queue.c). Each event
 * goes out as the shared packed fields with the subscription's own
 * sequence and drop count in front (protobuf fields may come in any
 * order).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "bus_internal.h"
#include "svc_time.h"

static void sub_free(sub *s)
{
    if (s == NULL)
        return;
    for (size_t i = 0; i < s->n_patterns; i++)
        free(s->patterns[i]);
    free(s->patterns);
    free(s->ring);
    pthread_cond_destroy(&s->cv);
    free(s);
}

/* A subscription from a checked request, not yet on the bus: each
 * pattern through the access rule (private.self rewritten). NULL, with
 * the refusal in *st. */
static sub *sub_new(const hvrpc_bus *bus, const subscribe_request *req,
                    const hvrpc_peer *peer, hvrpc_status *st)
{
    sub *s = calloc(1, sizeof *s);
    pthread_condattr_t ca;

    if (s == NULL)
        goto oom;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&s->cv, &ca);
    pthread_condattr_destroy(&ca);
    hvrpc__bus_who(bus, peer, &s->who);
    s->overflow = (int)req->overflow;
    s->size = req->queue_size == 0 ? bus->o.default_queue_size
              : req->queue_size > bus->o.max_queue_size ? bus->o.max_queue_size
                                                        : req->queue_size;
    s->alloc = s->size < FIRST_SLOTS ? s->size : FIRST_SLOTS;
    s->ring = malloc((size_t)s->alloc * sizeof *s->ring);
    s->patterns = calloc(req->n_patterns, sizeof *s->patterns);
    if (s->ring == NULL || s->patterns == NULL)
        goto oom;
    for (size_t i = 0; i < req->n_patterns; i++) {
        if (hvrpc__bus_access_subscribe(bus, peer, &s->who, req->patterns[i],
                                        &s->patterns[i], st) != HVRPC_OK) {
            sub_free(s);
            return NULL;
        }
        s->n_patterns++;
    }
    return s;
oom:
    sub_free(s);
    hvrpc_status_set(st, HVRPC_RESOURCE_EXHAUSTED,
                     "out of memory for a subscription");
    return NULL;
}

static hvrpc_code check_subscribe(const hvrpc_bus *bus,
                                  const subscribe_request *req,
                                  hvrpc_status *st)
{
    if (req->n_patterns == 0)
        return hvrpc_status_set(st, HVRPC_INVALID_ARGUMENT,
                                "no topic pattern (\">\" matches every topic)");
    if (req->n_patterns > bus->o.max_patterns)
        return hvrpc_status_set(st, HVRPC_INVALID_ARGUMENT,
                                "%zu patterns: the limit is %u",
                                req->n_patterns, bus->o.max_patterns);
    for (size_t i = 0; i < req->n_patterns; i++) {
        if (hvrpc_bus_pattern_check(req->patterns[i], &bus->o, st) != HVRPC_OK)
            return st->code;
    }
    if ((unsigned)req->overflow > OVERFLOW_DISCONNECT)
        return hvrpc_status_set(st, HVRPC_INVALID_ARGUMENT,
                                "overflow %d is not DROP_OLDEST (0), BLOCK "
                                "(1) or DISCONNECT (2)",
                                (int)req->overflow);
    return HVRPC_OK;
}

/* Puts s on the bus, within the limits. */
static hvrpc_code attach(hvrpc_bus *bus, sub *s, const hvrpc_peer *peer,
                         hvrpc_status *st)
{
    char key[PEER_KEY_MAX];
    peer_count *p;

    hvrpc__bus_limit_key(peer, key, sizeof key);
    pthread_mutex_lock(&bus->mu);
    for (p = bus->peers; p != NULL; p = p->next) {
        if (strcmp(p->key, key) == 0)
            break;
    }
    if (bus->n_subs >= bus->o.max_subscriptions) {
        pthread_mutex_unlock(&bus->mu);
        return hvrpc_status_set(st, HVRPC_RESOURCE_EXHAUSTED,
                                "%zu subscriptions open: the bus's limit",
                                bus->n_subs);
    }
    if (p != NULL && p->n >= bus->o.max_subscriptions_per_peer) {
        pthread_mutex_unlock(&bus->mu);
        return hvrpc_status_set(st, HVRPC_RESOURCE_EXHAUSTED,
                                "%u subscriptions of this peer (%s) open: "
                                "the limit",
                                p->n, key);
    }
    if (p == NULL) {
        p = calloc(1, sizeof *p);
        if (p == NULL) {
            pthread_mutex_unlock(&bus->mu);
            return hvrpc_status_set(st, HVRPC_RESOURCE_EXHAUSTED,
                                    "out of memory for a subscription");
        }
        snprintf(p->key, sizeof p->key, "%s", key);
        p->next = bus->peers;
        bus->peers = p;
    }
    p->n++;
    s->peer = p;
    s->next = bus->subs;
    if (bus->subs != NULL)
        bus->subs->prev = s;
    bus->subs = s;
    bus->n_subs++;
    pthread_mutex_unlock(&bus->mu);
    return HVRPC_OK;
}

/* Takes s off the bus: its waiters lose the event, its queue is freed. */
static void detach(hvrpc_bus *bus, sub *s)
{
    pub_op *done = NULL;

    pthread_mutex_lock(&bus->mu);
    while (s->w_head != NULL)
        hvrpc__bus_drop_waiter(s->w_head, &done);
    while (s->count > 0)
        hvrpc__bus_event_unref(hvrpc__bus_pop(s).ev);
    if (s->prev != NULL)
        s->prev->next = s->next;
    else
        bus->subs = s->next;
    if (s->next != NULL)
        s->next->prev = s->prev;
    bus->n_subs--;
    if (--s->peer->n == 0) {
        peer_count **pp = &bus->peers;
        while (*pp != s->peer)
            pp = &(*pp)->next;
        *pp = s->peer->next;
        free(s->peer);
    }
    pthread_mutex_unlock(&bus->mu);
    hvrpc__bus_answer_done(done);
}

typedef enum take_result {
    TAKE_EVENT,
    TAKE_ENDED,  /* the broker ended the subscription */
    TAKE_STREAM, /* the stream is over (client, connection, server) */
} take_result;

static bool stream_over(hvrpc_stream *stream)
{
    return hvrpc_stream_done(stream) ||
           hvrpc_server_stopping(hvrpc_stream_server(stream));
}

/* Waits for the next event of s; on TAKE_EVENT *out holds it (a
 * reference) and publishes waiting for room have been let in. */
static take_result take(hvrpc_bus *bus, sub *s, hvrpc_stream *stream, slot *out)
{
    pub_op *done = NULL;
    take_result r;

    pthread_mutex_lock(&bus->mu);
    for (;;) {
        if (s->ended) {
            r = TAKE_ENDED;
            break;
        }
        if (s->count > 0) {
            *out = hvrpc__bus_pop(s);
            hvrpc__bus_admit(bus, s, &done);
            r = TAKE_EVENT;
            break;
        }
        struct timespec until = hvrpc_svc_deadline(CLOCK_MONOTONIC, POLL_MS);
        pthread_cond_timedwait(&s->cv, &bus->mu, &until);
        if (s->count == 0 && !s->ended) {
            pthread_mutex_unlock(&bus->mu);
            if (stream_over(stream))
                return TAKE_STREAM;
            pthread_mutex_lock(&bus->mu);
        }
    }
    pthread_mutex_unlock(&bus->mu);
    hvrpc__bus_answer_done(done);
    return r;
}

static bool ended(hvrpc_bus *bus, sub *s)
{
    bool e;

    pthread_mutex_lock(&bus->mu);
    e = s->ended;
    pthread_mutex_unlock(&bus->mu);
    return e;
}

/* Appends a varint field (wire type 0) to p; returns the bytes written. */
static size_t put_varint_field(uint8_t *p, unsigned field, uint64_t v)
{
    size_t n = 0;

    p[n++] = (uint8_t)(field << 3);
    do {
        p[n] = (uint8_t)(v & 0x7f);
        v >>= 7;
        if (v != 0)
            p[n] |= 0x80;
        n++;
    } while (v != 0);
    return n;
}

/* Sends one message, waiting for the stream's window as long as the
 * subscription lasts. OK, or why it could not. */
static hvrpc_code send_all(hvrpc_bus *bus, sub *s, hvrpc_stream *stream,
                           const uint8_t *data, size_t len, hvrpc_status *st)
{
    for (;;) {
        hvrpc_code r = hvrpc_stream_send(stream, data, len, POLL_MS, st);

        if (r != HVRPC_WOULD_BLOCK)
            return r;
        if (ended(bus, s))
            return HVRPC_RESOURCE_EXHAUSTED;
    }
}

/* The subscription's sender: the SUBSCRIBED message, then every event. */
static void run_subscription(hvrpc_bus *bus, sub *s, hvrpc_stream *stream)
{
    /* Event.kind = SUBSCRIBED (field 8), nothing else. */
    static const uint8_t subscribed[] = {8 << 3, 1};
    uint8_t *buf = NULL;
    size_t buf_size = 0;
    uint64_t sent = 0, last_seq = 0;
    hvrpc_status st;
    hvrpc_code r;
    slot e;

    r = send_all(bus, s, stream, subscribed, sizeof subscribed, &st);
    while (r == HVRPC_OK) {
        take_result t = take(bus, s, stream, &e);

        if (t == TAKE_STREAM)
            break;
        if (t == TAKE_ENDED) {
            r = HVRPC_RESOURCE_EXHAUSTED;
            break;
        }
        if (buf_size < e.ev->len + 22) {
            uint8_t *nb = realloc(buf, e.ev->len + 22);
            if (nb == NULL) {
                pub_op *done = NULL;

                hvrpc__bus_event_unref(e.ev);
                pthread_mutex_lock(&bus->mu);
                hvrpc__bus_end_sub(s, &done, "out of memory for an event");
                pthread_mutex_unlock(&bus->mu);
                hvrpc__bus_answer_done(done);
                r = HVRPC_RESOURCE_EXHAUSTED;
                break;
            }
            buf = nb;
            buf_size = e.ev->len + 22;
        }
        size_t n = put_varint_field(buf, 1, e.seq);
        if (e.seq - 1 > sent)
            n += put_varint_field(buf + n, 2, e.seq - 1 - sent);
        memcpy(buf + n, e.ev->data, e.ev->len);
        n += e.ev->len;
        hvrpc__bus_event_unref(e.ev);
        r = send_all(bus, s, stream, buf, n, &st);
        if (r == HVRPC_OK) {
            sent++;
            last_seq = e.seq;
        }
    }
    free(buf);
    /* Off the bus before the stream is released: publishers look at it. */
    bool was_ended = ended(bus, s);
    detach(bus, s);
    if (was_ended) {
        /* Nothing changes an ended subscription any more. */
        hvrpc_stream_finish(stream, HVRPC_RESOURCE_EXHAUSTED,
                            "%s: subscription ended after sequence %llu "
                            "(%llu of its %llu events not delivered)",
                            s->end_reason, (unsigned long long)last_seq,
                            (unsigned long long)(s->next_seq - sent),
                            (unsigned long long)s->next_seq);
    } else if (r == HVRPC_OK || r == HVRPC_END) {
        hvrpc_stream_finish(stream, HVRPC_OK, NULL); /* the stream is over */
    } else {
        hvrpc_stream_finish(stream, r, "%s", st.message);
    }
}

void hvrpc__bus_subscribe(hvrpc_stream *stream, const subscribe_request *req,
                          void *user_data)
{
    hvrpc_bus *bus = user_data;
    hvrpc_status st;
    sub *s;

    if (check_subscribe(bus, req, &st) != HVRPC_OK) {
        hvrpc_stream_finish(stream, st.code, "%s", st.message);
        return;
    }
    s = sub_new(bus, req, hvrpc_stream_peer(stream), &st);
    if (s == NULL) {
        hvrpc_stream_finish(stream, st.code, "%s", st.message);
        return;
    }
    s->stream = stream;
    if (attach(bus, s, hvrpc_stream_peer(stream), &st) != HVRPC_OK) {
        sub_free(s);
        hvrpc_stream_finish(stream, st.code, "%s", st.message);
        return;
    }
    run_subscription(bus, s, stream);
    sub_free(s);
}
