/*
 * transport.h - byte-stream transports as small ops tables.
 *
 * One table per address kind (transport_<kind>.c). A transport only makes
 * connected sockets: framing and RPC live above it and never look at the
 * address kind. Every fd a transport returns is non-blocking and
 * close-on-exec. Adding a transport touches its own file, this table and
 * the address parser.
 */
#ifndef HVRPC__TRANSPORT_H
#define HVRPC__TRANSPORT_H

#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>
#include <sys/types.h>
#include <sys/uio.h>

#include "hvrpc/address.h"
#include "hvrpc/peer.h"
#include "hvrpc/status.h"

/* The most buffers one writev takes: well under Linux's IOV_MAX (1024),
 * and enough frames per call to make the syscall's cost vanish. */
#define HVRPC__IOV_MAX 64

typedef struct hvrpc__transport {
    const char *name;
    /* Binds and listens on a. *bound receives the address really bound
     * (ports chosen by the kernel filled in). Does not block. Errors:
     * ALREADY_EXISTS (address in use), PERMISSION_DENIED, UNAVAILABLE
     * (transport missing on this system), INVALID_ARGUMENT. */
    hvrpc_code (*listen)(const hvrpc_address *a, int backlog, int *fd,
                         hvrpc_address *bound, hvrpc_status *st);
    /* Accepts one pending connection on lfd without blocking and fills
     * *peer from what the kernel says. Returns 0 or an errno value
     * (EAGAIN when none is pending). */
    int (*accept)(int lfd, const hvrpc_address *bound, int *fd,
                  hvrpc_peer *peer);
    /* Connects to a, blocking until deadline_ns (CLOCK_MONOTONIC; 0: no
     * limit beyond the kernel's). Errors: UNAVAILABLE (refused, no route,
     * handshake refused), DEADLINE_EXCEEDED, INVALID_ARGUMENT. */
    hvrpc_code (*connect)(const hvrpc_address *a, int64_t deadline_ns, int *fd,
                          hvrpc_status *st);
    /* Non-blocking I/O on a connected fd; return as read(2)/write(2). */
    ssize_t (*read)(int fd, void *buf, size_t n);
    ssize_t (*write)(int fd, const void *buf, size_t n);
    /* Writes the cnt buffers of iov in order, as one non-blocking write
     * (1 <= cnt <= HVRPC__IOV_MAX); returns as writev(2): the bytes taken,
     * which may end inside any buffer. Lets a connection hand everything
     * it has queued to the kernel in one call. */
    ssize_t (*writev)(int fd, const struct iovec *iov, int cnt);
    /* Closes a listener made by listen and removes what it left behind
     * (a unix socket file). */
    void (*unlisten)(int lfd, const hvrpc_address *bound);
} hvrpc__transport;

/* The transport for an address kind; never NULL for a parsed address. */
const hvrpc__transport *hvrpc__transport_for(hvrpc_addr_kind kind);

/* Tests only (tests/fault): when set, unix addresses use this table, which
 * wraps hvrpc__transport_unix to split, interrupt or delay its I/O; the
 * hybrid vsock transport's connect and handshake go through it too. Set it
 * while no server or client exists. */
extern const hvrpc__transport *hvrpc__transport_unix_override;

extern const hvrpc__transport hvrpc__transport_unix;
extern const hvrpc__transport hvrpc__transport_tcp;
extern const hvrpc__transport hvrpc__transport_vsock;
extern const hvrpc__transport hvrpc__transport_hybrid;
extern const hvrpc__transport hvrpc__transport_hvsock;
extern const hvrpc__transport hvrpc__transport_mem;

/* --- helpers shared by the socket transports (transport.c) ------------ */

/* Closes a socket (close(2); closesocket() on Windows). 0 or -1. */
int hvrpc__sock_close(int fd);

ssize_t hvrpc__sock_read(int fd, void *buf, size_t n);
ssize_t hvrpc__sock_write(int fd, const void *buf, size_t n);
ssize_t hvrpc__sock_writev(int fd, const struct iovec *iov, int cnt);
void hvrpc__sock_unlisten(int lfd, const hvrpc_address *bound);

/* The status for a socket call's errno (Windows: the WSA error already
 * mapped onto errno values): one mapping for every platform. */
hvrpc_code hvrpc__errno_code(int err);

/* socket() + bind() + listen(), non-blocking. what names the address in
 * error messages. */
hvrpc_code hvrpc__sock_listen(int domain, const struct sockaddr *sa,
                              socklen_t len, int backlog, int *fd,
                              const char *what, hvrpc_status *st);

/* socket() + connect() waiting up to deadline_ns, non-blocking result.
 * setup (may be NULL) runs on the new socket before connect(). */
hvrpc_code hvrpc__sock_connect(int domain, const struct sockaddr *sa,
                               socklen_t len, int64_t deadline_ns,
                               void (*setup)(int fd, int64_t deadline_ns),
                               int *fd, const char *what, hvrpc_status *st);

/* accept4() with SOCK_NONBLOCK | SOCK_CLOEXEC; 0 or errno. */
int hvrpc__sock_accept(int lfd, struct sockaddr *sa, socklen_t *len, int *fd);

/* Fills uid/gid/pid from SO_PEERCRED (-1 each when unavailable). */
void hvrpc__sock_peer_creds(int fd, hvrpc_peer *peer);

/* Builds a sockaddr_un for path (abstract when abstract != 0). */
hvrpc_code hvrpc__unix_sockaddr(const char *path, int abstract, void *sun,
                                socklen_t *len, hvrpc_status *st);

/* Listens on a unix path, replacing a stale socket file (one nobody
 * accepts on); shared by the unix and hybrid vsock transports. */
hvrpc_code hvrpc__unix_listen_path(const char *path, int abstract, int backlog,
                                   int *fd, const char *what, hvrpc_status *st);

/* Accepts on a unix listener; the peer is the connecting process. */
int hvrpc__unix_accept(int lfd, const hvrpc_address *bound, int *fd,
                       hvrpc_peer *peer);

/* --- hvsock (transport_hvsock.c) ---------------------------------------- */

/* Windows' values (hvsocket.h), usable on every platform. */
#define HVRPC__AF_HYPERV                    34
#define HVRPC__HV_PROTOCOL_RAW              1
#define HVRPC__HVSOCKET_CONNECT_TIMEOUT     1
#define HVRPC__HVSOCKET_CONNECT_TIMEOUT_MAX 300000u
#define HVRPC__HVSOCKET_CONNECTED_SUSPEND   4
#define HVRPC__SOCKADDR_HV_LEN              36

/* The SOCKADDR_HV of an hvsock address, byte for byte as Windows lays it
 * out: Family (34, little-endian u16), Reserved (0), VmId, ServiceId (each
 * a GUID: data1-3 little-endian, data4 as is). */
void hvrpc__hvsock_sockaddr(const hvrpc_address *a,
                            uint8_t out[HVRPC__SOCKADDR_HV_LEN]);

/* The peer identity from an accepted connection's SOCKADDR_HV. */
void hvrpc__hvsock_peer(const uint8_t sa[HVRPC__SOCKADDR_HV_LEN],
                        hvrpc_peer *peer);

/* HVSOCKET_CONNECT_TIMEOUT for a connect that must end by deadline_ns:
 * what is left of it in ms, at least 1, at most 300000 (also without a
 * deadline). */
uint32_t hvrpc__hvsock_connect_timeout_ms(int64_t deadline_ns);

#endif
