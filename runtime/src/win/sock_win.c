/*
 * sock_win.c - the socket helpers of transport.h on Winsock.
 *
 * The same contracts as transport.c's POSIX versions: non-blocking,
 * non-inheritable sockets in an int, errors as POSIX errno values (mapped
 * from WSAGetLastError()) and statuses with a readable cause.
 */
#include "platform_win.h"

#include <limits.h>
#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>

#include "../clock.h"
#include "../transport.h"

/* --- Winsock start and errors ------------------------------------------ */

static pthread_once_t net_once = PTHREAD_ONCE_INIT;
static int net_error;

static void net_start(void)
{
    WSADATA d;
    net_error = WSAStartup(MAKEWORD(2, 2), &d);
}

int hvrpc__net_init(void)
{
    pthread_once(&net_once, net_start);
    return net_error;
}

int hvrpc__wsa_errno(int e)
{
    switch (e) {
    case 0:
        return 0;
    case WSAEWOULDBLOCK:
        return EAGAIN;
    case WSAEINPROGRESS:
    case WSAEALREADY:
        return EINPROGRESS;
    case WSAEINTR:
        return EINTR;
    case WSAEBADF:
    case WSAENOTSOCK:
        return EBADF;
    case WSAEACCES:
        return EACCES;
    case WSAEFAULT:
    case WSAEINVAL:
        return EINVAL;
    case WSAEMFILE:
        return EMFILE;
    case WSAENAMETOOLONG:
        return ENAMETOOLONG;
    case WSAEAFNOSUPPORT:
    case WSAEPFNOSUPPORT:
    case WSAEPROTONOSUPPORT:
    case WSAESOCKTNOSUPPORT:
        return EAFNOSUPPORT;
    case WSAEOPNOTSUPP:
        return EOPNOTSUPP;
    case WSAEADDRINUSE:
        return EADDRINUSE;
    case WSAEADDRNOTAVAIL:
        return EADDRNOTAVAIL;
    case WSAENETDOWN:
        return ENETDOWN;
    case WSAENETUNREACH:
        return ENETUNREACH;
    case WSAEHOSTUNREACH:
    case WSAEHOSTDOWN:
        return EHOSTUNREACH;
    case WSAECONNABORTED:
        return ECONNABORTED;
    case WSAECONNRESET:
    case WSAENETRESET:
        return ECONNRESET;
    case WSAESHUTDOWN:
        return EPIPE;
    case WSAENOBUFS:
        return ENOBUFS;
    case WSAEISCONN:
        return EISCONN;
    case WSAENOTCONN:
        return ENOTCONN;
    case WSAETIMEDOUT:
        return ETIMEDOUT;
    case WSAECONNREFUSED:
        return ECONNREFUSED;
    case WSAEMSGSIZE:
        return EMSGSIZE;
    case WSAENOPROTOOPT:
        return ENOPROTOOPT;
    default:
        return EIO;
    }
}

int hvrpc__wsa_set_errno(void)
{
    errno = hvrpc__wsa_errno(WSAGetLastError());
    return errno;
}

/* The C runtime's strerror() knows only the classic errno values; the
 * socket ones (100 and up in mingw-w64 and MSVC) get their text here. */
static const char *err_text(int err)
{
    switch (err) {
    case EADDRINUSE:
        return "Address already in use";
    case EADDRNOTAVAIL:
        return "Cannot assign requested address";
    case EAFNOSUPPORT:
        return "Address family not supported by protocol";
    case ECONNREFUSED:
        return "Connection refused";
    case ECONNRESET:
        return "Connection reset by peer";
    case ECONNABORTED:
        return "Software caused connection abort";
    case EHOSTUNREACH:
        return "No route to host";
    case ENETUNREACH:
        return "Network is unreachable";
    case ENETDOWN:
        return "Network is down";
    case ETIMEDOUT:
        return "Connection timed out";
    case ENOTCONN:
        return "Transport endpoint is not connected";
    case ENOBUFS:
        return "No buffer space available";
    case EOPNOTSUPP:
        return "Operation not supported";
    default:
        return strerror(err);
    }
}

const char *hvrpc__sock_strerror(int err)
{
    return err_text(err);
}

/* --- sockets ------------------------------------------------------------ */

int hvrpc__sock_close(int fd)
{
    return closesocket((SOCKET)fd) == 0 ? 0 : (hvrpc__wsa_set_errno(), -1);
}

