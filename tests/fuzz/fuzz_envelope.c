/*
 * fuzz_envelope.c - the ttrpc envelope: what the server checks on the raw
 * bytes of a Request (hvrpc__request_check), protobuf-c's decoding of
 * Request and Response with the runtime's allocator, our hand encoder's
 * round trip, and the typed layer's depth-checked decoding.
 *
 * Input: 3 bytes of limits (name length, metadata entries, metadata bytes
 * / 64; 0 = none), then the message bytes. Checks:
 * - the server's hand decoder (hvrpc__request_decode) accepts exactly
 *   what protobuf-c accepts and fills the same fields, its payload in
 *   place or copied, in one allocation (none when it refuses);
 * - the check never reads out of bounds and answers OK, INVALID_ARGUMENT
 *   or RESOURCE_EXHAUSTED; whatever protobuf-c decodes as a Request passes
 *   the check without limits, and one that passes with limits decodes to
 *   names and metadata within them;
 * - a decoded Request or Response, encoded again by envelope.c, is byte
 *   for byte what protobuf-c packs for the same message, decodes back to
 *   the same fields, and the encoder refuses it one byte under its size;
 * - hvrpc_message_unpack() on a recursive type (DescriptorProto) never
 *   recurses past HVRPC_MAX_MESSAGE_DEPTH (ASan would see the stack);
 * - the runtime's allocator holds nothing afterwards.
 */
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "envelope.h"
#include "frame.h"
#include "fuzz.h"
#include "google/protobuf/descriptor.pb-c.h"
#include "hvrpc/service.h"
#include "ttrpc/request.pb-c.h"

#include "alloc.h"

static bool same_bytes(const ProtobufCBinaryData *a,
                       const ProtobufCBinaryData *b)
{
    return a->len == b->len &&
           (a->len == 0 || !memcmp(a->data, b->data, a->len));
}

static const char *str_or_empty(const char *s)
{
    return s ? s : "";
}

static void check_request_limits(const uint8_t *msg, size_t len,
                                 const hvrpc__request_limits *lim,
                                 const Ttrpc__Request *req)
{
    hvrpc_status st;
    hvrpc__request_limits none = {0, 0, 0};
    hvrpc_code unlimited = hvrpc__request_check(msg, len, &none, &st);
    FUZZ_ASSERT(unlimited == HVRPC_OK || unlimited == HVRPC_INVALID_ARGUMENT);
    hvrpc_code limited = hvrpc__request_check(msg, len, lim, &st);
    FUZZ_ASSERT(limited == HVRPC_OK || limited == HVRPC_INVALID_ARGUMENT ||
                limited == HVRPC_RESOURCE_EXHAUSTED);
    if (unlimited != HVRPC_OK)
        FUZZ_ASSERT(limited == unlimited);
    if (!req)
        return;
    /* protobuf-c took it: the raw walk must take it too. */
    FUZZ_ASSERT(unlimited == HVRPC_OK);
    if (limited != HVRPC_OK)
        return;
    if (lim->max_name) {
        FUZZ_ASSERT(strlen(str_or_empty(req->service)) <= lim->max_name);
        FUZZ_ASSERT(strlen(str_or_empty(req->method)) <= lim->max_name);
    }
    if (lim->max_md_entries)
        FUZZ_ASSERT(req->n_metadata <= lim->max_md_entries);
    if (lim->max_md_bytes) {
        size_t bytes = 0;
        for (size_t i = 0; i < req->n_metadata; i++)
            bytes += strlen(str_or_empty(req->metadata[i]->key)) +
                     strlen(str_or_empty(req->metadata[i]->value));
        FUZZ_ASSERT(bytes <= lim->max_md_bytes);
    }
}

