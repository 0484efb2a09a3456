/*
 * transport_hybrid.c - Firecracker / Cloud Hypervisor hybrid vsock.
 *
 * The VMM exposes the guest's vsock as a unix socket on the host. To reach
 * guest port P the host connects to that socket and says "CONNECT P\n";
 * the VMM answers "OK <host-side port>\n" and from then on the stream is
 * the guest's. For the other direction, the VMM forwards a guest's
 * connection to host port P to the unix socket "<path>_P", so listening
 * means binding that path.
 */
#include <errno.h>
#include <inttypes.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "clock.h"
#include "transport.h"

/* Longest handshake answer we accept: "OK 4294967295\n" fits easily. */
#define HANDSHAKE_LINE_MAX 32
/* The handshake is bounded even when the caller has no deadline. */
#define HANDSHAKE_DEFAULT_NS (5 * INT64_C(1000000000))

static hvrpc_code listen_path(const hvrpc_address *a, char *buf, size_t size,
                              hvrpc_status *st)
{
    int n =
        snprintf(buf, size, "%s_%" PRIu32, a->u.hybrid.path, a->u.hybrid.port);
    if (n < 0 || (size_t)n >= size || (size_t)n > HVRPC_UNIX_PATH_MAX)
        return hvrpc_status_set(st, HVRPC_INVALID_ARGUMENT,
                                "%s_%" PRIu32 ": path too long for a unix "
                                "socket",
                                a->u.hybrid.path, a->u.hybrid.port);
    return HVRPC_OK;
}

static hvrpc_code hybrid_listen(const hvrpc_address *a, int backlog, int *fd,
                                hvrpc_address *bound, hvrpc_status *st)
{
    char path[HVRPC_UNIX_PATH_MAX + 2];
    hvrpc_code c = listen_path(a, path, sizeof path, st);
    if (c != HVRPC_OK)
        return c;
    *bound = *a;
    return hvrpc__unix_listen_path(path, 0, backlog, fd, path, st);
}

static int hybrid_accept(int lfd, const hvrpc_address *bound, int *fd,
                         hvrpc_peer *peer)
{
    int err = hvrpc__unix_accept(lfd, bound, fd, peer);
    if (!err)
        peer->vsock_port = bound->u.hybrid.port;
    return err;
}

/* Waits until fd is ready for events or deadline_ns; OK, or the status
 * that ends the handshake (late: the message at the deadline). Every retry
 * of a handshake step comes here, so a storm of EINTR or EAGAIN still ends
 * at the deadline. */
static hvrpc_code wait_ready(int fd, short events, int64_t deadline_ns,
                             const char *late, hvrpc_status *st)
{
    struct pollfd pfd = {.fd = fd, .events = events};
    int ms = hvrpc__poll_timeout_ms(deadline_ns);
    int pr = poll(&pfd, 1, ms);
    if (pr == 0 || (pr < 0 && errno == EINTR && ms == 0))
        return hvrpc_status_set(st, HVRPC_DEADLINE_EXCEEDED, "hybrid vsock: %s",
                                late);
    if (pr < 0 && errno != EINTR)
        return hvrpc_status_set(st, HVRPC_UNAVAILABLE,
                                "hybrid vsock: handshake poll: %s",
                                strerror(errno));
    return HVRPC_OK;
}

/* Sends "CONNECT PORT\n" whole, through EINTR, EAGAIN and short writes
 * (a fresh socket has room for it, but a write may still be cut short). A
 * VMM that hung up is an error, not a SIGPIPE (the unix table's write). */
static hvrpc_code send_connect(const hvrpc__transport *u, int fd,
                               const char *req, size_t n, int64_t deadline_ns,
                               hvrpc_status *st)
{
    size_t done = 0;
    while (done < n) {
        ssize_t w = u->write(fd, req + done, n - done);
        if (w > 0) {
            done += (size_t)w;
            continue;
        }
        if (w == 0 || (errno != EAGAIN && errno != EINTR))
            return hvrpc_status_set(
                st, HVRPC_UNAVAILABLE, "hybrid vsock: cannot send CONNECT: %s",
                w == 0 ? "nothing written" : strerror(errno));
        hvrpc_code c = wait_ready(fd, POLLOUT, deadline_ns,
                                  "CONNECT not sent in time", st);
        if (c != HVRPC_OK)
            return c;
    }
    return HVRPC_OK;
}

