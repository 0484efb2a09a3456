/*
 * bus_internal.h - what the broker's files share (not installed).
 *
 * The broker is split by job, each file readable on its own:
 *   bus_service.c    options, create/free, registration
 *   bus_access.c     who may publish and subscribe where: peer keys, host
 *                    peers, private topics, the user's authorize hook
 *   bus_queue.c      events, subscription queues, waiting publishes, the
 *                    overflow policies
 *   bus_publish.c    the Publish handler
 *   bus_subscribe.c  the Subscribe handler: a subscription's life and its
 *                    sender
 *   bus_topic.c      topic and pattern syntax, matching
 *
 * One mutex (bus->mu) guards the subscriptions, their queues and the
 * publishes waiting for room. Functions marked "under bus->mu" expect it
 * held. Lock order: bus->mu, then the runtime's own
 * (hvrpc_stream_done() is called under bus->mu); the runtime never calls
 * in here holding one. Nothing here is called with a lock held that a
 * user callback (the authorize hook) could need.
 */
#ifndef HVRPC_BUS_INTERNAL_H
#define HVRPC_BUS_INTERNAL_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

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
#define PEER_KEY_MAX HVRPC_BUS_PEER_KEY_MAX
/* Host peers the options may list (hvrpc_bus_options.host_peers). */
#define MAX_HOST_PEERS 64

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

/* Who a subscriber is, for private topics (bus_access.c). */
typedef struct bus_who {
    char key[PEER_KEY_MAX]; /* its private key: "vsock:3", "uid:1000" */
    bool host;              /* a host peer: receives every private topic */
} bus_who;

struct sub {
    sub *prev, *next; /* bus->subs */
    char **patterns;  /* as the broker uses them: private.self rewritten */
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
    bus_who who;
    hvrpc_stream *stream; /* valid while the subscription is on the bus */
};

struct hvrpc_bus {
    hvrpc_bus_options o; /* host_peers points into host_keys below */
    char (*host_keys)[PEER_KEY_MAX];
    size_t n_host_keys;
    pthread_mutex_t mu;
    sub *subs;
    size_t n_subs;
    peer_count *peers;
};

/* --- bus_access.c -------------------------------------------------------- */

/* Copies the host peer list of o (or the default one) into bus. */
hvrpc_code hvrpc__bus_access_init(hvrpc_bus *bus, hvrpc_status *st);

/* The per-peer limit's key (unchanged from the first broker: a unix,
 * hybrid vsock and mem peer all count by uid). */
void hvrpc__bus_limit_key(const hvrpc_peer *p, char *buf, size_t size);

/* Who the peer is, for private topics. */
void hvrpc__bus_who(const hvrpc_bus *bus, const hvrpc_peer *p, bus_who *who);

/* Checks that who may publish on topic (a checked topic): the user's
 * hook, then the private-topic rule. When topic is private.self.X,
 * *rewritten gets the topic as published (malloc'd; the caller frees it),
 * else NULL. OK, or the refusal. */
hvrpc_code hvrpc__bus_access_publish(const hvrpc_bus *bus,
                                     const hvrpc_peer *peer, const bus_who *who,
                                     const char *topic, char **rewritten,
                                     hvrpc_status *st);

/* The same for one pattern (a checked one) of a subscription; *out gets
 * the pattern the subscription keeps (malloc'd: private.self
 * rewritten). */
hvrpc_code hvrpc__bus_access_subscribe(const hvrpc_bus *bus,
                                       const hvrpc_peer *peer,
                                       const bus_who *who, const char *pattern,
                                       char **out, hvrpc_status *st);

/* The owner of a private topic (its second segment, length *len), or
 * NULL when the topic is not private. A topic "private" alone has owner
 * "" (length 0): only host peers receive it. */
const char *hvrpc__bus_private_owner(const char *topic, size_t *len);

/* True when a subscriber who may receive an event on a topic whose
 * private owner is owner (NULL: not private). */
bool hvrpc__bus_may_receive(const bus_who *who, const char *owner,
                            size_t owner_len);

/* --- bus_queue.c (all under bus->mu unless said) ------------------------- */

int64_t hvrpc__bus_mono_ns(void);
bus_event *hvrpc__bus_event_new(const publish_request *req, const char *topic,
                                const char *publisher);
bus_event *hvrpc__bus_event_ref(bus_event *ev);
void hvrpc__bus_event_unref(bus_event *ev); /* any thread, no lock */
void hvrpc__bus_op_unref(pub_op *op);       /* any thread, no lock */
slot hvrpc__bus_pop(sub *s);
/* Offers ev to one matching subscription, by its overflow policy. */
void hvrpc__bus_offer(hvrpc_bus *bus, sub *s, bus_event *ev, pub_op *op,
                      pub_op **done);
/* Moves waiters into s's queue, oldest first, while there is room. */
void hvrpc__bus_admit(hvrpc_bus *bus, sub *s, pub_op **done);
/* The waiter's event did not reach its subscription: a gap there. */
void hvrpc__bus_drop_waiter(waiter *w, pub_op **done);
/* Ends s from the broker's side (see bus_queue.c). */
HVRPC_PRINTF(3, 4)
void hvrpc__bus_end_sub(sub *s, pub_op **done, const char *fmt, ...);
/* Answers every publish on the done list: no lock held. */
void hvrpc__bus_answer_done(pub_op *done);

/* --- the handlers (bus_publish.c, bus_subscribe.c) ---------------------- */

void hvrpc__bus_publish(hvrpc_call *call, const publish_request *req,
                        void *user_data);
void hvrpc__bus_subscribe(hvrpc_stream *stream, const subscribe_request *req,
                          void *user_data);

#endif /* HVRPC_BUS_INTERNAL_H */
