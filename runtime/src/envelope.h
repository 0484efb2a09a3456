/*
 * envelope.h - whole ttrpc frames: header + Request or Response message.
 *
 * Encoding is done by hand, straight into one buffer that holds the frame
 * header too (one allocation, one copy of the payload); the bytes are what
 * protobuf-c would pack for the same message (unit-tested against it).
 * A server checks a Request with hvrpc__request_check, then decodes it by
 * hand (hvrpc__request_decode: one allocation, the payload left in the
 * frame when the caller keeps the frame); a client reads Responses by
 * hand, in place, allocating nothing. All work on bytes whose length the
 * frame reader has already bounded.
 */
#ifndef HVRPC__ENVELOPE_H
#define HVRPC__ENVELOPE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/uio.h>

#include <protobuf-c/protobuf-c.h>

#include "hvrpc/client.h"
#include "hvrpc/status.h"
#include "ttrpc/request.pb-c.h"

/* A payload given either as bytes or as a message to pack. Its sender
 * may say which memory will outlive the frame's use: a piece of the
 * payload lying there, at least HVRPC__LEND_MIN bytes (the bytes
 * themselves, or a bytes field the message packs), is then lent to the
 * frame rather than copied into it (frame_buf.c). A server's answer names
 * its request's buffer (lendable); a blocking call all of its caller's
 * memory (lend_any), valid until the call returns, which copies the
 * piece first if the frame is still queued then. */
typedef struct hvrpc__payload {
    const uint8_t *data;
    size_t len;
    const ProtobufCMessage *msg; /* when set, data/len are ignored */
    const uint8_t *lendable;
    size_t lendable_len;
    bool lend_any;
} hvrpc__payload;

#define HVRPC__LEND_MIN 4096

/* An encoded frame; len includes the 10-byte header. data (malloc'd)
 * holds all of it, or all but one lent piece: the frame's bytes
 * [lent_at, lent_at + lent_len) are then lent[0, lent_len), and data
 * holds the bytes before and after, in order. keep, when set, is the
 * malloc'd block the lent piece lies in, freed with the frame. */
typedef struct hvrpc__frame_buf {
    uint8_t *data;
    size_t len;
    const uint8_t *lent;
    size_t lent_at, lent_len;
    uint8_t *keep;
} hvrpc__frame_buf;

/* Allocates f for a frame of data_len bytes after its header, lent_len
 * of which will be lent, and fills in its header; the rest of f zeroed.
 * RESOURCE_EXHAUSTED when out of memory. */
hvrpc_code hvrpc__frame_buf_alloc(hvrpc__frame_buf *f, uint32_t stream_id,
                                  uint8_t type, uint8_t flags, size_t data_len,
                                  size_t lent_len);
/* Makes f hold all its bytes (a lent piece copied into a new data) so it
 * no longer needs what it borrowed; -1 when out of memory (f unchanged). */
int hvrpc__frame_buf_own(hvrpc__frame_buf *f);
/* Frees data and keep. */
void hvrpc__frame_buf_free(hvrpc__frame_buf *f);
/* The frame's bytes from off (< len) on, as 1 to 3 buffers in iov;
 * returns how many. */
int hvrpc__frame_buf_iov(const hvrpc__frame_buf *f, size_t off,
                         struct iovec iov[3]);

/* True when p[0, n) lies within lo[0, lo_len) (lo may be NULL). */
bool hvrpc__lies_within(const uint8_t *p, size_t n, const uint8_t *lo,
                        size_t lo_len);

/* frame_buf.c, for the encoders: the piece of a payload to lend (len 0:
 * none), and the message packed into out without it. */
typedef struct hvrpc__lent_piece {
    const uint8_t *data;
    size_t at, len; /* at: where it starts in the packed payload */
} hvrpc__lent_piece;

hvrpc__lent_piece hvrpc__lend_find(const hvrpc__payload *pl);
void hvrpc__lend_pack(const ProtobufCMessage *msg, uint8_t *out,
                      const hvrpc__lent_piece *lp);

