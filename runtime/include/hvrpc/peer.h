/*
 * hvrpc/peer.h - who is on the other end of a connection.
 *
 * The server fills a hvrpc_peer at accept time from what the kernel says
 * (never from what the peer claims): the vsock CID and port, the Hyper-V
 * VmId, the unix credentials of the connecting process, the tcp address.
 */
#ifndef HVRPC_PEER_H
#define HVRPC_PEER_H

#include <stddef.h>
#include <stdint.h>

#include "hvrpc/address.h"
#include "hvrpc/guid.h"

#ifdef __cplusplus
extern "C" {
#endif

#define HVRPC_PEER_ADDR_MAX 64

typedef struct hvrpc_peer {
    /* The transport the peer came over; selects the fields below. */
    hvrpc_addr_kind kind;
    /* vsock: the peer's CID and port. hybrid vsock: port is the vsock port
     * the listener serves (the guest's CID is not visible on the host). */
    uint32_t vsock_cid;
    uint32_t vsock_port;
    /* hvsock: the peer's VmId and the service it reached. */
    hvrpc_guid vm_id;
    hvrpc_guid service_id;
    /* unix and hybrid vsock: credentials of the connecting process, -1 when
     * the kernel did not say. */
    int64_t uid;
    int64_t gid;
    int64_t pid;
    /* tcp: "127.0.0.1:5555" or "[::1]:5555". */
    char tcp_addr[HVRPC_PEER_ADDR_MAX];
} hvrpc_peer;

/* One-line text form, as handlers and logs show it:
 *   vsock:3:1234   unix:uid=0,gid=0,pid=42   tcp:127.0.0.1:5555
 *   hybrid+vsock:5000,uid=0,gid=0,pid=42     hvsock:VMID/SERVICE
 * Returns the length needed, like snprintf; buf is always NUL-terminated
 * when size > 0. */
HVRPC_API int hvrpc_peer_format(const hvrpc_peer *p, char *buf, size_t size);

#ifdef __cplusplus
}
#endif

#endif /* HVRPC_PEER_H */
