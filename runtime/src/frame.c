/* frame.c - the ttrpc frame header and the incremental frame reader. */
#include <stdlib.h>
#include <string.h>

#include "alloc.h"
#include "frame.h"

static void put_be32(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)(v >> 24);
    p[1] = (uint8_t)(v >> 16);
    p[2] = (uint8_t)(v >> 8);
    p[3] = (uint8_t)v;
}

static uint32_t get_be32(const uint8_t *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 |
           (uint32_t)p[3];
}

void hvrpc__frame_header_encode(const hvrpc__frame_header *h,
                                uint8_t out[HVRPC__FRAME_HEADER_LEN])
{
    put_be32(out, h->length);
    put_be32(out + 4, h->stream_id);
    out[8] = h->type;
    out[9] = h->flags;
}

void hvrpc__frame_header_decode(const uint8_t in[HVRPC__FRAME_HEADER_LEN],
                                hvrpc__frame_header *h)
{
    h->length = get_be32(in);
    h->stream_id = get_be32(in + 4);
    h->type = in[8];
    h->flags = in[9];
}

void hvrpc__frame_reader_init(hvrpc__frame_reader *r, uint32_t max)
{
    memset(r, 0, sizeof *r);
    r->max = max;
}

void hvrpc__frame_reader_free(hvrpc__frame_reader *r)
{
    hvrpc__free(r->body);
    hvrpc__free(r->spare);
    r->body = r->spare = NULL;
}

bool hvrpc__frame_reader_partial(const hvrpc__frame_reader *r)
{
    return r->hdr_have > 0 || r->in_body || r->skip > 0;
}

/* k more bytes of the partial body are in place; a complete body goes to
 * fn and is freed, unless fn took it. Non-zero when fn asked to stop. */
static int body_add(hvrpc__frame_reader *r, size_t k, hvrpc__frame_fn fn,
                    void *ctx)
{
    r->body_have += k;
    if (r->body_have < r->cur.length)
        return 0;
    r->in_body = false;
    int stop = fn(ctx, &r->cur, r->body, false);
    if (r->body && r->body_cap <= r->keep) {
        /* Not taken by fn: kept for the next large frame. */
        hvrpc__free(r->spare);
        r->spare = r->body;
        r->spare_cap = r->body_cap;
    } else {
        hvrpc__free(r->body);
    }
    r->body = NULL;
    return stop;
}

uint8_t *hvrpc__frame_reader_take_body(hvrpc__frame_reader *r,
                                       const uint8_t *data)
{
    if (!data || data != r->body || r->in_body)
        return NULL;
    uint8_t *body = r->body;
    r->body = NULL;
    return body;
}

uint8_t *hvrpc__frame_reader_direct(hvrpc__frame_reader *r, size_t min,
                                    size_t *want)
{
    if (!r->in_body || r->cur.length - r->body_have < min)
        return NULL;
    *want = r->cur.length - r->body_have;
    return r->body + r->body_have;
}

hvrpc__feed_result hvrpc__frame_reader_feed_direct(hvrpc__frame_reader *r,
                                                   size_t n, hvrpc__frame_fn fn,
                                                   void *ctx)
{
    return body_add(r, n, fn, ctx) ? HVRPC__FEED_STOPPED : HVRPC__FEED_OK;
}

hvrpc__feed_result hvrpc__frame_reader_feed(hvrpc__frame_reader *r,
                                            const uint8_t *p, size_t n,
                                            hvrpc__frame_fn fn, void *ctx)
{
    while (n > 0) {
        if (r->skip > 0) {
            size_t k = r->skip < n ? (size_t)r->skip : n;
            r->skip -= k;
            p += k;
            n -= k;
            continue;
        }
        if (r->in_body) {
            size_t want = r->cur.length - r->body_have;
            size_t k = want < n ? want : n;
            memcpy(r->body + r->body_have, p, k);
            p += k;
            n -= k;
            if (body_add(r, k, fn, ctx))
                return HVRPC__FEED_STOPPED;
            continue;
        }
        /* Assemble a header; most of the time it is whole in p. */
        size_t k = HVRPC__FRAME_HEADER_LEN - r->hdr_have;
        if (k > n)
            k = n;
        memcpy(r->hdr + r->hdr_have, p, k);
        r->hdr_have += k;
        p += k;
        n -= k;
        if (r->hdr_have < HVRPC__FRAME_HEADER_LEN)
            continue;
        r->hdr_have = 0;
        hvrpc__frame_header_decode(r->hdr, &r->cur);
        if (r->cur.length > r->max) {
            r->skip = r->cur.length;
            if (fn(ctx, &r->cur, NULL, true))
                return HVRPC__FEED_STOPPED;
            continue;
        }
        if (r->cur.length <= n) {
            /* The whole body is here: hand it over without a copy. */
            const uint8_t *body = p;
            p += r->cur.length;
            n -= r->cur.length;
            if (fn(ctx, &r->cur, body, false))
                return HVRPC__FEED_STOPPED;
            continue;
        }
        if (r->spare && r->spare_cap >= r->cur.length) {
            r->body = r->spare;
            r->body_cap = r->spare_cap;
            r->spare = NULL;
        } else {
            r->body = hvrpc__malloc(r->cur.length);
            if (!r->body)
                return HVRPC__FEED_NOMEM;
            r->body_cap = r->cur.length;
        }
        r->body_have = 0;
        r->in_body = true;
    }
    return HVRPC__FEED_OK;
}
