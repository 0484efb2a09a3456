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

/* The failure pattern (fuzz_alloc_fail): off, one allocation, or a
 * seeded share of them. */
static atomic_int fail_kind; /* 0 off, 1 the nth, 2 one in one_in */
static atomic_ulong fail_count, fail_nth, fail_one_in, fail_seed, failed;

static int should_fail(void)
{
    int kind = atomic_load(&fail_kind);
    if (!kind)
        return 0;
    unsigned long i = atomic_fetch_add(&fail_count, 1) + 1;
    int fail;
    if (kind == 1) {
        fail = i == atomic_load(&fail_nth);
    } else {
        /* splitmix64 of (seed, i): the same input fails the same
         * allocations (in the order the runtime makes them). */
        uint64_t z = atomic_load(&fail_seed) + 0x9e3779b97f4a7c15u * i;
        z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9u;
        z = (z ^ (z >> 27)) * 0x94d049bb133111ebu;
        z ^= z >> 31;
        fail = z % atomic_load(&fail_one_in) == 0;
    }
    if (fail)
        atomic_fetch_add(&failed, 1);
    return fail;
}

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
    if (should_fail())
        return NULL;
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
    if (should_fail())
        return NULL;
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

const uint8_t *fuzz_alloc_fail(const uint8_t *data, size_t *size)
{
    fuzz_alloc_fail_off();
    if (*size < FUZZ_FAIL_PATTERN_LEN)
        return NULL;
    uint8_t b0 = data[0];
    unsigned long arg =
        (unsigned long)data[1] << 16 | (unsigned long)data[2] << 8 | data[3];
    atomic_store(&fail_count, 0);
    atomic_store(&failed, 0);
    if (b0 & 0x80) {
        atomic_store(&fail_nth, (arg & 0xffff) + 1);
        atomic_store(&fail_kind, 1);
    } else {
        atomic_store(&fail_one_in, (unsigned long)(b0 & 0x3f) + 1);
        atomic_store(&fail_seed, arg);
        atomic_store(&fail_kind, 2);
    }
    *size -= FUZZ_FAIL_PATTERN_LEN;
    return data + FUZZ_FAIL_PATTERN_LEN;
}

void fuzz_alloc_fail_pause(int paused)
{
    static int saved;
    if (paused) {
        saved = atomic_exchange(&fail_kind, 0);
    } else if (saved) {
        atomic_store(&fail_kind, saved);
        saved = 0;
    }
}

void fuzz_alloc_fail_off(void)
{
    atomic_store(&fail_kind, 0);
}

size_t fuzz_alloc_failed(void)
{
    return atomic_load(&failed);
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
