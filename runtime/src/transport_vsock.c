/*
 * transport_vsock.c - AF_VSOCK: Linux guests and KVM hosts (vhost-vsock),
 * Linux guests on Hyper-V (hv_sock), and vsock_loopback (CID 1).
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include <linux/vm_sockets.h>

#include "clock.h"
#include "transport.h"

static void make_sockaddr(struct sockaddr_vm *svm, uint32_t cid, uint32_t port)
{
    memset(svm, 0, sizeof *svm);
    svm->svm_family = AF_VSOCK;
    svm->svm_cid = cid;
    svm->svm_port = port;
}

/* The address as a user wrote it: vsock://any:5000, not the raw CID. */
static void name_addr(const hvrpc_address *a, char *buf, size_t n)
{
    if (hvrpc_address_format(a, buf, n) < 0)
        snprintf(buf, n, "vsock://?");
}

/* A kernel without the vsock module says EAFNOSUPPORT: say what to do. */
static hvrpc_code explain_missing(hvrpc_code c, const char *what,
                                  hvrpc_status *st)
{
    if (c != HVRPC_OK && errno == EAFNOSUPPORT)
        return hvrpc_status_set(st, HVRPC_UNAVAILABLE,
                                "%s: AF_VSOCK is not available on this "
                                "system (load the vsock module)",
                                what);
    return c;
}

static hvrpc_code vsock_listen(const hvrpc_address *a, int backlog, int *fd,
                               hvrpc_address *bound, hvrpc_status *st)
{
    struct sockaddr_vm svm;
    char what[64];
    name_addr(a, what, sizeof what);
    make_sockaddr(&svm, a->u.vsock.cid, a->u.vsock.port);
    errno = 0;
    hvrpc_code c = hvrpc__sock_listen(AF_VSOCK, (struct sockaddr *)&svm,
                                      sizeof svm, backlog, fd, what, st);
    if (c != HVRPC_OK)
        return explain_missing(c, what, st);
    *bound = *a;
    socklen_t len = sizeof svm;
    if (getsockname(*fd, (struct sockaddr *)&svm, &len) == 0)
        bound->u.vsock.port = svm.svm_port;
    return HVRPC_OK;
}

static int vsock_accept(int lfd, const hvrpc_address *bound, int *fd,
                        hvrpc_peer *peer)
{
    struct sockaddr_vm svm;
    socklen_t len = sizeof svm;
    int err = hvrpc__sock_accept(lfd, (struct sockaddr *)&svm, &len, fd);
    if (err)
        return err;
    memset(peer, 0, sizeof *peer);
    peer->kind = HVRPC_ADDR_VSOCK;
    peer->vsock_cid = svm.svm_cid;
    peer->vsock_port = svm.svm_port;
    peer->uid = peer->gid = peer->pid = -1;
    return 0;
}

/* The kernel gives up a vsock connect after its own timeout (2 s by
 * default), whatever our deadline: make it the time we have left, or the
 * longest it takes (no deadline). */
static void set_connect_timeout(int fd, int64_t deadline_ns)
{
    struct timeval tv = {.tv_sec = 3600};
    if (deadline_ns) {
        int64_t left = deadline_ns - hvrpc__now_ns();
        if (left < 1000)
            left = 1000;
        tv.tv_sec = left / 1000000000;
        tv.tv_usec = (left % 1000000000) / 1000;
    }
    setsockopt(fd, AF_VSOCK, SO_VM_SOCKETS_CONNECT_TIMEOUT, &tv, sizeof tv);
}

static hvrpc_code vsock_connect(const hvrpc_address *a, int64_t deadline_ns,
                                int *fd, hvrpc_status *st)
{
    struct sockaddr_vm svm;
    char what[64];
    name_addr(a, what, sizeof what);
    make_sockaddr(&svm, a->u.vsock.cid, a->u.vsock.port);
    errno = 0;
    hvrpc_code c =
        hvrpc__sock_connect(AF_VSOCK, (struct sockaddr *)&svm, sizeof svm,
                            deadline_ns, set_connect_timeout, fd, what, st);
    return explain_missing(c, what, st);
}

const hvrpc__transport hvrpc__transport_vsock = {
    .name = "vsock",
    .listen = vsock_listen,
    .accept = vsock_accept,
    .connect = vsock_connect,
    .read = hvrpc__sock_read,
    .write = hvrpc__sock_write,
    .writev = hvrpc__sock_writev,
    .unlisten = hvrpc__sock_unlisten,
};
