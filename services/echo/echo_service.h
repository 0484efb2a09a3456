/*
 * echo_service.h - hvrpc.echo.v1.Echo (proto/hvrpc/echo/v1/echo.proto).
 *
 * Two layers: a typed handler table with its register function (what the
 * codegen issue will generate for every service), and the built-in echo
 * implementation registered through it.
 */
#ifndef HVRPC_ECHO_SERVICE_H
#define HVRPC_ECHO_SERVICE_H

#include <hvrpc/hvrpc.h>

#include "hvrpc/echo/v1/echo.pb-c.h"

#define HVRPC_ECHO_SERVICE_NAME "hvrpc.echo.v1.Echo"
#define HVRPC_ECHO_VSOCK_PORT   5000u

/* Typed handlers of hvrpc.echo.v1.Echo. The decoded request is valid until
 * the handler returns: a handler that answers later copies what it needs.
 * Answer with hvrpc_call_reply_message() or hvrpc_call_fail(). */
typedef struct hvrpc_echo_v1_echo_handlers {
    void (*echo)(hvrpc_call *call, const Hvrpc__Echo__V1__EchoRequest *req,
                 void *user_data);
} hvrpc_echo_v1_echo_handlers;

/* Registers the typed handlers on ep (table copied). A request that does
 * not decode is answered INVALID_ARGUMENT before any handler runs. */
hvrpc_code hvrpc_echo_v1_echo_register(hvrpc_server *srv, hvrpc_endpoint *ep,
                                       const hvrpc_echo_v1_echo_handlers *h,
                                       void *user_data, hvrpc_status *st);

/* Registers the built-in echo implementation on ep: returns the payload
 * (or response_size bytes), the request metadata and the caller's identity;
 * waits delay_ms without holding a worker; fails with fail_code. */
hvrpc_code hvrpc_echo_service_register(hvrpc_server *srv, hvrpc_endpoint *ep,
                                       hvrpc_status *st);

#endif /* HVRPC_ECHO_SERVICE_H */
