/*
 * hvrpc/client.h - the client: one connection, many concurrent calls.
 *
 * A client is thread-safe. Calls from any number of threads share its one
 * connection, each on its own stream (odd, increasing ids). A call ends
 * exactly once: with the server's status, DEADLINE_EXCEEDED when its
 * timeout passes first, UNAVAILABLE when the connection is lost (every
 * pending call fails at that moment), CANCELLED when the client is freed.
 *
 * Asynchronous completions run on the client's I/O thread with no library
 * lock held; they must not block. From inside one, a blocking call on the
 * same client returns FAILED_PRECONDITION instead of deadlocking. If
 * hvrpc_client_call_async() returns an error, its callback never runs.
 */
#ifndef HVRPC_CLIENT_H
#define HVRPC_CLIENT_H

#include <stddef.h>
#include <stdint.h>

#include <protobuf-c/protobuf-c.h>

#include "hvrpc/limits.h"
#include "hvrpc/log.h"
#include "hvrpc/status.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct hvrpc_client hvrpc_client;

typedef struct hvrpc_metadata {
    const char *key;
    const char *value;
} hvrpc_metadata;

/* One finished unary call, as an observer sees it (see below). Every
 * pointer is valid only during the observer's callback. */
typedef struct hvrpc_call_record {
    const char *service;    /* "pkg.v1.Service" */
    const char *method;     /* "Method" */
    const uint8_t *request; /* the request payload as sent */
    size_t request_len;
    const hvrpc_metadata *metadata; /* as sent */
    size_t n_metadata;
    uint32_t timeout_ms;     /* the call's timeout; 0: none */
    hvrpc_status status;     /* how the call ended */
    const uint8_t *response; /* the response payload when status is OK */
    size_t response_len;
} hvrpc_call_record;

/* Called once for every unary call that was sent, when it ends (answered,
 * timed out, connection lost, client freed), before the caller learns the
 * result. Runs on the client's I/O thread (or the thread freeing the
 * client) with no library lock held: it must not block or call into the
 * client. Streams are not observed. */
typedef void (*hvrpc_call_observer_fn)(const hvrpc_call_record *r, void *arg);

typedef struct hvrpc_client_options {
    size_t size;        /* sizeof(hvrpc_client_options), set by _init */
    uint32_t max_frame; /* largest frame sent or received; 4 MiB */
    uint32_t connect_timeout_ms; /* connect (and hybrid handshake); 5000 */
    hvrpc_log_fn log;
    void *log_arg;
    /* NULL by default. When set, every unary call keeps a copy of its
     * request and metadata until it ends and is shown to observer (the
     * contract recorder, tools/contract, uses it). A call whose copy
     * cannot be allocated fails RESOURCE_EXHAUSTED without being sent. */
    hvrpc_call_observer_fn observer;
    void *observer_arg;
    /* Reconnecting; off (0) by default. With reconnect_ms set, a lost
     * connection is made again in the background: the first attempt
     * after reconnect_ms, each next one after twice the wait before, at
     * most reconnect_max_ms (30000 when 0), each wait shortened at random
     * by up to a quarter (so the clients of a host that restarts do not
     * all come back at once). Calls in flight when the connection is lost
     * still fail UNAVAILABLE: they may have run, and only the caller
     * knows whether running one twice is safe. A unary call made while
     * the client is down waits, unsent, for the next connection until
     * its deadline (one with no deadline waits until a connection is
     * made or the client is freed); a stream opened while down fails
     * UNAVAILABLE at once. hvrpc_client_connect() then fails only for
     * what no retry mends (a bad address, bad options, no memory): a
     * peer that is not there yet gives a client that keeps trying. */
    uint32_t reconnect_ms;
    uint32_t reconnect_max_ms;
    /* Keepalive; off (0) by default. When nothing has arrived for
     * keepalive_ms, the client sends grpc.health.v1.Health/Check (the
     * empty service name). Any answer, UNIMPLEMENTED included, shows the
     * peer alive; none within keepalive_timeout_ms (keepalive_ms when 0)
     * closes the connection as dead: its calls fail UNAVAILABLE saying
     * so, and a reconnecting client connects again. For transports that
     * do not report a peer gone (a paused or vanished VM). Choose a
     * timeout above the server's longest queueing delay. */
    uint32_t keepalive_ms;
    uint32_t keepalive_timeout_ms;
} hvrpc_client_options;

HVRPC_API void hvrpc_client_options_init(hvrpc_client_options *o);

