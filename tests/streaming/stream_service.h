/*
 * tests/streaming/stream_service.h - a streaming test service on raw
 * bytes, served in the child of server_proc (register_more):
 *
 *   hvrpc.test.v1.Streams
 *     Sum    client streaming: answers "count=N bytes=B" for what it got
 *     Range  server streaming: request "N SIZE [DELAY_MS [CODE]]": N
 *            messages of SIZE bytes (the first 4 the index, big-endian),
 *            DELAY_MS apart, then OK, or CODE when it is not 0
 *     Echo   bidi: sends each message back; "close" ends OK at once,
 *            "abort" ends ABORTED
 *     Stall  client streaming: reads nothing until the stream is over
 *            (at most 10 s), then answers its end
 *     LastEnd unary: the name of the last non-OK end a handler saw
 *            ("NONE" before any), e.g. "CANCELLED", "UNAVAILABLE"
 */
#ifndef HVRPC_TEST_STREAM_SERVICE_H
#define HVRPC_TEST_STREAM_SERVICE_H

#include <hvrpc/hvrpc.h>

#define STREAMS_SERVICE "hvrpc.test.v1.Streams"

int stream_service_register(hvrpc_server *srv, hvrpc_endpoint *ep);

#endif
