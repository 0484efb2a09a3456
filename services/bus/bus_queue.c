/*
 * bus_queue.c - events, subscription queues and the publishes waiting for
 * room (bus_internal.h says how the broker is split).
 *
 * An event is packed once, when published, into the Event fields every
 * subscriber shares (topic, payload, headers, publisher, time) and
 * referenced by every queue it is in. A queue is a ring of (event,
 * sequence) slots, bounded in events and bytes; an event that finds it
 * full is handled by the subscription's overflow policy (offer()): drop
 * the oldest, wait for room (a waiter in the subscription's FIFO, let in
 * by admit() as the sender makes room), or end the subscription.
 *
 * A publish is answered by whoever resolves its last waiter; answers go
 * on a "done" list and are sent by hvrpc__bus_answer_done() with no lock
 * held. Everything here but the reference counting and answer_done runs
 * under bus->mu.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "bus_internal.h"

int64_t hvrpc__bus_mono_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

void hvrpc__bus_event_unref(bus_event *ev)
{
    if (ev != NULL && atomic_fetch_sub(&ev->refs, 1) == 1)
        free(ev);
}

bus_event *hvrpc__bus_event_ref(bus_event *ev)
{
    atomic_fetch_add(&ev->refs, 1);
    return ev;
}

void hvrpc__bus_op_unref(pub_op *op)
{
    if (atomic_fetch_sub(&op->refs, 1) == 1)
        free(op);
}

/* --- queues (all under bus->mu) ------------------------------------------ */

/* Room for ev in s's queue now, growing its slots when needed. */
static bool has_room(hvrpc_bus *bus, sub *s, const bus_event *ev)
{
    if (s->count >= s->size)
        return false;
    if (s->count > 0 && s->bytes + ev->cost > bus->o.max_queue_bytes)
        return false;
    if (s->count == s->alloc) {
        uint32_t n = s->alloc * 2 < s->size ? s->alloc * 2 : s->size;
        slot *ring = malloc((size_t)n * sizeof *ring);

        if (ring == NULL)
            return false; /* treated as full: the policy decides */
        for (uint32_t i = 0; i < s->count; i++)
            ring[i] = s->ring[(s->head + i) % s->alloc];
        free(s->ring);
        s->ring = ring;
        s->alloc = n;
        s->head = 0;
    }
    return true;
}

/* Queues ev (taking over a reference) with its sequence. */
static void push(sub *s, bus_event *ev, uint64_t seq)
{
    s->ring[(s->head + s->count) % s->alloc] = (slot){ev, seq};
    s->count++;
    s->bytes += ev->cost;
    pthread_cond_signal(&s->cv);
}

slot hvrpc__bus_pop(sub *s)
{
    slot out = s->ring[s->head];

    s->head = (s->head + 1) % s->alloc;
    s->count--;
    s->bytes -= out.ev->cost;
    return out;
}

/* Counts one resolved waiter of op; when it was the last, op goes on the
 * done list to be answered with no lock held. */
static void resolve(pub_op *op, pub_op **done)
{
    if (--op->pending == 0 && !op->answered) {
        op->answered = true;
        op->done_next = *done;
        *done = op;
    }
}

static void unlink_waiter(waiter *w)
{
    sub *s = w->s;
    pub_op *op = w->op;

    if (w->prev != NULL)
        w->prev->next = w->next;
    else
        s->w_head = w->next;
    if (w->next != NULL)
        w->next->prev = w->prev;
    else
        s->w_tail = w->prev;
    if (w->op_prev != NULL)
        w->op_prev->op_next = w->op_next;
    else
        op->waiters = w->op_next;
    if (w->op_next != NULL)
        w->op_next->op_prev = w->op_prev;
}

/* The waiter's event did not reach its subscription: a gap there. */
void hvrpc__bus_drop_waiter(waiter *w, pub_op **done)
{
    unlink_waiter(w);
    w->op->dropped++;
    resolve(w->op, done);
    hvrpc__bus_event_unref(w->ev);
    free(w);
}

/* Moves waiters into the queue, oldest first, while there is room. */
void hvrpc__bus_admit(hvrpc_bus *bus, sub *s, pub_op **done)
{
    while (s->w_head != NULL && has_room(bus, s, s->w_head->ev)) {
        waiter *w = s->w_head;

        unlink_waiter(w);
        push(s, w->ev, w->seq);
        w->op->queued++;
        resolve(w->op, done);
        free(w);
    }
}

