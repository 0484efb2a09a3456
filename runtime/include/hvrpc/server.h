/*
 * hvrpc/server.h - the server: endpoints, services, the dispatcher, calls.
 *
 * A server listens on any number of endpoints (one URI each). Services are
 * registered per endpoint: a service registered on one endpoint is not
 * reachable through another. An incoming request is routed by endpoint,
 * then service name ("pkg.v1.Service"), then method name; anything else is
 * answered with UNIMPLEMENTED.
 *
 * Threads: one event-loop thread does all socket I/O and never runs user
 * code; handlers run on a pool of worker threads, so a slow handler holds
 * up only itself. A handler may answer before it returns or later, from any
 * thread: every call must be answered exactly once, by hvrpc_call_reply()
 * or hvrpc_call_fail(), and that also releases it.
 *
 * Lifecycle: create -> listen / register -> start -> stop -> free.
 * hvrpc_server_stop() stops accepting, answers every call still in flight
 * with UNAVAILABLE, closes every connection, waits until handlers have
 * answered the calls they hold (their answers are then dropped) and joins
 * the threads. hvrpc_server_free() stops first when needed.
 */
#ifndef HVRPC_SERVER_H
#define HVRPC_SERVER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <protobuf-c/protobuf-c.h>

#include "hvrpc/address.h"
#include "hvrpc/limits.h"
#include "hvrpc/log.h"
#include "hvrpc/peer.h"
#include "hvrpc/status.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct hvrpc_server hvrpc_server;
typedef struct hvrpc_endpoint hvrpc_endpoint;
typedef struct hvrpc_call hvrpc_call;

/* Server options. Every limit is enforced before the resource it guards is
 * spent, and has a safe default (docs/SECURITY.md lists them all). For the
 * count limits, 0 means "no limit"; for the timeouts, 0 means "never". */
typedef struct hvrpc_server_options {
    size_t size;        /* sizeof(hvrpc_server_options), set by _init */
    uint32_t max_frame; /* largest frame data received or sent; 4 MiB */
    unsigned workers;   /* handler threads, 1-256; default 4 */
    hvrpc_log_fn log;   /* where the server's log lines go; NULL: nowhere */
    void *log_arg;

    /* Connections open at once, in all (4096) and per peer (64): a vsock
     * CID, a Hyper-V VmId, a unix uid, a tcp address. One over is closed
     * at accept. */
    uint32_t max_connections;
    uint32_t max_connections_per_peer;
    /* Calls in flight on one connection (128): one more is answered
     * RESOURCE_EXHAUSTED before its request is decoded. With max_frame,
     * this bounds the answers one connection can have queued. */
    uint32_t max_calls_per_connection;
    /* Calls of one peer not yet freed (256), over all its connections and
     * counting calls whose connection has closed but whose handler still
     * holds them: reconnecting does not reset it. One more is answered
     * RESOURCE_EXHAUSTED. */
    uint32_t max_calls_per_peer;
    /* Per request, checked on the raw bytes before decoding: metadata
     * entries (64) and their bytes (16 KiB) -> RESOURCE_EXHAUSTED; the
     * service and method name lengths (256 each) -> INVALID_ARGUMENT. */
    uint32_t max_metadata_entries;
    uint32_t max_metadata_bytes;
    uint32_t max_name_length;
    /* A connection holding part of a frame with no byte for this long is
     * closed (10000 ms): a stalled or slowloris peer. */
    uint32_t read_timeout_ms;
    /* A connection with no call in flight and nothing received for this
     * long is closed (0: never). */
    uint32_t idle_timeout_ms;
    /* A connection whose answers wait to be written and whose peer has not
     * taken a byte of them for this long is closed (10000 ms). Meanwhile,
     * with more than two frames' worth queued, the server stops reading
     * from it: a peer that sends without reading cannot pile up answers. */
    uint32_t write_timeout_ms;
    /* Streams open at once on one connection (128): one more is answered
     * RESOURCE_EXHAUSTED. Each open stream has a thread of its own for
     * its handler. */
    uint32_t max_streams_per_connection;
    /* Each stream's receive window in bytes (256 KiB; 1 KiB..1 GiB): what
     * the server queues for a stream whose handler does not read, at
     * most (one message of up to max_frame when nothing else is queued).
     * An hvrpc client is granted it and never sends more; a plain ttrpc
     * client that does is answered RESOURCE_EXHAUSTED on that stream. */
    uint32_t stream_window;
    /* Run every unary handler on the event-loop thread that read its
     * request, instead of handing it to a worker (false). One thread
     * hand-off less per call: lower latency and more calls per second
     * (docs/BENCHMARKS.md), for servers whose handlers never block. They
     * must answer at once, or later from elsewhere (another thread,
     * hvrpc_server_schedule()); a handler that blocks stalls every
     * connection of the server. HVRPC_METHOD_INLINE asks the same for
     * one method. */
    bool inline_handlers;
} hvrpc_server_options;

