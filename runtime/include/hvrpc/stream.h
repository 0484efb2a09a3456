/*
 * hvrpc/stream.h - streaming calls (ttrpc 1.2 streams) on both sides.
 *
 * A method is one of four kinds (hvrpc_method_kind): unary, client
 * streaming (many requests, one response), server streaming (one request,
 * many responses) and bidirectional. On the wire (DESIGN.md section 3) a
 * stream is a Request frame, then Data frames both ways, one message per
 * frame, each side ending its half with a Data frame flagged
 * remote-closed; a server ends a failed stream with a Response carrying
 * the status.
 *
 * One handle type, hvrpc_stream, serves both sides. A client opens one
 * with hvrpc_client_stream() and frees it with hvrpc_stream_free(),
 * before it frees the client. A
 * server receives one in its stream handler (hvrpc_method.stream, see
 * hvrpc/server.h) and ends it exactly once with hvrpc_stream_finish() or
 * hvrpc_stream_reply(), from any thread, which also releases it.
 *
 * Threads. Every function here may be called from any thread, but not two
 * at once on one handle for the same direction: one thread may send while
 * another receives. A server runs each stream handler on a thread of its
 * own, started when the stream opens, so a handler may block in send and
 * receive as long as it likes: open streams never exhaust the worker pool
 * (docs/RUNTIME.md says why). A blocking function called from a client's
 * completion callback returns FAILED_PRECONDITION.
 *
 * Flow control (ttrpc has none; docs/RUNTIME.md): each direction of a
 * stream has a receive window in bytes. A receiver queues at most a
 * window of messages, and an hvrpc peer never sends more than the window
 * it was granted; the receiver grants more as its application takes
 * messages. A reader that does not keep up therefore holds up only its
 * own stream's sender, never the other streams of the connection. A
 * plain ttrpc peer, which knows no windows, is refused more than a window
 * of unread messages: that stream fails with RESOURCE_EXHAUSTED.
 *
 * Results. Besides the gRPC codes, stream functions return two of their
 * own, outside the range a peer can send (hvrpc_code_from_wire() never
 * yields them):
 *   HVRPC_WOULD_BLOCK  nothing happened within the time given (a send
 *                      found the peer's window full, a receive found no
 *                      message); the stream is intact, try again.
 *   HVRPC_END          the peer finished its half cleanly: no more
 *                      messages will come (receive), or the stream is over
 *                      and nothing more can be sent (send).
 * Any other code is the stream's final status: the server's status on a
 * client, or why the stream ended (the client cancelled, the connection
 * closed, the deadline passed, the server is stopping).
 */
#ifndef HVRPC_STREAM_H
#define HVRPC_STREAM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <protobuf-c/protobuf-c.h>

#include "hvrpc/client.h"
#include "hvrpc/server.h"
#include "hvrpc/status.h"

