/*
 * bus_service.c - the bus broker, hvrpc.bus.v1.Bus on the generated
 * layer: its options, its life and its registration. docs/BUS.md is the
 * manual; bus_internal.h says which file does what (access, queues,
 * Publish, Subscribe, topics).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bus_internal.h"

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
    o->host_peers = NULL; /* uid 0 and this process's euid */
    o->authorize = NULL;
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
    if (hvrpc__bus_access_init(bus, st) != HVRPC_OK) {
        free(bus->host_keys);
        free(bus);
        return st->code;
    }
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
    free(bus->host_keys);
    free(bus);
}

hvrpc_code hvrpc_bus_register(hvrpc_server *srv, hvrpc_endpoint *ep,
                              hvrpc_bus *bus, hvrpc_status *st)
{
    static const hvrpc__bus__v1__bus_handlers handlers = {
        .publish = hvrpc__bus_publish,
        .subscribe = hvrpc__bus_subscribe,
    };

    return hvrpc__bus__v1__bus_register(srv, ep, &handlers, bus, st);
}
