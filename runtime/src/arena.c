/* arena.c - a bump allocator with overflow chunks (arena.h). */
#include <string.h>

#include "alloc.h"
#include "arena.h"

#define ALIGN     16
#define CHUNK_MIN 4096

struct hvrpc__arena_chunk {
    hvrpc__arena_chunk *next;
    size_t cap, used;
    _Alignas(ALIGN) uint8_t data[];
};

static void *pb_alloc(void *data, size_t n)
{
    return hvrpc__arena_alloc(data, n);
}

static void pb_free(void *data, void *p)
{
    (void)data, (void)p; /* all of it goes with the arena */
}

void hvrpc__arena_init(hvrpc__arena *a, uint8_t *base, size_t cap)
{
    memset(a, 0, sizeof *a);
    size_t skip = (ALIGN - (uintptr_t)base % ALIGN) % ALIGN;
    a->base = base + (skip < cap ? skip : cap);
    a->cap = skip < cap ? cap - skip : 0;
    a->pb = (ProtobufCAllocator){pb_alloc, pb_free, a};
}

static size_t round_up(size_t n)
{
    return (n + ALIGN - 1) & ~(size_t)(ALIGN - 1);
}

void *hvrpc__arena_alloc(hvrpc__arena *a, size_t n)
{
    n = round_up(n ? n : 1);
    if (n <= a->cap - a->used) {
        void *p = a->base + a->used;
        a->used += n;
        return p;
    }
    hvrpc__arena_chunk *c = a->extra;
    if (c && n <= c->cap - c->used) {
        void *p = c->data + c->used;
        c->used += n;
        return p;
    }
    size_t cap = n > CHUNK_MIN ? n : CHUNK_MIN;
    c = hvrpc__malloc(sizeof *c + cap);
    if (!c)
        return NULL;
    c->cap = cap;
    c->used = n;
    c->next = a->extra;
    a->extra = c;
    return c->data;
}

void hvrpc__arena_release(hvrpc__arena *a)
{
    while (a->extra) {
        hvrpc__arena_chunk *c = a->extra;
        a->extra = c->next;
        hvrpc__free(c);
    }
}
