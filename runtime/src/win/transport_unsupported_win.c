/*
 * transport_unsupported_win.c - vsock:// and hybrid+vsock:// on Windows.
 *
 * Windows has no AF_VSOCK: a Windows host reaches a Linux guest's vsock
 * port P through AF_HYPERV with the service GUID of P (the VSOCK
 * template). Hybrid vsock is a Firecracker / Cloud Hypervisor (Linux
 * host) thing. Both kinds still parse; listen and connect say what to use.
 */
#include "platform_win.h"

#include "../transport.h"

static hvrpc_code vsock_not_here(const hvrpc_address *a, hvrpc_status *st)
{
    return hvrpc_status_set(
        st, HVRPC_UNIMPLEMENTED,
        "vsock:// (AF_VSOCK) does not exist on Windows: reach vsock port "
        "%u of a VM as hvsock://VMID/vsock:%u (AF_HYPERV, the VSOCK "
        "template GUID)",
        (unsigned)a->u.vsock.port, (unsigned)a->u.vsock.port);
}

static hvrpc_code hybrid_not_here(hvrpc_status *st)
{
    return hvrpc_status_set(st, HVRPC_UNIMPLEMENTED,
                            "hybrid+vsock:// is for Firecracker and Cloud "
                            "Hypervisor hosts (Linux); on Windows use "
                            "hvsock://VMID/SERVICE");
}

static hvrpc_code vsock_listen(const hvrpc_address *a, int backlog, int *fd,
                               hvrpc_address *bound, hvrpc_status *st)
{
    (void)backlog, (void)fd, (void)bound;
    return vsock_not_here(a, st);
}

static hvrpc_code vsock_connect(const hvrpc_address *a, int64_t deadline_ns,
                                int *fd, hvrpc_status *st)
{
    (void)deadline_ns, (void)fd;
    return vsock_not_here(a, st);
}

static hvrpc_code hybrid_listen(const hvrpc_address *a, int backlog, int *fd,
                                hvrpc_address *bound, hvrpc_status *st)
{
    (void)a, (void)backlog, (void)fd, (void)bound;
    return hybrid_not_here(st);
}

static hvrpc_code hybrid_connect(const hvrpc_address *a, int64_t deadline_ns,
                                 int *fd, hvrpc_status *st)
{
    (void)a, (void)deadline_ns, (void)fd;
    return hybrid_not_here(st);
}

static int no_accept(int lfd, const hvrpc_address *bound, int *fd,
                     hvrpc_peer *peer)
{
    (void)lfd, (void)bound, (void)fd, (void)peer;
    return EOPNOTSUPP;
}

const hvrpc__transport hvrpc__transport_vsock = {
    .name = "vsock",
    .listen = vsock_listen,
    .accept = no_accept,
    .connect = vsock_connect,
    .read = hvrpc__sock_read,
    .write = hvrpc__sock_write,
    .writev = hvrpc__sock_writev,
    .unlisten = hvrpc__sock_unlisten,
};

const hvrpc__transport hvrpc__transport_hybrid = {
    .name = "hybrid+vsock",
    .listen = hybrid_listen,
    .accept = no_accept,
    .connect = hybrid_connect,
    .read = hvrpc__sock_read,
    .write = hvrpc__sock_write,
    .writev = hvrpc__sock_writev,
    .unlisten = hvrpc__sock_unlisten,
};
