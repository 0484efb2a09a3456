/*
 * hvrpc/hvrpc.h - RPC across the hypervisor boundary, ttrpc on the wire.
 *
 * The umbrella header. Topics: status.h (codes, errors), limits.h, guid.h,
 * address.h (URIs), peer.h (identities), server.h (endpoints, services,
 * calls, limits), client.h (calls), stream.h (streaming calls), service.h
 * (endpoints from .proto options, decoding for typed code), access.h
 * (allow lists, authorizers), alloc.h (the allocator), log.h.
 */
#ifndef HVRPC_HVRPC_H
#define HVRPC_HVRPC_H

#include "hvrpc/version.h"
#include "hvrpc/alloc.h"
#include "hvrpc/status.h"
#include "hvrpc/limits.h"
#include "hvrpc/log.h"
#include "hvrpc/guid.h"
#include "hvrpc/address.h"
#include "hvrpc/peer.h"
#include "hvrpc/server.h"
#include "hvrpc/client.h"
#include "hvrpc/stream.h"
#include "hvrpc/service.h"
#include "hvrpc/access.h"

#endif /* HVRPC_HVRPC_H */
