/*
 * client_lead.c - a blocking caller reads its own answer.
 *
 * Normally the client's loop thread reads every frame and wakes the
 * caller waiting for it: a thread hand-off per call, which on a small
 * machine costs about as much as the round trip itself. So when a
 * blocking unary call is the only call in flight, its caller takes the
 * socket over from the loop ("leads", conn.h): the loop stops watching
 * for input and the caller polls and reads on its own thread.
 *
 * The leader steps down as soon as its answer is in, its deadline fires,
 * or another call or stream starts on the client (they write lead_fd,
 * which the leader polls beside the socket). Answered, it leaves the
 * socket parked (conn.h): the loop is not told to watch input again until
 * something other than a lone blocking call needs it to. Frames it read for
 * anyone else are deferred to the loop, so completion callbacks still run on
 * the loop thread, in order. End of stream and read errors it leaves to
 * the loop as well, which alone closes the socket. Not used with an
 * observer (it runs on the loop thread) or on Windows.
 */
#include <errno.h>

#include "client_internal.h"

#ifndef _WIN32
#include <poll.h>
#include <sys/eventfd.h>
#include <unistd.h>

/* Enough for an answer of a few KiB in one read; larger bodies are read
 * straight into place by the frame reader. */
#define LEAD_BUF 4096

typedef struct lead {
    hvrpc_client *c;
    uint32_t id;
    bool answered;
} lead;

int hvrpc__client_lead_open(void)
{
    return eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
}

void hvrpc__client_lead_close(int fd)
{
    if (fd >= 0)
        close(fd);
}

void hvrpc__client_nudge_leader_locked(hvrpc_client *c)
{
    if (!c->conn.led || c->lead_nudged)
        return;
    c->lead_nudged = true;
    uint64_t one = 1;
    /* Cannot fail but on a counter near overflow: one write per lead. */
    (void)!write(c->lead_fd, &one, sizeof one);
}

/* Frames the leader read: its own answer is handled here, the rest
 * deferred to the loop. */
static int lead_frame(void *ctx, const hvrpc__frame_header *h,
                      const uint8_t *data, bool oversize)
{
    lead *l = ctx;
    hvrpc__conn *conn = &l->c->conn;
    if (h->type == HVRPC__FRAME_RESPONSE && h->stream_id == l->id &&
        !l->answered) {
        l->answered = true;
        return conn->ops->on_frame(conn, h, data, oversize);
    }
    pthread_mutex_lock(&conn->mu);
    if (hvrpc__conn_defer_locked(conn, h, data, oversize) != 0) {
        /* A frame lost would be a call never answered: close instead. */
        hvrpc__conn_close_after_lead_locked(conn, HVRPC_RESOURCE_EXHAUSTED,
                                            "out of memory for an incoming "
                                            "frame");
        hvrpc__conn_abort_locked(conn);
    }
    pthread_mutex_unlock(&conn->mu);
    return 0;
}

/* Whether p may lead: alone in flight, sent whole, the loop not reading. */
static bool take_lead(hvrpc_client *c, hvrpc__pending *p)
{
    pthread_mutex_lock(&c->conn.mu);
    bool ok = !c->conn.led && !c->conn.corked && !c->conn.closed &&
              !c->broken && !c->down && c->conn.out_n == 0 &&
              c->pending.n == 1 &&
              hvrpc__client_find_locked(c, p->node.id) == p;
    if (ok) {
        c->lead_id = p->node.id;
        c->lead_nudged = false;
        hvrpc__conn_lead_locked(&c->conn);
    }
    pthread_mutex_unlock(&c->conn.mu);
    return ok;
}

/* Gives the socket back. Answered, and with nothing else started
 * meanwhile, the client parks: the next lone blocking call leads without
 * telling the loop anything, and the one after that, and so on. */
static void step_down(hvrpc_client *c, bool answered)
{
    pthread_mutex_lock(&c->conn.mu);
    bool park = answered && !c->lead_nudged && c->pending.n == 0;
    if (c->lead_nudged) {
        uint64_t v;
        (void)!read(c->lead_fd, &v, sizeof v);
        c->lead_nudged = false;
    }
    hvrpc__conn_unlead_locked(&c->conn, park);
    pthread_mutex_unlock(&c->conn.mu);
}

/* Reads until the answer is in, or until the leader is nudged or the
 * socket is over (the loop then closes it, for the reason found here). */
static void read_until_answered(hvrpc_client *c, lead *l)
{
    uint8_t buf[LEAD_BUF];
    while (!l->answered) {
        struct pollfd fds[2] = {{.fd = c->conn.io.fd, .events = POLLIN},
                                {.fd = c->lead_fd, .events = POLLIN}};
        int r = poll(fds, 2, -1);
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0 || fds[1].revents)
            return;
        hvrpc_status why;
        hvrpc__read_result rr =
            hvrpc__conn_read(&c->conn, buf, sizeof buf, lead_frame, l, &why);
        if (rr == HVRPC__READ_FAILED) {
            pthread_mutex_lock(&c->conn.mu);
            hvrpc__conn_close_after_lead_locked(&c->conn, why.code,
                                                why.message);
            pthread_mutex_unlock(&c->conn.mu);
            return;
        }
        if (rr == HVRPC__READ_STOPPED)
            return;
    }
}

bool hvrpc__client_lead(hvrpc_client *c, hvrpc__pending *p, hvrpc__waiter *w)
{
    if (c->lead_fd < 0 || !take_lead(c, p)) {
        /* The loop reads this answer: it must watch for it. */
        pthread_mutex_lock(&c->conn.mu);
        hvrpc__conn_unpark_locked(&c->conn);
        pthread_mutex_unlock(&c->conn.mu);
        return false;
    }
    lead l = {.c = c, .id = p->node.id};
    read_until_answered(c, &l);
    step_down(c, l.answered);
    /* Posted by the answer read here, or by the loop (the deadline). */
    return sem_trywait(&w->done) == 0;
}

#else /* _WIN32: no eventfd; the loop reads every answer */

int hvrpc__client_lead_open(void)
{
    return -1;
}

void hvrpc__client_lead_close(int fd)
{
    (void)fd;
}

void hvrpc__client_nudge_leader_locked(hvrpc_client *c)
{
    (void)c;
}

bool hvrpc__client_lead(hvrpc_client *c, hvrpc__pending *p, hvrpc__waiter *w)
{
    (void)c;
    (void)p;
    (void)w;
    return false;
}

#endif
