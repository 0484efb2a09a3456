/*
 * server_internal.h - what server.c (endpoints, connections, dispatch)
 * and call.c (one call's life) share.
 *
 * Lifetimes: a server connection (sconn) holds one reference for being
 * open and one per call still alive; a call holds one for its handler
 * (dropped by the answer) and one for its armed deadline timer. Whoever
 * sets call->answered first (handler, deadline, close, stop) decides what,
 * if anything, goes on the wire.
 */
#ifndef HVRPC__SERVER_INTERNAL_H
#define HVRPC__SERVER_INTERNAL_H

#include <stdatomic.h>
#include <stdbool.h>

#include "hvrpc/access.h"
#include "hvrpc/server.h"

#include "arena.h"
#include "conn.h"
#include "log.h"
#include "loop.h"
#include "stream_internal.h"
#include "ttrpc/request.pb-c.h"
#include "workers.h"

typedef struct hvrpc__registration {
    const hvrpc_service *svc;
    void *user_data;
    void (*user_data_free)(void *);
} hvrpc__registration;

/* One allow-list entry (hvrpc/access.h). */
typedef struct hvrpc__allow {
    hvrpc_addr_kind kind; /* VSOCK: cid; UNIX: uid; HVSOCK: vm_id */
    uint32_t id;
    hvrpc_guid vm_id;
} hvrpc__allow;

struct hvrpc_endpoint {
    hvrpc_server *srv;
    hvrpc_address bound;
    const hvrpc__transport *tp;
    hvrpc__io io;        /* the listening socket */
    hvrpc__timer resume; /* re-enables accepting after EMFILE */
    hvrpc__registration *regs;
    size_t n_regs;
    hvrpc__allow *allow; /* empty: everyone may connect */
    size_t n_allow;
    hvrpc_authorize_fn authorize;
    void *authorize_arg;
};

typedef struct hvrpc__sconn {
    hvrpc__conn conn;
    hvrpc_server *srv;
    hvrpc_endpoint *ep;
    hvrpc_peer peer;
    struct hvrpc__peer_count *peer_count; /* its peer's connection count */
    uint32_t last_stream;                 /* loop thread only */
    atomic_int refs;
    atomic_uint n_calls;              /* calls not yet freed */
    _Atomic int64_t last_active;      /* last byte in or call freed, ns */
    hvrpc_call *calls;                /* unanswered calls, under conn.mu */
    hvrpc__idmap streams;             /* open streams, under conn.mu */
    atomic_uint n_streams;            /* streams not yet freed */
    struct hvrpc__sconn *prev, *next; /* srv->conns, under srv->mu */
} hvrpc__sconn;

struct hvrpc_call {
    hvrpc__task task; /* runs the handler on a worker */
    hvrpc__timer deadline_timer;
    hvrpc__sconn *sc;
    uint32_t stream_id;
    Ttrpc__Request *req;
    const hvrpc_method *method;
    const hvrpc__registration *reg;
    int64_t deadline;
    atomic_int refs;
    bool answered; /* under sc->conn.mu */
    bool linked;   /* in sc->calls, under sc->conn.mu */
    hvrpc_call *prev, *next;
    /* hvrpc_call_on_release() functions, newest first; touched only by
     * the handler before its answer and by the last unref. */
    struct hvrpc__release *releases;
    /* A large request's frame, taken from the frame reader: the payload
     * is read in place from it, so it goes with the call; NULL for a
     * small one (its payload is copied into the arena). */
    uint8_t *frame;
    size_t frame_len;
    /* The request (envelope and typed) and the release list live here,
     * and go with the call; the arena's first bytes follow the struct. */
    hvrpc__arena arena;
};

typedef enum {
    SERVER_CREATED,
    SERVER_RUNNING,
    SERVER_STOPPING,
    SERVER_STOPPED
} hvrpc__server_state;

struct hvrpc_server {
    hvrpc_server_options opts;
    hvrpc__logger log;
    hvrpc__loop loop;
    hvrpc__workers workers;
    hvrpc_endpoint **eps;
    size_t n_eps;
    pthread_mutex_t mu; /* guards the fields below */
    pthread_cond_t cv;  /* signalled when live drops to 0 */
    hvrpc__sconn *conns;
    size_t live; /* sconns and calls not yet freed */
    struct hvrpc__scheduled *scheduled;
    /* Loop thread only: open connections, in all and per peer. */
    size_t n_conns;
    struct hvrpc__peer_table *peers;
    hvrpc__timer sweep; /* read and idle timeouts */
    _Atomic hvrpc__server_state state;
    struct hvrpc__files *files; /* descriptors.c: for reflection */
};

