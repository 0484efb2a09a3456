/*
 * message.c - decoding a protobuf-c message from untrusted bytes.
 *
 * protobuf-c recurses once per nested message and has no depth limit, so
 * before handing it the bytes we walk them once, guided by the descriptor,
 * and refuse nesting deeper than HVRPC_MAX_MESSAGE_DEPTH. The walk only
 * looks for depth: anything malformed ends it and is left to protobuf-c,
 * which rejects it.
 */
#include "hvrpc/limits.h"
#include "hvrpc/service.h"

#include "server_internal.h"

enum { WIRE_VARINT = 0, WIRE_64BIT = 1, WIRE_LEN = 2, WIRE_32BIT = 5 };

/* Reads a varint at p[*i]; false when it runs past len or beyond 10
 * bytes. */
static bool read_varint(const uint8_t *p, size_t len, size_t *i, uint64_t *out)
{
    uint64_t v = 0;
    for (unsigned shift = 0; shift < 70 && *i < len; shift += 7) {
        uint8_t b = p[(*i)++];
        v |= (uint64_t)(b & 0x7f) << shift;
        if (!(b & 0x80)) {
            *out = v;
            return true;
        }
    }
    return false;
}

/* False when a message field nests more than levels_left levels below
 * this message. */
static bool depth_ok(const ProtobufCMessageDescriptor *d, const uint8_t *p,
                     size_t len, unsigned levels_left)
{
    size_t i = 0;
    while (i < len) {
        uint64_t tag, n;
        if (!read_varint(p, len, &i, &tag))
            return true;
        switch (tag & 7) {
        case WIRE_VARINT:
            if (!read_varint(p, len, &i, &n))
                return true;
            break;
        case WIRE_64BIT:
            if (len - i < 8)
                return true;
            i += 8;
            break;
        case WIRE_32BIT:
            if (len - i < 4)
                return true;
            i += 4;
            break;
        case WIRE_LEN: {
            if (!read_varint(p, len, &i, &n) || n > len - i)
                return true;
            uint64_t number = tag >> 3;
            const ProtobufCFieldDescriptor *f = NULL;
            if (number <= UINT32_MAX)
                f = protobuf_c_message_descriptor_get_field(d,
                                                            (unsigned)number);
            if (f && f->type == PROTOBUF_C_TYPE_MESSAGE &&
                (levels_left == 0 ||
                 !depth_ok(f->descriptor, p + i, (size_t)n, levels_left - 1)))
                return false;
            i += (size_t)n;
            break;
        }
        default: /* groups and invalid wire types: protobuf-c's to refuse */
            return true;
        }
    }
    return true;
}

hvrpc_code hvrpc_message_unpack(const ProtobufCMessageDescriptor *type,
                                const uint8_t *data, size_t len,
                                ProtobufCMessage **out, hvrpc_status *st)
{
    return hvrpc__message_unpack(type, NULL, data, len, out, st);
}

hvrpc_code hvrpc__message_unpack(const ProtobufCMessageDescriptor *type,
                                 ProtobufCAllocator *allocator,
                                 const uint8_t *data, size_t len,
                                 ProtobufCMessage **out, hvrpc_status *st)
{
    *out = NULL;
    if (!depth_ok(type, data, len, HVRPC_MAX_MESSAGE_DEPTH - 1))
        return hvrpc_status_set(st, HVRPC_INVALID_ARGUMENT,
                                "%s nests messages deeper than %d levels",
                                type->name, HVRPC_MAX_MESSAGE_DEPTH);
    *out = protobuf_c_message_unpack(type, allocator, len, data);
    if (!*out)
        return hvrpc_status_set(st, HVRPC_INVALID_ARGUMENT,
                                "not a valid %s message", type->name);
    return HVRPC_OK;
}
