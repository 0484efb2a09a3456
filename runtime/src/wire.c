/* wire.c - protobuf's wire format, a field at a time (wire.h). */
#include "wire.h"

bool hvrpc__wire_varint(const uint8_t **p, const uint8_t *end, uint64_t *v)
{
    *v = 0;
    for (unsigned shift = 0; shift < 64 && *p < end; shift += 7) {
        uint8_t b = *(*p)++;
        *v |= (uint64_t)(b & 0x7F) << shift;
        if (!(b & 0x80))
            return true;
    }
    return false;
}

bool hvrpc__wire_next(const uint8_t **p, const uint8_t *end,
                      hvrpc__wire_field *f)
{
    /* Tags are read as protobuf-c reads them, so we see the fields it
     * will: at most 5 bytes, bits past 32 dropped, and a first byte with
     * no field number bits refused (field 0). Groups (wire types 3 and 4)
     * are refused: nothing we read by hand has one, and protobuf-c
     * refuses them too. */
    uint64_t tag;
    const uint8_t *start = *p;
    if (*p < end && (**p & 0xf8) == 0)
        return false;
    if (!hvrpc__wire_varint(p, end, &tag) || *p - start > 5)
        return false;
    tag &= UINT32_MAX;
    f->number = tag >> 3;
    f->type = (unsigned)(tag & 7);
    f->len = 0;
    switch (f->type) {
    case WT_VARINT:
        return hvrpc__wire_varint(p, end, &f->value);
    case WT_FIXED64:
        f->len = 8;
        break;
    case WT_FIXED32:
        f->len = 4;
        break;
    case WT_LEN: /* a length prefix, like a tag, in at most 5 bytes */
        start = *p;
        if (!hvrpc__wire_varint(p, end, &f->len) || *p - start > 5)
            return false;
        break;
    default:
        return false;
    }
    if (f->len > (uint64_t)(end - *p))
        return false;
    f->data = *p;
    *p += f->len;
    return true;
}
