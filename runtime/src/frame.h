/*
 * frame.h - ttrpc framing: the 10-byte header and an incremental reader.
 *
 *   bytes 0-3 data length (big-endian), 4-7 stream id (big-endian),
 *   byte 8 type, byte 9 flags; then `length` bytes of data.
 *
 * The reader is fed whatever the socket returned, one byte or many frames
 * at a time, and calls back once per complete frame. A frame whose length
 * is over the maximum is reported at once (oversize, no data) and its bytes
 * are then skipped as they arrive, so the connection survives it.
 */
#ifndef HVRPC__FRAME_H
#define HVRPC__FRAME_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define HVRPC__FRAME_HEADER_LEN 10

enum {
    HVRPC__FRAME_REQUEST = 1,
    HVRPC__FRAME_RESPONSE = 2,
    HVRPC__FRAME_DATA = 3,
};

enum {
    HVRPC__FLAG_REMOTE_CLOSED = 0x1,
    HVRPC__FLAG_REMOTE_OPEN = 0x2,
    HVRPC__FLAG_NO_DATA = 0x4,
};

typedef struct hvrpc__frame_header {
    uint32_t length;
    uint32_t stream_id;
    uint8_t type;
    uint8_t flags;
} hvrpc__frame_header;

void hvrpc__frame_header_encode(const hvrpc__frame_header *h,
                                uint8_t out[HVRPC__FRAME_HEADER_LEN]);
void hvrpc__frame_header_decode(const uint8_t in[HVRPC__FRAME_HEADER_LEN],
                                hvrpc__frame_header *h);

/* Called per frame. data (h->length bytes) is borrowed: valid only during
 * the call. oversize: the frame was over the maximum; data is NULL and its
 * bytes will be skipped. Return 0 to go on, non-zero to stop feeding. */
typedef int (*hvrpc__frame_fn)(void *ctx, const hvrpc__frame_header *h,
                               const uint8_t *data, bool oversize);

typedef struct hvrpc__frame_reader {
    uint32_t max;                         /* largest data length taken */
    uint8_t hdr[HVRPC__FRAME_HEADER_LEN]; /* header being assembled */
    size_t hdr_have;
    hvrpc__frame_header cur; /* header of the frame in body */
    uint8_t *body;           /* partial body, cur.length */
    size_t body_have, body_cap;
    /* A body buffer kept for the next large frame (see keep). */
    uint8_t *spare;
    size_t spare_cap;
    /* The largest body buffer kept once its frame is handled (0: none;
     * set by its owner after init). Reading a large frame into memory
     * already mapped spares it the page faults of fresh memory: glibc
     * gives large frees back to the kernel at once. */
    size_t keep;
    uint64_t skip; /* oversize bytes still to skip */
    bool in_body;
} hvrpc__frame_reader;

void hvrpc__frame_reader_init(hvrpc__frame_reader *r, uint32_t max);
void hvrpc__frame_reader_free(hvrpc__frame_reader *r);

/* Result of feeding: all bytes consumed, the callback asked to stop, or no
 * memory for a partial frame body. */
typedef enum {
    HVRPC__FEED_OK,
    HVRPC__FEED_STOPPED,
    HVRPC__FEED_NOMEM,
} hvrpc__feed_result;

hvrpc__feed_result hvrpc__frame_reader_feed(hvrpc__frame_reader *r,
                                            const uint8_t *p, size_t n,
                                            hvrpc__frame_fn fn, void *ctx);

/* Reading a large body in place: when at least min bytes of a partial
 * body are still to come, where they go (*want of them); NULL otherwise.
 * The caller reads straight there, skipping a copy through its buffer,
 * then reports the bytes it got with feed_direct. */
uint8_t *hvrpc__frame_reader_direct(hvrpc__frame_reader *r, size_t min,
                                    size_t *want);
hvrpc__feed_result hvrpc__frame_reader_feed_direct(hvrpc__frame_reader *r,
                                                   size_t n, hvrpc__frame_fn fn,
                                                   void *ctx);

/* From inside the callback: when data is the reader's own buffer (a body
 * that did not arrive whole in one feed), hands that buffer over: the
 * caller owns it from now on (hvrpc__free) and the reader forgets it, so
 * the frame can outlive the callback without a copy. NULL when data is
 * in the caller's bytes, borrowed as always. */
uint8_t *hvrpc__frame_reader_take_body(hvrpc__frame_reader *r,
                                       const uint8_t *data);

/* True when the reader holds part of a frame (a peer stalled mid-frame). */
bool hvrpc__frame_reader_partial(const hvrpc__frame_reader *r);

#endif