/* Our encoder against protobuf-c's, for the Request protobuf-c decoded. */
static void roundtrip_request(const Ttrpc__Request *req)
{
    size_t n_md = req->n_metadata;
    hvrpc_metadata *md = calloc(n_md ? n_md : 1, sizeof *md);
    FUZZ_ASSERT(md);
    for (size_t i = 0; i < n_md; i++) {
        md[i].key = str_or_empty(req->metadata[i]->key);
        md[i].value = str_or_empty(req->metadata[i]->value);
    }
    /* The encoder sends no timeout unless it is positive. */
    int64_t timeout = req->timeout_nano > 0 ? req->timeout_nano : 0;
    hvrpc__payload pl = {.data = req->payload.data, .len = req->payload.len};
    const char *svc = str_or_empty(req->service);
    const char *meth = str_or_empty(req->method);
    hvrpc__frame_buf f;
    hvrpc_status st;
    hvrpc_code c = hvrpc__encode_request(7, svc, meth, &pl, timeout, md, n_md,
                                         HVRPC_MAX_MAX_FRAME, &f, &st);
    FUZZ_ASSERT(c == HVRPC_OK);
    hvrpc__frame_header h;
    hvrpc__frame_header_decode(f.data, &h);
    size_t body = f.len - HVRPC__FRAME_HEADER_LEN;
    FUZZ_ASSERT(h.length == body && h.stream_id == 7 &&
                h.type == HVRPC__FRAME_REQUEST && h.flags == 0);

    /* The same message packed by protobuf-c. */
    Ttrpc__Request same = TTRPC__REQUEST__INIT;
    same.service = (char *)svc;
    same.method = (char *)meth;
    same.payload = req->payload;
    same.timeout_nano = timeout;
    Ttrpc__KeyValue *kv = calloc(n_md ? n_md : 1, sizeof *kv);
    Ttrpc__KeyValue **kvp = calloc(n_md ? n_md : 1, sizeof *kvp);
    FUZZ_ASSERT(kv && kvp);
    for (size_t i = 0; i < n_md; i++) {
        ttrpc__key_value__init(&kv[i]);
        kv[i].key = (char *)md[i].key;
        kv[i].value = (char *)md[i].value;
        kvp[i] = &kv[i];
    }
    same.n_metadata = n_md;
    same.metadata = kvp;
    size_t packed_len = ttrpc__request__get_packed_size(&same);
    FUZZ_ASSERT(packed_len == body);
    uint8_t *packed = malloc(packed_len ? packed_len : 1);
    FUZZ_ASSERT(packed);
    ttrpc__request__pack(&same, packed);
    FUZZ_ASSERT(body == 0 ||
                !memcmp(packed, f.data + HVRPC__FRAME_HEADER_LEN, body));

    /* Decodes back to the same fields. */
    Ttrpc__Request *back = ttrpc__request__unpack(
        &hvrpc__pb_allocator, body, f.data + HVRPC__FRAME_HEADER_LEN);
    FUZZ_ASSERT(back);
    FUZZ_ASSERT(!strcmp(str_or_empty(back->service), svc));
    FUZZ_ASSERT(!strcmp(str_or_empty(back->method), meth));
    FUZZ_ASSERT(same_bytes(&back->payload, &req->payload));
    FUZZ_ASSERT(back->timeout_nano == timeout);
    FUZZ_ASSERT(back->n_metadata == n_md);
    for (size_t i = 0; i < n_md; i++) {
        FUZZ_ASSERT(!strcmp(str_or_empty(back->metadata[i]->key), md[i].key));
        FUZZ_ASSERT(
            !strcmp(str_or_empty(back->metadata[i]->value), md[i].value));
    }
    ttrpc__request__free_unpacked(back, &hvrpc__pb_allocator);
    hvrpc__free(f.data);

    /* One byte under its size, the encoder refuses it. */
    if (body > 0) {
        c = hvrpc__encode_request(7, svc, meth, &pl, timeout, md, n_md,
                                  (uint32_t)body - 1, &f, &st);
        FUZZ_ASSERT(c == HVRPC_RESOURCE_EXHAUSTED);
    }
    free(packed);
    free(kvp);
    free(kv);
    free(md);
}

