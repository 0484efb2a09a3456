/*
 * fuzz_message.c - decoding a message with its large bytes fields left in
 * the input (runtime/src/message.c, what hvrpc_call_decode does with a
 * call's request) against protobuf-c decoding the same bytes plainly.
 *
 * Input: byte 0 picks the type (bit 0: hvrpc.fuzz.v1.Blobs, proto3, or
 * Blobs2, proto2) and byte 1 the smallest field left in place (1 + byte
 * 1 % 64, so small inputs reach it); the rest is the message. Checks:
 * - both decoders accept the same bytes;
 * - what they decode is the same message: protobuf-c packs both into the
 *   same bytes (unknown fields included);
 * - every singular top-level bytes field at least that long, outside a
 *   oneof and not required, points into the input; nothing else does;
 * - the arena holds nothing once released, the runtime's allocator
 *   nothing either.
 */
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "arena.h"
#include "fuzz.h"
#include "hvrpc/fuzz/v1/blobs.pb-c.h"
#include "hvrpc/fuzz/v1/blobs2.pb-c.h"
#include "server_internal.h"

static bool inside(const void *p, const uint8_t *data, size_t len)
{
    const uint8_t *b = p;
    return b && b >= data && b < data + len;
}

/* The in-place promise, field by field, for the top level of msg. */
static void check_fields(const ProtobufCMessage *msg, const uint8_t *data,
                         size_t len, size_t min)
{
    const ProtobufCMessageDescriptor *d = msg->descriptor;
    for (unsigned i = 0; i < d->n_fields; i++) {
        const ProtobufCFieldDescriptor *fd = &d->fields[i];
        if (fd->type != PROTOBUF_C_TYPE_BYTES ||
            fd->label == PROTOBUF_C_LABEL_REPEATED)
            continue;
        const ProtobufCBinaryData *bd =
            (const ProtobufCBinaryData *)((const char *)msg + fd->offset);
        bool placeable = fd->label != PROTOBUF_C_LABEL_REQUIRED &&
                         !(fd->flags & PROTOBUF_C_FIELD_FLAG_ONEOF);
        if (fd->flags & PROTOBUF_C_FIELD_FLAG_ONEOF) {
            uint32_t which =
                *(const uint32_t *)((const char *)msg + fd->quantifier_offset);
            if (which != fd->id)
                continue; /* another member's bytes */
        }
        /* An absent optional field holds its default, not the input. */
        if (fd->label == PROTOBUF_C_LABEL_OPTIONAL &&
            !*(const protobuf_c_boolean *)((const char *)msg +
                                           fd->quantifier_offset))
            placeable = false;
        FUZZ_ASSERT(inside(bd->data, data, len) ==
                    (placeable && bd->len >= min && bd->len > 0));
    }
}

static uint8_t *pack(const ProtobufCMessage *m, size_t *n)
{
    *n = protobuf_c_message_get_packed_size(m);
    uint8_t *b = malloc(*n ? *n : 1);
    FUZZ_ASSERT(b && protobuf_c_message_pack(m, b) == *n);
    return b;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 2)
        return 0;
    fuzz_alloc_install();
    const ProtobufCMessageDescriptor *type =
        data[0] & 1 ? &hvrpc__fuzz__v1__blobs2__descriptor
                    : &hvrpc__fuzz__v1__blobs__descriptor;
    size_t min = 1 + data[1] % 64;
    const uint8_t *msg = data + 2;
    size_t len = size - 2;
    /* A copy of its own, so ASan sees a read past the message. */
    uint8_t *in = malloc(len ? len : 1);
    FUZZ_ASSERT(in);
    if (len)
        memcpy(in, msg, len);

    hvrpc_status st;
    ProtobufCMessage *plain = NULL, *placed = NULL;
    hvrpc_code pc = hvrpc__message_unpack(type, NULL, in, len, 0, &plain, &st);
    uint8_t first[256];
    hvrpc__arena arena;
    hvrpc__arena_init(&arena, first, sizeof first);
    hvrpc_code ic =
        hvrpc__message_unpack(type, &arena.pb, in, len, min, &placed, &st);
    FUZZ_ASSERT(pc == ic);
    FUZZ_ASSERT((plain != NULL) == (pc == HVRPC_OK));
    FUZZ_ASSERT((placed != NULL) == (ic == HVRPC_OK));
    if (plain && placed) {
        check_fields(placed, in, len, min);
        size_t pn, qn;
        uint8_t *p = pack(plain, &pn), *q = pack(placed, &qn);
        FUZZ_ASSERT(pn == qn && memcmp(p, q, pn) == 0);
        free(p);
        free(q);
    }
    if (plain)
        protobuf_c_message_free_unpacked(plain, NULL);
    /* The arena's free does nothing: this only must not touch the input. */
    if (placed)
        protobuf_c_message_free_unpacked(placed, &arena.pb);
    hvrpc__arena_release(&arena);
    free(in);
    FUZZ_ASSERT(fuzz_alloc_live_blocks() == 0);
    return 0;
}
