/*
 * test_frame.c - the frame header, the incremental reader (byte by byte,
 * many frames per chunk, oversize skipping, zero length, a body taken
 * over by its callback), the hand-written envelope encoder checked
 * against protobuf-c's packer, and the hand-written decoders (Response,
 * Request) against protobuf-c's unpack.
 */
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "alloc.h"
#include "arena.h"
#include "envelope.h"
#include "frame.h"
#include "ttrpc/request.pb-c.h"

typedef struct seen {
    int n;
    hvrpc__frame_header h[16];
    uint8_t data[16][64];
    bool oversize[16];
    int stop_after; /* ask the reader to stop after this many, 0: never */
} seen;

static int collect(void *ctx, const hvrpc__frame_header *h, const uint8_t *data,
                   bool oversize)
{
    seen *s = ctx;
    if (s->n < 16) {
        s->h[s->n] = *h;
        s->oversize[s->n] = oversize;
        if (data && h->length <= 64)
            memcpy(s->data[s->n], data, h->length);
    }
    s->n++;
    return s->stop_after && s->n >= s->stop_after;
}

static size_t put_frame(uint8_t *p, uint32_t len, uint32_t id, uint8_t type,
                        uint8_t flags, uint8_t fill)
{
    hvrpc__frame_header h = {len, id, type, flags};
    hvrpc__frame_header_encode(&h, p);
    memset(p + HVRPC__FRAME_HEADER_LEN, fill, len);
    return HVRPC__FRAME_HEADER_LEN + len;
}

static void test_header(void)
{
    uint8_t b[10];
    hvrpc__frame_header h = {0x01020304u, 0xA0B0C0D0u, 3, 0x5}, d;
    hvrpc__frame_header_encode(&h, b);
    const uint8_t want[10] = {1, 2, 3, 4, 0xA0, 0xB0, 0xC0, 0xD0, 3, 5};
    CHECK(memcmp(b, want, 10) == 0);
    hvrpc__frame_header_decode(b, &d);
    CHECK_INT(d.length, 0x01020304u);
    CHECK_INT(d.stream_id, 0xA0B0C0D0u);
    CHECK_INT(d.type, 3);
    CHECK_INT(d.flags, 5);
    /* Field boundaries: all-zero and all-ones. */
    memset(b, 0xFF, sizeof b);
    hvrpc__frame_header_decode(b, &d);
    CHECK_INT(d.length, 0xFFFFFFFFu);
    CHECK_INT(d.stream_id, 0xFFFFFFFFu);
    CHECK_INT(d.type, 255);
    CHECK_INT(d.flags, 255);
    memset(b, 0, sizeof b);
    hvrpc__frame_header_decode(b, &d);
    CHECK_INT(d.length, 0);
    CHECK_INT(d.stream_id, 0);
}

static void test_reader_chunks(size_t chunk)
{
    uint8_t buf[256];
    size_t n = 0;
    n += put_frame(buf + n, 5, 1, HVRPC__FRAME_REQUEST, 0, 'a');
    n += put_frame(buf + n, 0, 3, HVRPC__FRAME_RESPONSE, 0, 0);
    n += put_frame(buf + n, 40, 5, HVRPC__FRAME_DATA, 1, 'c');
    n += put_frame(buf + n, 33, 7, HVRPC__FRAME_REQUEST, 0, 'd'); /* > max */
    n += put_frame(buf + n, 32, 9, HVRPC__FRAME_REQUEST, 2, 'e'); /* = max */

    hvrpc__frame_reader r;
    hvrpc__frame_reader_init(&r, 40);
    r.max = 32; /* frames of 33 and 40 bytes are over */
    seen s = {0};
    for (size_t off = 0; off < n; off += chunk) {
        size_t k = n - off < chunk ? n - off : chunk;
        CHECK_INT(hvrpc__frame_reader_feed(&r, buf + off, k, collect, &s),
                  HVRPC__FEED_OK);
    }
    CHECK(!hvrpc__frame_reader_partial(&r));
    CHECK_INT(s.n, 5);
    CHECK_INT(s.h[0].length, 5);
    CHECK_INT(s.h[0].stream_id, 1);
    CHECK(memcmp(s.data[0], "aaaaa", 5) == 0);
    CHECK(!s.oversize[0]);
    CHECK_INT(s.h[1].length, 0); /* zero-length Response */
    CHECK_INT(s.h[1].type, HVRPC__FRAME_RESPONSE);
    CHECK(s.oversize[2]); /* 40 > 32 */
    CHECK_INT(s.h[2].stream_id, 5);
    CHECK(s.oversize[3]);
    CHECK_INT(s.h[3].stream_id, 7);
    /* The frame after skipped ones arrives intact. */
    CHECK(!s.oversize[4]);
    CHECK_INT(s.h[4].stream_id, 9);
    CHECK_INT(s.h[4].flags, 2);
    CHECK(s.data[4][0] == 'e' && s.data[4][31] == 'e');
    hvrpc__frame_reader_free(&r);
}