/* Fills *o with the defaults. */
HVRPC_API void hvrpc_server_options_init(hvrpc_server_options *o);

/* A handler. request is the call's payload (protobuf bytes), valid until
 * the call is answered. user_data is what the service was registered with.
 * The handler answers the call now or later (see above). */
typedef void (*hvrpc_handler_fn)(hvrpc_call *call, const uint8_t *request,
                                 size_t request_len, void *user_data);

/* A streaming call, server side (hvrpc/stream.h has its functions). */
typedef struct hvrpc_stream hvrpc_stream;

/* What a method streams. Bit 0: the client sends a stream of messages;
 * bit 1: the server does. */
typedef enum hvrpc_method_kind {
    HVRPC_UNARY = 0,
    HVRPC_CLIENT_STREAMING = 1,
    HVRPC_SERVER_STREAMING = 2,
    HVRPC_BIDI_STREAMING = 3,
} hvrpc_method_kind;

/* A stream handler: runs on a thread of its own when a stream opens, may
 * block in hvrpc_stream_send()/hvrpc_stream_recv(), and ends the stream
 * exactly once (hvrpc_stream_finish(), hvrpc_stream_reply()), before or
 * after it returns, from any thread. A server-streaming method's request
 * is the stream's one incoming message. */
typedef void (*hvrpc_stream_handler_fn)(hvrpc_stream *stream, void *user_data);

/* A method. {name, handler} is a unary method; a streaming one sets kind
 * and stream instead of handler. */
typedef struct hvrpc_method {
    const char *name;               /* bare method name: "Echo" */
    hvrpc_handler_fn handler;       /* HVRPC_UNARY */
    hvrpc_method_kind kind;         /* HVRPC_UNARY when left out */
    hvrpc_stream_handler_fn stream; /* the streaming kinds */
    unsigned flags;                 /* HVRPC_METHOD_* */
} hvrpc_method;

/* The handler never blocks: run it on the event-loop thread (see
 * hvrpc_server_options.inline_handlers). Unary methods only. */
#define HVRPC_METHOD_INLINE 0x1u

/* A service. The runtime keeps the pointer: the table and its strings
 * must stay valid until hvrpc_server_free() (static const tables do). */
typedef struct hvrpc_service {
    const char *name; /* full proto name: "hvrpc.echo.v1.Echo" */
    const hvrpc_method *methods;
    size_t n_methods;
} hvrpc_service;

/* Creates a server. opts may be NULL for the defaults. */
HVRPC_API hvrpc_code hvrpc_server_create(const hvrpc_server_options *opts,
                                         hvrpc_server **out, hvrpc_status *st);

/* Binds and listens on uri now, so a taken port or bad path fails here.
 * *ep (optional) receives the endpoint, owned by the server. Only before
 * hvrpc_server_start(). */
HVRPC_API hvrpc_code hvrpc_server_listen(hvrpc_server *srv, const char *uri,
                                         hvrpc_endpoint **ep, hvrpc_status *st);

/* The address an endpoint really listens on (a tcp port 0 or vsock port
 * -1 resolved to the one the kernel chose). */
HVRPC_API const hvrpc_address *hvrpc_endpoint_address(const hvrpc_endpoint *ep);

/* Registers svc on ep. user_data is passed to every handler of svc;
 * user_data_free (may be NULL) is called on it by hvrpc_server_free().
 * ALREADY_EXISTS when ep has a service of that name; INVALID_ARGUMENT for
 * a table with a missing name or handler. Only before hvrpc_server_start().
 * On failure user_data_free is not called: user_data stays the caller's. */
HVRPC_API hvrpc_code hvrpc_server_register(
    hvrpc_server *srv, hvrpc_endpoint *ep, const hvrpc_service *svc,
    void *user_data, void (*user_data_free)(void *), hvrpc_status *st);