/* A Request frame. RESOURCE_EXHAUSTED (nothing allocated) when its data
 * would exceed max_frame. timeout_ns 0 means none. */
hvrpc_code hvrpc__encode_request(uint32_t stream_id, const char *service,
                                 const char *method,
                                 const hvrpc__payload *payload,
                                 int64_t timeout_ns, const hvrpc_metadata *md,
                                 size_t n_md, uint32_t max_frame,
                                 hvrpc__frame_buf *out, hvrpc_status *st);

/* A Response frame. code OK sends no status field (a missing status means
 * OK). Lends a piece of payload when it can (out->lent; the caller sets
 * out->keep), as the Request encoder does. RESOURCE_EXHAUSTED when it
 * would exceed max_frame. */
hvrpc_code hvrpc__encode_response(uint32_t stream_id, hvrpc_code code,
                                  const char *message,
                                  const hvrpc__payload *payload,
                                  uint32_t max_frame, hvrpc__frame_buf *out);

/* What a server accepts in a Request before decoding it (0: no limit). */
typedef struct hvrpc__request_limits {
    uint32_t max_name;       /* service and method, each */
    uint32_t max_md_entries; /* metadata entries */
    uint32_t max_md_bytes;   /* metadata bytes on the wire */
} hvrpc__request_limits;

/* Walks a Request's top-level fields on the wire, without allocating, and
 * checks them against lim: INVALID_ARGUMENT for a malformed message or an
 * over-long name, RESOURCE_EXHAUSTED for too much metadata. */
hvrpc_code hvrpc__request_check(const uint8_t *data, size_t len,
                                const hvrpc__request_limits *lim,
                                hvrpc_status *st);

/* Decodes a Request into *out exactly as ttrpc__request__unpack would:
 * the same bytes accepted (tags and lengths in at most 5 bytes, a known
 * field of the wrong wire type refused, unknown fields skipped), a field
 * sent twice read the same way (the last service, method, payload and
 * timeout; every metadata entry, each with its last key and value), an
 * absent string left at protobuf_c_empty_string, an empty payload NULL.
 * tests/fuzz/fuzz_envelope.c checks the agreement.
 *
 * Unlike protobuf-c it makes one allocation through a, holding the
 * struct, the metadata and the NUL-terminated strings: free it with
 * hvrpc__request_free, never ttrpc__request__free_unpacked. With
 * payload_in_place the payload points into data, which must then outlive
 * the request; otherwise it is copied into the same block. Unknown fields
 * are not kept. INVALID_ARGUMENT for bytes that are not a Request
 * (nothing allocated), RESOURCE_EXHAUSTED when a cannot give the block. */
hvrpc_code hvrpc__request_decode(const uint8_t *data, size_t len,
                                 ProtobufCAllocator *a, bool payload_in_place,
                                 Ttrpc__Request **out);

/* Frees what hvrpc__request_decode made with a (req may be NULL). */
void hvrpc__request_free(Ttrpc__Request *req, ProtobufCAllocator *a);

/* A Response read in place: the pointers are into the bytes parsed. A
 * missing status reads as code 0 (OK) with no message. */
typedef struct hvrpc__response_view {
    int32_t code;        /* google.rpc.Status.code as sent */
    const char *message; /* not NUL-terminated: message_len bytes */
    size_t message_len;
    const uint8_t *payload;
    size_t payload_len;
} hvrpc__response_view;

/* Parses a Response exactly as protobuf-c would: the same bytes accepted
 * (tags and lengths in at most 5 bytes, status details well formed), a
 * repeated field read the same way, unknown fields skipped; false when
 * it is not one. tests/fuzz/fuzz_envelope.c checks the agreement. */
bool hvrpc__response_parse(const uint8_t *data, size_t len,
                           hvrpc__response_view *r);

/* The call's status from a parsed Response: OK for code 0; else the
 * code and its message (the code's own when none was sent). */
void hvrpc__response_status(const hvrpc__response_view *r, hvrpc_status *st);

/* Rewrites the stream id of an encoded frame. */
void hvrpc__frame_set_stream(hvrpc__frame_buf *f, uint32_t stream_id);

#endif
