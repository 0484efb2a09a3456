/*
 * bridge_nats.h - the NATS connection of one bridge, shared by
 * bridge_nats.c (connection, events, imports) and bridge_cmd.c (the
 * durable command consumer). Private to the bridge program.
 */
#ifndef HVRPC_BRIDGE_NATS_H
#define HVRPC_BRIDGE_NATS_H

#include <stdbool.h>

#include <nats/nats.h>

#include "bridge.h"

struct bridge_nats {
    natsOptions *opts;
    natsConnection *nc;
    jsCtx *js;
    natsSubscription *subs[BRIDGE_MAX_LIST];
    int n_subs;
    bool stream_ready; /* publisher thread only */
    bool failing;      /* publisher thread only: log the first failure */
};

/* Publishes a NATS message into the host bus as topic, with the
 * "fleet-*" headers (where it came from) and the sender's own headers
 * (as far as the bus takes them); extra (n_extra pairs, at most 2) go
 * first. HVRPC_OK once the broker accepted it. */
hvrpc_code bridge_nats_to_bus(bridge *b, natsMsg *msg, const char *topic,
                              const char *const *extra_keys,
                              const char *const *extra_values, size_t n_extra,
                              hvrpc_status *st);

#endif /* HVRPC_BRIDGE_NATS_H */
