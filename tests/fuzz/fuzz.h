/*
 * fuzz.h - what the fuzz targets share: libFuzzer's entry point, a
 * counting allocator for the runtime (hvrpc/alloc.h) and how a target
 * reports a finding.
 *
 * Each target is one fuzz_<name>.c defining LLVMFuzzerTestOneInput(). The
 * HVRPC_FUZZ build links it with libFuzzer; the gcc builds link it with
 * replay.c, which runs it over the committed corpus once.
 */
#ifndef HVRPC_FUZZ_H
#define HVRPC_FUZZ_H

#include <stddef.h>
#include <stdint.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Makes the counting allocator the runtime's (once; later calls do
 * nothing). It never fails an allocation: it measures. */
void fuzz_alloc_install(void);
/* Bytes and blocks the runtime holds now, and the most bytes it held at
 * once since the last fuzz_alloc_reset_peak(). */
size_t fuzz_alloc_live_bytes(void);
size_t fuzz_alloc_live_blocks(void);
size_t fuzz_alloc_peak_bytes(void);
void fuzz_alloc_reset_peak(void);

/* Allocation failures driven by the input (the *_oom targets). The first
 * FUZZ_FAIL_PATTERN_LEN bytes of data choose them: byte 0 with its top bit
 * set fails exactly allocation 1 + (bytes 2-3, big-endian) from now on;
 * without it, one allocation in 1 + (byte 0 & 63) fails, which ones chosen
 * by a hash seeded with bytes 1-3. Returns the rest of the input (and
 * shortens *size), or NULL when the input is too short (nothing armed).
 * fuzz_alloc_fail_pause(1) suspends the pattern (the harness's own checks
 * need the runtime's encoder, say), fuzz_alloc_fail_pause(0) resumes it;
 * fuzz_alloc_fail_off() ends it; fuzz_alloc_failed() counts the
 * allocations it failed since it was armed. */
#define FUZZ_FAIL_PATTERN_LEN 4
const uint8_t *fuzz_alloc_fail(const uint8_t *data, size_t *size);
void fuzz_alloc_fail_pause(int paused);
void fuzz_alloc_fail_off(void);
size_t fuzz_alloc_failed(void);

/* A broken promise: prints why and aborts, so libFuzzer keeps the input
 * (and the replay run fails). */
#if defined(__GNUC__)
__attribute__((format(printf, 1, 2)))
#endif
_Noreturn void
fuzz_fail(const char *fmt, ...);

#define FUZZ_ASSERT(cond)                                                      \
    do {                                                                       \
        if (!(cond))                                                           \
            fuzz_fail("%s:%d: %s", __FILE__, __LINE__, #cond);                 \
    } while (0)

/* A small deterministic generator, for choices a target derives from its
 * input (chunk sizes, when to stop). */
static inline uint32_t fuzz_next(uint32_t *s)
{
    uint32_t x = *s ? *s : 0x9e3779b9u;
    x ^= x << 13;
    x ^= x >> 17;
    x ^= x << 5;
    return *s = x;
}

#endif
