/*
 * wire.h - reading protobuf's wire format one field at a time, as
 * protobuf-c reads it. The envelope decoders (envelope.c) and the nesting
 * check before protobuf-c unpacks a message (message.c) walk bytes with it,
 * so both see the fields protobuf-c will see.
 */
#ifndef HVRPC__WIRE_H
#define HVRPC__WIRE_H

#include <stdbool.h>
#include <stdint.h>

#define WT_VARINT      0
#define WT_FIXED64     1
#define WT_LEN         2
#define WT_FIXED32     5
#define TAG(field, wt) ((uint32_t)(field) << 3 | (wt))

/* One field of a message on the wire. */
typedef struct hvrpc__wire_field {
    uint64_t number;
    unsigned type;       /* WT_VARINT, WT_LEN, WT_FIXED64, WT_FIXED32 */
    uint64_t value;      /* a varint's value */
    const uint8_t *data; /* WT_LEN: its bytes */
    uint64_t len;
} hvrpc__wire_field;

/* Reads a varint at *p (before end). False when truncated or too long. */
bool hvrpc__wire_varint(const uint8_t **p, const uint8_t *end, uint64_t *v);

/* Reads the field at *p and moves past it. False when malformed:
 * truncated, a tag or length prefix over 5 bytes, field 0, or a group. */
bool hvrpc__wire_next(const uint8_t **p, const uint8_t *end,
                      hvrpc__wire_field *f);

#endif
