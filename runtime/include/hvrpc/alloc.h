/*
 * hvrpc/alloc.h - where the runtime's memory comes from.
 *
 * Every allocation the runtime makes (its own structures, frames, and the
 * ttrpc envelopes protobuf-c decodes for it) goes through one allocator,
 * the C library's unless replaced. Replacing it lets a program count or
 * cap the runtime's memory, and lets tests fail each allocation in turn to
 * check that running out of memory ends in a clear status, never a crash
 * or a leak. Messages decoded for the typed layer (hvrpc/service.h) stay
 * on protobuf-c's default allocator, since their owners free them.
 */
#ifndef HVRPC_ALLOC_H
#define HVRPC_ALLOC_H

#include <stddef.h>

#include "hvrpc/status.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct hvrpc_allocator {
    size_t size; /* sizeof(hvrpc_allocator) */
    /* As malloc/realloc/free, plus ctx. malloc and realloc return NULL
     * when out of memory; free takes NULL. */
    void *(*malloc)(void *ctx, size_t n);
    void *(*realloc)(void *ctx, void *p, size_t n);
    void (*free)(void *ctx, void *p);
    void *ctx;
} hvrpc_allocator;

/* Makes a the runtime's allocator (copied), or restores the C library's
 * when a is NULL. Call it while no server or client exists: memory must be
 * freed by the allocator that gave it. INVALID_ARGUMENT for a table with a
 * missing function or a wrong size. */
HVRPC_API hvrpc_code hvrpc_replace_allocator(const hvrpc_allocator *a,
                                             hvrpc_status *st);

#ifdef __cplusplus
}
#endif

#endif /* HVRPC_ALLOC_H */
