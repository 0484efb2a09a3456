/* access.c - endpoint allow lists and authorizers (hvrpc/access.h). */
#include <stdlib.h>

#include "alloc.h"
#include "server_internal.h"

static hvrpc_code add_entry(hvrpc_endpoint *ep, const hvrpc__allow *entry,
                            hvrpc_status *st)
{
    if (hvrpc__server_started(ep->srv))
        return hvrpc_status_set(st, HVRPC_FAILED_PRECONDITION,
                                "allow lists are set before "
                                "hvrpc_server_start()");
    hvrpc__allow *a = hvrpc__realloc(ep->allow, (ep->n_allow + 1) * sizeof *a);
    if (!a)
        return hvrpc_status_set(st, HVRPC_RESOURCE_EXHAUSTED,
                                "out of memory for an allow-list entry");
    ep->allow = a;
    ep->allow[ep->n_allow++] = *entry;
    return HVRPC_OK;
}

hvrpc_code hvrpc_endpoint_allow_vsock_cid(hvrpc_endpoint *ep, uint32_t cid,
                                          hvrpc_status *st)
{
    hvrpc__allow e = {.kind = HVRPC_ADDR_VSOCK, .id = cid};
    return add_entry(ep, &e, st);
}

hvrpc_code hvrpc_endpoint_allow_uid(hvrpc_endpoint *ep, uint32_t uid,
                                    hvrpc_status *st)
{
    hvrpc__allow e = {.kind = HVRPC_ADDR_UNIX, .id = uid};
    return add_entry(ep, &e, st);
}

hvrpc_code hvrpc_endpoint_allow_vm_id(hvrpc_endpoint *ep,
                                      const hvrpc_guid *vm_id, hvrpc_status *st)
{
    hvrpc__allow e = {.kind = HVRPC_ADDR_HVSOCK, .vm_id = *vm_id};
    return add_entry(ep, &e, st);
}

hvrpc_code hvrpc_endpoint_set_authorizer(hvrpc_endpoint *ep,
                                         hvrpc_authorize_fn fn, void *arg,
                                         hvrpc_status *st)
{
    if (hvrpc__server_started(ep->srv))
        return hvrpc_status_set(st, HVRPC_FAILED_PRECONDITION,
                                "authorizers are set before "
                                "hvrpc_server_start()");
    ep->authorize = fn;
    ep->authorize_arg = arg;
    return HVRPC_OK;
}

static bool matches(const hvrpc__allow *a, const hvrpc_peer *p)
{
    switch (p->kind) {
    case HVRPC_ADDR_VSOCK:
        return a->kind == HVRPC_ADDR_VSOCK && a->id == p->vsock_cid;
    case HVRPC_ADDR_UNIX:
    case HVRPC_ADDR_HYBRID_VSOCK:
    case HVRPC_ADDR_MEM:
        return a->kind == HVRPC_ADDR_UNIX && p->uid >= 0 &&
               a->id == (uint64_t)p->uid;
    case HVRPC_ADDR_HVSOCK:
        return a->kind == HVRPC_ADDR_HVSOCK &&
               hvrpc_guid_equal(&a->vm_id, &p->vm_id);
    case HVRPC_ADDR_TCP:
        break;
    }
    return false;
}

bool hvrpc__endpoint_admits(const hvrpc_endpoint *ep, const hvrpc_peer *peer)
{
    if (ep->n_allow == 0)
        return true;
    for (size_t i = 0; i < ep->n_allow; i++)
        if (matches(&ep->allow[i], peer))
            return true;
    return false;
}
