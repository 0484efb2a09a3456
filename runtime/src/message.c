/*
 * message.c - decoding a protobuf-c message from untrusted bytes.
 *
 * protobuf-c recurses once per nested message and has no depth limit, so
 * before handing it the bytes we walk them once, guided by the descriptor,
 * and refuse nesting deeper than HVRPC_MAX_MESSAGE_DEPTH. The walk only
 * looks for depth: anything malformed ends it and is left to protobuf-c,
 * which rejects it.
 *
 * protobuf-c also copies every bytes field out of the input. A call's
 * request lives as long as the message decoded from it, so there large
 * top-level bytes fields are left where they are: protobuf-c decodes the
 * rest (a copy of the input without them, small next to them) and the
 * fields are then pointed into the input.
 */
#include <string.h>

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

/* --- large bytes fields left in place ------------------------------- */

/* The most distinct fields left in place; a message with more large bytes
 * fields than this has the rest copied. */
#define IN_PLACE_FIELDS 8

typedef struct in_place {
    const ProtobufCFieldDescriptor *fd;
    const uint8_t *data; /* its last occurrence: protobuf-c keeps the last */
    size_t len;
    size_t wire; /* bytes of all its occurrences, tags included */
} in_place;

/* A field protobuf-c would hold as one ProtobufCBinaryData we may point
 * anywhere: a singular bytes field, not required (protobuf-c checks those
 * are there) and not in a oneof (a later member of the oneof would win). */
static bool placeable(const ProtobufCFieldDescriptor *fd)
{
    return fd && fd->type == PROTOBUF_C_TYPE_BYTES &&
           (fd->label == PROTOBUF_C_LABEL_OPTIONAL ||
            fd->label == PROTOBUF_C_LABEL_NONE) &&
           !(fd->flags & PROTOBUF_C_FIELD_FLAG_ONEOF);
}

/* The index of fd's slot in v[0, n), or n. */
static size_t slot_of(const in_place *v, size_t n,
                      const ProtobufCFieldDescriptor *fd)
{
    size_t i = 0;
    while (i < n && v[i].fd != fd)
        i++;
    return i;
}

/* Finds the fields to leave in place: those whose last occurrence is at
 * least min bytes long. Returns how many (0 for bytes that do not walk:
 * protobuf-c then sees them whole and refuses them), and in *rest_len
 * what is left of data without them. */
static size_t find_in_place(const ProtobufCMessageDescriptor *d,
                            const uint8_t *p, size_t len, size_t min,
                            in_place v[IN_PLACE_FIELDS], size_t *rest_len)
{
    in_place seen[IN_PLACE_FIELDS];
    size_t n_seen = 0;
    const uint8_t *end = p + len;
    hvrpc__wire_field f;
    while (p < end) {
        const uint8_t *start = p;
        if (!hvrpc__wire_next(&p, end, &f))
            return 0;
        if (f.type != WT_LEN)
            continue;
        const ProtobufCFieldDescriptor *fd =
            protobuf_c_message_descriptor_get_field(d, (unsigned)f.number);
        if (!placeable(fd))
            continue;
        size_t i = slot_of(seen, n_seen, fd);
        if (i == n_seen) {
            if (n_seen == IN_PLACE_FIELDS)
                continue; /* protobuf-c copies this one */
            seen[n_seen++] = (in_place){.fd = fd};
        }
        seen[i].data = f.data;
        seen[i].len = (size_t)f.len;
        seen[i].wire += (size_t)(p - start);
    }
    size_t n = 0;
    *rest_len = len;
    for (size_t i = 0; i < n_seen; i++)
        if (seen[i].len >= min) {
            v[n++] = seen[i];
            *rest_len -= seen[i].wire;
        }
    return n;
}

/* Copies the fields of data[0, len) into out but every length-delimited
 * occurrence of the fields in v. */
static void without_in_place(const ProtobufCMessageDescriptor *d,
                             const uint8_t *p, size_t len, const in_place *v,
                             size_t n, uint8_t *out)
{
    const uint8_t *end = p + len;
    hvrpc__wire_field f;
    while (p < end) {
        const uint8_t *start = p;
        hvrpc__wire_next(&p, end, &f); /* walked once already */
        if (f.type == WT_LEN && slot_of(v, n,
                                        protobuf_c_message_descriptor_get_field(
                                            d, (unsigned)f.number)) < n)
            continue;
        memcpy(out, start, (size_t)(p - start));
        out += p - start;
    }
}

static void place(ProtobufCMessage *msg, const in_place *v, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        const ProtobufCFieldDescriptor *fd = v[i].fd;
        ProtobufCBinaryData *bd =
            (ProtobufCBinaryData *)((char *)msg + fd->offset);
        bd->data = (uint8_t *)v[i].data;
        bd->len = v[i].len;
        if (fd->label == PROTOBUF_C_LABEL_OPTIONAL)
            *(protobuf_c_boolean *)((char *)msg + fd->quantifier_offset) = 1;
    }
}

/* protobuf-c's unpack, with the fields found by find_in_place left in
 * data. RESOURCE_EXHAUSTED-worthy failures and refusals both give NULL;
 * the caller tells them apart by its allocator. */
static ProtobufCMessage *unpack_in_place(const ProtobufCMessageDescriptor *d,
                                         ProtobufCAllocator *a,
                                         const uint8_t *data, size_t len,
                                         size_t min)
{
    in_place v[IN_PLACE_FIELDS];
    size_t rest_len;
    size_t n = find_in_place(d, data, len, min, v, &rest_len);
    if (n == 0)
        return protobuf_c_message_unpack(d, a, len, data);
    uint8_t *rest = rest_len ? a->alloc(a->allocator_data, rest_len) : NULL;
    if (rest_len && !rest)
        return NULL;
    if (rest)
        without_in_place(d, data, len, v, n, rest);
    ProtobufCMessage *msg = protobuf_c_message_unpack(d, a, rest_len, rest);
    if (rest)
        a->free(a->allocator_data, rest);
    if (msg)
        place(msg, v, n);
    return msg;
}

/* --- entry points ---------------------------------------------------- */

hvrpc_code hvrpc_message_unpack(const ProtobufCMessageDescriptor *type,
                                const uint8_t *data, size_t len,
                                ProtobufCMessage **out, hvrpc_status *st)
{
    return hvrpc__message_unpack(type, NULL, data, len, 0, out, st);
}

hvrpc_code hvrpc__message_unpack(const ProtobufCMessageDescriptor *type,
                                 ProtobufCAllocator *allocator,
                                 const uint8_t *data, size_t len,
                                 size_t in_place_min, ProtobufCMessage **out,
                                 hvrpc_status *st)
{
    *out = NULL;
    if (!depth_ok(type, data, len, HVRPC_MAX_MESSAGE_DEPTH - 1))
        return hvrpc_status_set(st, HVRPC_INVALID_ARGUMENT,
                                "%s nests messages deeper than %d levels",
                                type->name, HVRPC_MAX_MESSAGE_DEPTH);
    *out = in_place_min && allocator && len
               ? unpack_in_place(type, allocator, data, len, in_place_min)
               : protobuf_c_message_unpack(type, allocator, len, data);
    if (!*out)
        return hvrpc_status_set(st, HVRPC_INVALID_ARGUMENT,
                                "not a valid %s message", type->name);
    return HVRPC_OK;
}
