/* idmap.c - the stream-id hash map (idmap.h). */
#include "idmap.h"

#include "alloc.h"

#define FIRST_BUCKETS 64

/* Client ids are odd and increase by two: dropping the low bit spreads
 * consecutive calls over consecutive buckets. */
static size_t slot(size_t nb, uint32_t id)
{
    return (id >> 1) & (nb - 1);
}

static bool grow(hvrpc__idmap *m)
{
    size_t nb = m->nb ? 2 * m->nb : FIRST_BUCKETS;
    hvrpc__idnode **b = hvrpc__calloc(nb, sizeof *b);
    if (!b)
        return false;
    for (size_t i = 0; i < m->nb; i++) {
        hvrpc__idnode *q = m->b[i];
        while (q) {
            hvrpc__idnode *next = q->next;
            size_t j = slot(nb, q->id);
            q->next = b[j];
            b[j] = q;
            q = next;
        }
    }
    hvrpc__free(m->b);
    m->b = b;
    m->nb = nb;
    return true;
}

bool hvrpc__idmap_insert(hvrpc__idmap *m, hvrpc__idnode *n)
{
    if (m->n >= 2 * m->nb && !grow(m))
        return false;
    size_t i = slot(m->nb, n->id);
    n->next = m->b[i];
    m->b[i] = n;
    m->n++;
    return true;
}

hvrpc__idnode *hvrpc__idmap_find(const hvrpc__idmap *m, uint32_t id)
{
    if (!m->nb)
        return NULL;
    for (hvrpc__idnode *n = m->b[slot(m->nb, id)]; n; n = n->next)
        if (n->id == id)
            return n;
    return NULL;
}

hvrpc__idnode *hvrpc__idmap_remove(hvrpc__idmap *m, uint32_t id)
{
    if (!m->nb)
        return NULL;
    for (hvrpc__idnode **pp = &m->b[slot(m->nb, id)]; *pp; pp = &(*pp)->next) {
        hvrpc__idnode *n = *pp;
        if (n->id == id) {
            *pp = n->next;
            n->next = NULL;
            m->n--;
            return n;
        }
    }
    return NULL;
}

hvrpc__idnode *hvrpc__idmap_take_all(hvrpc__idmap *m)
{
    hvrpc__idnode *all = NULL;
    for (size_t i = 0; i < m->nb; i++) {
        hvrpc__idnode *n = m->b[i];
        while (n) {
            hvrpc__idnode *next = n->next;
            n->next = all;
            all = n;
            n = next;
        }
    }
    hvrpc__idmap_free(m);
    return all;
}

void hvrpc__idmap_each(const hvrpc__idmap *m,
                       void (*fn)(hvrpc__idnode *n, void *arg), void *arg)
{
    for (size_t i = 0; i < m->nb; i++)
        for (hvrpc__idnode *n = m->b[i]; n;) {
            hvrpc__idnode *next = n->next;
            fn(n, arg);
            n = next;
        }
}

void hvrpc__idmap_free(hvrpc__idmap *m)
{
    hvrpc__free(m->b);
    m->b = NULL;
    m->nb = m->n = 0;
}
