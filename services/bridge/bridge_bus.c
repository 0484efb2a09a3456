/*
 * bridge_bus.c - the host-bus side of the bridge: the ingest thread (bus
 * -> spool) and publishing commands and imports into the bus.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bridge.h"
#include "bridge_log.h"
#include "hvrpc/bus/v1/bus.hvrpc.h"

/* The bus may hold at most this many events for the bridge before its
 * publishers wait (BLOCK): the broker's maximum. */
#define INGEST_QUEUE 4096
#define RECV_POLL_MS 200

static bool stopping(bridge *b)
{
    bool s;

    pthread_mutex_lock(&b->lock);
    s = b->stop;
    pthread_mutex_unlock(&b->lock);
    return s;
}

static void set_subscribed(bridge *b, bool on)
{
    pthread_mutex_lock(&b->lock);
    b->stats.subscribed = on;
    pthread_mutex_unlock(&b->lock);
}

/* One event from the bus: into the spool, or counted refused or dropped. */
static void take_event(bridge *b, Hvrpc__Bus__V1__Event *e)
{
    char subject[BRIDGE_SUBJECT_MAX];
    char msg_id[BRIDGE_MSG_ID_MAX];
    const char *keys[16], *values[16];
    size_t n_headers = e->n_headers < 16 ? e->n_headers : 16;
    hvrpc_status st;
    uint8_t *packed;
    size_t len;
    bool waited, added = false;
    hvrpc_code r;

    if (bridge_subject_for_topic(b->cfg->host_id, e->topic, subject,
                                 sizeof subject, &st) != HVRPC_OK) {
        uint64_t n;

        pthread_mutex_lock(&b->lock);
        n = ++b->stats.refused;
        pthread_mutex_unlock(&b->lock);
        /* A guest may publish such topics all day: log the first few,
         * then one in 1000 (the counter has them all). */
        if (n <= 5 || n % 1000 == 0)
            bridge_log("refused topic '%.64s' from %.80s: %s (%llu refused "
                       "so far)",
                       e->topic, e->publisher, st.message,
                       (unsigned long long)n);
        return;
    }
    for (size_t i = 0; i < n_headers; i++) {
        keys[i] = e->headers[i]->key ? e->headers[i]->key : "";
        values[i] = e->headers[i]->value ? e->headers[i]->value : "";
    }
    bridge_msg_id(b->cfg->host_id, e->time_unix_nano, e->publisher, e->topic,
                  e->payload.data, e->payload.len, keys, values, n_headers,
                  msg_id);
    /* The stored bytes must not depend on this subscription. */
    e->sequence = 0;
    e->dropped = 0;
    len = protobuf_c_message_get_packed_size(&e->base);
    packed = malloc(len ? len : 1);
    if (packed == NULL) {
        bridge_count(b, &b->stats.dropped, 1);
        bridge_log("out of memory: event %s dropped", msg_id);
        return;
    }
    protobuf_c_message_pack(&e->base, packed);
    pthread_mutex_lock(&b->lock);
    waited = b->stats.nats_trouble || !b->stats.nats_connected;
    pthread_mutex_unlock(&b->lock);
    r = bridge_spool_add(b->spool, msg_id, subject, packed, len, waited, &added,
                         &st);
    free(packed);
    if (r != HVRPC_OK) {
        bridge_count(b, &b->stats.dropped, 1);
        bridge_log("event %s on %s dropped: %s", msg_id, subject, st.message);
        return;
    }
    pthread_mutex_lock(&b->lock);
    b->stats.received++;
    if (added && waited)
        b->stats.spooled++;
    b->gen++;
    pthread_cond_broadcast(&b->wake);
    pthread_mutex_unlock(&b->lock);
}