#ifdef __cplusplus
extern "C" {
#endif

/* See "Results" above. Not gRPC codes: never on the wire. */
#define HVRPC_WOULD_BLOCK ((hvrpc_code)100)
#define HVRPC_END         ((hvrpc_code)101)

/* Per-stream receive window, in bytes: the default, and the range an
 * option may set. A message costs its length plus
 * HVRPC_STREAM_MESSAGE_OVERHEAD, so empty messages are bounded too. A
 * message larger than the whole window may still be sent when nothing is
 * outstanding, so windows smaller than max_frame never deadlock. */
#define HVRPC_DEFAULT_STREAM_WINDOW   (256u * 1024u)
#define HVRPC_MIN_STREAM_WINDOW       1024u
#define HVRPC_MAX_STREAM_WINDOW       (1024u * 1024u * 1024u)
#define HVRPC_STREAM_MESSAGE_OVERHEAD 64u

/* The request metadata key an hvrpc client offers flow control with; its
 * value is the client's receive window in decimal bytes. */
#define HVRPC_STREAM_WINDOW_KEY "hvrpc-stream-window"

/* Timeouts of the functions below: milliseconds, 0 = do not wait,
 * HVRPC_WAIT_FOREVER = until the stream's deadline (if any). */
#define HVRPC_WAIT_FOREVER (-1)

/* How a client stream treats the server's windows. */
typedef enum hvrpc_flow_mode {
    /* Offer flow control; obey the server's windows once it grants one.
     * A server that sends a message or its answer before any grant is a
     * plain ttrpc peer: the stream then sends without waiting. Against a
     * plain server, a client-streaming call waits for a grant that never
     * comes: use HVRPC_FLOW_OFF there. */
    HVRPC_FLOW_AUTO = 0,
    /* Neither offer nor expect flow control (a plain ttrpc client). */
    HVRPC_FLOW_OFF = 1,
} hvrpc_flow_mode;

typedef struct hvrpc_stream_options {
    size_t size;         /* sizeof(hvrpc_stream_options) */
    uint32_t timeout_ms; /* the whole stream's deadline; 0: none */
    const hvrpc_metadata *metadata;
    size_t n_metadata;
    uint32_t window; /* this side's receive window; 0: the default */
    hvrpc_flow_mode flow;
} hvrpc_stream_options;

#define HVRPC_STREAM_OPTIONS_INIT                                              \
    {                                                                          \
        sizeof(hvrpc_stream_options), 0, NULL, 0, 0, HVRPC_FLOW_AUTO           \
    }

/* --- client ------------------------------------------------------------ */

/* Opens a stream to service/method of the given kind (a streaming one).
 * For a server-streaming method, request/request_len is its one request
 * message; for the other kinds it must be empty and messages go with
 * hvrpc_stream_send(). opts may be NULL. On OK, *out is the stream, the
 * caller's to free with hvrpc_stream_free(). */
HVRPC_API hvrpc_code hvrpc_client_stream(
    hvrpc_client *c, const char *service, const char *method,
    hvrpc_method_kind kind, const void *request, size_t request_len,
    const hvrpc_stream_options *opts, hvrpc_stream **out, hvrpc_status *st);

/* Same, packing request (server streaming; NULL otherwise). */
HVRPC_API hvrpc_code hvrpc_client_stream_message(
    hvrpc_client *c, const char *service, const char *method,
    hvrpc_method_kind kind, const ProtobufCMessage *request,
    const hvrpc_stream_options *opts, hvrpc_stream **out, hvrpc_status *st);

/* Client: no more messages from this side (a Data frame flagged
 * remote-closed and no-data). Idempotent. */
HVRPC_API hvrpc_code hvrpc_stream_close_send(hvrpc_stream *s, hvrpc_status *st);

/* Client: cancels the stream if it is not over (cancel), then frees it.
 * s may be NULL. */
HVRPC_API void hvrpc_stream_free(hvrpc_stream *s);

/* --- both sides ---------------------------------------------------------- */

/* Sends one message (copied), waiting up to timeout_ms for the peer's
 * window. HVRPC_WOULD_BLOCK when it stayed full (nothing sent);
 * RESOURCE_EXHAUSTED (nothing sent, stream intact) for a message over
 * max_frame; HVRPC_END or the final status when the stream is over. On a
 * server, a client-streaming method's stream has no messages to send:
 * FAILED_PRECONDITION (use hvrpc_stream_reply). */
HVRPC_API hvrpc_code hvrpc_stream_send(hvrpc_stream *s, const void *data,
                                       size_t len, int timeout_ms,
                                       hvrpc_status *st);

/* Same, packing msg. */
HVRPC_API hvrpc_code hvrpc_stream_send_message(hvrpc_stream *s,
                                               const ProtobufCMessage *msg,
                                               int timeout_ms,
                                               hvrpc_status *st);

/* hvrpc_stream_send() that never waits: HVRPC_WOULD_BLOCK means the
 * peer's window is full. */
HVRPC_API hvrpc_code hvrpc_stream_try_send(hvrpc_stream *s, const void *data,
                                           size_t len, hvrpc_status *st);

/* Receives the next message into *msg (free with hvrpc_buf_free(); an
 * empty message has len 0), waiting up to timeout_ms. Messages that
 * arrived before the stream ended are delivered before its end:
 * HVRPC_END after the peer's clean end, the final status otherwise. On a
 * client, a client-streaming call's one response arrives this way too,
 * after hvrpc_stream_close_send(). */
HVRPC_API hvrpc_code hvrpc_stream_recv(hvrpc_stream *s, hvrpc_buf *msg,
                                       int timeout_ms, hvrpc_status *st);

/* Same, decoding the message as type (nesting bounded, as
 * hvrpc_message_unpack()); free *out with
 * protobuf_c_message_free_unpacked(*out, NULL). A message that does not
 * decode ends the stream: INVALID_ARGUMENT on a server (the client is
 * told), INTERNAL on a client (the server is told the call was
 * cancelled). */
HVRPC_API hvrpc_code hvrpc_stream_recv_message(
    hvrpc_stream *s, const ProtobufCMessageDescriptor *type,
    ProtobufCMessage **out, int timeout_ms, hvrpc_status *st);

/* Ends the stream now, from either side: blocked and later calls return
 * CANCELLED. A client tells an hvrpc server with a reset frame (a plain
 * ttrpc server only sees this side closed); a server answers the client
 * CANCELLED. A server handler still ends the stream with
 * hvrpc_stream_finish(), whose answer is then dropped. */
HVRPC_API void hvrpc_stream_cancel(hvrpc_stream *s);

HVRPC_API hvrpc_method_kind hvrpc_stream_kind(const hvrpc_stream *s);

/* True once the stream is over (either side ended it, its connection
 * closed, its deadline passed, the server is stopping). */
HVRPC_API bool hvrpc_stream_done(const hvrpc_stream *s);

/* True when the peer obeys hvrpc flow control (it offered or granted a
 * window). */
HVRPC_API bool hvrpc_stream_flow_controlled(const hvrpc_stream *s);

/* --- server ------------------------------------------------------------ */

/* Ends the stream with a status and releases it. OK ends a server- or
 * bidi-streaming call with a Data frame flagged remote-closed, and a
 * client-streaming call with an empty OK response; another code sends a
 * Response with that status (OK is not turned into anything else here).
 * fmt may be NULL. Returns OK, or UNAVAILABLE when the answer was dropped
 * (the stream was over already). */
HVRPC_API hvrpc_code hvrpc_stream_finish(hvrpc_stream *s, hvrpc_code code,
                                         const char *fmt, ...)
#if defined(__GNUC__)
    HVRPC_PRINTF(3, 4)
#endif
        ;

/* Ends the stream OK with one last message: a client-streaming call's
 * response (a Response frame with the payload); for the other kinds the
 * message goes as Data (waiting for the window) before the end. */
HVRPC_API hvrpc_code hvrpc_stream_reply(hvrpc_stream *s, const void *payload,
                                        size_t len);
HVRPC_API hvrpc_code hvrpc_stream_reply_message(hvrpc_stream *s,
                                                const ProtobufCMessage *msg);

/* What hvrpc_call_* tells of a unary call (hvrpc/server.h). */
HVRPC_API const hvrpc_peer *hvrpc_stream_peer(const hvrpc_stream *s);
HVRPC_API const char *hvrpc_stream_service(const hvrpc_stream *s);
HVRPC_API const char *hvrpc_stream_method(const hvrpc_stream *s);
HVRPC_API hvrpc_server *hvrpc_stream_server(const hvrpc_stream *s);
HVRPC_API int64_t hvrpc_stream_deadline(const hvrpc_stream *s);
HVRPC_API const char *hvrpc_stream_metadata_get(const hvrpc_stream *s,
                                                const char *key);
HVRPC_API size_t hvrpc_stream_metadata_count(const hvrpc_stream *s);
HVRPC_API void hvrpc_stream_metadata_at(const hvrpc_stream *s, size_t i,
                                        const char **key, const char **value);

#ifdef __cplusplus
}
#endif

#endif /* HVRPC_STREAM_H */
