/*
 * bus_service.c - the bus broker: hvrpc.bus.v1.Bus on the generated layer.
 *
 * One mutex (bus->mu) guards the subscriptions, their queues and the
 * publishes waiting for room. An event is packed once, when published,
 * into the Event fields every subscriber shares (topic, payload, headers,
 * publisher, time); each subscription's sender puts its own sequence and
 * drop count in front (protobuf fields may come in any order) and sends
 * it on the subscription's stream.
 *
 * Publish runs on a worker and never waits there: a publish that finds a
 * BLOCK subscription full leaves a waiter in that subscription's FIFO and
 * a timer (hvrpc_server_schedule), and is answered by whoever resolves
 * its last waiter: the subscription's sender making room, the timer, or
 * the subscription ending. Replies are sent with no lock held.
 * Lock order: bus->mu, then the runtime's own (hvrpc_stream_done() is
 * called under bus->mu); the runtime never calls in here holding one.
 *
 * A Subscribe stream's handler thread is the subscription's sender: it
 * takes events from the queue and sends them, waiting for the stream's
 * window; while it waits, the queue fills and the policy decides.
 */
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "bus_service.h"

typedef Hvrpc__Bus__V1__PublishRequest publish_request;
typedef Hvrpc__Bus__V1__PublishResponse publish_response;
typedef Hvrpc__Bus__V1__SubscribeRequest subscribe_request;
typedef Hvrpc__Bus__V1__Event bus_event_msg;

#define OVERFLOW_DROP_OLDEST                                                   \
    HVRPC__BUS__V1__SUBSCRIBE_REQUEST__OVERFLOW__DROP_OLDEST
#define OVERFLOW_BLOCK HVRPC__BUS__V1__SUBSCRIBE_REQUEST__OVERFLOW__BLOCK
#define OVERFLOW_DISCONNECT                                                    \
    HVRPC__BUS__V1__SUBSCRIBE_REQUEST__OVERFLOW__DISCONNECT

/* What an event costs a queue beyond its bytes, so empty events count. */
#define EVENT_OVERHEAD 64u
/* How often a waiting sender looks at its stream (ended by the client,
 * the connection or the server stopping: the runtime has no callback). */
#define POLL_MS 200
/* A queue's slots grow from this many up to its size. */
#define FIRST_SLOTS  16u
#define PEER_KEY_MAX 80

typedef struct pub_op pub_op;
typedef struct waiter waiter;
typedef struct sub sub;

/* An event as published: shared by every queue it is in. */
typedef struct bus_event {
    atomic_uint refs;
    size_t cost; /* what it charges a queue: len + EVENT_OVERHEAD */
    size_t len;
    uint8_t data[]; /* the shared Event fields, packed */
} bus_event;

typedef struct slot {
    bus_event *ev;
    uint64_t seq;
} slot;

/* Open subscriptions of one peer. */
typedef struct peer_count {
    char key[PEER_KEY_MAX];
    uint32_t n;
    struct peer_count *next;
} peer_count;

/* One publish waiting for room in one BLOCK subscription. */
struct waiter {
    waiter *prev, *next;       /* the subscription's FIFO */
    waiter *op_prev, *op_next; /* the publish's list */
    sub *s;
    pub_op *op;
    bus_event *ev; /* a reference */
    uint64_t seq;  /* assigned when it started waiting */
};

/* One Publish call until it is answered. */
struct pub_op {
    atomic_uint refs; /* the call's answer, and the timer when armed */
    hvrpc_bus *bus;
    hvrpc_call *call;
    unsigned pending;    /* waiters not yet resolved */
    bool cut_on_timeout; /* the timer is the block timeout, not the deadline */
    bool answered;       /* handed to a done list (under bus->mu) */
    waiter *waiters;
    uint32_t matched, queued, displaced, dropped;
    pub_op *done_next;
};

struct sub {
    sub *prev, *next; /* bus->subs */
    char **patterns;
    size_t n_patterns;
    int overflow;
    uint32_t size; /* the queue's size in events */
    slot *ring;
    uint32_t alloc, head, count;
    size_t bytes;
    uint64_t next_seq; /* the last sequence assigned */
    waiter *w_head, *w_tail;
    bool ended; /* ended by the broker: end_reason says why */
    char end_reason[120];
    pthread_cond_t cv;
    peer_count *peer;
    hvrpc_stream *stream; /* valid while the subscription is on the bus */
};

