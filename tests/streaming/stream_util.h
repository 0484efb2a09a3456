/*
 * tests/streaming/stream_util.h - what the streaming tests share: the
 * server child with the test service, stream helpers, raw frames.
 */
#ifndef HVRPC_TEST_STREAM_UTIL_H
#define HVRPC_TEST_STREAM_UTIL_H

#include <stddef.h>
#include <stdint.h>

#include <hvrpc/hvrpc.h>

#include "server_proc.h"
#include "stream_service.h"

/* Starts the echo + Streams server for transport, with max_streams (0:
 * the default) streams per connection. 0 or -1 (after printing why). */
int stream_server_start(server_proc *sp, const char *transport,
                        uint32_t max_streams);

/* Opens service Streams/method of kind; request only for Range. NULL
 * after printing why. */
hvrpc_stream *open_stream(hvrpc_client *c, const char *method,
                          hvrpc_method_kind kind, const char *request,
                          const hvrpc_stream_options *o);

/* Sends a text message (blocking); returns the code. */
hvrpc_code send_text(hvrpc_stream *s, const char *text);

/* Receives one message within timeout_ms into buf (NUL-terminated,
 * truncated to size); returns the code, *len the message's length. */
hvrpc_code recv_text(hvrpc_stream *s, char *buf, size_t size, size_t *len,
                     int timeout_ms);

/* LastEnd's answer, polled until it equals want or timeout_ms passes;
 * returns the last answer (static buffer). */
const char *wait_last_end(hvrpc_client *c, const char *want, int timeout_ms);

/* The index a Range message carries (its first 4 bytes). */
uint32_t range_index(const uint8_t *p);

/* --- raw frames, on a socket from integ_raw_connect() --------------- */

/* Writes a frame. 0 on success. */
int raw_frame(int fd, uint32_t id, uint8_t type, uint8_t flags,
              const void *data, size_t len);
/* Writes a Request frame for service/method with payload and, when
 * window_key, the hvrpc-stream-window offer. */
int raw_request(int fd, uint32_t id, uint8_t flags, const char *service,
                const char *method, const void *payload, size_t len,
                const char *window);
/* Reads one frame within timeout_ms: header and up to size data bytes
 * (the rest is skipped). 0, or -1 on timeout or EOF. */
int raw_read_frame(int fd, int timeout_ms, uint32_t *id, uint8_t *type,
                   uint8_t *flags, uint8_t *data, size_t size, size_t *len);
/* The status code of a Response frame's data (0 when OK), -1 when it does
 * not decode. */
int raw_response_code(const uint8_t *data, size_t len);

#endif
