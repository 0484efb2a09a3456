/* envelope.c - hand-encoded ttrpc Request and Response frames. */
#include <inttypes.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "alloc.h"
#include "envelope.h"
#include "frame.h"
#include "wire.h"

/* The field numbers of ttrpc/request.proto. */

enum { REQ_SERVICE = 1, REQ_METHOD, REQ_PAYLOAD, REQ_TIMEOUT, REQ_METADATA };
enum { KV_KEY = 1, KV_VALUE };
enum { RESP_STATUS = 1, RESP_PAYLOAD };
enum { STATUS_CODE = 1, STATUS_MESSAGE, STATUS_DETAILS };
enum { ANY_TYPE_URL = 1, ANY_VALUE };

static size_t varint_len(uint64_t v)
{
    size_t n = 1;
    while (v >= 0x80) {
        v >>= 7;
        n++;
    }
    return n;
}

static uint8_t *put_varint(uint8_t *p, uint64_t v)
{
    while (v >= 0x80) {
        *p++ = (uint8_t)(v | 0x80);
        v >>= 7;
    }
    *p++ = (uint8_t)v;
    return p;
}

/* Size of a length-delimited field with a body of n bytes. */
static size_t len_field_size(uint32_t field, size_t n)
{
    return varint_len(TAG(field, WT_LEN)) + varint_len(n) + n;
}

static uint8_t *put_len_header(uint8_t *p, uint32_t field, size_t n)
{
    p = put_varint(p, TAG(field, WT_LEN));
    return put_varint(p, n);
}

/* A string or bytes field; proto3 leaves empty ones out. */
static size_t bytes_field_size(uint32_t field, size_t n)
{
    return n ? len_field_size(field, n) : 0;
}

static uint8_t *put_bytes_field(uint8_t *p, uint32_t field, const void *b,
                                size_t n)
{
    if (!n)
        return p;
    p = put_len_header(p, field, n);
    memcpy(p, b, n);
    return p + n;
}

static size_t payload_len(const hvrpc__payload *pl)
{
    if (!pl)
        return 0;
    return pl->msg ? protobuf_c_message_get_packed_size(pl->msg) : pl->len;
}

/* Writes the payload field of n bytes at p, in out's data; a lent piece
 * (frame_buf.c) is left out of data and recorded in out. Returns where
 * data goes on. */
static uint8_t *put_payload(hvrpc__frame_buf *out, uint8_t *p, uint32_t field,
                            const hvrpc__payload *pl, size_t n,
                            const hvrpc__lent_piece *lp)
{
    if (!n)
        return p;
    if (!lp->len && !pl->msg)
        return put_bytes_field(p, field, pl->data, n);
    p = put_len_header(p, field, n);
    if (!lp->len)
        return p + protobuf_c_message_pack(pl->msg, p);
    if (pl->msg)
        hvrpc__lend_pack(pl->msg, p, lp);
    out->lent = lp->data;
    out->lent_at = (size_t)(p - out->data) + lp->at;
    out->lent_len = lp->len;
    return p + (n - lp->len);
}

static size_t kv_size(const hvrpc_metadata *kv)
{
    return bytes_field_size(KV_KEY, strlen(kv->key)) +
           bytes_field_size(KV_VALUE, strlen(kv->value));
}

hvrpc_code hvrpc__encode_request(uint32_t stream_id, const char *service,
                                 const char *method,
                                 const hvrpc__payload *payload,
                                 int64_t timeout_ns, const hvrpc_metadata *md,
                                 size_t n_md, uint32_t max_frame,
                                 hvrpc__frame_buf *out, hvrpc_status *st)
{
    size_t svc_len = strlen(service), meth_len = strlen(method);
    size_t pl_len = payload_len(payload);
    if (pl_len > max_frame)
        return hvrpc_status_set(st, HVRPC_RESOURCE_EXHAUSTED,
                                "request payload of %zu bytes exceeds this "
                                "client's maximum frame of %u bytes (not "
                                "sent)",
                                pl_len, max_frame);
    size_t n = bytes_field_size(REQ_SERVICE, svc_len) +
               bytes_field_size(REQ_METHOD, meth_len) +
               bytes_field_size(REQ_PAYLOAD, pl_len);
    if (timeout_ns > 0)
        n += varint_len(TAG(REQ_TIMEOUT, WT_VARINT)) +
             varint_len((uint64_t)timeout_ns);
    for (size_t i = 0; i < n_md && n <= max_frame; i++)
        n += len_field_size(REQ_METADATA, kv_size(&md[i]));
    if (n > max_frame)
        return hvrpc_status_set(st, HVRPC_RESOURCE_EXHAUSTED,
                                "request of %zu bytes exceeds this client's "
                                "maximum frame of %u bytes (not sent)",
                                n, max_frame);
    hvrpc__lent_piece lp = hvrpc__lend_find(payload);
    if (hvrpc__frame_buf_alloc(out, stream_id, HVRPC__FRAME_REQUEST, 0, n,
                               lp.len) != HVRPC_OK)
        return hvrpc_status_set(st, HVRPC_RESOURCE_EXHAUSTED,
                                "out of memory for a %zu-byte request", n);

    uint8_t *p = out->data + HVRPC__FRAME_HEADER_LEN;
    p = put_bytes_field(p, REQ_SERVICE, service, svc_len);
    p = put_bytes_field(p, REQ_METHOD, method, meth_len);
    p = put_payload(out, p, REQ_PAYLOAD, payload, pl_len, &lp);
    if (timeout_ns > 0) {
        p = put_varint(p, TAG(REQ_TIMEOUT, WT_VARINT));
        p = put_varint(p, (uint64_t)timeout_ns);
    }
    for (size_t i = 0; i < n_md; i++) {
        p = put_len_header(p, REQ_METADATA, kv_size(&md[i]));
        p = put_bytes_field(p, KV_KEY, md[i].key, strlen(md[i].key));
        p = put_bytes_field(p, KV_VALUE, md[i].value, strlen(md[i].value));
    }
    return HVRPC_OK;
}

