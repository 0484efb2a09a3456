/*
 * transport_mem.c - mem://NAME: connections within one process, with no
 * socket file, port or VM, for unit and contract tests (an in-process
 * mock of a host service) and for code that talks to itself.
 *
 * Why socketpairs: the rest of the runtime (epoll loop, framing, flow
 * control) works on connected fds; a socketpair is one, so everything
 * above this file runs unchanged. The registry maps each listening name
 * to a SOCK_SEQPACKET socketpair: connect makes a SOCK_STREAM socketpair,
 * keeps one end and passes the other (SCM_RIGHTS, one message per
 * connection) to the listener's queue, whose receiving end the server's
 * loop watches like any listening socket; accept takes one message. The
 * kernel holds the queue, so a listener closed with connections pending
 * releases them (their clients see the connection close).
 *
 * Windows has neither socketpair() nor SCM_RIGHTS: there mem:// parses
 * but listen and connect answer UNIMPLEMENTED.
 */
#include <errno.h>
#include <string.h>

#include "transport.h"
#ifdef _WIN32
#include "win/platform_win.h"
#endif

#ifndef _WIN32
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <sys/socket.h>
#include <unistd.h>

#include "alloc.h"
#include "clock.h"

typedef struct mem_listener {
    struct mem_listener *next;
    char name[HVRPC_MEM_NAME_MAX + 1];
    int lfd; /* the server's end: accept receives connections here */
    int qfd; /* connect sends connections here */
} mem_listener;

/* Every mem:// listener of the process, guarded by mu. Few and short
 * lived (tests, mocks): a list is enough. */
static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static mem_listener *listeners;

/* Under mu. */
static mem_listener **find(const char *name)
{
    mem_listener **p = &listeners;
    while (*p && strcmp((*p)->name, name) != 0)
        p = &(*p)->next;
    return p;
}

static hvrpc_code mem_listen(const hvrpc_address *a, int backlog, int *fd,
                             hvrpc_address *bound, hvrpc_status *st)
{
    /* The queue's length is bounded by its socket buffer (some hundreds
     * of pending connections); a full one makes connect wait. */
    (void)backlog;
    mem_listener *l = hvrpc__calloc(1, sizeof *l);
    if (!l)
        return hvrpc_status_set(st, HVRPC_RESOURCE_EXHAUSTED,
                                "mem://%s: out of memory", a->u.mem.name);
    int sv[2];
    if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_NONBLOCK | SOCK_CLOEXEC, 0,
                   sv) != 0) {
        int err = errno;
        hvrpc__free(l);
        return hvrpc_status_set(st, HVRPC_RESOURCE_EXHAUSTED,
                                "mem://%s: cannot create the listener: %s",
                                a->u.mem.name, strerror(err));
    }
    memcpy(l->name, a->u.mem.name, sizeof l->name);
    l->name[HVRPC_MEM_NAME_MAX] = '\0';
    l->lfd = sv[0];
    l->qfd = sv[1];

    pthread_mutex_lock(&mu);
    mem_listener **slot = find(l->name);
    if (*slot) {
        pthread_mutex_unlock(&mu);
        close(sv[0]);
        close(sv[1]);
        hvrpc__free(l);
        return hvrpc_status_set(st, HVRPC_ALREADY_EXISTS,
                                "mem://%s: this process already listens on "
                                "that name",
                                a->u.mem.name);
    }
    *slot = l;
    pthread_mutex_unlock(&mu);
    *bound = *a;
    *fd = l->lfd;
    return HVRPC_OK;
}

/* Sends conn over the listener's queue q, waiting for room until
 * deadline_ns. 0 or an errno value. */
static int hand_over(int q, int conn, int64_t deadline_ns)
{
    char byte = 0;
    struct iovec iov = {.iov_base = &byte, .iov_len = 1};
    union {
        struct cmsghdr h;
        char space[CMSG_SPACE(sizeof(int))];
    } ctl;
    memset(&ctl, 0, sizeof ctl);
    struct msghdr msg = {.msg_iov = &iov,
                         .msg_iovlen = 1,
                         .msg_control = ctl.space,
                         .msg_controllen = sizeof ctl.space};
    struct cmsghdr *c = CMSG_FIRSTHDR(&msg);
    c->cmsg_level = SOL_SOCKET;
    c->cmsg_type = SCM_RIGHTS;
    c->cmsg_len = CMSG_LEN(sizeof(int));
    memcpy(CMSG_DATA(c), &conn, sizeof conn);

    for (;;) {
        if (sendmsg(q, &msg, MSG_NOSIGNAL | MSG_DONTWAIT) == 1)
            return 0;
        if (errno == EINTR)
            continue;
        if (errno != EAGAIN && errno != EWOULDBLOCK)
            return errno;
        struct pollfd pfd = {.fd = q, .events = POLLOUT};
        int r = poll(&pfd, 1, hvrpc__poll_timeout_ms(deadline_ns));
        if (r == 0)
            return ETIMEDOUT;
        if (r < 0 && errno != EINTR)
            return errno;
    }
}