struct hvrpc_bus {
    hvrpc_bus_options o;
    pthread_mutex_t mu;
    sub *subs;
    size_t n_subs;
    peer_count *peers;
};

void hvrpc_bus_options_init(hvrpc_bus_options *o)
{
    memset(o, 0, sizeof *o);
    o->size = sizeof *o;
    o->max_topic_length = 256;
    o->max_topic_segments = 16;
    o->max_patterns = 16;
    o->max_payload = 1024 * 1024;
    o->max_headers = 16;
    o->max_header_bytes = 4096;
    o->max_subscriptions = 1024;
    o->max_subscriptions_per_peer = 64;
    o->default_queue_size = 256;
    o->max_queue_size = 4096;
    o->max_queue_bytes = 1024 * 1024;
    o->block_timeout_ms = 1000;
}

hvrpc_code hvrpc_bus_create(const hvrpc_bus_options *opts, hvrpc_bus **out,
                            hvrpc_status *st)
{
    hvrpc_bus_options o;
    hvrpc_bus *bus;

    *out = NULL;
    hvrpc_bus_options_init(&o);
    if (opts != NULL) {
        if (opts->size != sizeof o)
            return hvrpc_status_set(st, HVRPC_INVALID_ARGUMENT,
                                    "hvrpc_bus_options.size is %zu, not %zu: "
                                    "use hvrpc_bus_options_init()",
                                    opts->size, sizeof o);
        o = *opts;
    }
    const struct {
        const char *name;
        uint32_t v;
    } limits[] = {
        {"max_topic_length", o.max_topic_length},
        {"max_topic_segments", o.max_topic_segments},
        {"max_patterns", o.max_patterns},
        {"max_payload", o.max_payload},
        {"max_headers", o.max_headers},
        {"max_header_bytes", o.max_header_bytes},
        {"max_subscriptions", o.max_subscriptions},
        {"max_subscriptions_per_peer", o.max_subscriptions_per_peer},
        {"default_queue_size", o.default_queue_size},
        {"max_queue_size", o.max_queue_size},
        {"max_queue_bytes", o.max_queue_bytes},
        {"block_timeout_ms", o.block_timeout_ms},
    };
    for (size_t i = 0; i < sizeof limits / sizeof limits[0]; i++) {
        if (limits[i].v == 0)
            return hvrpc_status_set(st, HVRPC_INVALID_ARGUMENT,
                                    "hvrpc_bus_options.%s must be at least 1",
                                    limits[i].name);
    }
    if (o.max_topic_length > 65536 || o.max_queue_size > 1u << 20 ||
        o.default_queue_size > o.max_queue_size)
        return hvrpc_status_set(st, HVRPC_INVALID_ARGUMENT,
                                "hvrpc_bus_options: max_topic_length is at "
                                "most 65536, max_queue_size at most 1048576 "
                                "and default_queue_size at most "
                                "max_queue_size");
    bus = calloc(1, sizeof *bus);
    if (bus == NULL)
        return hvrpc_status_set(st, HVRPC_RESOURCE_EXHAUSTED,
                                "out of memory for the bus");
    bus->o = o;
    pthread_mutex_init(&bus->mu, NULL);
    *out = bus;
    return HVRPC_OK;
}

size_t hvrpc_bus_subscription_count(hvrpc_bus *bus)
{
    size_t n;

    pthread_mutex_lock(&bus->mu);
    n = bus->n_subs;
    pthread_mutex_unlock(&bus->mu);
    return n;
}

void hvrpc_bus_free(hvrpc_bus *bus)
{
    if (bus == NULL)
        return;
    /* Every subscription's thread has returned by now (the servers were
     * stopped), and with it every subscription and waiter. */
    while (bus->peers != NULL) {
        peer_count *p = bus->peers;
        bus->peers = p->next;
        free(p);
    }
    pthread_mutex_destroy(&bus->mu);
    free(bus);
}

/* --- events and the little things ---------------------------------------- */

static int64_t mono_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static void event_unref(bus_event *ev)
{
    if (ev != NULL && atomic_fetch_sub(&ev->refs, 1) == 1)
        free(ev);
}

static bus_event *event_ref(bus_event *ev)
{
    atomic_fetch_add(&ev->refs, 1);
    return ev;
}

static void op_unref(pub_op *op)
{
    if (atomic_fetch_sub(&op->refs, 1) == 1)
        free(op);
}

/* The key the per-peer limit counts by: what the server's own per-peer
 * limits use (the CID, VmId, uid, tcp address without the port). */