hvrpc_code hvrpc__encode_response(uint32_t stream_id, hvrpc_code code,
                                  const char *message,
                                  const hvrpc__payload *payload,
                                  uint32_t max_frame, hvrpc__frame_buf *out)
{
    size_t msg_len = code != HVRPC_OK && message ? strlen(message) : 0;
    size_t status_len = 0;
    if (code != HVRPC_OK)
        status_len = varint_len(TAG(STATUS_CODE, WT_VARINT)) +
                     varint_len((uint64_t)code) +
                     bytes_field_size(STATUS_MESSAGE, msg_len);
    size_t pl_len = payload_len(payload);
    if (pl_len > max_frame)
        return HVRPC_RESOURCE_EXHAUSTED;
    size_t n =
        (code != HVRPC_OK ? len_field_size(RESP_STATUS, status_len) : 0) +
        bytes_field_size(RESP_PAYLOAD, pl_len);
    if (n > max_frame)
        return HVRPC_RESOURCE_EXHAUSTED;
    hvrpc__lent_piece lp = hvrpc__lend_find(payload);
    if (hvrpc__frame_buf_alloc(out, stream_id, HVRPC__FRAME_RESPONSE, 0, n,
                               lp.len) != HVRPC_OK)
        return HVRPC_RESOURCE_EXHAUSTED;

    uint8_t *p = out->data + HVRPC__FRAME_HEADER_LEN;
    if (code != HVRPC_OK) {
        p = put_len_header(p, RESP_STATUS, status_len);
        p = put_varint(p, TAG(STATUS_CODE, WT_VARINT));
        p = put_varint(p, (uint64_t)code);
        p = put_bytes_field(p, STATUS_MESSAGE, message, msg_len);
    }
    put_payload(out, p, RESP_PAYLOAD, payload, pl_len, &lp);
    return HVRPC_OK;
}

void hvrpc__frame_set_stream(hvrpc__frame_buf *f, uint32_t stream_id)
{
    hvrpc__frame_header h;
    hvrpc__frame_header_decode(f->data, &h);
    h.stream_id = stream_id;
    hvrpc__frame_header_encode(&h, f->data);
}

hvrpc_code hvrpc__request_check(const uint8_t *data, size_t len,
                                const hvrpc__request_limits *lim,
                                hvrpc_status *st)
{
    const uint8_t *p = data, *end = data + len;
    uint64_t md_entries = 0, md_bytes = 0;
    hvrpc__wire_field f;
    while (p < end) {
        if (!hvrpc__wire_next(&p, end, &f))
            goto malformed;
        if (f.type != WT_LEN)
            continue;
        if ((f.number == REQ_SERVICE || f.number == REQ_METHOD) &&
            lim->max_name && f.len > lim->max_name)
            return hvrpc_status_set(st, HVRPC_INVALID_ARGUMENT,
                                    "%s name of %" PRIu64 " bytes exceeds "
                                    "the limit of %u",
                                    f.number == REQ_SERVICE ? "service"
                                                            : "method",
                                    f.len, lim->max_name);
        if (f.number == REQ_METADATA) {
            md_entries++;
            md_bytes += f.len;
        }
    }
    if (lim->max_md_entries && md_entries > lim->max_md_entries)
        return hvrpc_status_set(st, HVRPC_RESOURCE_EXHAUSTED,
                                "%" PRIu64 " metadata entries exceed the "
                                "limit of %u",
                                md_entries, lim->max_md_entries);
    if (lim->max_md_bytes && md_bytes > lim->max_md_bytes)
        return hvrpc_status_set(st, HVRPC_RESOURCE_EXHAUSTED,
                                "%" PRIu64 " bytes of metadata exceed the "
                                "limit of %u",
                                md_bytes, lim->max_md_bytes);
    return HVRPC_OK;
malformed:
    return hvrpc_status_set(st, HVRPC_INVALID_ARGUMENT,
                            "malformed request: not a ttrpc Request message");
}

