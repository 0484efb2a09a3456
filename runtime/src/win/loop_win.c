/*
 * loop_win.c - the event loop of loop.h on Windows: WSAPoll.
 *
 * Why WSAPoll and not IOCP: the runtime is written for readiness (epoll):
 * a connection reads what is there and writes until the socket is full.
 * WSAPoll gives the same readiness for the same level-triggered EPOLLIN /
 * EPOLLOUT bits, so conn.c, server.c and client.c run unchanged. IOCP
 * would mean completion-based reads and writes with buffers owned by the
 * kernel until they complete: a second I/O layer. WSAPoll is O(watched
 * sockets) per wait, which is fine for what a host service has (tens to a
 * few hundred connections per server; each client has its own loop).
 *
 * The watched set lives in an array of slots guarded by l->mu; any thread
 * may add, change or remove a watch, and wakes the loop so its next wait
 * sees the change. Each wait polls a snapshot: before a callback runs, its
 * slot is checked to still hold the same watch (a generation number), so
 * a watch removed by an earlier callback of the same round is never
 * called. The wake-up is a connected pair of loopback TCP sockets (Windows
 * has no eventfd, and AF_UNIX socketpair() does not exist): writing a byte
 * makes the read end readable.
 *
 * Timers, posted tasks and the thread are loop.c's, shared with Linux.
 */
#include "platform_win.h"

#include <stdlib.h>
#include <string.h>

#include "../alloc.h"
#include "../clock.h"
#include "../loop.h"
#include "../transport.h"

typedef struct watch {
    hvrpc__io *io;   /* NULL: a free slot */
    uint32_t events; /* EPOLLIN | EPOLLOUT */
    uint64_t gen;    /* changes whenever the slot is reused */
} watch;

struct hvrpc__poll_set {
    watch *w;
    size_t n, cap;
    uint64_t next_gen;
    int wake_write; /* the write end of the wake-up pair */
    bool changed;   /* the set changed since the last snapshot */
    /* The loop thread's snapshot (only the loop thread touches these). */
    long n_snap;
    WSAPOLLFD *pfd;
    size_t *slot;
    uint64_t *gen;
    size_t snap_cap;
};

/* --- the wake-up pair ---------------------------------------------------- */

