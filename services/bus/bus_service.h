/*
 * bus_service.h - hvrpc.bus.v1.Bus (proto/hvrpc/bus/v1/bus.proto), the
 * message bus broker, on the generated layer; docs/BUS.md is its manual.
 *
 * One broker (hvrpc_bus) holds the subscriptions; register it on any
 * number of endpoints (and servers): a publisher on one endpoint reaches
 * subscribers on every other, so a vsock listener for the guests and a
 * unix socket for host processes share one bus.
 *
 * Topics are dot-separated segments of printable ASCII ("vm.web1.up");
 * a pattern's segment may be "*" (exactly one segment) or, last, ">" (one
 * or more). Every event is stamped with its publisher's identity as the
 * broker saw the call (hvrpc_peer_format of hvrpc_call_peer): nothing a
 * publisher sends can change it.
 *
 * Access: a topic private.<key>.... belongs to the peer whose
 * hvrpc_bus_peer_key() is <key>: only that peer and the host peers
 * (hvrpc_bus_options.host_peers) receive it, whatever their patterns,
 * and only they may publish on it (PERMISSION_DENIED otherwise). A peer
 * writes "private.self" for its own space. An authorize hook may refuse
 * more.
 *
 * Delivery: each subscription has a bounded queue and numbers its events
 * 1, 2, 3, ...; events of one publisher arrive in the order the broker
 * accepted them; a full queue is handled by the subscription's overflow
 * policy (drop oldest, block the publisher, disconnect), and every event a
 * subscription loses is a gap in its sequence, counted in the next
 * event's `dropped`.
 *
 * Threads: every function may be called from any thread. A Subscribe
 * stream's handler runs on a thread of its own (hvrpc/stream.h); Publish
 * never holds a worker while it waits for a blocking subscriber (it
 * answers later).
 */
#ifndef HVRPC_BUS_SERVICE_H
#define HVRPC_BUS_SERVICE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <hvrpc/hvrpc.h>

#include "hvrpc/bus/v1/bus.hvrpc.h"

/* What a peer asks to do, for the authorize hook. */
typedef enum hvrpc_bus_action {
    HVRPC_BUS_PUBLISH = 1,   /* topic is the topic published on */
    HVRPC_BUS_SUBSCRIBE = 2, /* topic is one pattern of a subscription */
} hvrpc_bus_action;

/* The user's access hook (hvrpc_bus_options.authorize): called for every
 * Publish (its topic) and for each pattern of every Subscribe, after the
 * syntax checks and with "private.self" already rewritten to the peer's
 * own key, before the built-in private-topic rule. Return HVRPC_OK to
 * let the built-in rule decide; any other code (with a message in *st)
 * refuses the call with that code (a code that is not a gRPC error code
 * becomes PERMISSION_DENIED). It can refuse, never grant. Runs on a
 * server thread with no broker lock held; it must be thread-safe and not
 * block for long (it holds the call). */
typedef hvrpc_code (*hvrpc_bus_authorize_fn)(const hvrpc_peer *peer,
                                             hvrpc_bus_action action,
                                             const char *topic, void *arg,
                                             hvrpc_status *st);

/* The longest peer key (hvrpc_bus_peer_key()), with its NUL. */
#define HVRPC_BUS_PEER_KEY_MAX 80

/* The broker's limits and access rules; every value a peer sends is
 * bounded by one of them (docs/SECURITY.md's table). 0 is not "no limit"
 * here: each limit must be at least 1. */
