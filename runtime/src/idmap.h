/*
 * idmap.h - an intrusive hash map of nodes keyed by a stream id.
 *
 * The client keeps its pending calls in one and a server connection its
 * open streams: both look a frame's stream id up on every frame. Nodes
 * are embedded in the owner's struct (no allocation per entry); the map
 * owns only its bucket array, allocated at the first insert and doubled
 * when the chains grow past two nodes on average. Not thread-safe: the
 * owner guards it (with its connection's mutex).
 */
#ifndef HVRPC__IDMAP_H
#define HVRPC__IDMAP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct hvrpc__idnode {
    uint32_t id;
    struct hvrpc__idnode *next; /* the chain, or the list of take_all */
} hvrpc__idnode;

typedef struct hvrpc__idmap {
    hvrpc__idnode **b;
    size_t nb; /* buckets, a power of two; 0 before the first insert */
    size_t n;
} hvrpc__idmap;

/* The struct of type that holds member at ptr. */
#define HVRPC__CONTAINER_OF(ptr, type, member)                                 \
    ((type *)((char *)(ptr)-offsetof(type, member)))

/* Adds n (n->id set; ids are unique in the map). False when out of
 * memory, the map unchanged. */
bool hvrpc__idmap_insert(hvrpc__idmap *m, hvrpc__idnode *n);
hvrpc__idnode *hvrpc__idmap_find(const hvrpc__idmap *m, uint32_t id);
/* Unlinks and returns the node of id; NULL when absent. */
hvrpc__idnode *hvrpc__idmap_remove(hvrpc__idmap *m, uint32_t id);
/* Empties the map, returning its nodes chained by next. */
hvrpc__idnode *hvrpc__idmap_take_all(hvrpc__idmap *m);
/* Calls fn on every node; fn may not change the map. */
void hvrpc__idmap_each(const hvrpc__idmap *m,
                       void (*fn)(hvrpc__idnode *n, void *arg), void *arg);
/* Frees the buckets; the nodes are the owner's. */
void hvrpc__idmap_free(hvrpc__idmap *m);

#endif
