/*
 * kvp_guest_bus.c - hvrpc-kvp-guest following its host-to-guest pool on
 * the host's bus (kvp_guest_bus.h).
 *
 * Subscribe first, then read: a change committed after the read is an
 * event still to come, so nothing is missed between the two. An event
 * the host published before the read may arrive after it and repeat an
 * older value for a moment; the host publishes each key's value as it is
 * when it sends (kvp_bus.c), so the last event of a key is its newest
 * value and the guest always ends with the host's pool.
 *
 * The guest keeps its own copy of the pool (bounded: MAX_PAIRS keys, the
 * host's 256 and more) to print only real changes.
 */
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hvrpc/bus/v1/bus.hvrpc.h"
#include "hvrpc/kvp/v1/kvp.hvrpc.h"
#include "kvp_guest_bus.h"

#define MAX_PAIRS     4096
#define MAX_VALUE     65536 /* far above the host's 2048: a sanity bound */
#define RECV_POLL     200
#define CALL_TIMEOUT  10000
#define PATTERN       "private.self.kvp.>"
#define SUBSCRIBED_MS 10000

typedef struct pool {
    char *key[MAX_PAIRS];
    char *value[MAX_PAIRS];
    size_t n;
} pool;

static void pool_free(pool *p)
{
    for (size_t i = 0; i < p->n; i++) {
        free(p->key[i]);
        free(p->value[i]);
    }
    p->n = 0;
}

static size_t find(const pool *p, const char *key)
{
    size_t i = 0;

    while (i < p->n && strcmp(p->key[i], key) != 0)
        i++;
    return i;
}

/* Sets key=value unless it is so already; prints the change. */
static void apply_set(pool *p, const char *key, const char *value)
{
    size_t i = find(p, key);
    char *v;

    if (i < p->n && strcmp(p->value[i], value) == 0)
        return;
    if (!(v = strdup(value)))
        return;
    if (i < p->n) {
        free(p->value[i]);
        p->value[i] = v;
    } else if (p->n < MAX_PAIRS && (p->key[i] = strdup(key))) {
        p->value[i] = v;
        p->n++;
    } else {
        free(v);
        return;
    }
    printf("set %s=%s\n", key, value);
    fflush(stdout);
}

static void apply_delete(pool *p, const char *key)
{
    size_t i = find(p, key);

    if (i == p->n)
        return;
    free(p->key[i]);
    free(p->value[i]);
    p->n--;
    p->key[i] = p->key[p->n];
    p->value[i] = p->value[p->n];
    printf("deleted %s\n", key);
    fflush(stdout);
}

/* The whole pool, read once the subscription is in place. */
static hvrpc_code read_pool(hvrpc_client *kvp, pool *p, hvrpc_status *st)
{
    Hvrpc__Kvp__V1__ReadRequest req = HVRPC__KVP__V1__READ_REQUEST__INIT;
    Hvrpc__Kvp__V1__ReadResponse *resp;
    hvrpc_call_options co = HVRPC_CALL_OPTIONS_INIT;

    co.timeout_ms = CALL_TIMEOUT;
    req.key = "";
    if (hvrpc__kvp__v1__kvp__read_call(kvp, &req, &resp, &co, st) != HVRPC_OK)
        return st->code;
    for (size_t i = 0; i < resp->n_items; i++)
        apply_set(p, resp->items[i]->key, resp->items[i]->value);
    protobuf_c_message_free_unpacked(&resp->base, NULL);
    printf("synced\n");
    fflush(stdout);
    return HVRPC_OK;
}

static const char *header(const Hvrpc__Bus__V1__Event *e, const char *key)
{
    for (size_t i = 0; i < e->n_headers; i++) {
        if (e->headers[i]->key && strcmp(e->headers[i]->key, key) == 0)
            return e->headers[i]->value;
    }
    return NULL;
}