/* A string field as found on the wire: the last occurrence, if any. */
typedef struct wire_str {
    const uint8_t *data;
    size_t len;
    bool present;
} wire_str;

/* Room for a NUL-terminated copy of s (none when it is absent). */
static size_t str_room(const wire_str *s)
{
    return s->present ? s->len + 1 : 0;
}

/* A ttrpc KeyValue: its last key and value. False where protobuf-c would
 * refuse it. */
static bool parse_kv(const uint8_t *p, const uint8_t *end, wire_str *key,
                     wire_str *value)
{
    hvrpc__wire_field f;
    *key = *value = (wire_str){0};
    while (p < end) {
        if (!hvrpc__wire_next(&p, end, &f))
            return false;
        if (f.number != KV_KEY && f.number != KV_VALUE)
            continue; /* unknown: skipped */
        if (f.type != WT_LEN)
            return false;
        *(f.number == KV_KEY ? key : value) =
            (wire_str){f.data, (size_t)f.len, true};
    }
    return true;
}

/* What the first pass over a Request finds. */
typedef struct req_scan {
    wire_str service, method, payload;
    int64_t timeout;
    size_t n_md;
    uint64_t md_room; /* string bytes of every metadata entry */
} req_scan;

/* Checks the whole Request (nested entries too) as protobuf-c would,
 * keeping the last of each singular field and sizing the metadata. */
static bool scan_request(const uint8_t *p, const uint8_t *end, req_scan *s)
{
    hvrpc__wire_field f;
    memset(s, 0, sizeof *s);
    while (p < end) {
        if (!hvrpc__wire_next(&p, end, &f))
            return false;
        wire_str *str = NULL, key, value;
        switch (f.number) {
        case REQ_SERVICE:
            str = &s->service;
            break;
        case REQ_METHOD:
            str = &s->method;
            break;
        case REQ_PAYLOAD:
            str = &s->payload;
            break;
        case REQ_TIMEOUT:
            if (f.type != WT_VARINT)
                return false;
            s->timeout = (int64_t)f.value; /* int64: all 64 bits */
            continue;
        case REQ_METADATA:
            if (f.type != WT_LEN ||
                !parse_kv(f.data, f.data + f.len, &key, &value))
                return false;
            s->n_md++;
            s->md_room += str_room(&key) + str_room(&value);
            continue;
        default:
            continue; /* unknown: skipped */
        }
        if (f.type != WT_LEN)
            return false;
        *str = (wire_str){f.data, (size_t)f.len, true};
    }
    return true;
}

/* A NUL-terminated copy of s at *room, or protobuf-c's empty default
 * when it is absent. Advances *room. */
static char *put_str(const wire_str *s, char **room)
{
    if (!s->present)
        return (char *)protobuf_c_empty_string;
    char *str = *room;
    if (s->len)
        memcpy(str, s->data, s->len);
    str[s->len] = '\0';
    *room += s->len + 1;
    return str;
}

/* The block: the Request, its entries, their pointers, then bytes (so
 * each part is aligned as the one before it leaves it). */
_Static_assert(sizeof(Ttrpc__Request) % _Alignof(Ttrpc__KeyValue) == 0,
               "entries follow the request aligned");
_Static_assert(sizeof(Ttrpc__KeyValue) % _Alignof(Ttrpc__KeyValue *) == 0,
               "pointers follow the entries aligned");

