/*
 * peers.c - open connections counted per peer, so one guest cannot take
 * every connection slot. A peer is what the kernel says it is: a vsock
 * CID, a unix uid, a Hyper-V VmId, a tcp address without its port.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "alloc.h"
#include "server_internal.h"

#define BUCKETS 256
#define KEY_MAX (HVRPC_PEER_ADDR_MAX + 8) /* "tcp:" + an address */

struct hvrpc__peer_count {
    struct hvrpc__peer_count *next;
    uint32_t n;     /* open connections */
    uint32_t calls; /* calls not yet freed, their connection open or not */
    unsigned bucket;
    char key[KEY_MAX];
};

struct hvrpc__peer_table {
    struct hvrpc__peer_count *b[BUCKETS];
};

hvrpc__peer_table *hvrpc__peer_table_new(void)
{
    return hvrpc__calloc(1, sizeof(hvrpc__peer_table));
}

void hvrpc__peer_table_free(hvrpc__peer_table *t)
{
    if (!t)
        return;
    for (unsigned i = 0; i < BUCKETS; i++)
        while (t->b[i]) {
            struct hvrpc__peer_count *pc = t->b[i];
            t->b[i] = pc->next;
            hvrpc__free(pc);
        }
    hvrpc__free(t);
}

static void peer_key(const hvrpc_peer *p, char key[KEY_MAX])
{
    char vm[HVRPC_GUID_STRLEN];
    switch (p->kind) {
    case HVRPC_ADDR_VSOCK:
        snprintf(key, KEY_MAX, "cid:%" PRIu32, p->vsock_cid);
        return;
    case HVRPC_ADDR_UNIX:
    case HVRPC_ADDR_HYBRID_VSOCK:
    case HVRPC_ADDR_MEM:
        snprintf(key, KEY_MAX, "uid:%" PRId64, p->uid);
        return;
    case HVRPC_ADDR_HVSOCK:
        snprintf(key, KEY_MAX, "vm:%s", hvrpc_guid_format(&p->vm_id, vm));
        return;
    case HVRPC_ADDR_TCP: {
        /* "1.2.3.4:80" or "[::1]:80": the address without the port. */
        snprintf(key, KEY_MAX, "tcp:%s", p->tcp_addr);
        char *colon = strrchr(key, ':');
        if (colon && colon > key + 4)
            *colon = '\0';
        return;
    }
    }
    snprintf(key, KEY_MAX, "?");
}

/* FNV-1a: spreads short keys well enough for 256 buckets. */
static unsigned hash(const char *s)
{
    uint32_t h = 2166136261u;
    for (; *s; s++)
        h = (h ^ (uint8_t)*s) * 16777619u;
    return h % BUCKETS;
}

struct hvrpc__peer_count *hvrpc__peer_table_add(hvrpc__peer_table *t,
                                                const hvrpc_peer *peer,
                                                uint32_t max)
{
    char key[KEY_MAX];
    peer_key(peer, key);
    unsigned b = hash(key);
    struct hvrpc__peer_count *pc = t->b[b];
    while (pc && strcmp(pc->key, key) != 0)
        pc = pc->next;
    if (!pc) {
        pc = hvrpc__calloc(1, sizeof *pc);
        if (!pc)
            return NULL;
        memcpy(pc->key, key, sizeof key);
        pc->bucket = b;
        pc->next = t->b[b];
        t->b[b] = pc;
    }
    if (max && pc->n >= max)
        return NULL;
    pc->n++;
    return pc;
}

/* Frees pc once it counts nothing. */
static void release(hvrpc__peer_table *t, struct hvrpc__peer_count *pc)
{
    if (pc->n > 0 || pc->calls > 0)
        return;
    struct hvrpc__peer_count **pp = &t->b[pc->bucket];
    while (*pp != pc)
        pp = &(*pp)->next;
    *pp = pc->next;
    hvrpc__free(pc);
}

void hvrpc__peer_table_remove(hvrpc__peer_table *t,
                              struct hvrpc__peer_count *pc)
{
    pc->n--;
    release(t, pc);
}

bool hvrpc__peer_table_call_begin(struct hvrpc__peer_count *pc, uint32_t max)
{
    if (max && pc->calls >= max)
        return false;
    pc->calls++;
    return true;
}

void hvrpc__peer_table_call_end(hvrpc__peer_table *t,
                                struct hvrpc__peer_count *pc)
{
    pc->calls--;
    release(t, pc);
}
