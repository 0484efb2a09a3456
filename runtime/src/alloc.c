/* alloc.c - one replaceable allocator for the whole runtime. */
#include <stdlib.h>
#include <string.h>

#include "hvrpc/alloc.h"

#include "alloc.h"

static void *libc_malloc(void *ctx, size_t n)
{
    (void)ctx;
    return malloc(n);
}

static void *libc_realloc(void *ctx, void *p, size_t n)
{
    (void)ctx;
    return realloc(p, n);
}

static void libc_free(void *ctx, void *p)
{
    (void)ctx;
    free(p);
}

static hvrpc_allocator current = {sizeof(hvrpc_allocator), libc_malloc,
                                  libc_realloc, libc_free, NULL};

hvrpc_code hvrpc_replace_allocator(const hvrpc_allocator *a, hvrpc_status *st)
{
    if (!a) {
        current = (hvrpc_allocator){sizeof current, libc_malloc, libc_realloc,
                                    libc_free, NULL};
        return HVRPC_OK;
    }
    if (a->size < sizeof *a || !a->malloc || !a->realloc || !a->free)
        return hvrpc_status_set(st, HVRPC_INVALID_ARGUMENT,
                                "allocator: size or a function missing");
    current = *a;
    return HVRPC_OK;
}

static _Thread_local unsigned long failures;

unsigned long hvrpc__alloc_failures(void)
{
    return failures;
}

void *hvrpc__malloc(size_t n)
{
    /* malloc(0) may return NULL, which would read as out of memory. */
    void *p = current.malloc(current.ctx, n ? n : 1);
    if (!p)
        failures++;
    return p;
}

void *hvrpc__calloc(size_t n, size_t size)
{
    if (size && n > (size_t)-1 / size)
        return NULL;
    void *p = hvrpc__malloc(n * size);
    if (p)
        memset(p, 0, n * size);
    return p;
}

void *hvrpc__realloc(void *p, size_t n)
{
    void *q = current.realloc(current.ctx, p, n ? n : 1);
    if (!q)
        failures++;
    return q;
}

void hvrpc__free(void *p)
{
    if (p)
        current.free(current.ctx, p);
}

static void *pb_alloc(void *data, size_t n)
{
    (void)data;
    return hvrpc__malloc(n);
}

static void pb_free(void *data, void *p)
{
    (void)data;
    hvrpc__free(p);
}

ProtobufCAllocator hvrpc__pb_allocator = {pb_alloc, pb_free, NULL};
