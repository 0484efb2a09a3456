/*
 * fuzz_frame.c - the incremental frame reader (runtime/src/frame.c) fed a
 * byte stream in arbitrary chunks.
 *
 * Input: 2 bytes of maximum frame size (little-endian), 4 bytes seeding
 * the chunk sizes and when the callback asks to stop, then the stream.
 * Checks, against a whole-buffer parse done here: the same frames in the
 * same order with the same bytes; oversize frames reported once on their
 * header and their bytes skipped; "stop" honoured at once; partial() true
 * exactly when the stream ends inside a frame; never more than one frame
 * body (at most the maximum) allocated; nothing left after free.
 */
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "frame.h"
#include "fuzz.h"

typedef struct ref_frame {
    hvrpc__frame_header h;
    const uint8_t *data; /* NULL when oversize */
} ref_frame;

typedef struct state {
    ref_frame *frames;
    size_t n_frames;
    size_t seen;
    uint32_t max;
    uint32_t rng;
    bool stopped;
} state;

/* The whole-buffer parse. Returns the number of frames; *partial says
 * whether the stream ends inside one. */
static size_t parse_all(const uint8_t *p, size_t n, uint32_t max,
                        ref_frame *out, bool *partial)
{
    size_t count = 0;
    uint64_t pos = 0;
    while (pos + HVRPC__FRAME_HEADER_LEN <= n) {
        hvrpc__frame_header h;
        hvrpc__frame_header_decode(p + pos, &h);
        uint64_t body = pos + HVRPC__FRAME_HEADER_LEN;
        if (h.length > max) {
            out[count++] = (ref_frame){h, NULL};
            pos = body + h.length;
            continue;
        }
        if (body + h.length > n)
            break;
        out[count++] = (ref_frame){h, p + body};
        pos = body + h.length;
    }
    *partial = pos != n;
    return count;
}

static int on_frame(void *ctx, const hvrpc__frame_header *h,
                    const uint8_t *data, bool oversize)
{
    state *s = ctx;
    FUZZ_ASSERT(!s->stopped);
    FUZZ_ASSERT(s->seen < s->n_frames);
    const ref_frame *want = &s->frames[s->seen++];
    FUZZ_ASSERT(h->length == want->h.length);
    FUZZ_ASSERT(h->stream_id == want->h.stream_id);
    FUZZ_ASSERT(h->type == want->h.type);
    FUZZ_ASSERT(h->flags == want->h.flags);
    FUZZ_ASSERT(oversize == (want->data == NULL));
    FUZZ_ASSERT(oversize == (h->length > s->max));
    if (oversize)
        FUZZ_ASSERT(data == NULL);
    else
        FUZZ_ASSERT(h->length == 0 || memcmp(data, want->data, h->length) == 0);
    /* One body at most, never more than the maximum. */
    FUZZ_ASSERT(fuzz_alloc_live_bytes() <= (s->max ? s->max : 1));
    if (fuzz_next(&s->rng) % 16 == 0) {
        s->stopped = true;
        return 1;
    }
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    fuzz_alloc_install();
    if (size < 6)
        return 0;
    state s = {0};
    s.max = (uint32_t)data[0] | (uint32_t)data[1] << 8;
    uint32_t seed = (uint32_t)data[2] | (uint32_t)data[3] << 8 |
                    (uint32_t)data[4] << 16 | (uint32_t)data[5] << 24;
    s.rng = seed ^ 0x5bd1e995u;
    const uint8_t *p = data + 6;
    size_t n = size - 6;

    s.frames = malloc((n / HVRPC__FRAME_HEADER_LEN + 1) * sizeof *s.frames);
    if (!s.frames)
        return 0;
    bool partial;
    s.n_frames = parse_all(p, n, s.max, s.frames, &partial);

    if (n >= HVRPC__FRAME_HEADER_LEN) {
        hvrpc__frame_header h;
        uint8_t again[HVRPC__FRAME_HEADER_LEN];
        hvrpc__frame_header_decode(p, &h);
        hvrpc__frame_header_encode(&h, again);
        FUZZ_ASSERT(memcmp(again, p, sizeof again) == 0);
    }

    hvrpc__frame_reader r;
    hvrpc__frame_reader_init(&r, s.max);
    uint32_t chunks = seed;
    size_t off = 0;
    while (off < n && !s.stopped) {
        /* Mostly small chunks (1 byte a quarter of the time), some large,
         * now and then an empty one. */
        uint32_t pick = fuzz_next(&chunks);
        size_t k;
        switch (pick % 4) {
        case 0:
            k = 1;
            break;
        case 1:
            k = pick >> 8 & 15;
            break;
        case 2:
            k = pick >> 8 & 255;
            break;
        default:
            k = n;
            break;
        }
        if (k > n - off)
            k = n - off;
        hvrpc__feed_result res =
            hvrpc__frame_reader_feed(&r, p + off, k, on_frame, &s);
        FUZZ_ASSERT(res != HVRPC__FEED_NOMEM);
        FUZZ_ASSERT((res == HVRPC__FEED_STOPPED) == s.stopped);
        FUZZ_ASSERT(fuzz_alloc_live_bytes() <= (s.max ? s.max : 1));
        off += k;
    }
    if (!s.stopped) {
        FUZZ_ASSERT(s.seen == s.n_frames);
        FUZZ_ASSERT(hvrpc__frame_reader_partial(&r) == partial);
    }
    hvrpc__frame_reader_free(&r);
    FUZZ_ASSERT(fuzz_alloc_live_blocks() == 0);
    free(s.frames);
    return 0;
}
