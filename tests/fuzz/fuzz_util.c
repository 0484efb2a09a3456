/* fuzz_util.c - the counting allocator and fuzz_fail (fuzz.h). */
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>

#include <hvrpc/alloc.h>

#include "fuzz.h"

/* Each block carries its size in front, so free knows what to subtract. */
#define HEAD 16

static atomic_size_t live_bytes, live_blocks, peak_bytes;

static void account(size_t add, size_t sub)
{
    size_t now = atomic_fetch_add(&live_bytes, add) + add;
    atomic_fetch_sub(&live_bytes, sub);
    now -= sub;
    size_t peak = atomic_load(&peak_bytes);
    while (now > peak && !atomic_compare_exchange_weak(&peak_bytes, &peak, now))
        ;
}

static void *count_malloc(void *ctx, size_t n)
{
    (void)ctx;
    unsigned char *p = malloc(HEAD + n);
    if (!p)
        return NULL;
    *(size_t *)p = n;
    atomic_fetch_add(&live_blocks, 1);
    account(n, 0);
    return p + HEAD;
}

static void count_free(void *ctx, void *q)
{
    (void)ctx;
    if (!q)
        return;
    unsigned char *p = (unsigned char *)q - HEAD;
    atomic_fetch_sub(&live_blocks, 1);
    atomic_fetch_sub(&live_bytes, *(size_t *)p);
    free(p);
}

static void *count_realloc(void *ctx, void *q, size_t n)
{
    if (!q)
        return count_malloc(ctx, n);
    unsigned char *p = (unsigned char *)q - HEAD;
    size_t old = *(size_t *)p;
    unsigned char *r = realloc(p, HEAD + n);
    if (!r)
        return NULL;
    *(size_t *)r = n;
    account(n, old);
    return r + HEAD;
}

void fuzz_alloc_install(void)
{
    static int done;
    if (done)
        return;
    done = 1;
    hvrpc_allocator a = {sizeof a, count_malloc, count_realloc, count_free,
                         NULL};
    hvrpc_status st;
    if (hvrpc_replace_allocator(&a, &st) != HVRPC_OK)
        fuzz_fail("hvrpc_replace_allocator: %s", st.message);
}

size_t fuzz_alloc_live_bytes(void)
{
    return atomic_load(&live_bytes);
}

size_t fuzz_alloc_live_blocks(void)
{
    return atomic_load(&live_blocks);
}

size_t fuzz_alloc_peak_bytes(void)
{
    return atomic_load(&peak_bytes);
}

void fuzz_alloc_reset_peak(void)
{
    atomic_store(&peak_bytes, atomic_load(&live_bytes));
}

void fuzz_fail(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fputs("FUZZ FINDING: ", stderr);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
    abort();
}
