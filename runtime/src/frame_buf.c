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

bool hvrpc__lies_within(const uint8_t *p, size_t n, const uint8_t *lo,
                        size_t lo_len)
{
    uintptr_t base = (uintptr_t)lo, at = (uintptr_t)p;
    return lo && at >= base && n <= lo_len && at - base <= lo_len - n;
}

/* True when p[0, n) may be lent (see hvrpc__payload). */
static bool lendable(const hvrpc__payload *pl, const uint8_t *p, size_t n)
{
    return n >= HVRPC__LEND_MIN &&
           (pl->lend_any ||
            hvrpc__lies_within(p, n, pl->lendable, pl->lendable_len));
}

/* protobuf-c packs through a ProtobufCBuffer, handing bytes fields over
 * where they lie: the first pass finds the piece to lend, the second
 * writes everything else. Both see the same appends in the same order. */
typedef struct finder {
    ProtobufCBuffer base;
    const hvrpc__payload *pl;
    size_t at; /* bytes appended so far */
    hvrpc__lent_piece lp;
} finder;

static void find_append(ProtobufCBuffer *b, size_t len, const uint8_t *data)
{
    finder *f = (finder *)b;
    if (!f->lp.len && lendable(f->pl, data, len))
        f->lp = (hvrpc__lent_piece){data, f->at, len};
    f->at += len;
}

typedef struct writer {
    ProtobufCBuffer base;
    uint8_t *out;
    size_t at;
    const hvrpc__lent_piece *skip;
} writer;

static void write_append(ProtobufCBuffer *b, size_t len, const uint8_t *data)
{
    writer *w = (writer *)b;
    size_t at = w->at;
    w->at += len;
    if (at == w->skip->at && len == w->skip->len)
        return;
    if (at > w->skip->at)
        at -= w->skip->len;
    memcpy(w->out + at, data, len);
}

hvrpc__lent_piece hvrpc__lend_find(const hvrpc__payload *pl)
{
    hvrpc__lent_piece none = {0};
    if (!pl || (!pl->lendable && !pl->lend_any))
        return none;
    if (!pl->msg)
        return lendable(pl, pl->data, pl->len)
                   ? (hvrpc__lent_piece){pl->data, 0, pl->len}
                   : none;
    finder f = {.base = {.append = find_append}, .pl = pl};
    protobuf_c_message_pack_to_buffer(pl->msg, &f.base);
    return f.lp;
}

void hvrpc__lend_pack(const ProtobufCMessage *msg, uint8_t *out,
                      const hvrpc__lent_piece *lp)
{
    writer w = {.base = {.append = write_append}, .out = out, .skip = lp};
    protobuf_c_message_pack_to_buffer(msg, &w.base);
}
