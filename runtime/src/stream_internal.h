/*
 * stream_internal.h - one stream's state, shared by stream.c (queues,
 * windows, the public functions, the server side) and client.c (the
 * client side).
 *
 * Every mutable field is guarded by the connection's mutex (conn->mu),
 * like the rest of a connection's per-call state; s->cv waits on it.
 *
 * Flow control (DESIGN.md section 3, docs/RUNTIME.md): each side has a
 * receive window W (bytes). A message costs len + HVRPC_STREAM_MESSAGE_
 * OVERHEAD. A receiver takes a message when its queue is empty or the
 * message fits in W next to what is queued; a peer that sends more is
 * out of bounds and the stream fails RESOURCE_EXHAUSTED. A flow-
 * controlled sender holds credit = W + granted - sent and sends when the
 * message fits in its credit or nothing is outstanding (credit >= W).
 * The receiver grants back what its application took, in WINDOW frames,
 * once a quarter of W has been taken or its queue runs empty.
 */
#ifndef HVRPC__STREAM_INTERNAL_H
#define HVRPC__STREAM_INTERNAL_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "hvrpc/stream.h"

#include "conn.h"
#include "envelope.h"
#include "frame.h"
#include "idmap.h"
#include "ttrpc/request.pb-c.h"

/* hvrpc's control frame (never sent to a peer that did not offer or
 * grant flow control): type 0x10, on a stream's id. Flags 0: a window
 * grant, data = 4-byte big-endian increment (1..2^31-1). Flag 0x1: reset,
 * no data: the client cancels the stream. */
#define HVRPC__FRAME_WINDOW 0x10
#define HVRPC__FLAG_RESET   0x1

typedef struct hvrpc__smsg {
    struct hvrpc__smsg *next;
    size_t len;
    uint8_t data[];
} hvrpc__smsg;

struct hvrpc__sconn;
struct hvrpc__registration;

struct hvrpc_stream {
    hvrpc__conn *conn;
    pthread_cond_t cv;  /* on CLOCK_MONOTONIC */
    hvrpc__idnode node; /* its id; server: in the connection's streams */
    hvrpc_method_kind kind;
    bool server;
    uint32_t max_frame;
    int64_t deadline; /* CLOCK_MONOTONIC ns; 0: none */

    /* Receiving. */
    hvrpc__smsg *q_head, *q_tail;
    uint64_t q_cost;    /* queued messages' cost */
    uint32_t window;    /* our receive window */
    uint64_t ungranted; /* cost taken by the application, not yet granted */
    bool in_closed;     /* the peer ended its half */

    /* Sending. */
    bool windowed;       /* the peer does hvrpc flow control */
    bool grant_seen;     /* client: the server granted a window */
    int64_t credit;      /* bytes we may send now (windowed) */
    int64_t peer_window; /* the peer's receive window */
    bool out_closed;     /* our half ended (close-send, finish) */

    /* The end. */
    bool done;      /* final holds the stream's status */
    bool cancelled; /* this side cancelled it */
    hvrpc_status final;

    /* Server side. */
    struct hvrpc__sconn *sc;
    Ttrpc__Request *req;
    const struct hvrpc__registration *reg;
    const hvrpc_method *method;
    atomic_int refs; /* handler + table */
    bool answered;   /* the client has its final frame, or needs none */
    bool finished;   /* the handler ended it */
    bool in_table;

    /* Client side. */
    struct hvrpc_client *client;
};

/* A new stream (not in any table); NULL when out of memory. */
hvrpc_stream *hvrpc__stream_new(hvrpc__conn *conn, hvrpc_method_kind kind,
                                bool server, uint32_t window,
                                uint32_t max_frame);
/* Frees a stream's queue and itself. */
void hvrpc__stream_destroy(hvrpc_stream *s);

/* Frames from the peer, conn->mu held (loop thread). */
void hvrpc__stream_on_data_locked(hvrpc_stream *s, uint8_t flags,
                                  const uint8_t *data, uint32_t len,
                                  bool oversize);
void hvrpc__stream_on_window_locked(hvrpc_stream *s, uint8_t flags,
                                    const uint8_t *data, uint32_t len);
/* Queues a message without the window check (a Response's payload).
 * False when out of memory. */
bool hvrpc__stream_push_locked(hvrpc_stream *s, const uint8_t *data,
                               size_t len);
/* Ends the stream with code/msg (first end wins) and wakes its waiters. */
void hvrpc__stream_end_locked(hvrpc_stream *s, hvrpc_code code,
                              const char *msg);
/* A control frame (grant or reset) on s; conn->mu held. */
void hvrpc__stream_send_control_locked(hvrpc_stream *s, uint8_t flags,
                                       uint32_t increment);
/* A Data frame flagged remote-closed and no-data; conn->mu held. */
void hvrpc__stream_send_close_locked(hvrpc_stream *s);

/* client.c: ends a client stream from this side (cancel, deadline, a
 * queue overrun, an undecodable message): tells the server what it can
 * and leaves the client's table. conn->mu held. */
void hvrpc__client_stream_abort_locked(hvrpc_stream *s, hvrpc_code code,
                                       const char *msg);
/* client.c: takes a freed client stream out of the client's table. */
void hvrpc__client_stream_forget_locked(hvrpc_stream *s);

/* Server side (stream.c), loop thread. Opens a stream for a request of a
 * streaming method, decoded by hvrpc__request_decode with
 * hvrpc__pb_allocator, its payload in place (read before this returns,
 * never kept): takes req in every case; answers the client itself when
 * it cannot. */
void hvrpc__stream_open_server(struct hvrpc__sconn *sc, uint32_t id,
                               uint8_t flags, Ttrpc__Request *req,
                               const struct hvrpc__registration *reg,
                               const hvrpc_method *m);
/* The connection closed: every stream ends UNAVAILABLE and leaves the
 * table (loop thread; takes conn->mu). */
void hvrpc__stream_conn_closed(struct hvrpc__sconn *sc,
                               const hvrpc_status *why);
/* The server stops: every stream is answered UNAVAILABLE (conn->mu
 * held). */
void hvrpc__stream_conn_stopping_locked(struct hvrpc__sconn *sc);

#endif