int hvrpc__sock_socket(int domain, int protocol, int *fd)
{
    int e = hvrpc__net_init();
    if (e != 0) {
        errno = hvrpc__wsa_errno(e);
        return -1;
    }
    SOCKET s = WSASocketW(domain, SOCK_STREAM, protocol, NULL, 0,
                          WSA_FLAG_OVERLAPPED | WSA_FLAG_NO_HANDLE_INHERIT);
    if (s == INVALID_SOCKET) {
        hvrpc__wsa_set_errno();
        return -1;
    }
    u_long one = 1;
    if (ioctlsocket(s, FIONBIO, &one) != 0) {
        hvrpc__wsa_set_errno();
        closesocket(s);
        return -1;
    }
    *fd = (int)s;
    return 0;
}

ssize_t hvrpc__sock_read(int fd, void *buf, size_t n)
{
    int len = n > INT_MAX ? INT_MAX : (int)n;
    int r = recv((SOCKET)fd, buf, len, 0);
    if (r == SOCKET_ERROR) {
        hvrpc__wsa_set_errno();
        return -1;
    }
    return r;
}

ssize_t hvrpc__sock_write(int fd, const void *buf, size_t n)
{
    int len = n > INT_MAX ? INT_MAX : (int)n;
    int r = send((SOCKET)fd, buf, len, 0);
    if (r == SOCKET_ERROR) {
        hvrpc__wsa_set_errno();
        return -1;
    }
    return r;
}

ssize_t hvrpc__sock_writev(int fd, const struct iovec *iov, int cnt)
{
    WSABUF b[HVRPC__IOV_MAX];
    DWORD n = 0;
    for (int i = 0; i < cnt && i < HVRPC__IOV_MAX; i++) {
        /* A WSABUF holds at most 4 GiB - 1: a larger buffer ends the
         * list there, and the write is short, as writev may be. */
        bool big = iov[i].iov_len > ULONG_MAX;
        b[n].buf = iov[i].iov_base;
        b[n].len = big ? ULONG_MAX : (ULONG)iov[i].iov_len;
        n++;
        if (big)
            break;
    }
    DWORD sent = 0;
    if (WSASend((SOCKET)fd, b, n, &sent, 0, NULL, NULL) == SOCKET_ERROR) {
        hvrpc__wsa_set_errno();
        return -1;
    }
    return (ssize_t)sent;
}

void hvrpc__sock_unlisten(int lfd, const hvrpc_address *bound)
{
    (void)bound;
    hvrpc__sock_close(lfd);
}

hvrpc_code hvrpc__sock_listen_proto(int domain, int protocol,
                                    const struct sockaddr *sa, socklen_t len,
                                    int backlog, int *fd, const char *what,
                                    hvrpc_status *st)
{
    int s;
    if (hvrpc__sock_socket(domain, protocol, &s) != 0)
        return hvrpc_status_set(st, hvrpc__errno_code(errno),
                                "%s: cannot create socket: %s", what,
                                err_text(errno));
    /* Not SO_REUSEADDR: on Windows it lets another socket take over a port
     * in use. SO_EXCLUSIVEADDRUSE is the safe default for a server. */
    int one = 1;
    if (domain == AF_INET || domain == AF_INET6)
        setsockopt((SOCKET)s, SOL_SOCKET, SO_EXCLUSIVEADDRUSE, &one,
                   sizeof one);
    if (bind((SOCKET)s, sa, len) != 0) {
        int err = hvrpc__wsa_set_errno();
        hvrpc__sock_close(s);
        return hvrpc_status_set(st, hvrpc__errno_code(err),
                                "%s: cannot bind: %s", what, err_text(err));
    }
    if (listen((SOCKET)s, backlog) != 0) {
        int err = hvrpc__wsa_set_errno();
        hvrpc__sock_close(s);
        return hvrpc_status_set(st, hvrpc__errno_code(err),
                                "%s: cannot listen: %s", what, err_text(err));
    }
    *fd = s;
    return HVRPC_OK;
}

hvrpc_code hvrpc__sock_listen(int domain, const struct sockaddr *sa,
                              socklen_t len, int backlog, int *fd,
                              const char *what, hvrpc_status *st)
{
    return hvrpc__sock_listen_proto(domain, 0, sa, len, backlog, fd, what, st);
}