static void test_reader_partial_and_stop(void)
{
    uint8_t buf[64];
    size_t n = put_frame(buf, 8, 1, 1, 0, 'x');
    n += put_frame(buf + n, 8, 3, 1, 0, 'y');
    hvrpc__frame_reader r;
    hvrpc__frame_reader_init(&r, 1024);
    seen s = {.stop_after = 1};
    /* Half a header, then the rest: partial in between. */
    CHECK_INT(hvrpc__frame_reader_feed(&r, buf, 4, collect, &s),
              HVRPC__FEED_OK);
    CHECK(hvrpc__frame_reader_partial(&r));
    CHECK_INT(s.n, 0);
    CHECK_INT(hvrpc__frame_reader_feed(&r, buf + 4, n - 4, collect, &s),
              HVRPC__FEED_STOPPED);
    CHECK_INT(s.n, 1); /* the second frame was not delivered */
    hvrpc__frame_reader_free(&r);
}

/* Our encoder must produce exactly what protobuf-c packs. */
static void test_request_encoding(void)
{
    uint8_t payload[300];
    for (size_t i = 0; i < sizeof payload; i++)
        payload[i] = (uint8_t)i;
    hvrpc_metadata md[2] = {{"k1", "v1"}, {"key-two", ""}};
    hvrpc__payload pl = {.data = payload, .len = sizeof payload};
    hvrpc__frame_buf f;
    hvrpc_status st;
    CHECK_INT(hvrpc__encode_request(7, "pkg.v1.Svc", "Do", &pl, 1500000000, md,
                                    2, 1 << 20, &f, &st),
              HVRPC_OK);

    Ttrpc__KeyValue kv[2] = {TTRPC__KEY_VALUE__INIT, TTRPC__KEY_VALUE__INIT};
    Ttrpc__KeyValue *kvp[2] = {&kv[0], &kv[1]};
    kv[0].key = "k1";
    kv[0].value = "v1";
    kv[1].key = "key-two";
    kv[1].value = "";
    Ttrpc__Request req = TTRPC__REQUEST__INIT;
    req.service = "pkg.v1.Svc";
    req.method = "Do";
    req.payload.data = payload;
    req.payload.len = sizeof payload;
    req.timeout_nano = 1500000000;
    req.n_metadata = 2;
    req.metadata = kvp;
    size_t want_len = ttrpc__request__get_packed_size(&req);
    uint8_t *want = malloc(want_len);
    ttrpc__request__pack(&req, want);

    hvrpc__frame_header h;
    hvrpc__frame_header_decode(f.data, &h);
    CHECK_INT(h.length, want_len);
    CHECK_INT(h.stream_id, 7);
    CHECK_INT(h.type, HVRPC__FRAME_REQUEST);
    CHECK_INT(f.len, HVRPC__FRAME_HEADER_LEN + want_len);
    CHECK(memcmp(f.data + HVRPC__FRAME_HEADER_LEN, want, want_len) == 0);
    hvrpc__frame_set_stream(&f, 0xFFFFFFFFu);
    hvrpc__frame_header_decode(f.data, &h);
    CHECK_INT(h.stream_id, 0xFFFFFFFFu);
    free(want);
    hvrpc__free(f.data);

    /* Exactly at the maximum fits; one byte less of room does not. */
    CHECK_INT(hvrpc__encode_request(1, "pkg.v1.Svc", "Do", &pl, 1500000000, md,
                                    2, (uint32_t)want_len, &f, &st),
              HVRPC_OK);
    hvrpc__free(f.data);
    f.data = NULL;
    CHECK_INT(hvrpc__encode_request(1, "pkg.v1.Svc", "Do", &pl, 1500000000, md,
                                    2, (uint32_t)want_len - 1, &f, &st),
              HVRPC_RESOURCE_EXHAUSTED);
    CHECK(f.data == NULL);
    CHECK_CONTAINS(st.message, "exceeds this client's maximum frame");
}