hvrpc_code hvrpc__request_decode(const uint8_t *data, size_t len,
                                 ProtobufCAllocator *a, bool payload_in_place,
                                 Ttrpc__Request **out)
{
    const uint8_t *end = data + len;
    req_scan s;
    *out = NULL;
    if (!scan_request(data, end, &s))
        return HVRPC_INVALID_ARGUMENT;
    /* Every part is bounded by len (an entry takes at least 2 bytes of
     * it); the sum is computed wide so a 32-bit size_t cannot wrap. */
    uint64_t size = sizeof(Ttrpc__Request) +
                    (uint64_t)s.n_md *
                        (sizeof(Ttrpc__KeyValue) + sizeof(Ttrpc__KeyValue *)) +
                    str_room(&s.service) + str_room(&s.method) + s.md_room +
                    (payload_in_place ? 0 : s.payload.len);
    if ((size_t)size != size)
        return HVRPC_RESOURCE_EXHAUSTED;
    uint8_t *block = a->alloc(a->allocator_data, (size_t)size);
    if (!block)
        return HVRPC_RESOURCE_EXHAUSTED;

    Ttrpc__Request *req = (Ttrpc__Request *)block;
    Ttrpc__KeyValue *kv = (Ttrpc__KeyValue *)(req + 1);
    Ttrpc__KeyValue **kvp = (Ttrpc__KeyValue **)(kv + s.n_md);
    char *room = (char *)(kvp + s.n_md);
    ttrpc__request__init(req);
    req->service = put_str(&s.service, &room);
    req->method = put_str(&s.method, &room);
    req->timeout_nano = s.timeout;
    if (s.payload.len && payload_in_place) {
        req->payload.data = (uint8_t *)s.payload.data;
    } else if (s.payload.len) { /* protobuf-c: an empty payload has no data */
        req->payload.data = memcpy(room, s.payload.data, s.payload.len);
        room += s.payload.len;
    }
    req->payload.len = s.payload.len;
    req->n_metadata = s.n_md;
    req->metadata = s.n_md ? kvp : NULL;

    /* Second pass: the entries, already checked by the first. */
    const uint8_t *p = data;
    size_t i = 0;
    hvrpc__wire_field f;
    while (p < end && hvrpc__wire_next(&p, end, &f)) {
        if (f.number != REQ_METADATA)
            continue;
        wire_str key, value;
        parse_kv(f.data, f.data + f.len, &key, &value);
        ttrpc__key_value__init(&kv[i]);
        kv[i].key = put_str(&key, &room);
        kv[i].value = put_str(&value, &room);
        kvp[i] = &kv[i];
        i++;
    }
    *out = req;
    return HVRPC_OK;
}

void hvrpc__request_free(Ttrpc__Request *req, ProtobufCAllocator *a)
{
    if (req)
        a->free(a->allocator_data, req);
}

/* A google.protobuf.Any (a status detail): not read, but refused where
 * protobuf-c would refuse it, so both readers accept the same bytes. */
static bool well_formed_any(const uint8_t *p, uint64_t len)
{
    const uint8_t *end = p + len;
    hvrpc__wire_field f;
    while (p < end) {
        if (!hvrpc__wire_next(&p, end, &f))
            return false;
        if ((f.number == ANY_TYPE_URL || f.number == ANY_VALUE) &&
            f.type != WT_LEN)
            return false;
    }
    return true;
}

/* A google.rpc.Status into r. One that occurs twice is merged as
 * protobuf-c merges it (the decoder this one replaced): the code is the
 * last one's (0 when it has none), the message the last one sent. */
static bool parse_status(const uint8_t *p, const uint8_t *end,
                         hvrpc__response_view *r)
{
    hvrpc__wire_field f;
    r->code = 0;
    while (p < end) {
        if (!hvrpc__wire_next(&p, end, &f))
            return false;
        if (f.number == STATUS_CODE) {
            if (f.type != WT_VARINT)
                return false;
            r->code = (int32_t)(uint32_t)f.value; /* int32: the low bits */
        } else if (f.number == STATUS_MESSAGE) {
            if (f.type != WT_LEN)
                return false;
            r->message = (const char *)f.data;
            r->message_len = (size_t)f.len;
        } else if (f.number == STATUS_DETAILS &&
                   (f.type != WT_LEN || !well_formed_any(f.data, f.len))) {
            return false;
        }
        /* unknown fields: skipped */
    }
    return true;
}

bool hvrpc__response_parse(const uint8_t *data, size_t len,
                           hvrpc__response_view *r)
{
    const uint8_t *p = data, *end = data + len;
    memset(r, 0, sizeof *r);
    hvrpc__wire_field f;
    while (p < end) {
        if (!hvrpc__wire_next(&p, end, &f))
            return false;
        if (f.number != RESP_STATUS && f.number != RESP_PAYLOAD)
            continue; /* unknown: skipped, as protobuf does */
        if (f.type != WT_LEN)
            return false;
        if (f.number == RESP_PAYLOAD) {
            r->payload = f.data;
            r->payload_len = (size_t)f.len;
        } else if (!parse_status(f.data, f.data + f.len, r)) {
            return false;
        }
    }
    return true;
}

void hvrpc__response_status(const hvrpc__response_view *r, hvrpc_status *st)
{
    hvrpc_status_clear(st);
    if (r->code == 0)
        return;
    hvrpc_code code = hvrpc_code_from_wire(r->code);
    if (r->message_len)
        hvrpc_status_set(st, code, "%.*s", (int)r->message_len, r->message);
    else
        hvrpc_status_set(st, code, NULL);
}
