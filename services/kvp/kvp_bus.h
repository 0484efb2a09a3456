/*
 * kvp_bus.h - host-to-guest KVP changes on the host's bus (docs/KVP.md,
 * "Through the bus").
 *
 * The host publishes each change of a VM's host-to-guest pool on
 *   private.<key>.kvp.set     payload the value, header "key" the key
 *   private.<key>.kvp.delete  empty payload, header "key"
 * where <key> is the VM's peer key on the bus (hvrpc_kvp_bus_key()). The
 * broker delivers private.<key>. topics only to that guest and to host
 * peers (docs/BUS.md, "Access"), so no guest learns another's keys; the
 * guest subscribes to private.self.kvp.> (hvrpc-kvp-guest --bus).
 *
 * The publisher is a thread of its own: hvrpc_kvp_bus_changed() only
 * queues (VM, key), so a slow or absent bus never holds up an admin call.
 * The thread reads the key's value when it publishes, so what it sends
 * is the newest committed value (quick changes merge; a key queued twice
 * is published once). It connects lazily and reconnects every second
 * while the bus is away; changes queued meanwhile are sent when it comes
 * back (at most HVRPC_KVP_BUS_QUEUE distinct keys wait; beyond that a
 * change is dropped and logged: a guest reads its whole pool each time it
 * subscribes).
 */
#ifndef HVRPC_KVP_BUS_H
#define HVRPC_KVP_BUS_H

#include <stddef.h>

#include "kvp_service.h"
#include "kvp_store.h"

#define HVRPC_KVP_BUS_QUEUE 4096

typedef struct hvrpc_kvp_bus hvrpc_kvp_bus;

/* The bus peer key of a KVP VM identity (hvrpc_kvp_vm_of_peer()): the
 * same connection's hvrpc_bus_peer_key():
 *   vsock:CID -> vsock:CID          hvsock:VMID -> hvsock:vmid (lower)
 *   unix:uid=U, mem:uid=U -> uid:U  hybrid+vsock:uid=U -> hybrid:uid:U
 *   tcp:ADDR -> tcp:ADDR with '.' spelled '-'
 * Returns the length written, or -1 when vm is none of these (a name an
 * admin made up) or does not fit. */
int hvrpc_kvp_bus_key(const char *vm, char *buf, size_t size);

/* Starts the publisher for bus_uri over store (which must outlive it).
 * log (may be NULL) gets a line when the bus goes away or comes back and
 * when a change cannot be published. */
hvrpc_code hvrpc_kvp_bus_start(hvrpc_kvp_store *store, const char *bus_uri,
                               hvrpc_kvp_log_fn log, void *log_arg,
                               hvrpc_kvp_bus **out, hvrpc_status *st);

/* Queues a change (an hvrpc_kvp_change_fn: pass b as its arg). */
void hvrpc_kvp_bus_changed(const char *vm, const char *key, void *b);

/* Stops the thread (what is still queued is not sent) and frees b. b may
 * be NULL. */
void hvrpc_kvp_bus_stop(hvrpc_kvp_bus *b);

#endif /* HVRPC_KVP_BUS_H */