static void test_response_encoding(void)
{
    hvrpc__frame_buf f;
    /* OK with no payload: a zero-length Response, which means OK. */
    CHECK_INT(hvrpc__encode_response(3, HVRPC_OK, NULL, NULL, 1024, &f),
              HVRPC_OK);
    CHECK_INT(f.len, HVRPC__FRAME_HEADER_LEN);
    Ttrpc__Response *r = ttrpc__response__unpack(NULL, 0, f.data + 10);
    CHECK(r && r->status == NULL && r->payload.len == 0);
    ttrpc__response__free_unpacked(r, NULL);
    hvrpc__free(f.data);

    /* A status with a message decodes back through protobuf-c. */
    CHECK_INT(hvrpc__encode_response(5, HVRPC_NOT_FOUND, "no such thing", NULL,
                                     1024, &f),
              HVRPC_OK);
    r = ttrpc__response__unpack(NULL, f.len - 10, f.data + 10);
    CHECK(r && r->status);
    if (r && r->status) {
        CHECK_INT(r->status->code, HVRPC_NOT_FOUND);
        CHECK_STR(r->status->message, "no such thing");
    }
    ttrpc__response__free_unpacked(r, NULL);
    hvrpc__free(f.data);

    /* A payload given as a message is packed in place. */
    Ttrpc__KeyValue kv = TTRPC__KEY_VALUE__INIT;
    kv.key = "a";
    kv.value = "b";
    hvrpc__payload pl = {.msg = &kv.base};
    CHECK_INT(hvrpc__encode_response(9, HVRPC_OK, NULL, &pl, 1024, &f),
              HVRPC_OK);
    r = ttrpc__response__unpack(NULL, f.len - 10, f.data + 10);
    CHECK(r && r->payload.len == 6);
    if (r) {
        Ttrpc__KeyValue *back =
            ttrpc__key_value__unpack(NULL, r->payload.len, r->payload.data);
        CHECK(back && strcmp(back->key, "a") == 0 &&
              strcmp(back->value, "b") == 0);
        ttrpc__key_value__free_unpacked(back, NULL);
    }
    ttrpc__response__free_unpacked(r, NULL);
    hvrpc__free(f.data);

    /* Too big for the maximum: refused, nothing allocated. */
    uint8_t big[2000] = {0};
    hvrpc__payload bp = {.data = big, .len = sizeof big};
    f.data = NULL;
    CHECK_INT(hvrpc__encode_response(1, HVRPC_OK, NULL, &bp, 1024, &f),
              HVRPC_RESOURCE_EXHAUSTED);
    CHECK(f.data == NULL);
}

/* The frame's bytes from off on, gathered from its buffers. */
static size_t gather(const hvrpc__frame_buf *f, size_t off, uint8_t *out)
{
    struct iovec iov[3];
    int cnt = hvrpc__frame_buf_iov(f, off, iov);
    size_t n = 0;
    for (int i = 0; i < cnt; i++) {
        memcpy(out + n, iov[i].iov_base, iov[i].iov_len);
        n += iov[i].iov_len;
    }
    return n;
}

/* f, lending, is byte for byte the frame want, read from any offset. */
static void expect_same_frame(const hvrpc__frame_buf *f,
                              const hvrpc__frame_buf *want)
{
    CHECK_INT(f->len, want->len);
    uint8_t *buf = malloc(f->len);
    size_t at = f->lent_at, end = f->lent_at + f->lent_len;
    size_t offs[] = {0,      1,       9,   10,      at - 1,    at,
                     at + 1, end - 1, end, end + 1, f->len - 1};
    for (size_t i = 0; buf && i < sizeof offs / sizeof offs[0]; i++) {
        size_t off = offs[i];
        if (off >= f->len)
            continue;
        CHECK_INT(gather(f, off, buf), f->len - off);
        CHECK(memcmp(buf, want->data + off, f->len - off) == 0);
    }
    free(buf);
}

/* An answer lends a piece lying in the request's buffer, 4 KiB or more,
 * instead of copying it: from a message's bytes field or as raw bytes. */
