/*
 * arena.h - a bump allocator for what lives exactly as long as one call:
 * its decoded ttrpc Request and the typed request decoded from it. One
 * block holds the call and its first arena bytes; what does not fit goes
 * to extra chunks; everything is freed at once with the call. protobuf-c
 * unpacks into it through arena->pb (whose free does nothing).
 *
 * One thread at a time: the loop decodes the envelope, then the handler's
 * thread the typed request.
 */
#ifndef HVRPC__ARENA_H
#define HVRPC__ARENA_H

#include <stddef.h>
#include <stdint.h>

#include <protobuf-c/protobuf-c.h>

typedef struct hvrpc__arena_chunk hvrpc__arena_chunk;

typedef struct hvrpc__arena {
    uint8_t *base; /* the first bytes, owned by whoever embeds the arena */
    size_t cap, used;
    hvrpc__arena_chunk *extra; /* more, hvrpc__malloc'd */
    ProtobufCAllocator pb;
} hvrpc__arena;

void hvrpc__arena_init(hvrpc__arena *a, uint8_t *base, size_t cap);
/* 16-byte aligned; NULL when out of memory. Thread-safe only in the
 * sense above: one thread at a time. */
void *hvrpc__arena_alloc(hvrpc__arena *a, size_t n);
/* Frees the extra chunks (base stays its owner's). */
void hvrpc__arena_release(hvrpc__arena *a);

#endif
