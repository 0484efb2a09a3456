/*
 * kvp_service.h - hvrpc.kvp.v1.Kvp (for guests) and hvrpc.kvp.v1.KvpAdmin
 * (for the host's own tools) on the generated layer, answering from a
 * kvp_store (docs/KVP.md).
 *
 * Identity. Every Kvp method acts on the caller's own pools, found by
 * hvrpc_kvp_vm_of_peer() from what the kernel said about the connection
 * (hvrpc_call_peer): nothing a guest sends names a VM, so a guest cannot
 * read or write another's pools, and no Kvp method writes a host-to-guest
 * pool. KvpAdmin names VMs freely: register it only on an endpoint that
 * guests cannot reach (hvrpc-kvp-host uses a unix socket with an allow
 * list of uids).
 *
 * Watch (both services) runs on its stream's own thread: the pool's keys,
 * SYNCED, then the changes, found by comparing the pool with what was sent
 * each time a write of that pool kind commits (so quick changes merge and
 * the watcher always ends with the current pool). It notices a cancelled
 * stream or a stopping server within 100 ms. At most
 * HVRPC_KVP_MAX_WATCHES_PER_VM Kvp watches per VM (RESOURCE_EXHAUSTED).
 */
#ifndef HVRPC_KVP_SERVICE_H
#define HVRPC_KVP_SERVICE_H

#include <stddef.h>

#include <hvrpc/hvrpc.h>

#include "hvrpc/kvp/v1/kvp.hvrpc.h"
#include "kvp_store.h"

#define HVRPC_KVP_MAX_WATCHES_PER_VM 8

typedef struct hvrpc_kvp hvrpc_kvp;

/* A line for the host's log ("report from vsock:3: 9 keys"). */
typedef void (*hvrpc_kvp_log_fn)(const char *line, void *arg);

/* Creates the service state over store (which must outlive it). log may
 * be NULL. */
hvrpc_code hvrpc_kvp_create(hvrpc_kvp_store *store, hvrpc_kvp_log_fn log,
                            void *log_arg, hvrpc_kvp **out, hvrpc_status *st);

/* Told of each committed change of a host-to-guest pool (KvpAdmin Set
 * and Delete): the VM and the key, not the value (read it from the store
 * when needed: the newest value wins). Runs on the server's worker that
 * made the change, with no lock held: it must not block. */
typedef void (*hvrpc_kvp_change_fn)(const char *vm, const char *key, void *arg);

/* Sets (or, fn NULL, clears) the change callback. Before the server
 * starts. */
void hvrpc_kvp_on_change(hvrpc_kvp *k, hvrpc_kvp_change_fn fn, void *arg);

/* Registers hvrpc.kvp.v1.Kvp (the guests' service) on ep. */
hvrpc_code hvrpc_kvp_register(hvrpc_server *srv, hvrpc_endpoint *ep,
                              hvrpc_kvp *k, hvrpc_status *st);

/* Registers hvrpc.kvp.v1.KvpAdmin on ep: only on an endpoint guests
 * cannot reach. */
hvrpc_code hvrpc_kvp_register_admin(hvrpc_server *srv, hvrpc_endpoint *ep,
                                    hvrpc_kvp *k, hvrpc_status *st);

/* Watch streams being served now (both services). */
size_t hvrpc_kvp_watching(hvrpc_kvp *k);

/* Frees k, after the servers it is registered with. k may be NULL. */
void hvrpc_kvp_free(hvrpc_kvp *k);

/* The VM identity of a peer, the key of its pools:
 *   vsock:CID            AF_VSOCK (the port changes with every connection)
 *   hvsock:VMID          AF_HYPERV
 *   unix:uid=U           a unix socket (development, tests)
 *   hybrid+vsock:uid=U   Firecracker / Cloud Hypervisor: the VMM process's
 *                        uid (the jailer gives each VM its own)
 *   tcp:ADDR             tcp, without the port
 * Returns the length needed, like snprintf. */
int hvrpc_kvp_vm_of_peer(const hvrpc_peer *p, char *buf, size_t size);

#endif /* HVRPC_KVP_SERVICE_H */
