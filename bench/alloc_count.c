/*
 * bench/alloc_count.c - the counting allocator (see alloc_count.h).
 *
 * Built with HVRPC_BENCH_COUNT_ALLOCS=1 except in sanitizer builds. The
 * definitions have default visibility (the project builds with hidden
 * visibility), so the executable exports them and they interpose on
 * glibc's for every shared library. One relaxed atomic add per
 * allocation: a few nanoseconds, in our processes and the gRPC peer's
 * alike.
 */
#include "alloc_count.h"

#if HVRPC_BENCH_COUNT_ALLOCS

#include <errno.h>
#include <malloc.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdlib.h>

#define EXPORT __attribute__((visibility("default")))

/* glibc's allocator under its internal names (exported by libc.so.6). */
extern void *__libc_malloc(size_t n);
extern void *__libc_calloc(size_t n, size_t size);
extern void *__libc_realloc(void *p, size_t n);
extern void __libc_free(void *p);
extern void *__libc_memalign(size_t align, size_t n);

static atomic_uint_fast64_t n_allocs;

static void count(void)
{
    atomic_fetch_add_explicit(&n_allocs, 1, memory_order_relaxed);
}

EXPORT void *malloc(size_t n)
{
    count();
    return __libc_malloc(n);
}

EXPORT void *calloc(size_t n, size_t size)
{
    count();
    return __libc_calloc(n, size);
}

EXPORT void *realloc(void *p, size_t n)
{
    count();
    return __libc_realloc(p, n);
}

EXPORT void free(void *p)
{
    __libc_free(p);
}

EXPORT void *memalign(size_t align, size_t n)
{
    count();
    return __libc_memalign(align, n);
}

EXPORT void *aligned_alloc(size_t align, size_t n)
{
    count();
    return __libc_memalign(align, n);
}

EXPORT int posix_memalign(void **out, size_t align, size_t n)
{
    if (align < sizeof(void *) || (align & (align - 1)) != 0)
        return EINVAL;
    count();
    void *p = __libc_memalign(align, n);
    if (!p)
        return ENOMEM;
    *out = p;
    return 0;
}

bool alloc_count_enabled(void)
{
    return true;
}

uint64_t alloc_count_get(void)
{
    return atomic_load_explicit(&n_allocs, memory_order_relaxed);
}

#else /* !HVRPC_BENCH_COUNT_ALLOCS */

bool alloc_count_enabled(void)
{
    return false;
}

uint64_t alloc_count_get(void)
{
    return 0;
}

#endif