static void test_response_lending(void)
{
    enum { REQ = 20000 };
    uint8_t *req = malloc(REQ);
    for (size_t i = 0; req && i < REQ; i++)
        req[i] = (uint8_t)(i * 7);
    Ttrpc__Request m = TTRPC__REQUEST__INIT;
    m.service = "svc";
    m.method = "m";
    m.payload.data = req + 100;
    m.payload.len = 5000;
    m.timeout_nano = 77;
    hvrpc__payload plain = {.msg = &m.base};
    hvrpc__payload lend = plain;
    lend.lendable = req;
    lend.lendable_len = REQ;
    hvrpc__frame_buf want, f;
    CHECK_INT(hvrpc__encode_response(3, HVRPC_OK, NULL, &plain, 1 << 20, &want),
              HVRPC_OK);
    CHECK(want.lent == NULL);
    CHECK_INT(hvrpc__encode_response(3, HVRPC_OK, NULL, &lend, 1 << 20, &f),
              HVRPC_OK);
    CHECK(f.lent == req + 100);
    CHECK_INT(f.lent_len, 5000);
    expect_same_frame(&f, &want);
    hvrpc__frame_buf_free(&f);
    hvrpc__frame_buf_free(&want);

    /* Raw bytes, the whole payload lent; a status before it. */
    hvrpc__payload raw = {.data = req + 1, .len = REQ - 1};
    CHECK_INT(hvrpc__encode_response(5, HVRPC_OK, NULL, &raw, 1 << 20, &want),
              HVRPC_OK);
    raw.lendable = req;
    raw.lendable_len = REQ;
    CHECK_INT(hvrpc__encode_response(5, HVRPC_OK, NULL, &raw, 1 << 20, &f),
              HVRPC_OK);
    CHECK(f.lent == req + 1 && f.lent_len == REQ - 1);
    CHECK_INT(f.lent_at + f.lent_len, f.len); /* nothing after it */
    expect_same_frame(&f, &want);
    hvrpc__frame_buf_free(&f);
    hvrpc__frame_buf_free(&want);

    /* Not lent: under 4 KiB, or not (wholly) in the lendable buffer. */
    m.payload.len = HVRPC__LEND_MIN - 1;
    CHECK_INT(hvrpc__encode_response(3, HVRPC_OK, NULL, &lend, 1 << 20, &f),
              HVRPC_OK);
    CHECK(f.lent == NULL);
    hvrpc__frame_buf_free(&f);
    m.payload.data = req + REQ - 5000;
    m.payload.len = 5000;
    lend.lendable_len = REQ - 1;
    CHECK_INT(hvrpc__encode_response(3, HVRPC_OK, NULL, &lend, 1 << 20, &f),
              HVRPC_OK);
    CHECK(f.lent == NULL);
    hvrpc__frame_buf_free(&f);
    free(req);
}

/* hvrpc__response_parse (the client's in-place reader) against protobuf-c
 * on the same bytes: both accept or both refuse, and agree on what they
 * read. */
static void expect_parse_agrees(const char *what, const uint8_t *b, size_t n)
{
    hvrpc__response_view v;
    bool ours = hvrpc__response_parse(b, n, &v);
    Ttrpc__Response *r = ttrpc__response__unpack(NULL, n, b);
    if (ours != (r != NULL))
        fprintf(stderr, "response parse disagrees with protobuf-c: %s\n", what);
    CHECK(ours == (r != NULL));
    if (ours && r) {
        int32_t code = r->status ? r->status->code : 0;
        const char *msg =
            r->status && r->status->message ? r->status->message : "";
        CHECK_INT(v.code, code);
        CHECK_INT(v.message_len, strlen(msg));
        CHECK(v.message_len == 0 || !memcmp(v.message, msg, v.message_len));
        CHECK_INT(v.payload_len, r->payload.len);
        CHECK(v.payload_len == 0 ||
              !memcmp(v.payload, r->payload.data, v.payload_len));
    }
    ttrpc__response__free_unpacked(r, NULL);
}