/* Reads the VMM's answer one byte at a time, so not a byte of the stream
 * that follows is consumed. */
static hvrpc_code read_answer(const hvrpc__transport *u, int fd,
                              int64_t deadline_ns, char *line, hvrpc_status *st)
{
    size_t n = 0;
    for (;;) {
        char ch;
        ssize_t r = u->read(fd, &ch, 1);
        if (r == 1) {
            if (ch == '\n') {
                line[n] = '\0';
                return HVRPC_OK;
            }
            if (n + 1 >= HANDSHAKE_LINE_MAX)
                return hvrpc_status_set(st, HVRPC_UNAVAILABLE,
                                        "hybrid vsock: handshake answer "
                                        "longer than %d bytes",
                                        HANDSHAKE_LINE_MAX);
            line[n++] = ch;
            continue;
        }
        if (r == 0)
            return hvrpc_status_set(st, HVRPC_UNAVAILABLE,
                                    "hybrid vsock: connection closed during "
                                    "the handshake (no listener on that "
                                    "guest port?)");
        if (errno != EAGAIN && errno != EINTR)
            return hvrpc_status_set(st, HVRPC_UNAVAILABLE,
                                    "hybrid vsock: handshake read: %s",
                                    strerror(errno));
        hvrpc_code c = wait_ready(fd, POLLIN, deadline_ns,
                                  "no handshake answer in time", st);
        if (c != HVRPC_OK)
            return c;
    }
}

/* "OK " then a decimal port and nothing else. */
static int answer_ok(const char *line)
{
    if (strncmp(line, "OK ", 3) != 0 || line[3] == '\0')
        return 0;
    for (const char *p = line + 3; *p; p++)
        if (*p < '0' || *p > '9')
            return 0;
    return 1;
}

static hvrpc_code hybrid_connect(const hvrpc_address *a, int64_t deadline_ns,
                                 int *fd, hvrpc_status *st)
{
    hvrpc_address ua = {.kind = HVRPC_ADDR_UNIX};
    memcpy(ua.u.unix_sock.path, a->u.hybrid.path, sizeof ua.u.unix_sock.path);
    int64_t hs_deadline = deadline_ns;
    if (!hs_deadline)
        hs_deadline = hvrpc__deadline_after_ns(HANDSHAKE_DEFAULT_NS);
    /* The unix table (the tests' faulty one when set) makes the socket and
     * carries the handshake. */
    const hvrpc__transport *u = hvrpc__transport_for(HVRPC_ADDR_UNIX);
    int s;
    hvrpc_code c = u->connect(&ua, hs_deadline, &s, st);
    if (c != HVRPC_OK)
        return c;

    char req[32], line[HANDSHAKE_LINE_MAX];
    int n =
        snprintf(req, sizeof req, "CONNECT %" PRIu32 "\n", a->u.hybrid.port);
    c = send_connect(u, s, req, (size_t)n, hs_deadline, st);
    if (c == HVRPC_OK) {
        c = read_answer(u, s, hs_deadline, line, st);
        if (c == HVRPC_OK && !answer_ok(line))
            c = hvrpc_status_set(st, HVRPC_UNAVAILABLE,
                                 "hybrid vsock: CONNECT %" PRIu32
                                 " refused: \"%s\"",
                                 a->u.hybrid.port, line);
    }
    if (c != HVRPC_OK) {
        close(s);
        return c;
    }
    *fd = s;
    return HVRPC_OK;
}

static void hybrid_unlisten(int lfd, const hvrpc_address *bound)
{
    char path[HVRPC_UNIX_PATH_MAX + 2];
    close(lfd);
    if (listen_path(bound, path, sizeof path, NULL) == HVRPC_OK)
        unlink(path);
}

const hvrpc__transport hvrpc__transport_hybrid = {
    .name = "hybrid+vsock",
    .listen = hybrid_listen,
    .accept = hybrid_accept,
    .connect = hybrid_connect,
    .read = hvrpc__sock_read,
    .write = hvrpc__sock_write,
    .writev = hvrpc__sock_writev,
    .unlisten = hybrid_unlisten,
};
