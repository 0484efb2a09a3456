/*
 * bench/peer_raw.c - the baseline: a raw socket ping-pong, the transport's
 * own limit.
 *
 * A message is the payload behind a 4-byte big-endian length, nothing
 * else: no envelope, no encoding. The server runs one thread per
 * connection with blocking reads and writes; it reads whatever has
 * arrived and writes every complete message back at once (an echo's reply
 * is its request, byte for byte), so pipelined messages cost one read and
 * one write per batch. The client keeps its calls in flight with blocking
 * writes and epoll.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <linux/vm_sockets.h>

#include <hvrpc/hvrpc.h>

#include "alloc_count.h"
#include "bench.h"
#include "peer.h"

#define HDR             4
#define BUF_INITIAL     (16u * 1024u)
#define MAX_MESSAGE     (64u << 20)
#define THREAD_STACK    (256u * 1024u)
#define IDLE_TIMEOUT_MS 30000

/* --- sockets ---------------------------------------------------------- */

/* A socket for uri: bound and listening, or connected. -1 after printing
 * an error line. */
static int open_socket(const char *uri, bool listening, char *bound,
                       size_t bound_size)
{
    hvrpc_address a;
    hvrpc_status st;
    if (hvrpc_address_parse(uri, &a, &st) != HVRPC_OK)
        return -peer_error("%s", st.message);
    struct sockaddr_storage ss;
    socklen_t sl;
    memset(&ss, 0, sizeof ss);
    if (a.kind == HVRPC_ADDR_UNIX && !a.u.unix_sock.abstract) {
        struct sockaddr_un *un = (struct sockaddr_un *)&ss;
        un->sun_family = AF_UNIX;
        snprintf(un->sun_path, sizeof un->sun_path, "%s", a.u.unix_sock.path);
        sl = sizeof *un;
        if (listening)
            unlink(a.u.unix_sock.path);
    } else if (a.kind == HVRPC_ADDR_TCP) {
        struct addrinfo hints = {.ai_socktype = SOCK_STREAM}, *ai;
        char port[8];
        snprintf(port, sizeof port, "%u", a.u.tcp.port);
        int err = getaddrinfo(a.u.tcp.host, port, &hints, &ai);
        if (err)
            return -peer_error("%s: %s", uri, gai_strerror(err));
        memcpy(&ss, ai->ai_addr, ai->ai_addrlen);
        sl = ai->ai_addrlen;
        freeaddrinfo(ai);
    } else if (a.kind == HVRPC_ADDR_VSOCK) {
        /* hvrpc's names map onto the kernel's: any is VMADDR_CID_ANY (and
         * VMADDR_PORT_ANY), local VMADDR_CID_LOCAL. */
        struct sockaddr_vm *vm = (struct sockaddr_vm *)&ss;
        vm->svm_family = AF_VSOCK;
        vm->svm_cid = a.u.vsock.cid;
        vm->svm_port = a.u.vsock.port;
        sl = sizeof *vm;
    } else {
        return -peer_error("%s: the raw peer knows unix paths, tcp and vsock",
                           uri);
    }
    int fd = socket(ss.ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
    int one = 1;
    if (fd < 0)
        return -peer_error("socket: %s", strerror(errno));
    if (ss.ss_family == AF_INET || ss.ss_family == AF_INET6) {
        setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
        setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    }
    int r = listening ? bind(fd, (struct sockaddr *)&ss, sl)
                      : connect(fd, (struct sockaddr *)&ss, sl);
    if (r == 0 && listening)
        r = listen(fd, 4096);
    if (r != 0) {
        int err = errno;
        close(fd);
        return -peer_error("%s %s: %s", listening ? "listen" : "connect", uri,
                           strerror(err));
    }
    if (listening && a.kind == HVRPC_ADDR_TCP) {
        sl = sizeof ss;
        getsockname(fd, (struct sockaddr *)&ss, &sl);
        a.u.tcp.port = ntohs(((struct sockaddr_in *)&ss)->sin_port);
    } else if (listening && a.kind == HVRPC_ADDR_VSOCK) {
        sl = sizeof ss; /* the port the kernel picked for "any" */
        getsockname(fd, (struct sockaddr *)&ss, &sl);
        a.u.vsock.port = ((struct sockaddr_vm *)&ss)->svm_port;
    }
    if (bound)
        hvrpc_address_format(&a, bound, bound_size);
    return fd;
}

static int write_all(int fd, const uint8_t *p, size_t n)
{
    while (n) {
        ssize_t w = write(fd, p, n);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            return -1;
        p += w;
        n -= (size_t)w;
    }
    return 0;
}

static uint32_t get_be32(const uint8_t *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 |
           p[3];
}

/* A connection's input: bytes read, complete messages at the front. */
typedef struct inbuf {
    uint8_t *p;
    size_t cap, have;
} inbuf;

/* Grows b to hold the whole of the message at its front. */
static int make_room(inbuf *b)
{
    if (b->have < HDR)
        return 0;
    uint32_t len = get_be32(b->p);
    if (len > MAX_MESSAGE)
        return -1;
    if (HDR + (size_t)len <= b->cap)
        return 0;
    uint8_t *q = realloc(b->p, HDR + (size_t)len);
    if (!q)
        return -1;
    b->p = q;
    b->cap = HDR + (size_t)len;
    return 0;
}

/* Reads once. Returns the bytes at the front that form complete messages
 * (0: none yet), or -1 when the peer closed or sent a bad length. */
static ssize_t read_messages(int fd, inbuf *b)
{
    if (make_room(b) != 0)
        return -1;
    ssize_t n;
    do
        n = read(fd, b->p + b->have, b->cap - b->have);
    while (n < 0 && errno == EINTR);
    if (n <= 0)
        return -1;
    b->have += (size_t)n;
    size_t off = 0;
    while (b->have - off >= HDR) {
        uint32_t len = get_be32(b->p + off);
        if (len > MAX_MESSAGE)
            return -1;
        if (b->have - off - HDR < len)
            break; /* make_room() grows b for it next time */
        off += HDR + len;
    }
    return (ssize_t)off;
}

/* Drops the first n bytes (messages consumed). */
static void consume(inbuf *b, size_t n)
{
    memmove(b->p, b->p + n, b->have - n);
    b->have -= n;
}

/* --- server ----------------------------------------------------------- */

static void *echo_conn(void *arg)
{
    int fd = (int)(intptr_t)arg;
    inbuf b = {malloc(BUF_INITIAL), BUF_INITIAL, 0};
    while (b.p) {
        ssize_t n = read_messages(fd, &b);
        if (n < 0 || (n > 0 && write_all(fd, b.p, (size_t)n) != 0))
            break;
        consume(&b, (size_t)n);
    }
    free(b.p);
    close(fd);
    return NULL;
}

static void *accept_loop(void *arg)
{
    int lfd = (int)(intptr_t)arg;
    pthread_attr_t attr;
    pthread_attr_init(&attr);
    pthread_attr_setstacksize(&attr, THREAD_STACK);
    pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
    for (;;) {
        int fd = accept4(lfd, NULL, NULL, SOCK_CLOEXEC);
        if (fd < 0) {
            if (errno == EINTR || errno == ECONNABORTED || errno == EMFILE)
                continue;
            break;
        }
        int one = 1;
        setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
        pthread_t t;
        if (pthread_create(&t, &attr, echo_conn, (void *)(intptr_t)fd) != 0)
            close(fd);
    }
    pthread_attr_destroy(&attr);
    return NULL;
}

int bench_raw_serve(const char *uri)
{
    peer_serve_init();
    char bound[HVRPC_ADDRESS_STRLEN];
    int lfd = open_socket(uri, true, bound, sizeof bound);
    if (lfd < 0)
        return 1;
    pthread_t t;
    if (pthread_create(&t, NULL, accept_loop, (void *)(intptr_t)lfd) != 0)
        return peer_error("cannot start the accept thread");
    pthread_detach(t);
    peer_serve_ready(bound);
    peer_serve_wait();
    /* The threads end with the process. */
    hvrpc_address a;
    if (hvrpc_address_parse(bound, &a, NULL) == HVRPC_OK &&
        a.kind == HVRPC_ADDR_UNIX)
        unlink(a.u.unix_sock.path);
    return 0;
}

/* --- client ----------------------------------------------------------- */

typedef struct rconn {
    int fd;
    inbuf in;
    unsigned outstanding;
} rconn;

typedef struct rclient {
    const peer_load *pl;
    rconn *conns;
    int epfd;
    uint8_t *reqs; /* `batch` request messages back to back */
    unsigned batch;
} rclient;

/* Sends k requests on c. */
static int send_requests(rclient *rc, rconn *c, unsigned k)
{
    size_t msg = HDR + rc->pl->size;
    while (k) {
        unsigned m = k < rc->batch ? k : rc->batch;
        if (write_all(c->fd, rc->reqs, m * msg) != 0)
            return -1;
        k -= m;
    }
    return 0;
}

/* Reads once from c; returns the responses completed, -1 on failure. */
static int take_responses(rclient *rc, rconn *c)
{
    ssize_t n = read_messages(c->fd, &c->in);
    if (n < 0)
        return -1;
    size_t msg = HDR + rc->pl->size;
    if ((size_t)n % msg)
        return -1; /* a response of the wrong size */
    consume(&c->in, (size_t)n);
    return (int)((size_t)n / msg);
}

/* One call on c, waiting for its answer. */
static int call_once(rclient *rc, rconn *c)
{
    if (send_requests(rc, c, 1) != 0)
        return -1;
    int got;
    while ((got = take_responses(rc, c)) == 0)
        ;
    return got == 1 ? 0 : -1;
}

static int call_first(void *arg)
{
    rclient *rc = arg;
    return call_once(rc, &rc->conns[0]);
}

/* Runs the load for ms; returns the calls completed, or -1. */
static int64_t run_phase(rclient *rc, unsigned ms, peer_samples *samples)
{
    const peer_load *pl = rc->pl;
    int64_t t0 = peer_now_ns(), end = t0 + (int64_t)ms * 1000000;
    int64_t done = 0;
    if (peer_load_timed(pl))
        return peer_run_timed(call_first, rc, end, samples);
    unsigned outstanding = 0;
    for (unsigned i = 0; ms && i < pl->conns; i++) {
        if (send_requests(rc, &rc->conns[i], pl->inflight) != 0)
            return -1;
        rc->conns[i].outstanding = pl->inflight;
        outstanding += pl->inflight;
    }
    while (outstanding) {
        struct epoll_event ev[64];
        int n = epoll_wait(rc->epfd, ev, 64, IDLE_TIMEOUT_MS);
        if (n <= 0 && !(n < 0 && errno == EINTR))
            return -1;
        int64_t now = peer_now_ns();
        for (int i = 0; i < n; i++) {
            rconn *c = ev[i].data.ptr;
            int got = take_responses(rc, c);
            if (got < 0 || (unsigned)got > c->outstanding)
                return -1;
            if (now < end && got > 0) {
                done += got;
                if (send_requests(rc, c, (unsigned)got) != 0)
                    return -1;
            } else {
                c->outstanding -= (unsigned)got;
                outstanding -= (unsigned)got;
            }
        }
    }
    return done;
}

static int client_run(rclient *rc, const char *uri)
{
    const peer_load *pl = rc->pl;
    for (unsigned i = 0; i < pl->conns; i++) {
        rconn *c = &rc->conns[i];
        c->in.cap = BUF_INITIAL;
        if (!(c->in.p = malloc(c->in.cap)))
            return peer_error("out of memory");
        if ((c->fd = open_socket(uri, false, NULL, 0)) < 0)
            return 1;
        struct epoll_event ev = {.events = EPOLLIN, .data.ptr = c};
        if (epoll_ctl(rc->epfd, EPOLL_CTL_ADD, c->fd, &ev) != 0 ||
            call_once(rc, c) != 0)
            return peer_error("first call on connection %u failed", i);
    }
    if (run_phase(rc, pl->warm_ms, NULL) < 0)
        return peer_error("warm-up: the connection failed");
    peer_client_warm();
    peer_samples samples;
    if (peer_samples_init(&samples, pl->run_ms) != 0)
        return peer_error("out of memory");
    uint64_t a0 = alloc_count_get();
    int64_t t0 = peer_now_ns();
    int64_t calls = run_phase(rc, pl->run_ms, &samples);
    int64_t elapsed = peer_load_timed(pl) ? peer_now_ns() - t0
                                          : (int64_t)pl->run_ms * 1000000;
    int64_t allocs =
        alloc_count_enabled() ? (int64_t)(alloc_count_get() - a0) : -1;
    int r = 0;
    if (calls < 0)
        r = peer_error("the connection failed");
    else
        peer_client_result(&samples, (uint64_t)calls, elapsed, allocs);
    peer_samples_free(&samples);
    return r;
}

int bench_raw_client(const char *uri, const peer_load *pl)
{
    signal(SIGPIPE, SIG_IGN);
    rclient rc = {.pl = pl, .batch = pl->inflight > 1 ? pl->inflight : 1};
    if (rc.batch > 64)
        rc.batch = 64;
    size_t msg = HDR + pl->size;
    rc.conns = calloc(pl->conns, sizeof *rc.conns);
    rc.reqs = calloc(rc.batch, msg);
    rc.epfd = epoll_create1(EPOLL_CLOEXEC);
    for (unsigned i = 0; rc.conns && i < pl->conns; i++)
        rc.conns[i].fd = -1;
    for (unsigned i = 0; rc.reqs && i < rc.batch; i++) {
        uint8_t *p = rc.reqs + i * msg;
        uint32_t n = htonl((uint32_t)pl->size);
        memcpy(p, &n, HDR);
    }
    int r = rc.conns && rc.reqs && rc.epfd >= 0 ? client_run(&rc, uri)
                                                : peer_error("out of memory");
    for (unsigned i = 0; rc.conns && i < pl->conns; i++) {
        if (rc.conns[i].fd >= 0)
            close(rc.conns[i].fd);
        free(rc.conns[i].in.p);
    }
    if (rc.epfd >= 0)
        close(rc.epfd);
    free(rc.conns);
    free(rc.reqs);
    return r;
}