static void test_response_parse(void)
{
    hvrpc__frame_buf f;
    uint8_t pl_bytes[300];
    for (size_t i = 0; i < sizeof pl_bytes; i++)
        pl_bytes[i] = (uint8_t)i;
    hvrpc__payload pl = {.data = pl_bytes, .len = sizeof pl_bytes};
    /* What our own server sends. */
    CHECK_INT(hvrpc__encode_response(1, HVRPC_OK, NULL, &pl, 1024, &f),
              HVRPC_OK);
    expect_parse_agrees("ok with payload", f.data + 10, f.len - 10);
    hvrpc__response_view v;
    CHECK(hvrpc__response_parse(f.data + 10, f.len - 10, &v));
    CHECK(v.payload == f.data + f.len - sizeof pl_bytes); /* in place */
    hvrpc_status st;
    hvrpc__response_status(&v, &st);
    CHECK_INT(st.code, HVRPC_OK);
    /* Every truncation of it: refused by both (or, at a field boundary,
     * read alike). */
    for (size_t n = 0; n < f.len - 10; n++)
        expect_parse_agrees("truncated", f.data + 10, n);
    hvrpc__free(f.data);

    CHECK_INT(hvrpc__encode_response(1, HVRPC_PERMISSION_DENIED, "go away",
                                     NULL, 1024, &f),
              HVRPC_OK);
    expect_parse_agrees("status", f.data + 10, f.len - 10);
    CHECK(hvrpc__response_parse(f.data + 10, f.len - 10, &v));
    hvrpc__response_status(&v, &st);
    CHECK_INT(st.code, HVRPC_PERMISSION_DENIED);
    CHECK_STR(st.message, "go away");
    hvrpc__free(f.data);

    /* Hand-made: what other peers may send. */
    static const struct {
        const char *what;
        uint8_t b[32];
        size_t n;
    } cases[] = {
        {"unknown varint field", {0x18, 0x05, 0x12, 0x01, 'x'}, 5},
        {"unknown fixed64 and fixed32",
         {0x19, 1, 2, 3, 4, 5, 6, 7, 8, 0x25, 1, 2, 3, 4, 0x12, 0x01, 'y'},
         17},
        {"payload twice: the last wins", {0x12, 0x01, 'a', 0x12, 0x01, 'b'}, 6},
        {"status twice: merged as protobuf-c merges",
         {0x0a, 0x02, 0x08, 0x05, 0x0a, 0x03, 0x12, 0x01, 'm'},
         9},
        {"status with details",
         {0x0a, 0x06, 0x08, 0x03, 0x1a, 0x02, 0x0a, 0x00},
         8},
        {"negative code",
         {0x0a, 0x0b, 0x08, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
          0xff, 0x01},
         13},
        {"payload as a varint", {0x10, 0x05}, 2},
        {"status as a varint", {0x08, 0x05}, 2},
        {"code as bytes", {0x0a, 0x03, 0x0a, 0x01, 'x'}, 5},
        {"a group", {0x1b, 0x1c}, 2},
        {"field number 0", {0x02, 0x00}, 2},
        {"length past the end", {0x12, 0x05, 'a'}, 3},
        {"varint of 11 bytes",
         {0x18, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
          0x01},
         12},
        {"status truncated inside", {0x0a, 0x02, 0x08}, 3},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++)
        expect_parse_agrees(cases[i].what, cases[i].b, cases[i].n);
}

/* A body that does not arrive whole in one feed is the reader's own
 * buffer: the callback may take it (the reader must then not free it, or
 * ASan and valgrind see a double free); one that does is the caller's
 * bytes and cannot be taken. */
typedef struct taker {
    hvrpc__frame_reader *r;
    const uint8_t *data;
    uint8_t *taken;
    int n;
} taker;

static int take_cb(void *ctx, const hvrpc__frame_header *h, const uint8_t *data,
                   bool oversize)
{
    taker *t = ctx;
    (void)h, (void)oversize;
    t->n++;
    t->data = data;
    t->taken = hvrpc__frame_reader_take_body(t->r, data);
    /* Taken once: a second try finds nothing. */
    CHECK(hvrpc__frame_reader_take_body(t->r, data) == NULL);
    return 0;
}

/* Records the bodies it sees, taking none. */
typedef struct looker {
    const uint8_t *data[4];
    uint8_t first[4], last[4];
    int n;
} looker;

static int look_cb(void *ctx, const hvrpc__frame_header *h, const uint8_t *data,
                   bool oversize)
{
    looker *l = ctx;
    (void)oversize;
    if (l->n < 4) {
        l->data[l->n] = data;
        l->first[l->n] = data[0];
        l->last[l->n] = data[h->length - 1];
    }
    l->n++;
    return 0;
}

/* Feeds a frame of n bytes of c in two pieces: its body lands in the
 * reader's own buffer. */
static void feed_split(hvrpc__frame_reader *r, size_t n, char c, looker *l)
{
    uint8_t *f = malloc(HVRPC__FRAME_HEADER_LEN + n);
    size_t len = put_frame(f, (uint32_t)n, 1, HVRPC__FRAME_RESPONSE, 0, c);
    CHECK_INT(hvrpc__frame_reader_feed(r, f, 20, look_cb, l), HVRPC__FEED_OK);
    CHECK_INT(hvrpc__frame_reader_feed(r, f + 20, len - 20, look_cb, l),
              HVRPC__FEED_OK);
    free(f);
}