static void roundtrip_response(const Ttrpc__Response *resp)
{
    hvrpc_code code = HVRPC_OK;
    const char *msg = "";
    if (resp->status && resp->status->code != 0) {
        code = hvrpc_code_from_wire(resp->status->code);
        msg = str_or_empty(resp->status->message);
    }
    FUZZ_ASSERT((int)code >= 0 && (int)code <= HVRPC_CODE_MAX);
    hvrpc__payload pl = {.data = resp->payload.data, .len = resp->payload.len};
    hvrpc__frame_buf f;
    FUZZ_ASSERT(hvrpc__encode_response(9, code, msg, &pl, HVRPC_MAX_MAX_FRAME,
                                       &f) == HVRPC_OK);
    size_t body = f.len - HVRPC__FRAME_HEADER_LEN;
    hvrpc__frame_header h;
    hvrpc__frame_header_decode(f.data, &h);
    FUZZ_ASSERT(h.length == body && h.stream_id == 9 &&
                h.type == HVRPC__FRAME_RESPONSE && h.flags == 0);

    Ttrpc__Response same = TTRPC__RESPONSE__INIT;
    Ttrpc__Status status = TTRPC__STATUS__INIT;
    if (code != HVRPC_OK) {
        status.code = (int32_t)code;
        status.message = (char *)msg;
        same.status = &status;
    }
    same.payload = resp->payload;
    size_t packed_len = ttrpc__response__get_packed_size(&same);
    FUZZ_ASSERT(packed_len == body);
    uint8_t *packed = malloc(packed_len ? packed_len : 1);
    FUZZ_ASSERT(packed);
    ttrpc__response__pack(&same, packed);
    FUZZ_ASSERT(body == 0 ||
                !memcmp(packed, f.data + HVRPC__FRAME_HEADER_LEN, body));

    Ttrpc__Response *back = ttrpc__response__unpack(
        &hvrpc__pb_allocator, body, f.data + HVRPC__FRAME_HEADER_LEN);
    FUZZ_ASSERT(back);
    FUZZ_ASSERT(same_bytes(&back->payload, &resp->payload));
    if (code == HVRPC_OK) {
        FUZZ_ASSERT(!back->status);
    } else {
        FUZZ_ASSERT(back->status && back->status->code == (int32_t)code);
        FUZZ_ASSERT(!strcmp(str_or_empty(back->status->message), msg));
    }
    ttrpc__response__free_unpacked(back, &hvrpc__pb_allocator);
    hvrpc__free(f.data);
    if (body > 0)
        FUZZ_ASSERT(hvrpc__encode_response(9, code, msg, &pl,
                                           (uint32_t)body - 1,
                                           &f) == HVRPC_RESOURCE_EXHAUSTED);
    free(packed);
}

/* The client's in-place Response reader accepts exactly what protobuf-c
 * accepts, and reads the same values. */
static void check_response_view(const uint8_t *msg, size_t len,
                                const Ttrpc__Response *resp)
{
    hvrpc__response_view v;
    bool parsed = hvrpc__response_parse(msg, len, &v);
    FUZZ_ASSERT(parsed == (resp != NULL));
    if (!resp)
        return;
    const Ttrpc__Status *s = resp->status;
    const char *m = s && s->message ? s->message : "";
    FUZZ_ASSERT(v.code == (s ? s->code : 0));
    /* protobuf-c's copy ends at the first NUL; ours keeps the bytes. */
    FUZZ_ASSERT(v.message_len >= strlen(m));
    FUZZ_ASSERT(!memcmp(v.message ? v.message : "", m, strlen(m)));
    FUZZ_ASSERT(v.payload_len == resp->payload.len);
    FUZZ_ASSERT(!v.payload_len ||
                !memcmp(v.payload, resp->payload.data, v.payload_len));
}

/* The same string, and absent (protobuf-c's empty default) alike. */
static bool same_str(const char *a, const char *b)
{
    return (a == protobuf_c_empty_string) == (b == protobuf_c_empty_string) &&
           !strcmp(a, b);
}

/* The server's hand decoder accepts exactly what protobuf-c accepts and
 * fills the same fields, the payload either in place (a pointer into
 * msg) or copied; a refusal allocates nothing. */
