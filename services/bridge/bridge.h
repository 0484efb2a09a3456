/*
 * bridge.h - hvrpc-bridge: one host's bus <-> a NATS JetStream cluster
 * (docs/FLEET.md is the operator's guide).
 *
 * Threads of one bridge process:
 *   - ingest (bridge_bus.c): a client of the host bus, subscribed (BLOCK)
 *     to the configured patterns; every event becomes a spool row.
 *   - publisher (bridge_nats.c): while this process holds the spool's
 *     publisher lock, publishes spool rows to JetStream oldest first, one
 *     at a time, each with its message id; a row is removed only when
 *     JetStream acknowledged it.
 *   - commands (bridge_cmd.c): while this process holds the publisher
 *     lock, takes this host's commands from a durable JetStream consumer
 *     into the host bus, acknowledging each once the bus took it.
 *   - NATS's own threads: connection upkeep (failover, reconnect) and the
 *     subscriptions that bring imports into the host bus.
 *   - the stats server (hvrpc.bridge.v1.Bridge/Stats on --listen).
 */
#ifndef HVRPC_BRIDGE_H
#define HVRPC_BRIDGE_H

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <hvrpc/hvrpc.h>

#include "bridge_spool.h"
#include "bridge_subject.h"

#define BRIDGE_MAX_LIST 16

typedef struct bridge_config {
    const char *host_id;
    const char *bus_uri;
    const char *spool_path;
    const char *listen_uri; /* NULL: no stats endpoint */
    const char *stream;     /* JetStream stream name */
    const char *servers[BRIDGE_MAX_LIST];
    int n_servers;
    char *patterns[BRIDGE_MAX_LIST];
    size_t n_patterns;
    const char *imports[BRIDGE_MAX_LIST]; /* host ids, or "*" */
    size_t n_imports;
    const char *creds, *user_file, *tls_ca, *tls_cert, *tls_key;
    int replicas;
    int64_t dedup_window_ms;
    uint64_t spool_max;
    uint32_t ack_wait_ms;
} bridge_config;

typedef struct bridge_stats {
    uint64_t received, bridged, spooled, replayed, dropped, refused, duplicates,
        imported, import_failed, publish_errors, commands, command_redeliveries;
    bool subscribed, nats_connected, publishing;
    /* Set when NATS could not take an event (disconnected, a publish
     * failed) and cleared by the next acknowledgement: events arriving
     * meanwhile count as spooled. */
    bool nats_trouble;
} bridge_stats;

typedef struct bridge bridge;

struct bridge {
    const bridge_config *cfg;
    bridge_spool *spool;
    pthread_mutex_t lock; /* stats, stop, the wake-up below */
    pthread_cond_t wake;  /* new spool rows, or stop */
    bridge_stats stats;
    bool stop;
    uint64_t gen; /* counts spool additions: the publisher's wake-up */
    struct bridge_nats *nats;
    /* The bus client that publishes imports into the host bus. */
    pthread_mutex_t import_lock;
    hvrpc_client *import_client;
};

/* bridge_bus.c: the ingest thread, and publishing into the host bus. */
void *bridge_ingest_main(void *arg);
hvrpc_code bridge_bus_publish(bridge *b, const char *topic,
                              const uint8_t *payload, size_t len,
                              const char *const *keys,
                              const char *const *values, size_t n_headers,
                              hvrpc_status *st);

/* bridge_nats.c */
hvrpc_code bridge_nats_start(bridge *b, hvrpc_status *st);
void *bridge_publisher_main(void *arg);
void bridge_nats_connected_url(bridge *b, char *buf, size_t cap);
void bridge_nats_stop(bridge *b);

/* bridge_cmd.c */
void *bridge_commands_main(void *arg);

/* Counter updates: b->lock taken inside. */
void bridge_count(bridge *b, uint64_t *counter, uint64_t n);

/* What ends a bridge_wait() before its time, besides the stop. */
typedef enum bridge_wake {
    BRIDGE_WAKE_STOP, /* nothing else: a full pause */
    BRIDGE_WAKE_ROWS, /* new spool rows (b->gen moved on from gen) */
    BRIDGE_WAKE_ANY,  /* any broadcast on b->wake (rows, NATS up or down) */
} bridge_wake;

/* Waits up to ms on b->wake (b->lock taken inside), or less as until
 * says. True when the bridge is stopping. */
bool bridge_wait(bridge *b, uint32_t ms, bridge_wake until, uint64_t gen);

#endif /* HVRPC_BRIDGE_H */
