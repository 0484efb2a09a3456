/* transport.c - the transport table and socket helpers they share. */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <stddef.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "clock.h"
#include "transport.h"
#ifdef _WIN32
#include "win/platform_win.h"
#endif

const hvrpc__transport *hvrpc__transport_unix_override;

const hvrpc__transport *hvrpc__transport_for(hvrpc_addr_kind kind)
{
#ifdef _WIN32
    /* Every listen and connect comes here first: start Winsock (once)
     * before a transport resolves a name or makes a socket. */
    hvrpc__net_init();
#endif
    switch (kind) {
    case HVRPC_ADDR_UNIX:
        if (hvrpc__transport_unix_override)
            return hvrpc__transport_unix_override;
        return &hvrpc__transport_unix;
    case HVRPC_ADDR_TCP:
        return &hvrpc__transport_tcp;
    case HVRPC_ADDR_VSOCK:
        return &hvrpc__transport_vsock;
    case HVRPC_ADDR_HYBRID_VSOCK:
        return &hvrpc__transport_hybrid;
    case HVRPC_ADDR_HVSOCK:
        return &hvrpc__transport_hvsock;
    case HVRPC_ADDR_MEM:
        return &hvrpc__transport_mem;
    }
    return NULL;
}

hvrpc_code hvrpc__errno_code(int err)
{
    switch (err) {
    case EADDRINUSE:
        return HVRPC_ALREADY_EXISTS;
    case EACCES:
    case EPERM:
        return HVRPC_PERMISSION_DENIED;
    case EINVAL:
    case ENAMETOOLONG:
        return HVRPC_INVALID_ARGUMENT;
    case ETIMEDOUT:
        return HVRPC_DEADLINE_EXCEEDED;
    default:
        return HVRPC_UNAVAILABLE;
    }
}

/* The Windows versions of the helpers below are in win/sock_win.c. */
#ifndef _WIN32
int hvrpc__sock_close(int fd)
{
    return close(fd);
}

ssize_t hvrpc__sock_read(int fd, void *buf, size_t n)
{
    return recv(fd, buf, n, 0);
}

ssize_t hvrpc__sock_write(int fd, const void *buf, size_t n)
{
    /* MSG_NOSIGNAL: a peer that went away is an EPIPE, not a SIGPIPE. */
    return send(fd, buf, n, MSG_NOSIGNAL);
}

ssize_t hvrpc__sock_writev(int fd, const struct iovec *iov, int cnt)
{
#if defined(IOV_MAX) && IOV_MAX < HVRPC__IOV_MAX
    if (cnt > IOV_MAX)
        cnt = IOV_MAX; /* a short write: the caller goes on from there */
#endif
    /* sendmsg, not writev(2): only it takes MSG_NOSIGNAL. */
    struct msghdr m = {.msg_iov = (struct iovec *)iov,
                       .msg_iovlen = (size_t)cnt};
    return sendmsg(fd, &m, MSG_NOSIGNAL);
}

void hvrpc__sock_unlisten(int lfd, const hvrpc_address *bound)
{
    (void)bound;
    close(lfd);
}

