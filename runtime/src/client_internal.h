/*
 * client_internal.h - the client's state, shared by client.c (the
 * connection: connect, reconnect, keepalive, frames in, free),
 * client_call.c (unary calls and their completion) and client_stream.c
 * (the client side of streams).
 *
 * Every call is a pending entry. Once sent it is in the pending map under
 * its stream id, and is completed on the client's loop thread, exactly
 * once, by whichever comes first: its Response, its deadline timer, or
 * the connection closing. Since all of those run on that one thread, a
 * pending entry is only ever freed there (or in hvrpc_client_free, after
 * the thread has been joined). While a reconnecting client is down, a
 * unary call waits unsent in the waiting list, its Request encoded.
 */
#ifndef HVRPC__CLIENT_INTERNAL_H
#define HVRPC__CLIENT_INTERNAL_H

#include <pthread.h>
#include <semaphore.h>
#include <stdbool.h>

#include "hvrpc/address.h"
#include "hvrpc/client.h"
#include "hvrpc/stream.h"

#include "conn.h"
#include "envelope.h"
#include "idmap.h"
#include "log.h"
#include "loop.h"
#include "transport.h"

typedef struct hvrpc__waiter hvrpc__waiter;

/* A unary call's copy of what it sent, for the options' observer. */
typedef struct hvrpc__observed {
    hvrpc_call_record r; /* strings and bytes point into this allocation */
} hvrpc__observed;

typedef struct hvrpc__pending {
    hvrpc__idnode node; /* its stream id, once sent */
    hvrpc_client *c;
    hvrpc__timer timer;
    hvrpc_done_fn done;
    void *arg;
    hvrpc__waiter *w; /* set for blocking calls instead of done */
    /* Set for hvrpc_client_invoke_async() instead of done. */
    hvrpc_message_done_fn mdone;
    const ProtobufCMessageDescriptor *rtype;
    /* Set for a stream: its frames go there, and it is never completed
     * through hvrpc__client_complete (client_stream.c). */
    hvrpc_stream *stream;
    hvrpc__observed *obs; /* set when the client has an observer */
    /* Waiting for a connection: the encoded Request, and the next in
     * the waiting list. */
    hvrpc__frame_buf held;
    struct hvrpc__pending *wnext;
    /* Its Request borrows the caller's memory (a blocking call's):
     * hvrpc__client_unlend before the caller has it back. */
    bool lent;
    /* Its deadline timer was started: once that fires, the call is the
     * timer's to end, even if its answer is taken from the map meanwhile
     * (by a leader, on another thread). */
    bool timed;
} hvrpc__pending;

struct hvrpc_client {
    hvrpc_client_options opts;
    hvrpc__logger log;
    hvrpc__loop loop;
    hvrpc_address addr; /* for reconnecting */
    const hvrpc__transport *tp;
    hvrpc__conn conn; /* conn.mu guards the fields below */
    uint32_t next_id;
    hvrpc__idmap pending;
    /* For good: calls fail at once (no reconnect, or the client freed). */
    bool broken;
    hvrpc_status broken_why;

    /* Reconnecting (opts.reconnect_ms): down between a loss and the next
     * connection, which the connector thread makes and the loop takes. */
    bool down;
    bool stopping;
    hvrpc__pending *wait_head, *wait_tail;
    pthread_t connector;
    bool has_connector;
    pthread_cond_t wake; /* the connector's, on CLOCK_MONOTONIC */
    uint32_t backoff_ms; /* the wait before the next attempt */
    uint32_t rng;        /* for the jitter */
    int ready_fd;        /* connected and not yet taken by the loop; -1: none */
    hvrpc__task take_fd;
    unsigned long connections; /* made so far, the first included */

    /* Leading (client_lead.c): the eventfd that nudges a leader to step
     * down (-1: leading off), the stream id of the call leading, and
     * whether it was nudged. */
    int lead_fd;
    uint32_t lead_id;
    bool lead_nudged;

    /* Keepalive (opts.keepalive_ms), loop thread only. */
    hvrpc__timer keepalive;
    bool probing; /* a health check is in flight */
};

/* A blocking call waits on this, on its own stack. A semaphore, not a
 * condition variable: the waker posts once and never touches it again,
 * and the woken caller need not fight for a mutex still held. */
struct hvrpc__waiter {
    sem_t done;
    hvrpc_status st;
    hvrpc_buf resp; /* the response's bytes, a copy the caller owns */
    /* Set for hvrpc_client_invoke: the response decoded into msg
     * instead, on the loop thread, with no copy. */
    const ProtobufCMessageDescriptor *rtype;
    ProtobufCMessage *msg;
};

/* What a Request frame carries besides service, method and payload. */
typedef struct hvrpc__request_extras {
    uint32_t timeout_ms;
    const hvrpc_metadata *md;
    size_t n_md;
    uint8_t flags; /* the frame's flags (streams) */
} hvrpc__request_extras;

/* client.c */
hvrpc__pending *hvrpc__client_find_locked(hvrpc_client *c, uint32_t id);
/* Out of the map; the entry, or NULL when it was not there. */
hvrpc__pending *hvrpc__client_forget_locked(hvrpc_client *c, uint32_t id);
hvrpc_code hvrpc__client_check_request(const char *service, const char *method,
                                       const hvrpc_metadata *md, size_t n_md,
                                       hvrpc_status *st);
/* Sends the Request of p (a call, or a stream when p->stream is set); a
 * unary call waits unsent while a reconnecting client is down. */
hvrpc_code hvrpc__client_start_request(hvrpc_client *c, const char *service,
                                       const char *method,
                                       const hvrpc__payload *pl,
                                       const hvrpc__request_extras *x,
                                       hvrpc__pending *p, hvrpc_status *st);

/* A waiting call's deadline passed (its timer, loop thread): out of the
 * waiting list, or out of the map when it was sent meanwhile. True when
 * it was still waiting. */
bool hvrpc__client_unwait(hvrpc_client *c, hvrpc__pending *p);
/* A blocking call's last step before returning: its Request, if still
 * queued, stops borrowing from the caller (conn.mu taken). */
void hvrpc__client_unlend(hvrpc_client *c, const hvrpc__pending *p);

/* client_call.c (loop thread, no lock held) */
void hvrpc__client_on_deadline(hvrpc__timer *t);
void hvrpc__client_complete(hvrpc__pending *p, const hvrpc_status *st,
                            uint8_t *payload, size_t len);
void hvrpc__client_complete_status(hvrpc__pending *p, hvrpc_code code,
                                   const char *msg);
void hvrpc__client_on_response(hvrpc__pending *p, const uint8_t *data,
                               uint32_t len);

/* client_lead.c */
int hvrpc__client_lead_open(void);
void hvrpc__client_lead_close(int fd);
/* A blocking call alone in flight reads its answer on its own thread.
 * True when its waiter's result is in (its post consumed); false when
 * it must wait for the loop as usual. */
bool hvrpc__client_lead(hvrpc_client *c, hvrpc__pending *p, hvrpc__waiter *w);
/* Makes a leader step down (conn.mu held; nothing when none leads). */
void hvrpc__client_nudge_leader_locked(hvrpc_client *c);

/* client_stream.c (conn.mu held) */
void hvrpc__client_stream_frame_locked(hvrpc_stream *s,
                                       const hvrpc__frame_header *h,
                                       const uint8_t *data, bool oversize);

#endif