/* With keep set (a client's reader), a body buffer no callback took
 * serves the next frame that fits; without, each frame has its own. */
static void test_reader_keeps_body(void)
{
    hvrpc__frame_reader r;
    hvrpc__frame_reader_init(&r, 1 << 20);
    r.keep = 1 << 20;
    looker l = {0};
    feed_split(&r, 5000, 'a', &l);
    CHECK(r.spare != NULL && r.spare == l.data[0]);
    feed_split(&r, 4000, 'b', &l); /* fits the first's buffer */
    CHECK(l.data[1] == l.data[0] && r.spare == l.data[0]);
    feed_split(&r, 9000, 'c', &l); /* does not: a new one, kept */
    CHECK(r.spare != NULL && r.spare == l.data[2]);
    feed_split(&r, 9000, 'd', &l);
    CHECK_INT(l.n, 4);
    CHECK(l.data[3] == l.data[2]);
    const char want[] = "abcd";
    for (int i = 0; i < 4; i++)
        CHECK(l.first[i] == want[i] && l.last[i] == want[i]);
    hvrpc__frame_reader_free(&r); /* the kept buffer too (ASan) */

    /* A body larger than keep is not kept. */
    hvrpc__frame_reader_init(&r, 1 << 20);
    r.keep = 4096;
    looker m = {0};
    feed_split(&r, 5000, 'e', &m);
    CHECK(r.spare == NULL);
    hvrpc__frame_reader_free(&r);
}

static void test_reader_take_body(void)
{
    uint8_t buf[2 * (HVRPC__FRAME_HEADER_LEN + 100)];
    size_t one = put_frame(buf, 100, 1, HVRPC__FRAME_REQUEST, 0, 'a');
    put_frame(buf + one, 100, 3, HVRPC__FRAME_REQUEST, 0, 'b');
    hvrpc__frame_reader r;
    hvrpc__frame_reader_init(&r, 1024);
    taker t = {.r = &r};
    /* Whole in one feed: the caller's bytes, nothing to take. */
    CHECK_INT(hvrpc__frame_reader_feed(&r, buf, one, take_cb, &t),
              HVRPC__FEED_OK);
    CHECK_INT(t.n, 1);
    CHECK(t.data == buf + HVRPC__FRAME_HEADER_LEN);
    CHECK(t.taken == NULL);
    /* In two feeds: the reader's buffer, taken, and still whole after
     * the reader has gone on to the next frame. */
    CHECK_INT(hvrpc__frame_reader_feed(&r, buf + one, 40, take_cb, &t),
              HVRPC__FEED_OK);
    CHECK(hvrpc__frame_reader_partial(&r));
    CHECK_INT(
        hvrpc__frame_reader_feed(&r, buf + one + 40, one - 40, take_cb, &t),
        HVRPC__FEED_OK);
    CHECK_INT(t.n, 2);
    CHECK(t.taken != NULL && t.taken == t.data);
    CHECK(!hvrpc__frame_reader_partial(&r));
    uint8_t *first = t.taken;
    CHECK_INT(hvrpc__frame_reader_feed(&r, buf, 50, take_cb, &t),
              HVRPC__FEED_OK);
    CHECK_INT(hvrpc__frame_reader_feed(&r, buf + 50, one - 50, take_cb, &t),
              HVRPC__FEED_OK);
    CHECK_INT(t.n, 3);
    CHECK(first && first[0] == 'b' && first[99] == 'b');
    CHECK(t.taken && t.taken != first && t.taken[0] == 'a');
    hvrpc__free(first);
    hvrpc__free(t.taken);
    /* Read in place (the path a large body takes), then taken. */
    CHECK_INT(
        hvrpc__frame_reader_feed(&r, buf, HVRPC__FRAME_HEADER_LEN, take_cb, &t),
        HVRPC__FEED_OK);
    size_t want = 0;
    uint8_t *direct = hvrpc__frame_reader_direct(&r, 1, &want);
    CHECK(direct != NULL && want == 100);
    if (direct) {
        memset(direct, 'z', want);
        CHECK_INT(hvrpc__frame_reader_feed_direct(&r, want, take_cb, &t),
                  HVRPC__FEED_OK);
        CHECK(t.taken == direct && t.taken[99] == 'z');
        hvrpc__free(t.taken);
    }
    hvrpc__frame_reader_free(&r);
}