/* A non-blocking, close-on-exec stream socket, or a status saying why not. */
static hvrpc_code new_socket(int domain, int *s, const char *what,
                             hvrpc_status *st)
{
    *s = socket(domain, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (*s >= 0)
        return HVRPC_OK;
    return hvrpc_status_set(st, hvrpc__errno_code(errno),
                            "%s: cannot create socket: %s", what,
                            strerror(errno));
}

hvrpc_code hvrpc__sock_listen(int domain, const struct sockaddr *sa,
                              socklen_t len, int backlog, int *fd,
                              const char *what, hvrpc_status *st)
{
    int s;
    hvrpc_code c = new_socket(domain, &s, what, st);
    if (c != HVRPC_OK)
        return c;
    int one = 1;
    if (domain == AF_INET || domain == AF_INET6)
        setsockopt(s, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    if (bind(s, sa, len) != 0) {
        int err = errno;
        close(s);
        return hvrpc_status_set(st, hvrpc__errno_code(err),
                                "%s: cannot bind: %s", what, strerror(err));
    }
    if (listen(s, backlog) != 0) {
        int err = errno;
        close(s);
        return hvrpc_status_set(st, hvrpc__errno_code(err),
                                "%s: cannot listen: %s", what, strerror(err));
    }
    *fd = s;
    return HVRPC_OK;
}

/* Waits for connect() on the non-blocking socket s to finish, until
 * deadline_ns. Returns 0 when connected, ETIMEDOUT at the deadline, or the
 * errno that failed it. Every "not yet" is waited out, never taken for
 * success: EINPROGRESS and EALREADY (in progress); EINTR (POSIX: the
 * connection goes on without us); EAGAIN, which from a unix socket means a
 * listener's backlog is full and nothing is in progress at all (poll says
 * writable at once and SO_ERROR is 0, yet the socket is not connected), so
 * connect() is tried again after a short, growing pause, as a blocking
 * connect would wait for room. */
static int connect_wait(int s, const struct sockaddr *sa, socklen_t len,
                        int64_t deadline_ns)
{
    int pause_ms = 1;
    for (;;) {
        if (connect(s, sa, len) == 0)
            return 0;
        int err = errno;
        if (err == EISCONN)
            return 0;
        if (err != EINPROGRESS && err != EALREADY && err != EINTR &&
            err != EAGAIN)
            return err;
        struct pollfd pfd = {.fd = s, .events = POLLOUT};
        int r, ms;
        do {
            ms = hvrpc__poll_timeout_ms(deadline_ns);
            r = poll(&pfd, 1, ms);
        } while (r < 0 && errno == EINTR && ms != 0);
        if (r == 0 || (r < 0 && errno == EINTR))
            return ETIMEDOUT; /* even a storm of signals ends here */
        if (r < 0)
            return errno;
        socklen_t el = sizeof err;
        if (getsockopt(s, SOL_SOCKET, SO_ERROR, &err, &el) != 0)
            return errno;
        if (err != 0)
            return err;
        struct sockaddr_storage peer;
        socklen_t pl = sizeof peer;
        if (getpeername(s, (struct sockaddr *)&peer, &pl) == 0)
            return 0;
        if (errno != ENOTCONN)
            return errno;
        /* Writable, no error, not connected: nothing was in progress. */
        int left = hvrpc__poll_timeout_ms(deadline_ns);
        if (left == 0)
            return ETIMEDOUT;
        poll(NULL, 0, left > 0 && left < pause_ms ? left : pause_ms);
        if (pause_ms < 50)
            pause_ms *= 2;
    }
}

hvrpc_code hvrpc__sock_connect(int domain, const struct sockaddr *sa,
                               socklen_t len, int64_t deadline_ns,
                               void (*setup)(int fd, int64_t deadline_ns),
                               int *fd, const char *what, hvrpc_status *st)
{
    int s;
    hvrpc_code c = new_socket(domain, &s, what, st);
    if (c != HVRPC_OK)
        return c;
    if (setup)
        setup(s, deadline_ns);
    int err = connect_wait(s, sa, len, deadline_ns);
    if (err == ETIMEDOUT && hvrpc__poll_timeout_ms(deadline_ns) == 0) {
        close(s);
        return hvrpc_status_set(st, HVRPC_DEADLINE_EXCEEDED,
                                "%s: connect timed out", what);
    }
    if (err != 0) {
        close(s);
        return hvrpc_status_set(st, hvrpc__errno_code(err),
                                "%s: cannot connect: %s", what, strerror(err));
    }
    *fd = s;
    return HVRPC_OK;
}

int hvrpc__sock_accept(int lfd, struct sockaddr *sa, socklen_t *len, int *fd)
{
    int s = accept4(lfd, sa, len, SOCK_NONBLOCK | SOCK_CLOEXEC);
    if (s < 0)
        return errno;
    *fd = s;
    return 0;
}

void hvrpc__sock_peer_creds(int fd, hvrpc_peer *peer)
{
    struct ucred cred;
    socklen_t len = sizeof cred;
    peer->uid = peer->gid = peer->pid = -1;
    if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &len) == 0) {
        peer->uid = cred.uid;
        peer->gid = cred.gid;
        peer->pid = cred.pid;
    }
}

#endif /* !_WIN32 */

hvrpc_code hvrpc__unix_sockaddr(const char *path, int abstract, void *out,
                                socklen_t *len, hvrpc_status *st)
{
    struct sockaddr_un *sun = out;
#ifdef _WIN32
    /* unix:///C:/dir/x.sock names C:/dir/x.sock (as file:/// URIs do). */
    if (path[0] == '/' && path[1] != '\0' && path[2] == ':')
        path++;
#endif
    size_t n = strlen(path);
    /* An abstract name takes the leading NUL byte of sun_path. */
    if (n + (abstract ? 1 : 0) >= sizeof sun->sun_path)
        return hvrpc_status_set(st, HVRPC_INVALID_ARGUMENT,
                                "unix socket path too long (%zu bytes)", n);
    memset(sun, 0, sizeof *sun);
    sun->sun_family = AF_UNIX;
    if (abstract) {
        memcpy(sun->sun_path + 1, path, n);
        *len = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + 1 + n);
    } else {
        memcpy(sun->sun_path, path, n);
        *len = (socklen_t)sizeof *sun;
    }
    return HVRPC_OK;
}