typedef struct hvrpc_bus_options {
    size_t size;                 /* sizeof(hvrpc_bus_options), set by _init */
    uint32_t max_topic_length;   /* bytes of a topic or pattern; 256 */
    uint32_t max_topic_segments; /* segments of a topic or pattern; 16 */
    uint32_t max_patterns;       /* per subscription; 16 */
    uint32_t max_payload;        /* bytes of an event's payload; 1 MiB */
    uint32_t max_headers;        /* headers of an event; 16 */
    uint32_t max_header_bytes;   /* their keys and values together; 4 KiB */
    uint32_t max_subscriptions;  /* open at once, in all; 1024 */
    /* Open at once per peer: a vsock CID, a Hyper-V VmId, a unix uid, a
     * tcp address (without port): 64. */
    uint32_t max_subscriptions_per_peer;
    uint32_t default_queue_size; /* events, when a subscriber asks for 0; 256 */
    uint32_t max_queue_size;     /* events; larger requests are lowered; 4096 */
    /* Bytes of events queued per subscription (an event costs its topic,
     * payload and headers + 64); a queue over it is full, except that an
     * empty queue takes any one event. 1 MiB. */
    uint32_t max_queue_bytes;
    /* The longest a BLOCK subscription may keep a publisher waiting with
     * no room made: when it passes, that subscription is ended
     * (RESOURCE_EXHAUSTED). 1000 ms. */
    uint32_t block_timeout_ms;
    /* Host peers (docs/BUS.md, "Access"): they receive every private
     * topic (private.<key>.>) and may publish in any peer's private
     * space. A list of n_host_peers peer keys (hvrpc_bus_peer_key():
     * "uid:0", "vsock:2"); copied by hvrpc_bus_create (at most 64).
     * NULL: the default, "uid:0" and "uid:<the broker's effective uid>",
     * that is local unix peers of root or of the broker's own user. A
     * non-NULL list with n_host_peers 0: no host peers at all. */
    const char *const *host_peers;
    size_t n_host_peers;
    /* Called before the built-in rule (hvrpc_bus_authorize_fn); NULL:
     * none. */
    hvrpc_bus_authorize_fn authorize;
    void *authorize_arg;
} hvrpc_bus_options;

/* Fills *o with the defaults above. */
void hvrpc_bus_options_init(hvrpc_bus_options *o);

typedef struct hvrpc_bus hvrpc_bus;

/* Creates a broker. opts may be NULL for the defaults; INVALID_ARGUMENT
 * names a limit out of range. */
hvrpc_code hvrpc_bus_create(const hvrpc_bus_options *opts, hvrpc_bus **out,
                            hvrpc_status *st);

/* Registers hvrpc.bus.v1.Bus on ep, served by bus. Only before the server
 * starts. bus must outlive every server it is registered with. */
hvrpc_code hvrpc_bus_register(hvrpc_server *srv, hvrpc_endpoint *ep,
                              hvrpc_bus *bus, hvrpc_status *st);

/* The key the broker knows a peer by for private topics (docs/BUS.md,
 * "Access"), one topic segment (no '.', '*' or '>'):
 *   vsock:CID            AF_VSOCK (the port changes per connection)
 *   hvsock:VMID          AF_HYPERV, the VmId in lower case
 *   uid:U                a unix or in-process (mem://) peer
 *   hybrid:uid:U         hybrid vsock: the VMM process's uid
 *   tcp:ADDR             tcp without the port, '.' spelled '-'
 *                        (tcp:127-0-0-1, tcp:[::1])
 * Returns the length needed, like snprintf. */
int hvrpc_bus_peer_key(const hvrpc_peer *p, char *buf, size_t size);

/* Subscriptions open now (for tests and monitoring). */
size_t hvrpc_bus_subscription_count(hvrpc_bus *bus);

/* Frees bus, after every server it is registered with was stopped. bus
 * may be NULL. */
void hvrpc_bus_free(hvrpc_bus *bus);

/* --- topics (bus_topic.c; also what `hvrpc pub`/`sub` check locally) -- */

/* OK when topic is a valid topic under the limits (NULL: the defaults);
 * INVALID_ARGUMENT saying what is wrong and where otherwise. */
hvrpc_code hvrpc_bus_topic_check(const char *topic,
                                 const hvrpc_bus_options *limits,
                                 hvrpc_status *st);

/* The same for a pattern ("*" and a last ">" allowed as whole segments). */
hvrpc_code hvrpc_bus_pattern_check(const char *pattern,
                                   const hvrpc_bus_options *limits,
                                   hvrpc_status *st);

/* True when a valid pattern matches a valid topic. */
bool hvrpc_bus_topic_matches(const char *pattern, const char *topic);

#endif /* HVRPC_BUS_SERVICE_H */
