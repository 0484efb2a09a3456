/*
 * wire_out.c - writing the protobuf wire format, as the two encoders
 * (from_json.c, from_text.c) write it: tags, fixed-width and
 * length-delimited values, integers and floats by their field type, and
 * packed repeated fields. Each writes into a jbuf, whose oom flag carries
 * an allocation failure to the end of the encoding.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "json_internal.h"

#define T(x) GOOGLE__PROTOBUF__FIELD_DESCRIPTOR_PROTO__TYPE__TYPE_##x

int hvrpc_json__wire_type(Google__Protobuf__FieldDescriptorProto__Type type)
{
    switch (type) {
    case T(DOUBLE):
    case T(FIXED64):
    case T(SFIXED64):
        return WT_I64;
    case T(FLOAT):
    case T(FIXED32):
    case T(SFIXED32):
        return WT_I32;
    case T(STRING):
    case T(BYTES):
    case T(MESSAGE):
        return WT_LEN;
    case T(GROUP):
        return WT_SGROUP;
    default:
        return WT_VARINT;
    }
}

void hvrpc_json__put_tag(jbuf *b, uint32_t number, int wt)
{
    hvrpc_json__put_varint(b, (uint64_t)number << 3 | (uint64_t)wt);
}

void hvrpc_json__put_fixed(jbuf *b, uint64_t v, int bytes)
{
    uint8_t tmp[8];

    for (int i = 0; i < bytes; i++)
        tmp[i] = (uint8_t)(v >> (8 * i));
    hvrpc_json__put(b, tmp, (size_t)bytes);
}

void hvrpc_json__put_bytes(jbuf *b, const void *data, size_t len)
{
    hvrpc_json__put_varint(b, len);
    hvrpc_json__put(b, data, len);
}

void hvrpc_json__put_len(jbuf *b, const jbuf *inner)
{
    hvrpc_json__put_bytes(b, inner->data, inner->len);
    if (inner->oom)
        b->oom = true;
}

void hvrpc_json__put_buf(jbuf *b, const jbuf *inner)
{
    hvrpc_json__put(b, inner->data, inner->len);
    if (inner->oom)
        b->oom = true;
}

void hvrpc_json__put_signed(jbuf *b,
                            Google__Protobuf__FieldDescriptorProto__Type type,
                            int64_t v)
{
    switch (type) {
    case T(SFIXED32):
        hvrpc_json__put_fixed(b, (uint32_t)(int32_t)v, 4);
        break;
    case T(SFIXED64):
        hvrpc_json__put_fixed(b, (uint64_t)v, 8);
        break;
    case T(SINT32): /* zigzag: small magnitudes, small varints */
        hvrpc_json__put_varint(
            b, (uint32_t)(((uint32_t)v << 1) ^ (uint32_t)(v >> 31)));
        break;
    case T(SINT64):
        hvrpc_json__put_varint(b, ((uint64_t)v << 1) ^ (uint64_t)(v >> 63));
        break;
    default: /* int32, int64, enum: negative ones take ten bytes */
        hvrpc_json__put_varint(b, (uint64_t)v);
    }
}

void hvrpc_json__put_unsigned(jbuf *b,
                              Google__Protobuf__FieldDescriptorProto__Type type,
                              uint64_t v)
{
    if (type == T(FIXED32))
        hvrpc_json__put_fixed(b, v, 4);
    else if (type == T(FIXED64))
        hvrpc_json__put_fixed(b, v, 8);
    else
        hvrpc_json__put_varint(b, v);
}

bool hvrpc_json__put_double(jbuf *b, double v)
{
    uint64_t bits;

    memcpy(&bits, &v, sizeof(bits));
    hvrpc_json__put_fixed(b, bits, 8);
    return bits == 0;
}

bool hvrpc_json__put_float(jbuf *b, double v)
{
    float f;
    uint32_t bits;

    /* As protoc: beyond float's range is infinity (and what rounds to
     * FLT_MAX is FLT_MAX). The conversion itself would be undefined out
     * of range. */
    if (v >= 0x1.ffffffp+127)
        f = INFINITY;
    else if (v <= -0x1.ffffffp+127)
        f = -INFINITY;
    else
        f = (float)v;
    memcpy(&bits, &f, sizeof(bits));
    hvrpc_json__put_fixed(b, bits, 4);
    return bits == 0;
}

void hvrpc_json__put_packed(jbuf *b, uint32_t number, const jbuf *elems)
{
    if (elems->len > 0) {
        hvrpc_json__put_tag(b, number, WT_LEN);
        hvrpc_json__put_len(b, elems);
    } else if (elems->oom) {
        b->oom = true;
    }
}

hvrpc_code hvrpc_json__hand_over(jbuf *b, hvrpc_code code, const char *type,
                                 hvrpc_buf *out, hvrpc_status *st)
{
    if (code == HVRPC_OK && b->oom)
        code = hvrpc_status_set(st, HVRPC_RESOURCE_EXHAUSTED,
                                "out of memory encoding %s", type);
    if (code != HVRPC_OK) {
        free(b->data);
        return code;
    }
    out->data = b->data;
    out->len = b->len;
    return HVRPC_OK;
}
