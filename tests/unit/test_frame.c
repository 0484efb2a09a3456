/*
 * test_frame.c - the frame header, the incremental reader (byte by byte,
 * many frames per chunk, oversize skipping, zero length) and the
 * hand-written envelope encoder, checked against protobuf-c's packer.
 */
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "alloc.h"
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

int main(void)
{
    test_header();
    size_t chunks[] = {1, 2, 3, 7, 10, 11, 64, 1000};
    for (size_t i = 0; i < sizeof chunks / sizeof chunks[0]; i++)
        test_reader_chunks(chunks[i]);
    test_reader_partial_and_stop();
    test_request_encoding();
    test_response_encoding();
    return check_done();
}
