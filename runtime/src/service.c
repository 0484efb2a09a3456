/*
 * service.c - a service's endpoint (from its .proto options or the
 * environment) and decoding a call's request for a typed handler.
 */
#include <stdio.h>
#include <stdlib.h>

#include "hvrpc/service.h"

#include "alloc.h"
#include "options.h"
#include "server_internal.h"

/* Bytes fields this long or longer in a request decoded by
 * hvrpc_call_decode point into the request (message.c); shorter ones
 * cost less to copy than to keep out of protobuf-c's way. */
#define IN_PLACE_MIN 1024

/* Longest URI built here: hvsock://wildcard/<36-character GUID>. A URI
 * from the environment is used as it is. */
#define SERVICE_URI_MAX 64

/* The address of svc: for a guest connecting to it (listen false) or for
 * the host listening on it. The environment's URI when set (*from_env),
 * else one built into buf from the port or GUID. */
static hvrpc_code service_uri(const hvrpc_service_info *svc, bool listen,
                              char buf[SERVICE_URI_MAX], const char **uri,
                              bool *from_env, hvrpc_status *st)
{
    if (!svc)
        return hvrpc_status_set(st, HVRPC_INVALID_ARGUMENT,
                                "service info is required");
    /* Generated tables carry the size they were built with: a runtime that
     * grows the struct must still accept the older size here. */
    hvrpc_code c =
        hvrpc__check_options_size("service info", svc->size, sizeof *svc, st);
    if (c != HVRPC_OK)
        return c;
    const char *env = svc->env_var ? getenv(svc->env_var) : NULL;
    *from_env = env && *env;
    if (*from_env) {
        *uri = env;
        return HVRPC_OK;
    }
    if (!svc->vsock_port && !svc->service_guid)
        return hvrpc_status_set(st, HVRPC_FAILED_PRECONDITION,
                                "%s has no (hvrpc.vsock_port) or "
                                "(hvrpc.service_guid) option: set %s to its "
                                "address",
                                svc->name, svc->env_var);
#ifdef _WIN32
    snprintf(buf, SERVICE_URI_MAX, "hvsock://%s/%s",
             listen ? "wildcard" : "parent", svc->service_guid);
#else
    /* A Linux guest reaches its host at CID 2, on KVM and Hyper-V alike. A
     * GUID that is no port's (a Windows-only service) goes to the hvsock
     * transport, which says why Linux cannot reach it. */
    if (svc->vsock_port)
        snprintf(buf, SERVICE_URI_MAX, "vsock://%s:%u", listen ? "any" : "2",
                 (unsigned)svc->vsock_port);
    else
        snprintf(buf, SERVICE_URI_MAX, "hvsock://%s/%s",
                 listen ? "wildcard" : "parent", svc->service_guid);
#endif
    *uri = buf;
    return HVRPC_OK;
}

/* Rewrites st to name the service and the address tried. */
static hvrpc_code explain(hvrpc_code code, const hvrpc_service_info *svc,
                          const char *uri, bool from_env, hvrpc_status *st)
{
    if (!st)
        return code;
    char why[HVRPC_STATUS_MESSAGE_MAX];
    snprintf(why, sizeof why, "%s", st->message);
    return hvrpc_status_set(st, code, "%s at %s%s%s%s: %s", svc->name, uri,
                            from_env ? " (" : "", from_env ? svc->env_var : "",
                            from_env ? ")" : "", why);
}

hvrpc_code hvrpc_client_connect_host(const hvrpc_service_info *svc,
                                     const hvrpc_client_options *opts,
                                     hvrpc_client **out, hvrpc_status *st)
{
    char buf[SERVICE_URI_MAX];
    const char *uri = NULL;
    bool from_env = false;
    hvrpc_code c = service_uri(svc, false, buf, &uri, &from_env, st);
    if (c != HVRPC_OK)
        return c;
    c = hvrpc_client_connect(uri, opts, out, st);
    return c == HVRPC_OK ? c : explain(c, svc, uri, from_env, st);
}

hvrpc_code hvrpc_server_listen_service(hvrpc_server *srv,
                                       const hvrpc_service_info *svc,
                                       hvrpc_endpoint **ep, hvrpc_status *st)
{
    char buf[SERVICE_URI_MAX];
    const char *uri = NULL;
    bool from_env = false;
    hvrpc_code c = service_uri(svc, true, buf, &uri, &from_env, st);
    if (c != HVRPC_OK)
        return c;
    c = hvrpc_server_listen(srv, uri, ep, st);
    return c == HVRPC_OK ? c : explain(c, svc, uri, from_env, st);
}

ProtobufCMessage *hvrpc_call_decode(hvrpc_call *call,
                                    const ProtobufCMessageDescriptor *type,
                                    const uint8_t *data, size_t len)
{
    /* Decoded into the call's arena: it goes when the call does. So do
     * the call's request bytes, so large bytes fields read from them are
     * left there. */
    ProtobufCMessage *msg;
    hvrpc_status st;
    unsigned long failures = hvrpc__alloc_failures();
    size_t in_place = hvrpc__call_holds(call, data, len) ? IN_PLACE_MIN : 0;
    if (hvrpc__message_unpack(type, hvrpc__call_allocator(call), data, len,
                              in_place, &msg, &st) != HVRPC_OK) {
        if (hvrpc__alloc_failures() != failures)
            hvrpc_call_fail(call, HVRPC_RESOURCE_EXHAUSTED,
                            "out of memory decoding the request");
        else
            hvrpc_call_fail(call, HVRPC_INVALID_ARGUMENT, "request: %s",
                            st.message);
        return NULL;
    }
    return msg;
}
