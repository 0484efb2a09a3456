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
#include "wire.h"

/* False when a message field nests more than levels_left levels below
 * this message. */
static bool depth_ok(const ProtobufCMessageDescriptor *d, const uint8_t *p,
                     size_t len, unsigned levels_left)
{
    if (len == 0)
        return true; /* p may be NULL then: an empty message */
    const uint8_t *end = p + len;
    hvrpc__wire_field f;
    while (p < end && hvrpc__wire_next(&p, end, &f)) {
        if (f.type != WT_LEN)
            continue;
        /* number fits: the tag was cut to 32 bits */
        const ProtobufCFieldDescriptor *fd =
            protobuf_c_message_descriptor_get_field(d, (unsigned)f.number);
        if (fd && fd->type == PROTOBUF_C_TYPE_MESSAGE &&
            (levels_left == 0 ||
             !depth_ok(fd->descriptor, f.data, (size_t)f.len, levels_left - 1)))
            return false;
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