/* hvrpc__request_decode against protobuf-c's unpack of the same bytes:
 * both accept or both refuse, and they agree field by field. */
static void expect_decode_agrees(const char *what, const uint8_t *b, size_t n)
{
    Ttrpc__Request *want = ttrpc__request__unpack(NULL, n, b);
    for (int in_place = 0; in_place < 2; in_place++) {
        Ttrpc__Request *got = NULL;
        hvrpc_code c =
            hvrpc__request_decode(b, n, &hvrpc__pb_allocator, in_place, &got);
        if ((c == HVRPC_OK) != (want != NULL))
            fprintf(stderr, "request decode disagrees with protobuf-c: %s\n",
                    what);
        CHECK((c == HVRPC_OK) == (want != NULL));
        CHECK_INT(c, want ? HVRPC_OK : HVRPC_INVALID_ARGUMENT);
        CHECK((got != NULL) == (c == HVRPC_OK));
        if (got && want) {
            CHECK_STR(got->service, want->service);
            CHECK_STR(got->method, want->method);
            CHECK((got->service == protobuf_c_empty_string) ==
                  (want->service == protobuf_c_empty_string));
            CHECK_INT(got->timeout_nano, want->timeout_nano);
            CHECK_INT(got->payload.len, want->payload.len);
            CHECK((got->payload.data == NULL) == (want->payload.data == NULL));
            CHECK(!got->payload.len ||
                  !memcmp(got->payload.data, want->payload.data,
                          got->payload.len));
            CHECK_INT(got->n_metadata, want->n_metadata);
            for (size_t i = 0; i < got->n_metadata && i < want->n_metadata;
                 i++) {
                CHECK_STR(got->metadata[i]->key, want->metadata[i]->key);
                CHECK_STR(got->metadata[i]->value, want->metadata[i]->value);
            }
        }
        hvrpc__request_free(got, &hvrpc__pb_allocator);
    }
    ttrpc__request__free_unpacked(want, NULL);
}

static void *fail_alloc(void *data, size_t n)
{
    (void)data, (void)n;
    return NULL;
}

static void no_free(void *data, void *p)
{
    (void)data, (void)p;
}

