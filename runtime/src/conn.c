/* conn.c - a framed connection: read on the loop, write from anywhere. */
#include <errno.h>
#include <poll.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>

#include "alloc.h"
#include "clock.h"
#include "conn.h"

/* Reads per readiness event before giving other connections a turn. */
#define READS_PER_EVENT 16

static void on_io(hvrpc__io *io, uint32_t events);
static void after_lead(hvrpc__task *t);

/* A frame read by a leader for someone else (client_lead.c). */
typedef struct hvrpc__deferred {
    struct hvrpc__deferred *next;
    hvrpc__frame_header h;
    bool oversize;
    uint8_t data[];
} hvrpc__deferred;

static void drop_deferred(hvrpc__conn *c)
{
    while (c->deferred) {
        hvrpc__deferred *d = c->deferred;
        c->deferred = d->next;
        hvrpc__free(d);
    }
    c->deferred_tail = NULL;
}

void hvrpc__conn_init(hvrpc__conn *c, hvrpc__loop *loop,
                      const hvrpc__transport *tp, int fd,
                      const hvrpc__conn_ops *ops, uint32_t max_frame)
{
    memset(c, 0, sizeof *c);
    c->io.fd = fd;
    c->io.fn = on_io;
    c->loop = loop;
    c->tp = tp;
    c->ops = ops;
    c->last_rx_ns = hvrpc__now_ns();
    c->after_lead.fn = after_lead;
    pthread_mutex_init(&c->mu, NULL);
    hvrpc__frame_reader_init(&c->reader, max_frame);
}

int hvrpc__conn_start(hvrpc__conn *c)
{
    c->watching = EPOLLIN;
    return hvrpc__loop_add(c->loop, &c->io, EPOLLIN);
}

void hvrpc__conn_reopen(hvrpc__conn *c, int fd)
{
    pthread_mutex_lock(&c->mu);
    uint32_t max_frame = c->reader.max;
    size_t keep = c->reader.keep;
    hvrpc__frame_reader_free(&c->reader);
    hvrpc__frame_reader_init(&c->reader, max_frame);
    c->reader.keep = keep;
    c->io.fd = fd;
    c->closed = false;
    c->close_when_flushed = false;
    c->paused = false;
    c->want_out = false;
    c->corked = false;
    c->close_after_lead = false;
    c->parked = false;
    c->last_rx_ns = hvrpc__now_ns();
    pthread_mutex_unlock(&c->mu);
}

void hvrpc__conn_destroy(hvrpc__conn *c)
{
    drop_deferred(c);
    hvrpc__frame_reader_free(&c->reader);
    hvrpc__free(c->out); /* NULL once closed; here for a conn never started */
    pthread_mutex_destroy(&c->mu);
}

/* A ring larger than this is freed once it drains: a peer that once let
 * thousands of frames pile up does not keep their slots for good. */
#define OUT_KEEP 256

static hvrpc__frame_buf *out_at(hvrpc__conn *c, size_t i)
{
    return &c->out[(c->out_first + i) % c->out_cap];
}

/* Frees the first queued frame. */
static void pop_locked(hvrpc__conn *c)
{
    hvrpc__frame_buf_free(&c->out[c->out_first]);
    c->out_first = (c->out_first + 1) % c->out_cap;
    c->out_n--;
    c->out_off = 0;
    if (c->out_n == 0) {
        c->out_first = 0;
        if (c->out_cap > OUT_KEEP) {
            hvrpc__free(c->out);
            c->out = NULL;
            c->out_cap = 0;
        }
    }
}

/* Appends f to the queue; -1 when out of memory. */
static int push_locked(hvrpc__conn *c, const hvrpc__frame_buf *f)
{
    if (c->out_n == c->out_cap) {
        size_t cap = c->out_cap ? 2 * c->out_cap : 8;
        hvrpc__frame_buf *ring = hvrpc__malloc(cap * sizeof *ring);
        if (!ring)
            return -1;
        for (size_t i = 0; i < c->out_n; i++)
            ring[i] = *out_at(c, i);
        hvrpc__free(c->out);
        c->out = ring;
        c->out_cap = cap;
        c->out_first = 0;
    }
    c->out[(c->out_first + c->out_n) % c->out_cap] = *f;
    c->out_n++;
    return 0;
}

