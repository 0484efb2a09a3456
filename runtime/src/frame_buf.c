/*
 * frame_buf.c - encoded frames on their way out: allocation, their bytes
 * as buffers for writev, and lending.
 *
 * An answer that echoes or forwards a large part of its request need not
 * copy it: the request's frame outlives the answer's write when the
 * answer's frame keeps it (hvrpc__frame_buf.keep), so the piece is lent
 * to the frame and written from where it lies, in one writev with the
 * rest. A blocking call's request lends from its caller's memory the same
 * way, and is made to own its bytes (hvrpc__frame_buf_own) if it is still
 * queued when the call returns.
 */
#include <string.h>

#include "alloc.h"
#include "envelope.h"
#include "frame.h"

hvrpc_code hvrpc__frame_buf_alloc(hvrpc__frame_buf *f, uint32_t stream_id,
                                  uint8_t type, uint8_t flags, size_t data_len,
                                  size_t lent_len)
{
    memset(f, 0, sizeof *f);
    f->len = HVRPC__FRAME_HEADER_LEN + data_len;
    f->data = hvrpc__malloc(f->len - lent_len);
    if (!f->data)
        return HVRPC_RESOURCE_EXHAUSTED;
    hvrpc__frame_header h = {(uint32_t)data_len, stream_id, type, flags};
    hvrpc__frame_header_encode(&h, f->data);
    return HVRPC_OK;
}

void hvrpc__frame_buf_free(hvrpc__frame_buf *f)
{
    hvrpc__free(f->data);
    hvrpc__free(f->keep);
    f->data = f->keep = NULL;
}

int hvrpc__frame_buf_iov(const hvrpc__frame_buf *f, size_t off,
                         struct iovec iov[3])
{
    if (!f->lent) {
        iov[0].iov_base = f->data + off;
        iov[0].iov_len = f->len - off;
        return 1;
    }
    /* frame bytes: data[0, at) lent[0, n) data[at, len - n) */
    size_t at = f->lent_at, n = f->lent_len;
    int cnt = 0;
    if (off < at) {
        iov[cnt].iov_base = f->data + off;
        iov[cnt++].iov_len = at - off;
        off = at;
    }
    if (off < at + n) {
        iov[cnt].iov_base = (uint8_t *)f->lent + (off - at);
        iov[cnt++].iov_len = at + n - off;
        off = at + n;
    }
    if (off < f->len) {
        iov[cnt].iov_base = f->data + (off - n);
        iov[cnt++].iov_len = f->len - off;
    }
    return cnt;
}

int hvrpc__frame_buf_own(hvrpc__frame_buf *f)
{
    if (!f->lent)
        return 0;
    uint8_t *all = hvrpc__malloc(f->len);
    if (!all)
        return -1;
    struct iovec iov[3];
    int cnt = hvrpc__frame_buf_iov(f, 0, iov);
    size_t at = 0;
    for (int i = 0; i < cnt; i++) {
        memcpy(all + at, iov[i].iov_base, iov[i].iov_len);
        at += iov[i].iov_len;
    }
    hvrpc__frame_buf_free(f);
    f->data = all;
    f->lent = NULL;
    f->lent_at = f->lent_len = 0;
    return 0;
}

bool hvrpc__lendable(const hvrpc__payload *pl, const uint8_t *p, size_t n)
{
    if (n < HVRPC__LEND_MIN)
        return false;
    if (pl->lend_any)
        return true;
    uintptr_t lo = (uintptr_t)pl->lendable, at = (uintptr_t)p;
    return pl->lendable && at >= lo && n <= pl->lendable_len &&
           at - lo <= pl->lendable_len - n;
}

/* protobuf-c packs through a ProtobufCBuffer, handing bytes fields over
 * where they lie: the first pass finds the piece to lend, the second
 * writes everything else. Both see the same appends in the same order. */
typedef struct finder {
    ProtobufCBuffer base;
    const hvrpc__payload *pl;
    size_t at; /* bytes appended so far */
    const uint8_t *piece;
    size_t piece_at, piece_len;
} finder;

static void find_append(ProtobufCBuffer *b, size_t len, const uint8_t *data)
{
    finder *f = (finder *)b;
    if (!f->piece && hvrpc__lendable(f->pl, data, len)) {
        f->piece = data;
        f->piece_at = f->at;
        f->piece_len = len;
    }
    f->at += len;
}

typedef struct writer {
    ProtobufCBuffer base;
    uint8_t *out;
    size_t at, skip_at, skip_len;
} writer;

static void write_append(ProtobufCBuffer *b, size_t len, const uint8_t *data)
{
    writer *w = (writer *)b;
    size_t at = w->at;
    w->at += len;
    if (at == w->skip_at && len == w->skip_len)
        return;
    if (at > w->skip_at)
        at -= w->skip_len;
    memcpy(w->out + at, data, len);
}

size_t hvrpc__lend_find(const hvrpc__payload *pl, const uint8_t **piece,
                        size_t *piece_at)
{
    *piece = NULL;
    *piece_at = 0;
    if (!pl || (!pl->lendable && !pl->lend_any))
        return 0;
    if (!pl->msg) {
        if (!hvrpc__lendable(pl, pl->data, pl->len))
            return 0;
        *piece = pl->data;
        return pl->len;
    }
    finder f = {.base = {.append = find_append}, .pl = pl};
    protobuf_c_message_pack_to_buffer(pl->msg, &f.base);
    *piece = f.piece;
    *piece_at = f.piece_at;
    return f.piece ? f.piece_len : 0;
}

void hvrpc__lend_pack(const ProtobufCMessage *msg, uint8_t *out,
                      size_t piece_at, size_t piece_len)
{
    writer w = {.base = {.append = write_append},
                .out = out,
                .skip_at = piece_at,
                .skip_len = piece_len};
    protobuf_c_message_pack_to_buffer(msg, &w.base);
}
