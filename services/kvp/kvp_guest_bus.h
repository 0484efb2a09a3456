/*
 * kvp_guest_bus.h - hvrpc-kvp-guest's bus path (docs/KVP.md, "Through
 * the bus"): its host-to-guest pool followed on the host's bus instead of
 * the Kvp.Watch stream.
 */
#ifndef HVRPC_KVP_GUEST_BUS_H
#define HVRPC_KVP_GUEST_BUS_H

#include <signal.h>

#include <hvrpc/hvrpc.h>

/* Called about every 200 ms while following (the guest's uptime
 * reports); a code other than OK ends the follow with it. */
typedef hvrpc_code (*kvp_guest_tick_fn)(void *arg, hvrpc_status *st);

/* Subscribes to private.self.kvp.> on bus_uri (the broker makes that the
 * guest's own private space: no other guest's keys reach it), then reads
 * the whole pool through kvp (Kvp.Read) and prints "set KEY=VALUE" for
 * each key and "synced", then "set KEY=VALUE" / "deleted KEY" for each
 * change the host publishes (only real changes: an event repeating what
 * the guest has is not printed). Returns when *stopping (OK), when tick
 * fails, or when the bus, the subscription or the read fails (that
 * code). */
hvrpc_code kvp_guest_follow_bus(hvrpc_client *kvp, const char *bus_uri,
                                kvp_guest_tick_fn tick, void *tick_arg,
                                volatile sig_atomic_t *stopping,
                                hvrpc_status *st);

#endif /* HVRPC_KVP_GUEST_BUS_H */
