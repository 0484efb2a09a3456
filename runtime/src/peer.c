/* peer.c - the text form of a peer identity. */
#include <inttypes.h>
#include <stdio.h>

#include "hvrpc/peer.h"

int hvrpc_peer_format(const hvrpc_peer *p, char *buf, size_t size)
{
    char vm[HVRPC_GUID_STRLEN], svc[HVRPC_GUID_STRLEN];

    switch (p->kind) {
    case HVRPC_ADDR_VSOCK:
        return snprintf(buf, size, "vsock:%" PRIu32 ":%" PRIu32, p->vsock_cid,
                        p->vsock_port);
    case HVRPC_ADDR_MEM:
        return snprintf(buf, size,
                        "mem:uid=%" PRId64 ",gid=%" PRId64 ",pid=%" PRId64,
                        p->uid, p->gid, p->pid);
    case HVRPC_ADDR_UNIX:
        return snprintf(buf, size,
                        "unix:uid=%" PRId64 ",gid=%" PRId64 ",pid=%" PRId64,
                        p->uid, p->gid, p->pid);
    case HVRPC_ADDR_HYBRID_VSOCK:
        return snprintf(buf, size,
                        "hybrid+vsock:%" PRIu32 ",uid=%" PRId64 ",gid=%" PRId64
                        ",pid=%" PRId64,
                        p->vsock_port, p->uid, p->gid, p->pid);
    case HVRPC_ADDR_TCP:
        return snprintf(buf, size, "tcp:%s", p->tcp_addr);
    case HVRPC_ADDR_HVSOCK:
        return snprintf(buf, size, "hvsock:%s/%s",
                        hvrpc_guid_format(&p->vm_id, vm),
                        hvrpc_guid_format(&p->service_id, svc));
    }
    return snprintf(buf, size, "unknown");
}
