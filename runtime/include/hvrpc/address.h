/*
 * hvrpc/address.h - endpoint addresses and the one URI parser.
 *
 *   vsock://CID:PORT             CID: number, any, hypervisor, local, host
 *   hvsock://VMID/SERVICE        VMID: GUID or wildcard, zero, children,
 *                                loopback, parent, broadcast, silohost;
 *                                SERVICE: GUID or vsock:PORT
 *   hybrid+vsock:///path:PORT    Firecracker / Cloud Hypervisor host side
 *   unix:///path, unix://@name   AF_UNIX, filesystem or abstract
 *   tcp://HOST:PORT              TCP; HOST a name, IPv4 or [IPv6]
 *   mem://NAME                   in-memory, within this process only
 *
 * Every program and API takes addresses through hvrpc_address_parse().
 */
#ifndef HVRPC_ADDRESS_H
#define HVRPC_ADDRESS_H

#include <stddef.h>
#include <stdint.h>

#include "hvrpc/guid.h"
#include "hvrpc/status.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef enum hvrpc_addr_kind {
    HVRPC_ADDR_UNIX = 1,
    HVRPC_ADDR_TCP,
    HVRPC_ADDR_VSOCK,
    HVRPC_ADDR_HYBRID_VSOCK,
    HVRPC_ADDR_HVSOCK,
    HVRPC_ADDR_MEM,
} hvrpc_addr_kind;

/* Named vsock CIDs. */
#define HVRPC_VSOCK_CID_ANY        0xFFFFFFFFu
#define HVRPC_VSOCK_CID_HYPERVISOR 0u
#define HVRPC_VSOCK_CID_LOCAL      1u
#define HVRPC_VSOCK_CID_HOST       2u
/* vsock port `any`: a listener takes a port the kernel picks. */
#define HVRPC_VSOCK_PORT_ANY 0xFFFFFFFFu

/* Longest unix socket path, without the NUL (sun_path is 108 bytes). For
 * hybrid vsock the listener binds "<path>_<port>", which must fit too. */
#define HVRPC_UNIX_PATH_MAX 107
#define HVRPC_HOST_MAX      255
/* Longest mem:// name (letters, digits, '.', '_', '-'). */
#define HVRPC_MEM_NAME_MAX 64
/* A buffer this large always holds hvrpc_address_format's result (the
 * longest is tcp://[255 bytes]:65535). */
#define HVRPC_ADDRESS_STRLEN 272

/* A parsed address. Plain data: no free needed. */
typedef struct hvrpc_address {
    hvrpc_addr_kind kind;
    union {
        struct {
            char path[HVRPC_UNIX_PATH_MAX + 1]; /* without the '@' */
            int abstract;                       /* 1 for unix://@name */
        } unix_sock;
        struct {
            char host[HVRPC_HOST_MAX + 1]; /* without IPv6 brackets */
            uint16_t port;
        } tcp;
        struct {
            uint32_t cid;
            uint32_t port;
        } vsock;
        struct {
            char path[HVRPC_UNIX_PATH_MAX + 1];
            uint32_t port;
        } hybrid;
        struct {
            hvrpc_guid vm_id;
            hvrpc_guid service_id;
            /* 1 for "?suspend=0": HVSOCKET_CONNECTED_SUSPEND off, so a
             * paused VM's connections break. 0 (the default) keeps them. */
            int no_suspend;
        } hv;
        struct {
            char name[HVRPC_MEM_NAME_MAX + 1];
        } mem;
    } u;
} hvrpc_address;

/* Parses uri into *out. On failure returns INVALID_ARGUMENT, leaves *out
 * unchanged and says in st what is wrong ("vsock://3: missing ':PORT'").
 * Schemes and names (any, host, children, ...) are case-insensitive. In a
 * hybrid vsock URI the last ':' separates the port, so the path may hold
 * ':' itself. */
HVRPC_API hvrpc_code hvrpc_address_parse(const char *uri, hvrpc_address *out,
                                         hvrpc_status *st);

/* Writes the canonical URI of a into buf (always NUL-terminated when
 * size > 0). Returns the length it needed, like snprintf; -1 (buf empty)
 * for a NULL address or an unknown kind. */
HVRPC_API int hvrpc_address_format(const hvrpc_address *a, char *buf,
                                   size_t size);

#ifdef __cplusplus
}
#endif

#endif /* HVRPC_ADDRESS_H */
