/*
 * descriptors.c - what a server knows about its services' schemas: the
 * serialized FileDescriptorProtos that generated register functions hand
 * it, and the services registered on each endpoint. A reflection service
 * reads both (services/reflection).
 *
 * Written only before hvrpc_server_start() and read only after it, like
 * the dispatch tables, so no lock is needed.
 */
#include <stdatomic.h>
#include <string.h>

#include "alloc.h"
#include "hvrpc/service.h"
#include "server_internal.h"

struct hvrpc__files {
    const uint8_t **data;
    size_t *len;
    size_t n;
};

void hvrpc__files_free(struct hvrpc__files *files)
{
    if (!files)
        return;
    hvrpc__free(files->data);
    hvrpc__free(files->len);
    hvrpc__free(files);
}

hvrpc_code hvrpc_server_add_file_descriptor(hvrpc_server *srv,
                                            const uint8_t *data, size_t len,
                                            hvrpc_status *st)
{
    if (!srv || !data || len == 0)
        return hvrpc_status_set(st, HVRPC_INVALID_ARGUMENT,
                                "hvrpc_server_add_file_descriptor: no "
                                "descriptor");
    if (atomic_load(&srv->state) != SERVER_CREATED)
        return hvrpc_status_set(st, HVRPC_FAILED_PRECONDITION,
                                "hvrpc_server_add_file_descriptor: only "
                                "before hvrpc_server_start()");
    if (!srv->files) {
        srv->files = hvrpc__calloc(1, sizeof *srv->files);
        if (!srv->files)
            return hvrpc_status_set(st, HVRPC_RESOURCE_EXHAUSTED,
                                    "out of memory recording a descriptor");
    }
    struct hvrpc__files *f = srv->files;
    for (size_t i = 0; i < f->n; i++)
        if (f->len[i] == len &&
            (f->data[i] == data || memcmp(f->data[i], data, len) == 0))
            return HVRPC_OK; /* the same file, from another service */
    const uint8_t **d = hvrpc__realloc(f->data, (f->n + 1) * sizeof *d);
    if (!d)
        return hvrpc_status_set(st, HVRPC_RESOURCE_EXHAUSTED,
                                "out of memory recording a descriptor");
    f->data = d;
    size_t *l = hvrpc__realloc(f->len, (f->n + 1) * sizeof *l);
    if (!l)
        return hvrpc_status_set(st, HVRPC_RESOURCE_EXHAUSTED,
                                "out of memory recording a descriptor");
    f->len = l;
    f->data[f->n] = data;
    f->len[f->n] = len;
    f->n++;
    return HVRPC_OK;
}

size_t hvrpc_server_file_descriptor_count(const hvrpc_server *srv)
{
    return srv && srv->files ? srv->files->n : 0;
}

const uint8_t *hvrpc_server_file_descriptor_at(const hvrpc_server *srv,
                                               size_t i, size_t *len)
{
    if (i >= hvrpc_server_file_descriptor_count(srv)) {
        *len = 0;
        return NULL;
    }
    *len = srv->files->len[i];
    return srv->files->data[i];
}

size_t hvrpc_endpoint_service_count(const hvrpc_endpoint *ep)
{
    return ep ? ep->n_regs : 0;
}

const char *hvrpc_endpoint_service_name(const hvrpc_endpoint *ep, size_t i)
{
    return ep && i < ep->n_regs ? ep->regs[i].svc->name : NULL;
}