/* A connected pair of loopback TCP sockets: *r to read, *w to write. */
static int wake_pair(int *r, int *w)
{
    int lst = -1, a = -1, b = -1;
    struct sockaddr_in sin;
    int len = sizeof sin;
    memset(&sin, 0, sizeof sin);
    sin.sin_family = AF_INET;
    sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (hvrpc__sock_socket(AF_INET, 0, &lst) != 0)
        goto fail;
    if (bind((SOCKET)lst, (struct sockaddr *)&sin, sizeof sin) != 0 ||
        listen((SOCKET)lst, 1) != 0 ||
        getsockname((SOCKET)lst, (struct sockaddr *)&sin, &len) != 0)
        goto fail_wsa;
    if (hvrpc__sock_socket(AF_INET, 0, &b) != 0)
        goto fail;
    if (connect((SOCKET)b, (struct sockaddr *)&sin, sizeof sin) != 0 &&
        WSAGetLastError() != WSAEWOULDBLOCK)
        goto fail_wsa;
    /* The connection completes in the kernel; wait for it to be accepted. */
    for (int tries = 0; tries < 500; tries++) {
        if (hvrpc__sock_accept(lst, NULL, NULL, &a) == 0)
            break;
        if (errno != EAGAIN)
            goto fail;
        Sleep(1);
    }
    if (a < 0) {
        errno = ETIMEDOUT;
        goto fail;
    }
    int one = 1;
    setsockopt((SOCKET)b, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    hvrpc__sock_close(lst);
    *r = a;
    *w = b;
    return 0;
fail_wsa:
    hvrpc__wsa_set_errno();
fail : {
    int err = errno;
    if (lst >= 0)
        hvrpc__sock_close(lst);
    if (a >= 0)
        hvrpc__sock_close(a);
    if (b >= 0)
        hvrpc__sock_close(b);
    errno = err;
    return -1;
}
}

void hvrpc__loop_wake(hvrpc__loop *l)
{
    char one = 1;
    /* A full pipe already means "wake up". */
    send((SOCKET)l->ps->wake_write, &one, 1, 0);
}

static void on_wake(hvrpc__io *io, uint32_t events)
{
    char buf[256];
    (void)events;
    while (recv((SOCKET)io->fd, buf, sizeof buf, 0) > 0)
        ;
}

/* --- watches (l->mu held) --------------------------------------------------
 */

static watch *find_watch(struct hvrpc__poll_set *ps, const hvrpc__io *io)
{
    for (size_t i = 0; i < ps->n; i++)
        if (ps->w[i].io == io)
            return &ps->w[i];
    return NULL;
}

int hvrpc__loop_add(hvrpc__loop *l, hvrpc__io *io, uint32_t events)
{
    struct hvrpc__poll_set *ps = l->ps;
    pthread_mutex_lock(&l->mu);
    if (find_watch(ps, io)) {
        pthread_mutex_unlock(&l->mu);
        errno = EEXIST;
        return -1;
    }
    watch *w = NULL;
    for (size_t i = 0; i < ps->n && !w; i++)
        if (!ps->w[i].io)
            w = &ps->w[i];
    if (!w) {
        if (ps->n == ps->cap) {
            size_t cap = ps->cap ? 2 * ps->cap : 16;
            watch *nw = hvrpc__realloc(ps->w, cap * sizeof *nw);
            if (!nw) {
                pthread_mutex_unlock(&l->mu);
                errno = ENOMEM;
                return -1;
            }
            ps->w = nw;
            ps->cap = cap;
        }
        w = &ps->w[ps->n++];
    }
    w->io = io;
    w->events = events;
    w->gen = ++ps->next_gen;
    ps->changed = true;
    pthread_mutex_unlock(&l->mu);
    if (!hvrpc__loop_in_thread(l))
        hvrpc__loop_wake(l);
    return 0;
}

int hvrpc__loop_mod(hvrpc__loop *l, hvrpc__io *io, uint32_t events)
{
    pthread_mutex_lock(&l->mu);
    watch *w = find_watch(l->ps, io);
    if (w) {
        w->events = events;
        l->ps->changed = true;
    }
    pthread_mutex_unlock(&l->mu);
    if (!w) {
        errno = ENOENT;
        return -1;
    }
    if (!hvrpc__loop_in_thread(l))
        hvrpc__loop_wake(l);
    return 0;
}

void hvrpc__loop_del(hvrpc__loop *l, hvrpc__io *io)
{
    pthread_mutex_lock(&l->mu);
    watch *w = find_watch(l->ps, io);
    if (w) {
        w->io = NULL;
        w->gen = 0;
        l->ps->changed = true;
    }
    pthread_mutex_unlock(&l->mu);
    /* A removed socket may be closed at once: a wait still polling it
     * just returns (POLLNVAL) and finds the slot empty. */
}

/* --- setup ------------------------------------------------------------------
 */

hvrpc_code hvrpc__loop_backend_init(hvrpc__loop *l, hvrpc_status *st)
{
    l->epfd = -1;
    int e = hvrpc__net_init();
    if (e != 0)
        return hvrpc_status_set(st, HVRPC_UNAVAILABLE,
                                "WSAStartup failed (error %d)", e);
    l->ps = hvrpc__calloc(1, sizeof *l->ps);
    if (!l->ps)
        return hvrpc_status_set(st, HVRPC_RESOURCE_EXHAUSTED,
                                "out of memory for the event loop");
    if (wake_pair(&l->wake.fd, &l->ps->wake_write) != 0) {
        int err = errno;
        hvrpc__free(l->ps);
        l->ps = NULL;
        return hvrpc_status_set(st, HVRPC_RESOURCE_EXHAUSTED,
                                "cannot make the loop's wake-up sockets: %s",
                                hvrpc__sock_strerror(err));
    }
    l->wake.fn = on_wake;
    if (hvrpc__loop_add(l, &l->wake, EPOLLIN) != 0) {
        hvrpc__loop_backend_destroy(l);
        return hvrpc_status_set(st, HVRPC_RESOURCE_EXHAUSTED,
                                "out of memory for the event loop");
    }
    return HVRPC_OK;
}

void hvrpc__loop_backend_destroy(hvrpc__loop *l)
{
    if (!l->ps)
        return;
    hvrpc__sock_close(l->wake.fd);
    hvrpc__sock_close(l->ps->wake_write);
    hvrpc__free(l->ps->w);
    hvrpc__free(l->ps->pfd);
    hvrpc__free(l->ps->slot);
    hvrpc__free(l->ps->gen);
    hvrpc__free(l->ps);
    l->ps = NULL;
}

/* Copies the watched set into the poll array (l->mu held). Returns the
 * number of entries, or -1 without memory (the old snapshot stays). */
static long snapshot(struct hvrpc__poll_set *ps)
{
    if (ps->snap_cap < ps->n) {
        size_t cap = ps->cap;
        WSAPOLLFD *pfd = hvrpc__realloc(ps->pfd, cap * sizeof *pfd);
        if (pfd)
            ps->pfd = pfd;
        size_t *slot = hvrpc__realloc(ps->slot, cap * sizeof *slot);
        if (slot)
            ps->slot = slot;
        uint64_t *gen = hvrpc__realloc(ps->gen, cap * sizeof *gen);
        if (gen)
            ps->gen = gen;
        if (!pfd || !slot || !gen)
            return -1;
        ps->snap_cap = cap;
    }
    size_t k = 0;
    for (size_t i = 0; i < ps->n; i++) {
        const watch *w = &ps->w[i];
        if (!w->io)
            continue;
        ps->pfd[k].fd = (SOCKET)w->io->fd;
        ps->pfd[k].events = (SHORT)((w->events & EPOLLIN ? POLLRDNORM : 0) |
                                    (w->events & EPOLLOUT ? POLLWRNORM : 0));
        ps->pfd[k].revents = 0;
        ps->slot[k] = i;
        ps->gen[k] = w->gen;
        k++;
    }
    ps->changed = false;
    return (long)k;
}

void hvrpc__loop_backend_wait(hvrpc__loop *l, int timeout)
{
    struct hvrpc__poll_set *ps = l->ps;
    pthread_mutex_lock(&l->mu);
    if (ps->changed || ps->n_snap == 0) {
        long k = snapshot(ps);
        if (k >= 0)
            ps->n_snap = k;
    }
    pthread_mutex_unlock(&l->mu);
    long n = ps->n_snap;
    int r = WSAPoll(ps->pfd, (ULONG)n, timeout);
    if (r == SOCKET_ERROR) {
        /* A socket closed under a stale snapshot (WSAENOTSOCK): take a
         * fresh one. Anything else: do not spin. */
        pthread_mutex_lock(&l->mu);
        ps->changed = true;
        pthread_mutex_unlock(&l->mu);
        if (WSAGetLastError() != WSAENOTSOCK)
            Sleep(1);
    }
    for (long i = 0; r > 0 && i < n; i++) {
        SHORT re = ps->pfd[i].revents;
        if (!re)
            continue;
        uint32_t ev = 0;
        if (re & (POLLRDNORM | POLLRDBAND))
            ev |= EPOLLIN;
        if (re & POLLWRNORM)
            ev |= EPOLLOUT;
        if (re & POLLHUP)
            ev |= EPOLLHUP;
        if (re & (POLLERR | POLLNVAL))
            ev |= EPOLLERR;
        /* Still the same watch? An earlier callback may have removed it
         * (and freed its owner) or changed what it waits for. */
        pthread_mutex_lock(&l->mu);
        const watch *w = &ps->w[ps->slot[i]];
        hvrpc__io *io = w->gen == ps->gen[i] ? w->io : NULL;
        uint32_t want = io ? w->events : 0;
        pthread_mutex_unlock(&l->mu);
        ev &= want | EPOLLHUP | EPOLLERR;
        if (io && ev)
            io->fn(io, ev);
    }
}