/* Ends s from the broker's side: no more events; its sender finishes the
 * stream with RESOURCE_EXHAUSTED, saying why and what was lost. */
HVRPC_PRINTF(3, 4)
void hvrpc__bus_end_sub(sub *s, pub_op **done, const char *fmt, ...)
{
    va_list ap;

    if (s->ended)
        return;
    va_start(ap, fmt);
    vsnprintf(s->end_reason, sizeof s->end_reason, fmt, ap);
    va_end(ap);
    s->ended = true;
    while (s->w_head != NULL)
        hvrpc__bus_drop_waiter(s->w_head, done);
    while (s->count > 0)
        hvrpc__bus_event_unref(hvrpc__bus_pop(s).ev);
    pthread_cond_signal(&s->cv);
}

static void answer(pub_op *op)
{
    publish_response r = HVRPC__BUS__V1__PUBLISH_RESPONSE__INIT;

    r.matched = op->matched;
    r.queued = op->queued;
    r.displaced = op->displaced;
    r.dropped = op->dropped;
    hvrpc__bus__v1__bus__publish_reply(op->call, &r);
}

/* Answers every publish on the done list and drops its call reference. */
void hvrpc__bus_answer_done(pub_op *done)
{
    while (done != NULL) {
        pub_op *op = done;

        done = op->done_next;
        answer(op);
        hvrpc__bus_op_unref(op);
    }
}

/* --- events and offers -------------------------------------------------- */

/* Packs the fields every subscriber shares; topic is the one published
 * on (req's, or its private.self rewritten). */
bus_event *hvrpc__bus_event_new(const publish_request *req, const char *topic,
                                const char *publisher)
{
    bus_event_msg m = HVRPC__BUS__V1__EVENT__INIT;
    struct timespec now;
    bus_event *ev;

    clock_gettime(CLOCK_REALTIME, &now);
    m.topic = (char *)topic;
    m.payload = req->payload;
    m.n_headers = req->n_headers;
    m.headers = req->headers;
    m.publisher = (char *)publisher;
    m.time_unix_nano = (int64_t)now.tv_sec * 1000000000 + now.tv_nsec;
    size_t len = hvrpc__bus__v1__event__get_packed_size(&m);
    ev = malloc(sizeof *ev + len);
    if (ev == NULL)
        return NULL;
    atomic_init(&ev->refs, 1);
    ev->len = hvrpc__bus__v1__event__pack(&m, ev->data);
    ev->cost = ev->len + EVENT_OVERHEAD;
    return ev;
}

/* Offers ev to one matching subscription. */
void hvrpc__bus_offer(hvrpc_bus *bus, sub *s, bus_event *ev, pub_op *op,
                      pub_op **done)
{
    uint64_t seq = ++s->next_seq;
    waiter *w;

    op->matched++;
    if (s->w_head == NULL && has_room(bus, s, ev)) {
        push(s, hvrpc__bus_event_ref(ev), seq);
        op->queued++;
        return;
    }
    switch (s->overflow) {
    case OVERFLOW_DROP_OLDEST:
        while (s->count > 0 && !has_room(bus, s, ev)) {
            hvrpc__bus_event_unref(hvrpc__bus_pop(s).ev);
            op->displaced++;
        }
        if (has_room(bus, s, ev)) {
            push(s, hvrpc__bus_event_ref(ev), seq);
            op->queued++;
        } else {
            op->dropped++; /* out of memory for even one slot */
        }
        return;
    case OVERFLOW_BLOCK:
        w = calloc(1, sizeof *w);
        if (w == NULL) {
            op->dropped++;
            hvrpc__bus_end_sub(s, done, "out of memory for a waiting publish");
            return;
        }
        w->s = s;
        w->op = op;
        w->ev = hvrpc__bus_event_ref(ev);
        w->seq = seq;
        w->prev = s->w_tail;
        if (s->w_tail != NULL)
            s->w_tail->next = w;
        else
            s->w_head = w;
        s->w_tail = w;
        w->op_next = op->waiters;
        if (op->waiters != NULL)
            op->waiters->op_prev = w;
        op->waiters = w;
        op->pending++;
        return;
    default:
        op->dropped++;
        hvrpc__bus_end_sub(
            s, done, "queue full (%u events, overflow DISCONNECT)", s->size);
        return;
    }
}
