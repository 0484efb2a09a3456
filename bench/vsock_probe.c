/*
 * bench/vsock_probe.c - whether this kernel can carry the vsock transport
 * of hvrpc-bench: a listener on CID any and a connection to it at CID 1
 * (VMADDR_CID_LOCAL), which only vsock_loopback answers.
 *
 * Creating and binding an AF_VSOCK socket is not enough to tell: a machine
 * with the vsock core but another transport (a Firecracker guest, say)
 * binds fine and then lets a connect to CID 1 hang until the kernel's
 * 2-second connect timeout. So the probe connects without blocking and
 * gives up after PROBE_TIMEOUT_MS.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <linux/vm_sockets.h>

#include "bench.h"

#define PROBE_TIMEOUT_MS 3000

static int fail(char *why, size_t size, const char *what, int err)
{
    snprintf(why, size, "no local vsock (vsock_loopback, CID 1): %s: %s", what,
             strerror(err));
    return -1;
}

/* Connects fd to addr, waiting at most PROBE_TIMEOUT_MS. 0 or an errno. */
static int connect_bounded(int fd, const struct sockaddr_vm *addr)
{
    int fl = fcntl(fd, F_GETFL);
    if (fl < 0 || fcntl(fd, F_SETFL, fl | O_NONBLOCK) != 0)
        return errno;
    if (connect(fd, (const struct sockaddr *)addr, sizeof *addr) == 0)
        return 0;
    if (errno != EINPROGRESS)
        return errno;
    struct pollfd p = {.fd = fd, .events = POLLOUT};
    int n = poll(&p, 1, PROBE_TIMEOUT_MS);
    if (n < 0)
        return errno;
    if (n == 0)
        return ETIMEDOUT;
    int err = 0;
    socklen_t len = sizeof err;
    if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len) != 0)
        return errno;
    return err;
}

int bench_vsock_probe(char *why, size_t size)
{
    struct sockaddr_vm a = {.svm_family = AF_VSOCK,
                            .svm_cid = VMADDR_CID_ANY,
                            .svm_port = VMADDR_PORT_ANY};
    socklen_t len = sizeof a;
    int lfd = socket(AF_VSOCK, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (lfd < 0)
        return fail(why, size, "socket", errno);
    int rc = -1, cfd = -1;
    if (bind(lfd, (struct sockaddr *)&a, sizeof a) != 0 ||
        listen(lfd, 4) != 0 ||
        getsockname(lfd, (struct sockaddr *)&a, &len) != 0) {
        fail(why, size, "listen on vsock://any:any", errno);
        goto out;
    }
    a.svm_cid = VMADDR_CID_LOCAL;
    cfd = socket(AF_VSOCK, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (cfd < 0) {
        fail(why, size, "socket", errno);
        goto out;
    }
    int err = connect_bounded(cfd, &a);
    if (err) {
        char what[64];
        snprintf(what, sizeof what, "connect to vsock://local:%u", a.svm_port);
        fail(why, size, what, err);
        goto out;
    }
    rc = 0;
out:
    if (cfd >= 0)
        close(cfd);
    close(lfd);
    return rc;
}