void *bridge_ingest_main(void *arg)
{
    bridge *b = arg;
    uint32_t backoff = 100;

    while (!stopping(b)) {
        Hvrpc__Bus__V1__SubscribeRequest req =
            HVRPC__BUS__V1__SUBSCRIBE_REQUEST__INIT;
        hvrpc_client_options co;
        hvrpc_client *c = NULL;
        hvrpc_stream *s = NULL;
        hvrpc_status st;
        hvrpc_code r;

        hvrpc_client_options_init(&co);
        co.connect_timeout_ms = 2000;
        req.patterns = (char **)b->cfg->patterns;
        req.n_patterns = b->cfg->n_patterns;
        /* BLOCK: while the bridge is up, the bus never drops an event on
         * its way here; a bridge that stops reading holds its publishers
         * (and is cut off after the broker's block timeout). */
        req.overflow = HVRPC__BUS__V1__SUBSCRIBE_REQUEST__OVERFLOW__BLOCK;
        req.queue_size = INGEST_QUEUE;
        r = hvrpc_client_connect(b->cfg->bus_uri, &co, &c, &st);
        if (r == HVRPC_OK)
            r = hvrpc__bus__v1__bus__subscribe_open(c, &req, NULL, &s, &st);
        while (r == HVRPC_OK || r == HVRPC_WOULD_BLOCK) {
            Hvrpc__Bus__V1__Event *e = NULL;

            if (stopping(b))
                break;
            r = hvrpc__bus__v1__bus__subscribe_recv(s, &e, RECV_POLL_MS, &st);
            if (r != HVRPC_OK)
                continue;
            if (e->kind == HVRPC__BUS__V1__EVENT__KIND__SUBSCRIBED) {
                set_subscribed(b, true);
                backoff = 100;
                bridge_log("subscribed to the bus at %s", b->cfg->bus_uri);
            } else {
                take_event(b, e);
            }
            protobuf_c_message_free_unpacked(&e->base, NULL);
        }
        set_subscribed(b, false);
        hvrpc_stream_free(s);
        hvrpc_client_free(c);
        if (stopping(b))
            break;
        bridge_log("bus %s: %s: %s (retrying in %u ms)", b->cfg->bus_uri,
                   hvrpc_code_name(r), st.message, backoff);
        bridge_wait(b, backoff, BRIDGE_WAKE_ANY, 0);
        backoff = backoff * 2 > 2000 ? 2000 : backoff * 2;
    }
    return NULL;
}

hvrpc_code bridge_bus_publish(bridge *b, const char *topic,
                              const uint8_t *payload, size_t len,
                              const char *const *keys,
                              const char *const *values, size_t n_headers,
                              hvrpc_status *st)
{
    Hvrpc__Bus__V1__PublishRequest req = HVRPC__BUS__V1__PUBLISH_REQUEST__INIT;
    Hvrpc__Bus__V1__Header hs[16], *hp[16];
    hvrpc_call_options copts = HVRPC_CALL_OPTIONS_INIT;
    hvrpc_code r = HVRPC_UNAVAILABLE;

    if (n_headers > 16)
        n_headers = 16;
    for (size_t i = 0; i < n_headers; i++) {
        hvrpc__bus__v1__header__init(&hs[i]);
        hs[i].key = (char *)keys[i];
        hs[i].value = (char *)values[i];
        hp[i] = &hs[i];
    }
    req.topic = (char *)topic;
    req.payload.data = (uint8_t *)payload;
    req.payload.len = len;
    req.headers = hp;
    req.n_headers = n_headers;
    copts.timeout_ms = 5000;
    pthread_mutex_lock(&b->import_lock);
    /* Two tries: the first may find the kept connection broken (the host
     * bus restarted). */
    for (int attempt = 0; attempt < 2; attempt++) {
        Hvrpc__Bus__V1__PublishResponse *resp = NULL;

        if (b->import_client == NULL) {
            hvrpc_client_options co;
            hvrpc_client_options_init(&co);
            co.connect_timeout_ms = 2000;
            r = hvrpc_client_connect(b->cfg->bus_uri, &co, &b->import_client,
                                     st);
            if (r != HVRPC_OK) {
                b->import_client = NULL;
                continue;
            }
        }
        r = hvrpc__bus__v1__bus__publish_call(b->import_client, &req, &resp,
                                              &copts, st);
        if (resp)
            protobuf_c_message_free_unpacked(&resp->base, NULL);
        if (r != HVRPC_UNAVAILABLE)
            break;
        hvrpc_client_free(b->import_client);
        b->import_client = NULL;
    }
    pthread_mutex_unlock(&b->import_lock);
    return r;
}
