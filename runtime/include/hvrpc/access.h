/*
 * hvrpc/access.h - who may connect to an endpoint, and who may call what.
 *
 * Two checks, both by the server, both on what the kernel says about the
 * peer (hvrpc/peer.h), never on what the peer claims:
 *
 * 1. At accept, an endpoint's allow list. An endpoint with no entries
 *    accepts every peer. Once it has one, a peer is accepted only when an
 *    entry of its kind matches: vsock peers by CID, unix and hybrid vsock
 *    peers by uid, Hyper-V peers by VmId; tcp peers never match. A refused
 *    peer's connection is closed at once, before it can send a byte.
 * 2. Per call, an endpoint's authorizer, which sees the peer, the service
 *    and the method before the call is routed (so a refused peer cannot
 *    learn which services exist) and before any handler runs.
 *
 * Both are set before hvrpc_server_start().
 *
 *     // Only the guest with CID 3 may connect; it may only read.
 *     static hvrpc_code read_only(const hvrpc_peer *peer, const char *svc,
 *                                 const char *method, void *arg,
 *                                 hvrpc_status *st)
 *     {
 *         if (strncmp(method, "Get", 3) == 0)
 *             return HVRPC_OK;
 *         return hvrpc_status_set(st, HVRPC_PERMISSION_DENIED,
 *                                 "%s is read-only for guests", svc);
 *     }
 *     hvrpc_endpoint_allow_vsock_cid(ep, 3, &st);
 *     hvrpc_endpoint_set_authorizer(ep, read_only, NULL, &st);
 */
#ifndef HVRPC_ACCESS_H
#define HVRPC_ACCESS_H

#include <stdint.h>

#include "hvrpc/guid.h"
#include "hvrpc/peer.h"
#include "hvrpc/server.h"
#include "hvrpc/status.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Adds an entry to ep's allow list. Only before hvrpc_server_start(). */
HVRPC_API hvrpc_code hvrpc_endpoint_allow_vsock_cid(hvrpc_endpoint *ep,
                                                    uint32_t cid,
                                                    hvrpc_status *st);
HVRPC_API hvrpc_code hvrpc_endpoint_allow_uid(hvrpc_endpoint *ep, uint32_t uid,
                                              hvrpc_status *st);
HVRPC_API hvrpc_code hvrpc_endpoint_allow_vm_id(hvrpc_endpoint *ep,
                                                const hvrpc_guid *vm_id,
                                                hvrpc_status *st);

/* Decides one call. Return OK to let it through; anything else answers
 * the call with that code and st's message (PERMISSION_DENIED is the
 * usual answer). Runs on the server's event-loop thread for every
 * request: it must be quick and must not block. */
typedef hvrpc_code (*hvrpc_authorize_fn)(const hvrpc_peer *peer,
                                         const char *service,
                                         const char *method, void *arg,
                                         hvrpc_status *st);

/* Sets (or, with fn NULL, clears) ep's authorizer. Only before
 * hvrpc_server_start(). */
HVRPC_API hvrpc_code hvrpc_endpoint_set_authorizer(hvrpc_endpoint *ep,
                                                   hvrpc_authorize_fn fn,
                                                   void *arg, hvrpc_status *st);

#ifdef __cplusplus
}
#endif

#endif /* HVRPC_ACCESS_H */
