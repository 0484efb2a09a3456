/*
 * tests/common/count_alloc.h - an allocator for the runtime (hvrpc/alloc.h)
 * that counts the blocks it holds, so a test can assert that nothing
 * leaked once its servers and clients are freed, and that fails the
 * allocations a hook picks, for out-of-memory tests.
 *
 *   hvrpc_allocator a = count_allocator();
 *   CHECK_INT(hvrpc_replace_allocator(&a, &st), HVRPC_OK);
 *   ... free every server and client ...
 *   CHECK_INT(atomic_load(&count_alloc_blocks), 0);
 */
#ifndef HVRPC_TEST_COUNT_ALLOC_H
#define HVRPC_TEST_COUNT_ALLOC_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stdlib.h>

#include "hvrpc/alloc.h"

/* Blocks handed out and not yet freed (a realloc of a block is the same
 * block). */
static atomic_long count_alloc_blocks;

/* When set, asked before every malloc and realloc: true fails that one
 * (NULL, nothing counted). NULL: nothing fails. */
static bool (*count_alloc_fail)(void);

static void *count_malloc(void *ctx, size_t n)
{
    (void)ctx;
    if (count_alloc_fail && count_alloc_fail())
        return NULL;
    void *p = malloc(n);
    if (p)
        atomic_fetch_add(&count_alloc_blocks, 1);
    return p;
}

static void *count_realloc(void *ctx, void *p, size_t n)
{
    (void)ctx;
    if (count_alloc_fail && count_alloc_fail())
        return NULL;
    void *q = realloc(p, n);
    if (q && !p)
        atomic_fetch_add(&count_alloc_blocks, 1);
    return q;
}

static void count_free(void *ctx, void *p)
{
    (void)ctx;
    if (p)
        atomic_fetch_sub(&count_alloc_blocks, 1);
    free(p);
}

static inline hvrpc_allocator count_allocator(void)
{
    return (hvrpc_allocator){.size = sizeof(hvrpc_allocator),
                             .malloc = count_malloc,
                             .realloc = count_realloc,
                             .free = count_free};
}

#endif /* HVRPC_TEST_COUNT_ALLOC_H */
