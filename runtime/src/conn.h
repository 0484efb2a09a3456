/*
 * conn.h - one framed connection on an event loop; shared by the server
 * and the client.
 *
 * Reading happens on the loop thread only: bytes go through the frame
 * reader and each complete frame to ops->on_frame. Writing may happen on
 * any thread, under c->mu: a frame is written straight away when nothing
 * is queued (no thread hop on the fast path), otherwise queued and flushed
 * by the loop when the socket is writable, as many frames per writev as
 * are queued (up to HVRPC__IOV_MAX). While the loop reads a batch of input
 * the connection is corked: what is sent meanwhile is queued and flushed
 * in one writev when the batch ends. Frames leave in the order they were
 * sent.
 *
 * Closing happens on the loop thread (hvrpc__conn_close). Another thread
 * that finds the connection broken calls hvrpc__conn_abort, which shuts the
 * socket down so the loop sees it and closes.
 */
#ifndef HVRPC__CONN_H
#define HVRPC__CONN_H

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "envelope.h"
#include "frame.h"
#include "loop.h"
#include "transport.h"

typedef struct hvrpc__conn hvrpc__conn;

typedef struct hvrpc__conn_ops {
    /* A complete frame (loop thread). Return non-zero after closing the
     * connection from inside, to stop reading. */
    int (*on_frame)(hvrpc__conn *c, const hvrpc__frame_header *h,
                    const uint8_t *data, bool oversize);
    /* The connection closed (loop thread, once). The fd is closed and out
     * of the loop; the owner may now release c. */
    void (*on_close)(hvrpc__conn *c, const hvrpc_status *why);
} hvrpc__conn_ops;

struct hvrpc__conn {
    hvrpc__io io;
    hvrpc__loop *loop;
    const hvrpc__transport *tp;
    const hvrpc__conn_ops *ops;
    /* Guards the fields below; owners guard their per-connection state
     * (calls, pending streams) with it too. */
    pthread_mutex_t mu;
    /* Queued frames: a ring of out_cap slots holding out_n frames from
     * out_first on. Allocated when first needed and reused, so queueing a
     * frame allocates nothing; grown by doubling. */
    hvrpc__frame_buf *out;
    size_t out_cap, out_first, out_n;
    size_t out_off;   /* bytes of the first frame already written */
    size_t out_bytes; /* queued and not yet written */
    /* Backpressure: with out_bytes above pause_at, the connection is not
     * read until they drain below a quarter of it. A server sets it, so a
     * peer that sends without reading its answers stops being read; a
     * client does not (both sides pausing could deadlock). 0: never. */
    size_t pause_at;
    bool paused;
    bool want_out;      /* EPOLLOUT armed */
    bool corked;        /* the loop is reading a batch: sends only queue */
    int64_t last_rx_ns; /* when a byte last arrived (loop thread) */
    int64_t last_tx_ns; /* queued output last moved or began to wait */
    bool closed;        /* no more writes: the fd may be gone */
    bool close_when_flushed;
    hvrpc__frame_reader reader;

    /* A client's blocking caller reads the socket instead of the loop
     * (client_lead.c). While led, EPOLLIN is off and the loop neither
     * reads nor closes the fd; frames the leader read for others wait in
     * deferred, and a close asked for meanwhile in close_*, for the
     * loop to see to, in that order, once the leader steps down. */
    bool led;
    /* A client between lone blocking calls keeps input unwatched as when
     * led ("parked"): the next such call leads without an epoll_ctl each
     * way. Any other call or stream unparks (hvrpc__conn_unpark_locked);
     * a peer's close is watched for all along (EPOLLRDHUP), and the loop
     * then reads. */
    bool parked;
    uint32_t watching; /* the events last asked of the loop */
    struct hvrpc__deferred *deferred, *deferred_tail;
    bool close_after_lead;
    hvrpc_code close_code;
    char close_msg[96];
    hvrpc__task after_lead;
};