/* call.c */
/* A call block with room to decode a request of len bytes into
 * call->arena. frame (may be NULL) is the request's frame, malloc'd,
 * which the call takes in every case (freed with it, or at once when out
 * of memory): a request decoded from it may point into it. NULL when out
 * of memory. Then either hvrpc__call_init or hvrpc__call_discard. */
hvrpc_call *hvrpc__call_alloc(size_t len, uint8_t *frame);
void hvrpc__call_discard(hvrpc_call *call);
/* Makes an allocated call live: counted, listed on sc, req its request
 * (hvrpc__request_decode into its arena, the payload in call->frame or
 * the arena). */
void hvrpc__call_init(hvrpc_call *call, hvrpc__sconn *sc, uint32_t stream_id,
                      Ttrpc__Request *req, const hvrpc__registration *reg,
                      const hvrpc_method *m);
/* Starts the deadline timer and queues the handler (loop thread). */
void hvrpc__call_start(hvrpc_call *call);
/* Answers a call on behalf of the server, not its handler (stop). c->mu
 * held. */
void hvrpc__call_answer_locked(hvrpc_call *call, hvrpc_code code,
                               const char *msg);

/* descriptors.c: frees what hvrpc_server_add_file_descriptor() kept. */
void hvrpc__files_free(struct hvrpc__files *files);

/* peers.c: connections and calls per peer. Under srv->mu. */
typedef struct hvrpc__peer_table hvrpc__peer_table;
hvrpc__peer_table *hvrpc__peer_table_new(void);
void hvrpc__peer_table_free(hvrpc__peer_table *t);
/* Counts one more connection of peer, unless it has max already (max 0:
 * no limit). NULL when refused or out of memory. */
struct hvrpc__peer_count *hvrpc__peer_table_add(hvrpc__peer_table *t,
                                                const hvrpc_peer *peer,
                                                uint32_t max);
void hvrpc__peer_table_remove(hvrpc__peer_table *t,
                              struct hvrpc__peer_count *pc);
/* Counts a call of pc's peer unless it has max (0: no limit) already. */
bool hvrpc__peer_table_call_begin(struct hvrpc__peer_count *pc, uint32_t max);
void hvrpc__peer_table_call_end(hvrpc__peer_table *t,
                                struct hvrpc__peer_count *pc);
/* access.c: true when ep's allow list admits peer. */
bool hvrpc__endpoint_admits(const hvrpc_endpoint *ep, const hvrpc_peer *peer);

/* message.c: hvrpc_message_unpack with an allocator (a call's arena).
 * With in_place_min > 0 (and an allocator), singular top-level bytes
 * fields of at least in_place_min bytes point into data instead of a
 * copy: data must then outlive the message, and the allocator's free must
 * not be called on them (an arena's does nothing). */
hvrpc_code hvrpc__message_unpack(const ProtobufCMessageDescriptor *type,
                                 ProtobufCAllocator *allocator,
                                 const uint8_t *data, size_t len,
                                 size_t in_place_min, ProtobufCMessage **out,
                                 hvrpc_status *st);
/* The allocator of a call's arena (handler's thread). */
ProtobufCAllocator *hvrpc__call_allocator(hvrpc_call *call);
/* True when p[0, n) lies in the call's own request frame, which lives as
 * long as the call. */
bool hvrpc__call_holds(const hvrpc_call *call, const uint8_t *p, size_t n);

/* server.c */
/* FAILED_PRECONDITION naming what when the server is not in state want. */
hvrpc_code hvrpc__server_require_state(const hvrpc_server *srv,
                                       hvrpc__server_state want,
                                       const char *what, hvrpc_status *st);
/* dispatch.c: admits (or refuses) an accepted connection of ep. */
void hvrpc__sconn_accept(hvrpc_endpoint *ep, int fd, const hvrpc_peer *peer);
/* dispatch.c: arms the read/write/idle timeout sweep when any is set.
 * False without memory. */
bool hvrpc__server_sweep_start(hvrpc_server *srv);
bool hvrpc__server_started(const hvrpc_server *srv);
void hvrpc__sconn_unref(hvrpc__sconn *sc);
/* Sends a status-only Response on a connection (no call object). */
void hvrpc__sconn_send_status(hvrpc__sconn *sc, uint32_t stream_id,
                              hvrpc_code code, const char *fmt, ...)
#if defined(__GNUC__)
    HVRPC_PRINTF(4, 5)
#endif
        ;
void hvrpc__server_live_inc(hvrpc_server *srv);
/* A call of sc's peer begins (false: the peer's limit is reached) or is
 * freed. Calls outlive their connection, so a peer cannot shed its count
 * by reconnecting. */
bool hvrpc__server_peer_call_begin(hvrpc__sconn *sc);
void hvrpc__server_peer_call_end(hvrpc__sconn *sc);
void hvrpc__server_live_dec(hvrpc_server *srv);

#endif