typedef struct hvrpc_call_options {
    size_t size;         /* sizeof(hvrpc_call_options) */
    uint32_t timeout_ms; /* 0: no deadline. Sent as timeout_nano. */
    const hvrpc_metadata *metadata;
    size_t n_metadata;
} hvrpc_call_options;

#define HVRPC_CALL_OPTIONS_INIT                                                \
    {                                                                          \
        sizeof(hvrpc_call_options), 0, NULL, 0                                 \
    }

/* A response payload owned by the caller; free with hvrpc_buf_free(). */
typedef struct hvrpc_buf {
    uint8_t *data;
    size_t len;
} hvrpc_buf;

HVRPC_API void hvrpc_buf_free(hvrpc_buf *b);

/* Connects to uri (see hvrpc/address.h). opts may be NULL. */
HVRPC_API hvrpc_code hvrpc_client_connect(const char *uri,
                                          const hvrpc_client_options *opts,
                                          hvrpc_client **out, hvrpc_status *st);

/* Calls service/method with request bytes and waits for the answer. On OK,
 * *resp (may be NULL) receives the response payload. Returns the call's
 * code; st receives code and message. opts may be NULL. A request larger
 * than max_frame fails with RESOURCE_EXHAUSTED without being sent. The
 * request is read until the call returns (a large one is written from
 * where it lies, not copied), and never after. */
HVRPC_API hvrpc_code hvrpc_client_call(hvrpc_client *c, const char *service,
                                       const char *method, const void *request,
                                       size_t request_len,
                                       const hvrpc_call_options *opts,
                                       hvrpc_buf *resp, hvrpc_status *st);

/* Same, packing a protobuf-c message as the request. */
HVRPC_API hvrpc_code hvrpc_client_call_message(
    hvrpc_client *c, const char *service, const char *method,
    const ProtobufCMessage *request, const hvrpc_call_options *opts,
    hvrpc_buf *resp, hvrpc_status *st);

/* Completion of an asynchronous call. resp/len hold the response payload
 * when st->code is OK, valid only during the callback. */
typedef void (*hvrpc_done_fn)(const hvrpc_status *st, const uint8_t *resp,
                              size_t len, void *arg);

/* Starts a call; done(arg) runs exactly once when it ends, unless this
 * function returns an error (then it never runs). */
HVRPC_API hvrpc_code hvrpc_client_call_async(
    hvrpc_client *c, const char *service, const char *method,
    const void *request, size_t request_len, const hvrpc_call_options *opts,
    hvrpc_done_fn done, void *arg, hvrpc_status *st);

/* --- message in, decoded message out (what generated stubs call) ------- */

/* Packs request, calls service/method, waits, and on OK decodes the
 * response as response_type into *resp (hvrpc_message_unpack(): nesting
 * bounded). The caller frees *resp with
 * protobuf_c_message_free_unpacked(*resp, NULL). A response that does not
 * decode fails the call with INTERNAL, saying so. *resp is NULL unless OK. */
HVRPC_API hvrpc_code hvrpc_client_invoke(
    hvrpc_client *c, const char *service, const char *method,
    const ProtobufCMessage *request,
    const ProtobufCMessageDescriptor *response_type,
    const hvrpc_call_options *opts, ProtobufCMessage **resp, hvrpc_status *st);

/* Completion of hvrpc_client_invoke_async(). resp is the decoded response,
 * non-NULL exactly when st->code is OK; the callback owns it (free with
 * protobuf_c_message_free_unpacked(resp, NULL)). */
typedef void (*hvrpc_message_done_fn)(const hvrpc_status *st,
                                      ProtobufCMessage *resp, void *arg);

/* hvrpc_client_invoke(), asynchronously: done(arg) runs exactly once, on
 * the client's I/O thread, unless this function returns an error. */
HVRPC_API hvrpc_code hvrpc_client_invoke_async(
    hvrpc_client *c, const char *service, const char *method,
    const ProtobufCMessage *request,
    const ProtobufCMessageDescriptor *response_type,
    const hvrpc_call_options *opts, hvrpc_message_done_fn done, void *arg,
    hvrpc_status *st);

/* Connections this client has made, the first included: more than one
 * means it reconnected. */
HVRPC_API unsigned long hvrpc_client_connections(hvrpc_client *c);

/* Fails pending calls with CANCELLED (their callbacks run), closes the
 * connection and frees the client. c may be NULL. Not from a callback.
 * A reconnecting client's attempt in progress is waited for (at most
 * connect_timeout_ms). */
HVRPC_API void hvrpc_client_free(hvrpc_client *c);

#ifdef __cplusplus
}
#endif

#endif /* HVRPC_CLIENT_H */
