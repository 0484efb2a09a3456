/*
 * platform_win.h - what the runtime's POSIX socket code needs, on Winsock.
 *
 * Windows builds put runtime/src/win/posix first on the include path: its
 * <sys/socket.h>, <poll.h>, <sys/epoll.h>, <netdb.h>, ... all land here, so
 * the shared sources keep their POSIX includes and calls. What differs is
 * done once below or in sock_win.c / loop_win.c:
 *
 * - A socket is kept in an int, as on POSIX. Windows socket handles are
 *   kernel handles, which fit in 32 bits (Windows keeps them so for 32-bit
 *   interop); INVALID_SOCKET becomes -1.
 * - Winsock reports errors through WSAGetLastError(), not errno. Our
 *   socket helpers (hvrpc__sock_*) translate: after them errno holds the
 *   POSIX value (EAGAIN, ECONNREFUSED, ...), as the shared code expects.
 * - close() of a socket is hvrpc__sock_close() (closesocket).
 * - poll() is WSAPoll(); the event loop itself is loop_win.c (WSAPoll over
 *   the watched sockets and a wake-up socket pair), with the same EPOLL*
 *   event bits as the Linux loop.
 * - Winsock is started once (WSAStartup) by hvrpc__net_init(), which every
 *   path to a socket goes through (the transport table, the loop).
 */
#ifndef HVRPC__PLATFORM_WIN_H
#define HVRPC__PLATFORM_WIN_H

#ifndef _WIN32
#error "platform_win.h is for Windows builds only"
#endif

#ifndef WIN32_LEAN_AND_MEAN
#define WIN32_LEAN_AND_MEAN
#endif
#ifndef _WIN32_WINNT
#define _WIN32_WINNT 0x0A00 /* Windows 10: AF_UNIX, AF_HYPERV */
#endif

#include <winsock2.h>
#include <ws2tcpip.h>
#include <windows.h>
#include <afunix.h>

#include <errno.h>
#include <stdint.h>
#include <sys/types.h>

#include "hvrpc/status.h"

#if defined(_MSC_VER) && !defined(__clang__)
#include <BaseTsd.h>
typedef SSIZE_T ssize_t;
#if !defined(_Thread_local)
#define _Thread_local __declspec(thread)
#endif
#endif

/* POSIX names for Winsock's. */
#ifndef SHUT_RD
#define SHUT_RD   SD_RECEIVE
#define SHUT_WR   SD_SEND
#define SHUT_RDWR SD_BOTH
#endif
/* Windows never raises a signal for a broken connection. */
#ifndef MSG_NOSIGNAL
#define MSG_NOSIGNAL 0
#endif
/* Sockets are never inherited: handles are created non-inheritable by
 * WSASocket(WSA_FLAG_NO_HANDLE_INHERIT) in sock_win.c; these flags exist so
 * shared code compiles and are ignored. */
#ifndef SOCK_NONBLOCK
#define SOCK_NONBLOCK 0
#endif
#ifndef SOCK_CLOEXEC
#define SOCK_CLOEXEC 0
#endif

/* <sys/uio.h>'s buffer, for the transports' writev (WSASend in sock_win.c
 * takes them as WSABUFs). */
struct iovec {
    void *iov_base;
    size_t iov_len;
};

/* Winsock declares option values as char *; POSIX code passes int *. */
#define setsockopt(s, level, name, val, len)                                   \
    setsockopt((s), (level), (name), (const char *)(val), (len))
#define getsockopt(s, level, name, val, len)                                   \
    getsockopt((s), (level), (name), (char *)(val), (len))

/* poll() on sockets (connect waits, draining a connection). */
#define poll(fds, n, timeout) WSAPoll((fds), (ULONG)(n), (timeout))

/* The epoll event bits the loop API speaks (their Linux values). */
#ifndef EPOLLIN
#define EPOLLIN  0x001u
#define EPOLLOUT 0x004u
#define EPOLLERR 0x008u
#define EPOLLHUP 0x010u
#endif

/* Starts Winsock once per process; 0 or a WSA error code. */
int hvrpc__net_init(void);

/* errno value for a Winsock error (WSAGetLastError()). */
int hvrpc__wsa_errno(int wsa_error);

/* Sets errno from WSAGetLastError() and returns it. */
int hvrpc__wsa_set_errno(void);

/* --- sock_win.c --------------------------------------------------------- */
struct sockaddr;

/* A non-blocking, non-inheritable stream socket of domain and protocol
 * (AF_HYPERV needs HV_PROTOCOL_RAW). 0, or -1 with errno set. */
int hvrpc__sock_socket(int domain, int protocol, int *fd);

/* hvrpc__sock_listen / hvrpc__sock_connect with a protocol. */
hvrpc_code hvrpc__sock_listen_proto(int domain, int protocol,
                                    const struct sockaddr *sa, socklen_t len,
                                    int backlog, int *fd, const char *what,
                                    hvrpc_status *st);
hvrpc_code hvrpc__sock_connect_proto(int domain, int protocol,
                                     const struct sockaddr *sa, socklen_t len,
                                     int64_t deadline_ns,
                                     void (*setup)(int fd, int64_t deadline_ns),
                                     int *fd, const char *what,
                                     hvrpc_status *st);

/* strerror() that knows the socket errno values. */
const char *hvrpc__sock_strerror(int err);

#endif
