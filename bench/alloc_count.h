/*
 * bench/alloc_count.h - counts heap allocations of the whole process.
 *
 * alloc_count.c defines malloc, calloc, realloc, free and the aligned
 * allocators in the executable it is linked into. The dynamic linker then
 * binds every call to them, from the program and from every shared
 * library it loads (libhvrpc, libprotobuf-c, libgrpc++, libstdc++'s
 * operator new), to these definitions, which count and forward to glibc's
 * own allocator (__libc_malloc and friends). No LD_PRELOAD, no hooks.
 *
 * Sanitizer builds replace malloc themselves: there the counter is
 * compiled out and alloc_count_enabled() is false.
 */
#ifndef HVRPC_BENCH_ALLOC_COUNT_H
#define HVRPC_BENCH_ALLOC_COUNT_H

#include <stdbool.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* True when allocations are being counted in this build. */
bool alloc_count_enabled(void);

/* Allocations made so far by every thread: calls of malloc, calloc,
 * realloc and the aligned allocators (frees are not counted). */
uint64_t alloc_count_get(void);

#ifdef __cplusplus
}
#endif

#endif /* HVRPC_BENCH_ALLOC_COUNT_H */