/* Starts the event loop and the workers. */
HVRPC_API hvrpc_code hvrpc_server_start(hvrpc_server *srv, hvrpc_status *st);

/* Runs fn(arg) on a worker after delay_ms, or sooner when the server
 * stops (hvrpc_server_stopping() then says so). Lets a handler wait
 * without holding a worker. Only between start and stop. */
HVRPC_API hvrpc_code hvrpc_server_schedule(hvrpc_server *srv, uint32_t delay_ms,
                                           void (*fn)(void *arg), void *arg,
                                           hvrpc_status *st);

/* The largest frame data the server sends or accepts (its max_frame). */
HVRPC_API uint32_t hvrpc_server_max_frame(const hvrpc_server *srv);

/* True once hvrpc_server_stop() has begun. */
HVRPC_API bool hvrpc_server_stopping(const hvrpc_server *srv);

/* Stops the server (see above). Blocks until done. Must not be called from
 * a handler or a scheduled function. Idempotent. */
HVRPC_API void hvrpc_server_stop(hvrpc_server *srv);

/* Stops when needed, then frees everything. srv may be NULL. */
HVRPC_API void hvrpc_server_free(hvrpc_server *srv);

/* --- one incoming call ------------------------------------------------ */

HVRPC_API const hvrpc_peer *hvrpc_call_peer(const hvrpc_call *call);
HVRPC_API const char *hvrpc_call_service(const hvrpc_call *call);
HVRPC_API const char *hvrpc_call_method(const hvrpc_call *call);
HVRPC_API hvrpc_server *hvrpc_call_server(const hvrpc_call *call);

/* The call's deadline on CLOCK_MONOTONIC in nanoseconds (from the
 * request's timeout_nano), or 0 when it has none. Once it passes the
 * client has already been told DEADLINE_EXCEEDED. */
HVRPC_API int64_t hvrpc_call_deadline(const hvrpc_call *call);

/* True once the call no longer needs an answer: its deadline passed, its
 * connection closed or the server is stopping. The handler must still
 * answer it (the answer is dropped) to release it. */
HVRPC_API bool hvrpc_call_abandoned(const hvrpc_call *call);

/* Request metadata, in the order received. Keys may repeat. */
HVRPC_API size_t hvrpc_call_metadata_count(const hvrpc_call *call);
HVRPC_API void hvrpc_call_metadata_at(const hvrpc_call *call, size_t i,
                                      const char **key, const char **value);
/* The first value for key, or NULL. */
HVRPC_API const char *hvrpc_call_metadata_get(const hvrpc_call *call,
                                              const char *key);

/* Runs fn(arg) when the call object is freed: after it has been answered
 * and the runtime no longer needs it. Ties to the call what the handler's
 * data needs until the answer (generated code frees the decoded request
 * this way). Only before the call is answered. Functions run in reverse
 * order of registration, on whichever thread drops the call last (the
 * answering one or the server's event loop): they must not block or call
 * into the server. RESOURCE_EXHAUSTED when out of memory; fn is then not
 * registered. */
HVRPC_API hvrpc_code hvrpc_call_on_release(hvrpc_call *call,
                                           void (*fn)(void *arg), void *arg,
                                           hvrpc_status *st);

/* Answers OK with payload (copied). Releases the call. A reply larger than
 * the maximum frame is replaced by RESOURCE_EXHAUSTED. Returns OK, or
 * UNAVAILABLE when the answer was dropped (call abandoned). */
HVRPC_API hvrpc_code hvrpc_call_reply(hvrpc_call *call, const void *payload,
                                      size_t len);

/* Same, packing a protobuf-c message straight into the frame. */
HVRPC_API hvrpc_code hvrpc_call_reply_message(hvrpc_call *call,
                                              const ProtobufCMessage *msg);

/* Answers with a non-OK status (code OK is turned into UNKNOWN: use
 * hvrpc_call_reply for success). fmt may be NULL. Releases the call. */
HVRPC_API hvrpc_code hvrpc_call_fail(hvrpc_call *call, hvrpc_code code,
                                     const char *fmt, ...)
#if defined(__GNUC__)
    HVRPC_PRINTF(3, 4)
#endif
        ;

#ifdef __cplusplus
}
#endif

#endif /* HVRPC_SERVER_H */