void hvrpc__conn_init(hvrpc__conn *c, hvrpc__loop *loop,
                      const hvrpc__transport *tp, int fd,
                      const hvrpc__conn_ops *ops, uint32_t max_frame);
/* Starts watching the fd. -1 (errno set) on failure. */
int hvrpc__conn_start(hvrpc__conn *c);

/* Sends an encoded frame; c->mu held by the caller. Takes f->data in every
 * case. UNAVAILABLE when the connection is closed or broken. */
hvrpc_code hvrpc__conn_send_locked(hvrpc__conn *c, hvrpc__frame_buf *f);

/* What one read came to: go on reading; the socket is empty for now (a
 * short read, or EAGAIN); fn asked to stop; or the connection is over,
 * for the reason in *why (end of stream, a read error, no memory for a
 * frame). */
typedef enum {
    HVRPC__READ_MORE,
    HVRPC__READ_DRAINED,
    HVRPC__READ_STOPPED,
    HVRPC__READ_FAILED,
} hvrpc__read_result;

/* One read into the frame reader, a large body straight into place, its
 * frames through fn(ctx). The loop's reads go through here, and a
 * leader's. */
hvrpc__read_result hvrpc__conn_read(hvrpc__conn *c, uint8_t *buf, size_t cap,
                                    hvrpc__frame_fn fn, void *ctx,
                                    hvrpc_status *why);

/* c->mu held: the queued frame of stream_id, if any, stops borrowing
 * (hvrpc__frame_buf_own): a blocking call's request, before its caller
 * gets its memory back. Out of memory, the connection is aborted and its
 * queue dropped: nothing more is written from what was lent. */
void hvrpc__conn_unlend_locked(hvrpc__conn *c, uint32_t stream_id);

/* Leading (c->mu held): the caller's thread takes over reading, and
 * gives it back; the loop then handles what was deferred or asked for.
 * park: leave input unwatched until hvrpc__conn_unpark_locked (ignored
 * when the loop has deferred frames or a close to see to). */
void hvrpc__conn_lead_locked(hvrpc__conn *c);
void hvrpc__conn_unlead_locked(hvrpc__conn *c, bool park);
void hvrpc__conn_unpark_locked(hvrpc__conn *c);
/* A frame a leader read for someone else, copied for the loop; -1 when
 * out of memory. */
int hvrpc__conn_defer_locked(hvrpc__conn *c, const hvrpc__frame_header *h,
                             const uint8_t *data, bool oversize);
/* The close a leader found due (end of stream, an error); the loop
 * closes once it steps down. */
void hvrpc__conn_close_after_lead_locked(hvrpc__conn *c, hvrpc_code code,
                                         const char *msg);

/* Closes the connection now (loop thread): drops queued output, calls
 * ops->on_close. Idempotent. While led: shuts the socket down, which
 * ends the leader's wait, and closes when it has stepped down. */
void hvrpc__conn_close(hvrpc__conn *c, hvrpc_code code, const char *msg);

/* Closes once everything queued is written (loop thread). */
void hvrpc__conn_close_when_flushed(hvrpc__conn *c);

/* How long queued output has waited without a byte written; 0 when
 * nothing is queued. */
int64_t hvrpc__conn_stalled_ns(hvrpc__conn *c, int64_t now);

/* With the loop stopped (the caller owns the socket): writes what is
 * queued, waiting for the socket until deadline_ns at the latest. */
void hvrpc__conn_drain(hvrpc__conn *c, int64_t deadline_ns);

/* From any thread, c->mu held: makes the loop close the connection. */
void hvrpc__conn_abort_locked(hvrpc__conn *c);

/* Gives a closed connection a new socket (loop thread, after on_close):
 * a fresh reader and no queued output, as after init. Start it next. */
void hvrpc__conn_reopen(hvrpc__conn *c, int fd);

/* Frees what init allocated. After on_close only. */
void hvrpc__conn_destroy(hvrpc__conn *c);

#endif