static void test_request_decode(void)
{
    uint8_t payload[300];
    for (size_t i = 0; i < sizeof payload; i++)
        payload[i] = (uint8_t)(i * 7);
    hvrpc_metadata md[2] = {{"k1", "v1"}, {"key-two", ""}};
    hvrpc__payload pl = {.data = payload, .len = sizeof payload};
    hvrpc__frame_buf f;
    hvrpc_status st;
    CHECK_INT(hvrpc__encode_request(7, "pkg.v1.Svc", "Do", &pl, 1500000000, md,
                                    2, 1 << 20, &f, &st),
              HVRPC_OK);
    const uint8_t *body = f.data + HVRPC__FRAME_HEADER_LEN;
    size_t len = f.len - HVRPC__FRAME_HEADER_LEN;
    expect_decode_agrees("what our client sends", body, len);

    /* In place: the payload is the frame's bytes; copied: not. */
    Ttrpc__Request *req = NULL;
    CHECK_INT(
        hvrpc__request_decode(body, len, &hvrpc__pb_allocator, true, &req),
        HVRPC_OK);
    CHECK(req != NULL);
    if (req) {
        CHECK_STR(req->service, "pkg.v1.Svc");
        CHECK_STR(req->method, "Do");
        CHECK_INT(req->timeout_nano, 1500000000);
        CHECK(req->payload.data > body && req->payload.data < body + len);
        CHECK_INT(req->payload.len, sizeof payload);
        CHECK_INT(req->n_metadata, 2);
        if (req->n_metadata == 2) {
            CHECK_STR(req->metadata[1]->key, "key-two");
            CHECK_STR(req->metadata[1]->value, "");
        }
        hvrpc__request_free(req, &hvrpc__pb_allocator);
    }
    CHECK_INT(
        hvrpc__request_decode(body, len, &hvrpc__pb_allocator, false, &req),
        HVRPC_OK);
    if (req) {
        CHECK(req->payload.data < body || req->payload.data >= body + len);
        CHECK(!memcmp(req->payload.data, payload, sizeof payload));
        hvrpc__request_free(req, &hvrpc__pb_allocator);
    }
    /* Into an arena whose first block is too small: an extra chunk. */
    uint8_t small[64];
    hvrpc__arena arena;
    hvrpc__arena_init(&arena, small, sizeof small);
    CHECK_INT(hvrpc__request_decode(body, len, &arena.pb, false, &req),
              HVRPC_OK);
    CHECK(req && !memcmp(req->payload.data, payload, sizeof payload));
    hvrpc__arena_release(&arena);
    /* No memory: RESOURCE_EXHAUSTED, no request. */
    ProtobufCAllocator none = {fail_alloc, no_free, NULL};
    req = (Ttrpc__Request *)1;
    CHECK_INT(hvrpc__request_decode(body, len, &none, true, &req),
              HVRPC_RESOURCE_EXHAUSTED);
    CHECK(req == NULL);
    /* Every truncation: refused by both, or at a field boundary read
     * alike. */
    for (size_t n = 0; n < len; n++)
        expect_decode_agrees("truncated", body, n);
    hvrpc__free(f.data);

    /* Hand-made: what other peers may send. */
    static const struct {
        const char *what;
        uint8_t b[40];
        size_t n;
    } cases[] = {
        {"empty: every field absent", {0}, 0},
        {"present but empty strings and payload",
         {0x0a, 0x00, 0x12, 0x00, 0x1a, 0x00},
         6},
        {"service twice: the last wins",
         {0x0a, 0x01, 'a', 0x0a, 0x02, 'b', 'c'},
         7},
        {"payload twice: the last wins", {0x1a, 0x01, 'x', 0x1a, 0x00}, 5},
        {"timeout twice, the last negative",
         {0x20, 0x05, 0x20, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
          0xff, 0x01},
         13},
        {"metadata: key twice in an entry, value absent",
         {0x2a, 0x06, 0x0a, 0x01, 'k', 0x0a, 0x01, 'j', 0x2a, 0x00},
         10},
        {"metadata with unknown fields",
         {0x2a, 0x07, 0x18, 0x01, 0x12, 0x01, 'v', 0x25, 0x00, 0x2a, 0x00},
         11},
        {"unknown fields at the top",
         {0x30, 0x01, 0x39, 1, 2, 3, 4, 5, 6, 7, 8, 0x42, 0x01, 'z', 0x0a, 0x01,
          's'},
         17},
        {"embedded NUL in the method", {0x12, 0x03, 'a', 0x00, 'b'}, 5},
        {"service as a varint", {0x08, 0x01}, 2},
        {"payload as fixed32", {0x1d, 1, 2, 3, 4}, 5},
        {"timeout as bytes", {0x22, 0x01, 0x01}, 3},
        {"metadata as a varint", {0x28, 0x01}, 2},
        {"metadata key as a varint", {0x2a, 0x02, 0x08, 0x01}, 4},
        {"metadata truncated inside", {0x2a, 0x02, 0x0a, 0x05}, 4},
        {"a group", {0x33, 0x34}, 2},
        {"field number 0", {0x02, 0x00}, 2},
        {"tag in 6 bytes", {0x8a, 0x80, 0x80, 0x80, 0x80, 0x00}, 6},
        {"length in 6 bytes", {0x0a, 0x81, 0x80, 0x80, 0x80, 0x80, 0x00}, 7},
        {"varint of 11 bytes",
         {0x20, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
          0x01},
         12},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++)
        expect_decode_agrees(cases[i].what, cases[i].b, cases[i].n);

    /* Absent strings are protobuf-c's empty default; an empty payload
     * has no data. */
    CHECK_INT(
        hvrpc__request_decode(cases[0].b, 0, &hvrpc__pb_allocator, true, &req),
        HVRPC_OK);
    if (req) {
        CHECK(req->service == protobuf_c_empty_string);
        CHECK(req->method == protobuf_c_empty_string);
        CHECK(req->payload.data == NULL && req->payload.len == 0);
        CHECK(req->n_metadata == 0 && req->metadata == NULL);
        hvrpc__request_free(req, &hvrpc__pb_allocator);
    }
}

int main(void)
{
    test_header();
    size_t chunks[] = {1, 2, 3, 7, 10, 11, 64, 1000};
    for (size_t i = 0; i < sizeof chunks / sizeof chunks[0]; i++)
        test_reader_chunks(chunks[i]);
    test_reader_partial_and_stop();
    test_request_encoding();
    test_response_encoding();
    test_response_lending();
    test_response_parse();
    test_reader_take_body();
    test_reader_keeps_body();
    test_request_decode();
    return check_done();
}