static void peer_key(const hvrpc_peer *p, char *buf, size_t size)
{
    char guid[HVRPC_GUID_STRLEN];
    const char *colon;

    switch (p->kind) {
    case HVRPC_ADDR_VSOCK:
        snprintf(buf, size, "vsock:%u", p->vsock_cid);
        return;
    case HVRPC_ADDR_HVSOCK:
        snprintf(buf, size, "hvsock:%s", hvrpc_guid_format(&p->vm_id, guid));
        return;
    case HVRPC_ADDR_UNIX:
    case HVRPC_ADDR_HYBRID_VSOCK:
    case HVRPC_ADDR_MEM:
        snprintf(buf, size, "uid:%lld", (long long)p->uid);
        return;
    case HVRPC_ADDR_TCP:
        colon = strrchr(p->tcp_addr, ':');
        snprintf(buf, size, "tcp:%.*s",
                 colon != NULL ? (int)(colon - p->tcp_addr)
                               : (int)strlen(p->tcp_addr),
                 p->tcp_addr);
        return;
    }
    hvrpc_peer_format(p, buf, size);
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

static slot pop(sub *s)
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
static void drop_waiter(waiter *w, pub_op **done)
{
    unlink_waiter(w);
    w->op->dropped++;
    resolve(w->op, done);
    event_unref(w->ev);
    free(w);
}

/* Moves waiters into the queue, oldest first, while there is room. */
static void admit(hvrpc_bus *bus, sub *s, pub_op **done)
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
static void end_sub(sub *s, pub_op **done, const char *fmt, ...)
{
    va_list ap;

    if (s->ended)
        return;
    va_start(ap, fmt);
    vsnprintf(s->end_reason, sizeof s->end_reason, fmt, ap);
    va_end(ap);
    s->ended = true;
    while (s->w_head != NULL)
        drop_waiter(s->w_head, done);
    while (s->count > 0)
        event_unref(pop(s).ev);
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
static void answer_done(pub_op *done)
{
    while (done != NULL) {
        pub_op *op = done;

        done = op->done_next;
        answer(op);
        op_unref(op);
    }
}

/* --- Publish ----------------------------------------------------------- */

static bool reserved_key(const char *key)
{
    static const char prefix[] = "hvrpc-";

    for (size_t i = 0; i < sizeof prefix - 1; i++) {
        char c = key[i];
        if (c >= 'A' && c <= 'Z')
            c = (char)(c - 'A' + 'a');
        if (c != prefix[i])
            return false;
    }
    return true;
}

static hvrpc_code check_publish(const hvrpc_bus *bus,
                                const publish_request *req, hvrpc_status *st)
{
    size_t header_bytes = 0;

    if (hvrpc_bus_topic_check(req->topic, &bus->o, st) != HVRPC_OK)
        return st->code;
    if (req->payload.len > bus->o.max_payload)
        return hvrpc_status_set(st, HVRPC_RESOURCE_EXHAUSTED,
                                "payload of %zu bytes: the limit is %u",
                                req->payload.len, bus->o.max_payload);
    if (req->n_headers > bus->o.max_headers)
        return hvrpc_status_set(st, HVRPC_INVALID_ARGUMENT,
                                "%zu headers: the limit is %u", req->n_headers,
                                bus->o.max_headers);
    for (size_t i = 0; i < req->n_headers; i++) {
        const char *k = req->headers[i]->key ? req->headers[i]->key : "";
        const char *v = req->headers[i]->value ? req->headers[i]->value : "";

        if (k[0] == '\0')
            return hvrpc_status_set(st, HVRPC_INVALID_ARGUMENT,
                                    "header %zu has an empty key", i);
        if (reserved_key(k))
            return hvrpc_status_set(st, HVRPC_INVALID_ARGUMENT,
                                    "header \"%.40s\": keys starting with "
                                    "\"hvrpc-\" are reserved",
                                    k);
        header_bytes += strlen(k) + strlen(v);
        if (header_bytes > bus->o.max_header_bytes)
            return hvrpc_status_set(st, HVRPC_INVALID_ARGUMENT,
                                    "headers over %u bytes",
                                    bus->o.max_header_bytes);
    }
    return HVRPC_OK;
}

/* Packs the fields every subscriber shares. */
static bus_event *event_new(const publish_request *req, const char *publisher)
{
    bus_event_msg m = HVRPC__BUS__V1__EVENT__INIT;
    struct timespec now;
    bus_event *ev;

    clock_gettime(CLOCK_REALTIME, &now);
    m.topic = req->topic;
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

static bool sub_matches(const sub *s, const char *topic)
{
    for (size_t i = 0; i < s->n_patterns; i++) {
        if (hvrpc_bus_topic_matches(s->patterns[i], topic))
            return true;
    }
    return false;
}

/* Offers ev to one matching subscription. */
static void offer(hvrpc_bus *bus, sub *s, bus_event *ev, pub_op *op,
                  pub_op **done)
{
    uint64_t seq = ++s->next_seq;
    waiter *w;

    op->matched++;
    if (s->w_head == NULL && has_room(bus, s, ev)) {
        push(s, event_ref(ev), seq);
        op->queued++;
        return;
    }
    switch (s->overflow) {
    case OVERFLOW_DROP_OLDEST:
        while (s->count > 0 && !has_room(bus, s, ev)) {
            event_unref(pop(s).ev);
            op->displaced++;
        }
        if (has_room(bus, s, ev)) {
            push(s, event_ref(ev), seq);
            op->queued++;
        } else {
            op->dropped++; /* out of memory for even one slot */
        }
        return;
    case OVERFLOW_BLOCK:
        w = calloc(1, sizeof *w);
        if (w == NULL) {
            op->dropped++;
            end_sub(s, done, "out of memory for a waiting publish");
            return;
        }
        w->s = s;
        w->op = op;
        w->ev = event_ref(ev);
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
        end_sub(s, done, "queue full (%u events, overflow DISCONNECT)",
                s->size);
        return;
    }
}

/* The timer of a publish that waits: its deadline or the block timeout
 * came (also run at once when the server stops). Each subscription it
 * still waits for loses the event: ended when the block timeout passed,
 * a gap when the publisher's deadline came first. */
static void wait_over(void *arg)
{
    pub_op *op = arg;
    hvrpc_bus *bus = op->bus;
    pub_op *done = NULL;

    pthread_mutex_lock(&bus->mu);
    while (op->waiters != NULL) {
        waiter *w = op->waiters;

        if (op->cut_on_timeout && !w->s->ended)
            end_sub(w->s, &done,
                    "no room made for %u ms while a publisher waited "
                    "(overflow BLOCK)",
                    bus->o.block_timeout_ms);
        else
            drop_waiter(w, &done);
    }
    pthread_mutex_unlock(&bus->mu);
    answer_done(done);
    op_unref(op); /* the timer's reference */
}

static void publish(hvrpc_call *call, const publish_request *req,
                    void *user_data)
{
    hvrpc_bus *bus = user_data;
    hvrpc_server *srv = hvrpc_call_server(call); /* call may go, below */
    char publisher[HVRPC_PEER_ADDR_MAX + 128];
    hvrpc_status st;
    pub_op *op;
    pub_op *done = NULL;
    bus_event *ev;
    bool timer = false;
    int64_t wait_ms = 0;

    if (check_publish(bus, req, &st) != HVRPC_OK) {
        hvrpc_call_fail(call, st.code, "%s", st.message);
        return;
    }
    hvrpc_peer_format(hvrpc_call_peer(call), publisher, sizeof publisher);
    ev = event_new(req, publisher);
    op = calloc(1, sizeof *op);
    if (ev == NULL || op == NULL) {
        event_unref(ev);
        free(op);
        hvrpc_call_fail(call, HVRPC_RESOURCE_EXHAUSTED,
                        "out of memory for an event");
        return;
    }
    atomic_init(&op->refs, 1);
    op->call = call;
    op->bus = bus;

    pthread_mutex_lock(&bus->mu);
    for (sub *s = bus->subs; s != NULL; s = s->next) {
        if (s->ended || !sub_matches(s, req->topic))
            continue;
        if (hvrpc_stream_done(s->stream)) {
            /* Its client left: not a subscriber any more. Its sender
             * notices within POLL_MS; wake it now. */
            pthread_cond_signal(&s->cv);
            continue;
        }
        offer(bus, s, ev, op, &done);
    }
    if (op->pending == 0) {
        op->answered = true;
        op->done_next = done;
        done = op;
    } else {
        /* Wait for room up to the block timeout or, when it comes first,
         * the call's deadline: a little before it (a tenth of the time
         * left, at most 50 ms), so the answer, with the event counted in
         * `dropped`, can still reach the publisher. */
        int64_t deadline = hvrpc_call_deadline(call);

        wait_ms = bus->o.block_timeout_ms;
        op->cut_on_timeout = true;
        if (deadline != 0) {
            int64_t left = (deadline - mono_ns()) / 1000000;

            left -= left / 10 < 50 ? left / 10 : 50;
            if (left < wait_ms) {
                wait_ms = left < 0 ? 0 : left;
                op->cut_on_timeout = false;
            }
        }
        atomic_fetch_add(&op->refs, 1);
        timer = true;
    }
    pthread_mutex_unlock(&bus->mu);
    event_unref(ev);
    answer_done(done);
    /* From here op may be answered by another thread at any time; the
     * timer's reference keeps it. */
    if (timer &&
        (wait_ms == 0 || hvrpc_server_schedule(srv, (uint32_t)wait_ms,
                                               wait_over, op, &st) != HVRPC_OK))
        wait_over(op); /* no time left, or no timer (the server stops) */
}

/* --- Subscribe ---------------------------------------------------------- */

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

/* A subscription from a checked request, not yet on the bus. */
static sub *sub_new(const hvrpc_bus *bus, const subscribe_request *req)
{
    sub *s = calloc(1, sizeof *s);
    pthread_condattr_t ca;

    if (s == NULL)
        return NULL;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&s->cv, &ca);
    pthread_condattr_destroy(&ca);
    s->overflow = (int)req->overflow;
    s->size = req->queue_size == 0 ? bus->o.default_queue_size
              : req->queue_size > bus->o.max_queue_size ? bus->o.max_queue_size
                                                        : req->queue_size;
    s->alloc = s->size < FIRST_SLOTS ? s->size : FIRST_SLOTS;
    s->ring = malloc((size_t)s->alloc * sizeof *s->ring);
    s->patterns = calloc(req->n_patterns, sizeof *s->patterns);
    if (s->ring == NULL || s->patterns == NULL) {
        sub_free(s);
        return NULL;
    }
    for (size_t i = 0; i < req->n_patterns; i++) {
        s->patterns[i] = strdup(req->patterns[i]);
        if (s->patterns[i] == NULL) {
            sub_free(s);
            return NULL;
        }
        s->n_patterns++;
    }
    return s;
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

    peer_key(peer, key, sizeof key);
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
        drop_waiter(s->w_head, &done);
    while (s->count > 0)
        event_unref(pop(s).ev);
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
    answer_done(done);
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
            *out = pop(s);
            admit(bus, s, &done);
            r = TAKE_EVENT;
            break;
        }
        struct timespec until;
        clock_gettime(CLOCK_MONOTONIC, &until);
        until.tv_nsec += POLL_MS * 1000000L;
        if (until.tv_nsec >= 1000000000L) {
            until.tv_sec++;
            until.tv_nsec -= 1000000000L;
        }
        pthread_cond_timedwait(&s->cv, &bus->mu, &until);
        if (s->count == 0 && !s->ended) {
            pthread_mutex_unlock(&bus->mu);
            if (stream_over(stream))
                return TAKE_STREAM;
            pthread_mutex_lock(&bus->mu);
        }
    }
    pthread_mutex_unlock(&bus->mu);
    answer_done(done);
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

                event_unref(e.ev);
                pthread_mutex_lock(&bus->mu);
                end_sub(s, &done, "out of memory for an event");
                pthread_mutex_unlock(&bus->mu);
                answer_done(done);
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
        event_unref(e.ev);
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

static void subscribe(hvrpc_stream *stream, const subscribe_request *req,
                      void *user_data)
{
    hvrpc_bus *bus = user_data;
    hvrpc_status st;
    sub *s;

    if (check_subscribe(bus, req, &st) != HVRPC_OK) {
        hvrpc_stream_finish(stream, st.code, "%s", st.message);
        return;
    }
    s = sub_new(bus, req);
    if (s == NULL) {
        hvrpc_stream_finish(stream, HVRPC_RESOURCE_EXHAUSTED,
                            "out of memory for a subscription");
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

hvrpc_code hvrpc_bus_register(hvrpc_server *srv, hvrpc_endpoint *ep,
                              hvrpc_bus *bus, hvrpc_status *st)
{
    static const hvrpc__bus__v1__bus_handlers handlers = {
        .publish = publish,
        .subscribe = subscribe,
    };

    return hvrpc__bus__v1__bus_register(srv, ep, &handlers, bus, st);
}
