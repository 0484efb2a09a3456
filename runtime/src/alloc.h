/* alloc.h - the runtime's allocator (hvrpc/alloc.h), used everywhere. */
#ifndef HVRPC__ALLOC_H
#define HVRPC__ALLOC_H

#include <stddef.h>

#include <protobuf-c/protobuf-c.h>

void *hvrpc__malloc(size_t n);
/* Zeroed n * size bytes; NULL also when the product overflows. */
void *hvrpc__calloc(size_t n, size_t size);
void *hvrpc__realloc(void *p, size_t n);
void hvrpc__free(void *p);

/* Allocations that failed on this thread so far: protobuf-c's unpack
 * returns NULL both for bad bytes and for no memory, and comparing this
 * before and after tells the two apart. */
unsigned long hvrpc__alloc_failures(void);

/* The same allocator for protobuf-c's unpack and free_unpacked. */
extern ProtobufCAllocator hvrpc__pb_allocator;

#endif
