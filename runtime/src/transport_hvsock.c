/*
 * transport_hvsock.c - AF_HYPERV (Windows hosts and guests).
 *
 * The slot exists so addresses parse and every layer above is ready; the
 * socket code comes with the Windows build (DESIGN.md section 2). On
 * Linux, a Linux guest reaches a Hyper-V host through vsock://2:PORT.
 */
#include <errno.h>

#include "transport.h"

static hvrpc_code not_here(hvrpc_status *st)
{
    return hvrpc_status_set(st, HVRPC_UNIMPLEMENTED,
                            "hvsock:// (AF_HYPERV) needs Windows; from a "
                            "Linux guest use vsock://2:PORT, whose port maps "
                            "to the service GUID");
}

static hvrpc_code hvsock_listen(const hvrpc_address *a, int backlog, int *fd,
                                hvrpc_address *bound, hvrpc_status *st)
{
    (void)a, (void)backlog, (void)fd, (void)bound;
    return not_here(st);
}

static int hvsock_accept(int lfd, const hvrpc_address *bound, int *fd,
                         hvrpc_peer *peer)
{
    (void)lfd, (void)bound, (void)fd, (void)peer;
    return EOPNOTSUPP;
}

static hvrpc_code hvsock_connect(const hvrpc_address *a, int64_t deadline_ns,
                                 int *fd, hvrpc_status *st)
{
    (void)a, (void)deadline_ns, (void)fd;
    return not_here(st);
}

const hvrpc__transport hvrpc__transport_hvsock = {
    .name = "hvsock",
    .listen = hvsock_listen,
    .accept = hvsock_accept,
    .connect = hvsock_connect,
    .read = hvrpc__sock_read,
    .write = hvrpc__sock_write,
    .unlisten = hvrpc__sock_unlisten,
};