static void check_request_decode(const uint8_t *msg, size_t len,
                                 const Ttrpc__Request *want)
{
    for (int in_place = 0; in_place < 2; in_place++) {
        size_t blocks = fuzz_alloc_live_blocks();
        Ttrpc__Request *got = NULL;
        hvrpc_code c = hvrpc__request_decode(msg, len, &hvrpc__pb_allocator,
                                             in_place, &got);
        FUZZ_ASSERT(c == HVRPC_OK || c == HVRPC_INVALID_ARGUMENT);
        FUZZ_ASSERT((c == HVRPC_OK) == (want != NULL));
        FUZZ_ASSERT((got != NULL) == (want != NULL));
        if (!got) {
            FUZZ_ASSERT(fuzz_alloc_live_blocks() == blocks);
            continue;
        }
        FUZZ_ASSERT(fuzz_alloc_live_blocks() == blocks + 1); /* one block */
        FUZZ_ASSERT(got->base.descriptor == &ttrpc__request__descriptor);
        FUZZ_ASSERT(same_str(got->service, want->service));
        FUZZ_ASSERT(same_str(got->method, want->method));
        FUZZ_ASSERT(got->timeout_nano == want->timeout_nano);
        FUZZ_ASSERT(same_bytes(&got->payload, &want->payload));
        FUZZ_ASSERT((got->payload.data == NULL) ==
                    (want->payload.data == NULL));
        bool inside = got->payload.data >= msg &&
                      got->payload.data + got->payload.len <= msg + len;
        FUZZ_ASSERT(!got->payload.len || inside == (bool)in_place);
        FUZZ_ASSERT(got->n_metadata == want->n_metadata);
        FUZZ_ASSERT((got->metadata == NULL) == (want->metadata == NULL));
        for (size_t i = 0; i < want->n_metadata; i++) {
            const Ttrpc__KeyValue *g = got->metadata[i], *w = want->metadata[i];
            FUZZ_ASSERT(g->base.descriptor == &ttrpc__key_value__descriptor);
            FUZZ_ASSERT(same_str(g->key, w->key));
            FUZZ_ASSERT(same_str(g->value, w->value));
        }
        hvrpc__request_free(got, &hvrpc__pb_allocator);
        FUZZ_ASSERT(fuzz_alloc_live_blocks() == blocks);
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    fuzz_alloc_install();
    if (size < 3)
        return 0;
    hvrpc__request_limits lim = {data[0], data[1], (uint32_t)data[2] * 64};
    const uint8_t *msg = data + 3;
    size_t len = size - 3;

    Ttrpc__Request *req =
        ttrpc__request__unpack(&hvrpc__pb_allocator, len, msg);
    check_request_limits(msg, len, &lim, req);
    check_request_decode(msg, len, req);
    if (req) {
        roundtrip_request(req);
        ttrpc__request__free_unpacked(req, &hvrpc__pb_allocator);
    }

    Ttrpc__Response *resp =
        ttrpc__response__unpack(&hvrpc__pb_allocator, len, msg);
    check_response_view(msg, len, resp);
    if (resp) {
        roundtrip_response(resp);
        ttrpc__response__free_unpacked(resp, &hvrpc__pb_allocator);
    }
    FUZZ_ASSERT(fuzz_alloc_live_blocks() == 0);

    /* The typed layer on a recursive type: refused when too deep, and
     * protobuf-c never sees what would recurse past the limit. */
    ProtobufCMessage *m = NULL;
    hvrpc_status st;
    hvrpc_code c = hvrpc_message_unpack(
        &google__protobuf__descriptor_proto__descriptor, msg, len, &m, &st);
    FUZZ_ASSERT((c == HVRPC_OK) == (m != NULL));
    FUZZ_ASSERT(c == HVRPC_OK || c == HVRPC_INVALID_ARGUMENT);
    if (m)
        protobuf_c_message_free_unpacked(m, NULL);
    return 0;
}