/* Waits for a non-blocking connect with select(): WSAPoll does not report
 * a refused connect on Windows before 10 version 2004. 0 when connected,
 * else an errno value (ETIMEDOUT when the deadline passed). */
static int connect_wait(int s, int64_t deadline_ns)
{
    for (;;) {
        fd_set wr, ex;
        FD_ZERO(&wr);
        FD_ZERO(&ex);
        FD_SET((SOCKET)s, &wr);
        FD_SET((SOCKET)s, &ex);
        int ms = hvrpc__poll_timeout_ms(deadline_ns);
        /* A slice at a time, so a far deadline cannot overflow timeval. */
        int slice = ms < 0 || ms > 1000 ? 1000 : ms;
        struct timeval tv = {slice / 1000, (slice % 1000) * 1000};
        int r = select(0, NULL, &wr, &ex, &tv);
        if (r == SOCKET_ERROR)
            return hvrpc__wsa_set_errno();
        if (r > 0) {
            int err = 0;
            int el = sizeof err;
            if (getsockopt((SOCKET)s, SOL_SOCKET, SO_ERROR, &err, &el) != 0)
                return hvrpc__wsa_set_errno();
            return hvrpc__wsa_errno(err);
        }
        if (ms >= 0 && ms <= 1000)
            return ETIMEDOUT;
    }
}

hvrpc_code hvrpc__sock_connect_proto(int domain, int protocol,
                                     const struct sockaddr *sa, socklen_t len,
                                     int64_t deadline_ns,
                                     void (*setup)(int fd, int64_t deadline_ns),
                                     int *fd, const char *what,
                                     hvrpc_status *st)
{
    int s;
    if (hvrpc__sock_socket(domain, protocol, &s) != 0)
        return hvrpc_status_set(st, hvrpc__errno_code(errno),
                                "%s: cannot create socket: %s", what,
                                err_text(errno));
    if (setup)
        setup(s, deadline_ns);
    int err = 0;
    if (connect((SOCKET)s, sa, len) != 0) {
        err = hvrpc__wsa_set_errno();
        if (err == EAGAIN || err == EINPROGRESS)
            err = connect_wait(s, deadline_ns);
    }
    if (err == ETIMEDOUT && deadline_ns != 0 &&
        hvrpc__poll_timeout_ms(deadline_ns) == 0) {
        hvrpc__sock_close(s);
        return hvrpc_status_set(st, HVRPC_DEADLINE_EXCEEDED,
                                "%s: connect timed out", what);
    }
    if (err != 0) {
        hvrpc__sock_close(s);
        errno = err;
        return hvrpc_status_set(st, hvrpc__errno_code(err),
                                "%s: cannot connect: %s", what, err_text(err));
    }
    *fd = s;
    return HVRPC_OK;
}

hvrpc_code hvrpc__sock_connect(int domain, const struct sockaddr *sa,
                               socklen_t len, int64_t deadline_ns,
                               void (*setup)(int fd, int64_t deadline_ns),
                               int *fd, const char *what, hvrpc_status *st)
{
    return hvrpc__sock_connect_proto(domain, 0, sa, len, deadline_ns, setup, fd,
                                     what, st);
}

int hvrpc__sock_accept(int lfd, struct sockaddr *sa, socklen_t *len, int *fd)
{
    SOCKET s = accept((SOCKET)lfd, sa, len);
    if (s == INVALID_SOCKET)
        return hvrpc__wsa_set_errno();
    u_long one = 1;
    if (ioctlsocket(s, FIONBIO, &one) != 0) {
        int err = hvrpc__wsa_set_errno();
        closesocket(s);
        return err;
    }
    SetHandleInformation((HANDLE)s, HANDLE_FLAG_INHERIT, 0);
    *fd = (int)s;
    return 0;
}

void hvrpc__sock_peer_creds(int fd, hvrpc_peer *peer)
{
    /* AF_UNIX on Windows tells the peer's process id, not its account. */
    peer->uid = peer->gid = peer->pid = -1;
    ULONG pid = 0;
    DWORD got = 0;
    if (WSAIoctl((SOCKET)fd, SIO_AF_UNIX_GETPEERPID, NULL, 0, &pid, sizeof pid,
                 &got, NULL, NULL) == 0 &&
        got == sizeof pid)
        peer->pid = pid;
}
