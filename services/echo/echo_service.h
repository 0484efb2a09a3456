/*
 * echo_service.h - the built-in implementation of hvrpc.echo.v1.Echo
 * (proto/hvrpc/echo/v1/echo.proto).
 *
 * Its typed layer (handler table, register function, client stubs,
 * endpoint constants) is generated: hvrpc/echo/v1/echo.hvrpc.h, included
 * here for the callers' convenience.
 */
#ifndef HVRPC_ECHO_SERVICE_H
#define HVRPC_ECHO_SERVICE_H

#include <hvrpc/hvrpc.h>

#include "hvrpc/echo/v1/echo.hvrpc.h"

/* Registers the built-in echo implementation on ep: returns the payload
 * (or response_size bytes), the request metadata and the caller's identity;
 * waits delay_ms without holding a worker; fails with fail_code. */
hvrpc_code hvrpc_echo_service_register(hvrpc_server *srv, hvrpc_endpoint *ep,
                                       hvrpc_status *st);

#endif /* HVRPC_ECHO_SERVICE_H */