static hvrpc_code mem_connect(const hvrpc_address *a, int64_t deadline_ns,
                              int *fd, hvrpc_status *st)
{
    const char *name = a->u.mem.name;
    /* A copy of the queue's fd, taken under the lock: the listener may
     * close meanwhile, and then the send fails instead of reaching a
     * reused fd number. */
    pthread_mutex_lock(&mu);
    mem_listener *l = *find(name);
    int q = l ? fcntl(l->qfd, F_DUPFD_CLOEXEC, 0) : -1;
    int dup_err = errno;
    pthread_mutex_unlock(&mu);
    if (!l)
        return hvrpc_status_set(st, HVRPC_UNAVAILABLE,
                                "mem://%.*s: cannot connect: nothing listens "
                                "on that name in this process",
                                HVRPC_MEM_NAME_MAX, name);
    if (q < 0)
        return hvrpc_status_set(st, HVRPC_RESOURCE_EXHAUSTED,
                                "mem://%.*s: cannot connect: %s",
                                HVRPC_MEM_NAME_MAX, name, strerror(dup_err));
    int sv[2];
    if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0,
                   sv) != 0) {
        int err = errno;
        close(q);
        return hvrpc_status_set(st, HVRPC_RESOURCE_EXHAUSTED,
                                "mem://%.*s: cannot connect: %s",
                                HVRPC_MEM_NAME_MAX, name, strerror(err));
    }
    int err = hand_over(q, sv[1], deadline_ns);
    close(q);
    /* In flight, the kernel holds its own reference to the server's end. */
    close(sv[1]);
    if (err == ETIMEDOUT) {
        close(sv[0]);
        return hvrpc_status_set(st, HVRPC_DEADLINE_EXCEEDED,
                                "mem://%.*s: connect timed out (the "
                                "listener accepts nothing)",
                                HVRPC_MEM_NAME_MAX, name);
    }
    if (err != 0) {
        close(sv[0]);
        return hvrpc_status_set(st, HVRPC_UNAVAILABLE,
                                "mem://%.*s: cannot connect: the listener "
                                "closed (%s)",
                                HVRPC_MEM_NAME_MAX, name, strerror(err));
    }
    *fd = sv[0];
    return HVRPC_OK;
}

static int mem_accept(int lfd, const hvrpc_address *bound, int *fd,
                      hvrpc_peer *peer)
{
    (void)bound;
    char byte;
    struct iovec iov = {.iov_base = &byte, .iov_len = 1};
    union {
        struct cmsghdr h;
        char space[CMSG_SPACE(sizeof(int))];
    } ctl;
    struct msghdr msg = {.msg_iov = &iov,
                         .msg_iovlen = 1,
                         .msg_control = ctl.space,
                         .msg_controllen = sizeof ctl.space};
    ssize_t r = recvmsg(lfd, &msg, MSG_DONTWAIT | MSG_CMSG_CLOEXEC);
    if (r < 0)
        return errno;
    if (r == 0)
        return EAGAIN; /* cannot happen while the registry holds qfd */
    /* Out of fds: the kernel dropped the connection (its client sees it
     * close); go on with the next one. */
    if (msg.msg_flags & MSG_CTRUNC)
        return ECONNABORTED;
    struct cmsghdr *c = CMSG_FIRSTHDR(&msg);
    if (!c || c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS ||
        c->cmsg_len != CMSG_LEN(sizeof(int)))
        return ECONNABORTED; /* only connect writes here: never expected */
    int s;
    memcpy(&s, CMSG_DATA(c), sizeof s);
    memset(peer, 0, sizeof *peer);
    peer->kind = HVRPC_ADDR_MEM;
    /* The kernel's word, as for unix sockets: this very process. */
    hvrpc__sock_peer_creds(s, peer);
    *fd = s; /* non-blocking already: the flag travels with the socket */
    return 0;
}

static void mem_unlisten(int lfd, const hvrpc_address *bound)
{
    pthread_mutex_lock(&mu);
    mem_listener **slot = find(bound->u.mem.name);
    mem_listener *l = *slot;
    if (l && l->lfd == lfd)
        *slot = l->next;
    else
        l = NULL;
    pthread_mutex_unlock(&mu);
    if (l) {
        close(l->qfd);
        hvrpc__free(l);
    }
    /* Connections still queued are released with it. */
    close(lfd);
}

#else /* _WIN32 */

static hvrpc_code mem_not_here(const hvrpc_address *a, hvrpc_status *st)
{
    return hvrpc_status_set(st, HVRPC_UNIMPLEMENTED,
                            "mem://%.*s: the in-memory transport is not "
                            "implemented on Windows (use unix:// or tcp://)",
                            HVRPC_MEM_NAME_MAX, a->u.mem.name);
}

static hvrpc_code mem_listen(const hvrpc_address *a, int backlog, int *fd,
                             hvrpc_address *bound, hvrpc_status *st)
{
    (void)backlog, (void)fd, (void)bound;
    return mem_not_here(a, st);
}

static hvrpc_code mem_connect(const hvrpc_address *a, int64_t deadline_ns,
                              int *fd, hvrpc_status *st)
{
    (void)deadline_ns, (void)fd;
    return mem_not_here(a, st);
}

static int mem_accept(int lfd, const hvrpc_address *bound, int *fd,
                      hvrpc_peer *peer)
{
    (void)lfd, (void)bound, (void)fd, (void)peer;
    return EOPNOTSUPP;
}

static void mem_unlisten(int lfd, const hvrpc_address *bound)
{
    (void)lfd, (void)bound;
}

#endif

const hvrpc__transport hvrpc__transport_mem = {
    .name = "mem",
    .listen = mem_listen,
    .accept = mem_accept,
    .connect = mem_connect,
    .read = hvrpc__sock_read,
    .write = hvrpc__sock_write,
    .writev = hvrpc__sock_writev,
    .unlisten = mem_unlisten,
};