static bool ends_with(const char *s, const char *tail)
{
    size_t n = strlen(s), t = strlen(tail);

    return n >= t && strcmp(s + n - t, tail) == 0;
}

/* One event of private.<me>.kvp.>: "set" (payload the value) or
 * "delete"; anything else is ignored. */
static void apply_event(pool *p, const Hvrpc__Bus__V1__Event *e)
{
    const char *key = header(e, "key");
    char *value;

    if (!key || !e->topic || e->payload.len > MAX_VALUE)
        return;
    if (ends_with(e->topic, ".kvp.delete")) {
        apply_delete(p, key);
    } else if (ends_with(e->topic, ".kvp.set")) {
        value = malloc(e->payload.len + 1);
        if (!value)
            return;
        memcpy(value, e->payload.data, e->payload.len);
        value[e->payload.len] = '\0';
        apply_set(p, key, value);
        free(value);
    }
}

hvrpc_code kvp_guest_follow_bus(hvrpc_client *kvp, const char *bus_uri,
                                kvp_guest_tick_fn tick, void *tick_arg,
                                volatile sig_atomic_t *stopping,
                                hvrpc_status *st)
{
    Hvrpc__Bus__V1__SubscribeRequest req =
        HVRPC__BUS__V1__SUBSCRIBE_REQUEST__INIT;
    Hvrpc__Bus__V1__Event *e = NULL;
    char *patterns[] = {PATTERN};
    hvrpc_client_options o;
    hvrpc_client *bus = NULL;
    hvrpc_stream *s = NULL;
    pool *p = calloc(1, sizeof *p);
    hvrpc_code r;

    if (!p)
        return hvrpc_status_set(st, HVRPC_RESOURCE_EXHAUSTED, "out of memory");
    hvrpc_client_options_init(&o);
    o.connect_timeout_ms = 2000;
    req.patterns = patterns;
    req.n_patterns = 1;
    /* Changes are few and small; a guest too slow for its queue loses
     * none of them silently: DISCONNECT ends the subscription, and the
     * guest subscribes and reads its pool again. */
    req.overflow = HVRPC__BUS__V1__SUBSCRIBE_REQUEST__OVERFLOW__DISCONNECT;
    r = hvrpc_client_connect(bus_uri, &o, &bus, st);
    if (r == HVRPC_OK)
        r = hvrpc__bus__v1__bus__subscribe_open(bus, &req, NULL, &s, st);
    if (r == HVRPC_OK)
        r = hvrpc__bus__v1__bus__subscribe_recv(s, &e, SUBSCRIBED_MS, st);
    if (r == HVRPC_OK && e->kind != HVRPC__BUS__V1__EVENT__KIND__SUBSCRIBED)
        r = hvrpc_status_set(st, HVRPC_INTERNAL,
                             "the bus did not start with SUBSCRIBED");
    if (e)
        protobuf_c_message_free_unpacked(&e->base, NULL);
    if (r == HVRPC_OK) {
        printf("hvrpc-kvp-guest: following %s on %s\n", PATTERN, bus_uri);
        fflush(stdout);
        r = read_pool(kvp, p, st);
    }
    while (r == HVRPC_OK && !*stopping) {
        e = NULL;
        r = hvrpc__bus__v1__bus__subscribe_recv(s, &e, RECV_POLL, st);
        if (r == HVRPC_OK) {
            apply_event(p, e);
            protobuf_c_message_free_unpacked(&e->base, NULL);
        } else if (r == HVRPC_WOULD_BLOCK) {
            r = HVRPC_OK;
        } else if (r == HVRPC_END) {
            r = hvrpc_status_set(st, HVRPC_UNAVAILABLE,
                                 "the bus ended the subscription");
        }
        if (r == HVRPC_OK && tick)
            r = tick(tick_arg, st);
    }
    hvrpc_stream_free(s);
    hvrpc_client_free(bus);
    pool_free(p);
    free(p);
    return *stopping ? HVRPC_OK : r;
}