static void drop_queue(hvrpc__conn *c)
{
    while (c->out_n > 0)
        pop_locked(c);
    hvrpc__free(c->out);
    c->out = NULL;
    c->out_cap = 0;
    c->out_off = 0;
    c->out_bytes = 0;
}

/* One write (writev for a frame in pieces) of iov[0, cnt). */
static ssize_t write_iov(hvrpc__conn *c, const struct iovec *iov, int cnt)
{
    return cnt > 1 ? c->tp->writev(c->io.fd, iov, cnt)
                   : c->tp->write(c->io.fd, iov[0].iov_base, iov[0].iov_len);
}

/* Writes as much of f as the socket takes. 0 when all is written or the
 * socket is full, -1 on a write error (the connection is broken). */
static int write_some(hvrpc__conn *c, const hvrpc__frame_buf *f, size_t *done)
{
    while (*done < f->len) {
        struct iovec iov[3];
        int cnt = hvrpc__frame_buf_iov(f, *done, iov);
        ssize_t w = write_iov(c, iov, c->tp->writev ? cnt : 1);
        if (w > 0) {
            *done += (size_t)w;
            continue;
        }
        if (w < 0 && errno == EINTR)
            continue;
        if (w < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
            return 0;
        return -1;
    }
    return 0;
}

#ifdef EPOLLRDHUP
#define WATCH_CLOSE EPOLLRDHUP
#else
#define WATCH_CLOSE 0u /* Windows: never led nor parked */
#endif

/* Watches the fd for what the connection waits for now, when that
 * changed; c->mu held. Input is not watched while paused, nor while a
 * leader reads or the client is parked: then only a peer's close. */
static void watch_locked(hvrpc__conn *c)
{
    uint32_t in = c->paused ? 0 : c->led || c->parked ? WATCH_CLOSE : EPOLLIN;
    uint32_t events = in | (c->want_out ? EPOLLOUT : 0);
    if (events == c->watching)
        return;
    c->watching = events;
    hvrpc__loop_mod(c->loop, &c->io, events);
}

/* Re-arms the fd for what the connection now waits for; c->mu held. */
static void update_events(hvrpc__conn *c, bool want_out, bool paused)
{
    if (c->want_out == want_out && c->paused == paused)
        return;
    c->want_out = want_out;
    c->paused = paused;
    watch_locked(c);
}

/* Asks the loop to flush when the socket is writable, and pauses reading
 * while too much waits; c->mu held, something queued. */
static void want_flush_locked(hvrpc__conn *c)
{
    update_events(c, true,
                  c->paused || (c->pause_at && c->out_bytes > c->pause_at));
}

hvrpc_code hvrpc__conn_send_locked(hvrpc__conn *c, hvrpc__frame_buf *f)
{
    if (c->closed) {
        hvrpc__frame_buf_free(f);
        return HVRPC_UNAVAILABLE;
    }
    size_t done = 0;
    /* Straight out when nothing waits before it, unless the loop is in a
     * read batch (corked): then it joins the queue and leaves with the
     * batch's other frames in one writev. */
    if (c->out_n == 0 && !c->corked && write_some(c, f, &done) < 0) {
        hvrpc__frame_buf_free(f);
        hvrpc__conn_abort_locked(c);
        return HVRPC_UNAVAILABLE;
    }
    if (done == f->len) {
        hvrpc__frame_buf_free(f);
        return HVRPC_OK;
    }
    bool first = c->out_n == 0;
    if (push_locked(c, f) != 0) {
        /* Part of the frame may be out: the stream is beyond repair. */
        hvrpc__frame_buf_free(f);
        hvrpc__conn_abort_locked(c);
        return HVRPC_UNAVAILABLE;
    }
    if (first) {
        c->out_off = done;
        c->last_tx_ns = hvrpc__now_ns();
    }
    c->out_bytes += f->len - done;
    /* A corked connection is flushed when its read batch ends. */
    if (!c->corked)
        want_flush_locked(c);
    return HVRPC_OK;
}

void hvrpc__conn_unlend_locked(hvrpc__conn *c, uint32_t stream_id)
{
    for (size_t i = 0; i < c->out_n; i++) {
        hvrpc__frame_buf *f = out_at(c, i);
        hvrpc__frame_header h;
        if (!f->lent)
            continue;
        hvrpc__frame_header_decode(f->data, &h);
        if (h.stream_id != stream_id)
            continue;
        if (hvrpc__frame_buf_own(f) != 0) {
            hvrpc__conn_abort_locked(c);
            drop_queue(c);
        }
        return;
    }
}

void hvrpc__conn_abort_locked(hvrpc__conn *c)
{
    if (!c->closed)
        shutdown(c->io.fd, SHUT_RDWR);
}

/* n bytes of the queue went out: frees the frames they finish. */
static void consume_locked(hvrpc__conn *c, size_t n)
{
    c->out_bytes -= n;
    c->last_tx_ns = hvrpc__now_ns();
    while (n > 0) {
        size_t left = out_at(c, 0)->len - c->out_off;
        if (n < left) {
            c->out_off += n;
            return;
        }
        n -= left;
        pop_locked(c);
    }
}

/* Writes the queue, up to HVRPC__IOV_MAX frames per writev, until it is
 * empty or the socket full. Loop thread, c->mu held. -1 when the
 * connection broke. */
static int flush_locked(hvrpc__conn *c)
{
    while (c->out_n > 0) {
        /* Room for the last frame's pieces past max, which wait. */
        struct iovec iov[HVRPC__IOV_MAX + 2];
        int cnt = 0, max = c->tp->writev ? HVRPC__IOV_MAX : 1;
        size_t off = c->out_off;
        for (size_t i = 0; i < c->out_n && cnt < max; i++, off = 0)
            cnt += hvrpc__frame_buf_iov(out_at(c, i), off, iov + cnt);
        ssize_t w = write_iov(c, iov, cnt < max ? cnt : max);
        if (w > 0) {
            consume_locked(c, (size_t)w);
            continue;
        }
        if (w < 0 && errno == EINTR)
            continue;
        if (w < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
            if (c->paused && c->out_bytes <= c->pause_at / 4)
                update_events(c, true, false);
            return 0;
        }
        return -1;
    }
    update_events(c, false, false);
    return 0;
}

int64_t hvrpc__conn_stalled_ns(hvrpc__conn *c, int64_t now)
{
    pthread_mutex_lock(&c->mu);
    int64_t stalled = c->out_n ? now - c->last_tx_ns : 0;
    pthread_mutex_unlock(&c->mu);
    return stalled;
}

void hvrpc__conn_drain(hvrpc__conn *c, int64_t deadline_ns)
{
    pthread_mutex_lock(&c->mu);
    while (!c->closed && flush_locked(c) == 0 && c->out_n) {
        pthread_mutex_unlock(&c->mu);
        struct pollfd pfd = {.fd = c->io.fd, .events = POLLOUT};
        if (poll(&pfd, 1, hvrpc__poll_timeout_ms(deadline_ns)) <= 0)
            return;
        pthread_mutex_lock(&c->mu);
    }
    pthread_mutex_unlock(&c->mu);
}

void hvrpc__conn_close(hvrpc__conn *c, hvrpc_code code, const char *msg)
{
    pthread_mutex_lock(&c->mu);
    if (c->closed) {
        pthread_mutex_unlock(&c->mu);
        return;
    }
    if (c->led) {
        /* The leader polls the fd: it must not be closed under it. */
        hvrpc__conn_close_after_lead_locked(c, code, msg);
        hvrpc__conn_abort_locked(c);
        pthread_mutex_unlock(&c->mu);
        return;
    }
    c->closed = true;
    drop_queue(c);
    drop_deferred(c);
    /* A close a leader found due stands over what the loop saw next. */
    hvrpc_status why;
    if (c->close_after_lead)
        hvrpc_status_set(&why, c->close_code, "%s", c->close_msg);
    else
        hvrpc_status_set(&why, code, "%s", msg);
    pthread_mutex_unlock(&c->mu);
    /* No writer touches the fd once closed is set. */
    hvrpc__loop_del(c->loop, &c->io);
    hvrpc__sock_close(c->io.fd);
    c->ops->on_close(c, &why);
}

void hvrpc__conn_close_when_flushed(hvrpc__conn *c)
{
    pthread_mutex_lock(&c->mu);
    bool now = !c->out_n && !c->closed;
    c->close_when_flushed = true;
    pthread_mutex_unlock(&c->mu);
    if (now)
        hvrpc__conn_close(c, HVRPC_UNAVAILABLE, "connection closed");
}

static int frame_cb(void *ctx, const hvrpc__frame_header *h,
                    const uint8_t *data, bool oversize)
{
    hvrpc__conn *c = ctx;
    return c->ops->on_frame(c, h, data, oversize);
}

hvrpc__read_result hvrpc__conn_read(hvrpc__conn *c, uint8_t *buf, size_t cap,
                                    hvrpc__frame_fn fn, void *ctx,
                                    hvrpc_status *why)
{
    /* The rest of a large body is read where it goes, not copied. */
    size_t want = cap;
    uint8_t *direct = hvrpc__frame_reader_direct(&c->reader, cap, &want);
    ssize_t n = c->tp->read(c->io.fd, direct ? direct : buf, want);
    if (n > 0) {
        c->last_rx_ns = hvrpc__now_ns();
        hvrpc__feed_result r =
            direct
                ? hvrpc__frame_reader_feed_direct(&c->reader, (size_t)n, fn,
                                                  ctx)
                : hvrpc__frame_reader_feed(&c->reader, buf, (size_t)n, fn, ctx);
        if (r == HVRPC__FEED_STOPPED)
            return HVRPC__READ_STOPPED;
        if (r == HVRPC__FEED_OK)
            return (size_t)n < want ? HVRPC__READ_DRAINED : HVRPC__READ_MORE;
        hvrpc_status_set(why, HVRPC_RESOURCE_EXHAUSTED,
                         "out of memory for an incoming frame");
        return HVRPC__READ_FAILED;
    }
    if (n < 0 && errno == EINTR)
        return HVRPC__READ_MORE;
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
        return HVRPC__READ_DRAINED;
    hvrpc_status_set(why, HVRPC_UNAVAILABLE, "%s",
                     n == 0 ? "connection closed by the peer"
                            : strerror(errno));
    return HVRPC__READ_FAILED;
}

/* Hands what a leader deferred to on_frame, in order. 1 when the
 * connection was closed on the way. */
static int run_deferred(hvrpc__conn *c)
{
    for (;;) {
        pthread_mutex_lock(&c->mu);
        hvrpc__deferred *d = c->deferred;
        if (d) {
            c->deferred = d->next;
            if (!c->deferred)
                c->deferred_tail = NULL;
        }
        pthread_mutex_unlock(&c->mu);
        if (!d)
            return 0;
        int r = c->ops->on_frame(c, &d->h, d->oversize ? NULL : d->data,
                                 d->oversize);
        hvrpc__free(d);
        if (r)
            return 1;
    }
}

/* Reads and handles up to READS_PER_EVENT buffers. 1 when the connection
 * was closed on the way (c may be gone), 0 when it is still open. */
static int read_batch(hvrpc__conn *c)
{
    if (run_deferred(c))
        return 1;
    for (int i = 0; i < READS_PER_EVENT; i++) {
        hvrpc_status why;
        switch (hvrpc__conn_read(c, c->loop->rbuf, HVRPC__LOOP_READ_BUF,
                                 frame_cb, c, &why)) {
        case HVRPC__READ_MORE:
            continue;
        case HVRPC__READ_DRAINED:
            /* A short read drained the socket: the batch ends here, not
             * after one more read to hear EAGAIN, so what it corked leaves
             * a syscall sooner (the fd is level-triggered: bytes that
             * arrive meanwhile wake the loop again). */
            return 0;
        case HVRPC__READ_STOPPED:
            return 1;
        case HVRPC__READ_FAILED:
            hvrpc__conn_close(c, why.code, why.message);
            return 1;
        }
    }
    return 0;
}

/* --- leading (client_lead.c) ---------------------------------------------- */

void hvrpc__conn_lead_locked(hvrpc__conn *c)
{
    c->led = true;
    c->parked = false;
    watch_locked(c);
}

void hvrpc__conn_unlead_locked(hvrpc__conn *c, bool park)
{
    c->led = false;
    if (c->closed)
        return;
    bool loop_work = c->deferred || c->close_after_lead;
    c->parked = park && !loop_work;
    watch_locked(c);
    if (loop_work)
        hvrpc__loop_post(c->loop, &c->after_lead);
}

void hvrpc__conn_unpark_locked(hvrpc__conn *c)
{
    if (!c->parked)
        return;
    c->parked = false;
    if (!c->closed)
        watch_locked(c);
}

int hvrpc__conn_defer_locked(hvrpc__conn *c, const hvrpc__frame_header *h,
                             const uint8_t *data, bool oversize)
{
    size_t len = oversize ? 0 : h->length;
    hvrpc__deferred *d = hvrpc__malloc(sizeof *d + len);
    if (!d)
        return -1;
    d->next = NULL;
    d->h = *h;
    d->oversize = oversize;
    if (len)
        memcpy(d->data, data, len);
    if (c->deferred_tail)
        c->deferred_tail->next = d;
    else
        c->deferred = d;
    c->deferred_tail = d;
    return 0;
}

void hvrpc__conn_close_after_lead_locked(hvrpc__conn *c, hvrpc_code code,
                                         const char *msg)
{
    if (c->close_after_lead)
        return; /* the first reason stands */
    c->close_after_lead = true;
    c->close_code = code;
    snprintf(c->close_msg, sizeof c->close_msg, "%s", msg);
}

/* The loop's turn again: the deferred frames first, then a close that
 * was due. (on_readable sees to the frames too, if it runs first.) */
static void after_lead(hvrpc__task *t)
{
    hvrpc__conn *c =
        (hvrpc__conn *)((char *)t - offsetof(hvrpc__conn, after_lead));
    pthread_mutex_lock(&c->mu);
    bool skip = c->led || c->closed;
    pthread_mutex_unlock(&c->mu);
    if (skip || run_deferred(c))
        return;
    pthread_mutex_lock(&c->mu);
    bool close = c->close_after_lead && !c->led;
    pthread_mutex_unlock(&c->mu);
    if (close) /* with the reason kept in c */
        hvrpc__conn_close(c, HVRPC_UNAVAILABLE, "connection closed");
}

/*
 * Reads a batch with the connection corked: the frames its handlers send
 * (inline answers on a server, the next requests from a client's
 * completions) and those other threads send meanwhile are queued, then
 * leave together in one writev at the end instead of one send each. With
 * many calls in flight that is most of the syscalls; a lone call's answer
 * waits only for the end of its own batch.
 */
static void on_readable(hvrpc__conn *c)
{
    pthread_mutex_lock(&c->mu);
    if (c->led) {
        /* Woken just before the leader took over: its bytes now. */
        pthread_mutex_unlock(&c->mu);
        return;
    }
    c->corked = true;
    pthread_mutex_unlock(&c->mu);
    if (read_batch(c) != 0)
        return;
    pthread_mutex_lock(&c->mu);
    c->corked = false;
    int broken = c->out_n && !c->closed ? flush_locked(c) : 0;
    if (!broken && c->out_n)
        want_flush_locked(c);
    bool done = !c->out_n && c->close_when_flushed && !c->closed;
    pthread_mutex_unlock(&c->mu);
    if (broken || done)
        hvrpc__conn_close(c, HVRPC_UNAVAILABLE,
                          broken ? "write failed" : "connection closed");
}

static void on_io(hvrpc__io *io, uint32_t events)
{
    hvrpc__conn *c = (hvrpc__conn *)((char *)io - offsetof(hvrpc__conn, io));
    if (events & EPOLLOUT) {
        pthread_mutex_lock(&c->mu);
        int broken = flush_locked(c);
        bool done = !c->out_n && c->close_when_flushed;
        pthread_mutex_unlock(&c->mu);
        if (broken || done) {
            hvrpc__conn_close(c, HVRPC_UNAVAILABLE,
                              broken ? "write failed" : "connection closed");
            return;
        }
    }
    if (events & (EPOLLIN | EPOLLHUP | EPOLLERR | WATCH_CLOSE))
        on_readable(c);
}
