/*
 * reflection_service.h - hvrpc.reflection.v1.Reflection (proto/hvrpc/
 * reflection/v1/reflection.proto): what an endpoint serves, and the
 * schemas behind it, so clients need no .proto (`hvrpc list`, `describe`,
 * `call -d`).
 *
 * It answers from what the server knows: the services registered on the
 * endpoint the request came through (hvrpc_endpoint_service_name()) and
 * the file descriptors recorded with the server
 * (hvrpc_server_add_file_descriptor(), which every generated register
 * function calls). A hand-written service (a bare hvrpc_service table) is
 * listed, with no file, unless its descriptor is recorded too.
 */
#ifndef HVRPC_REFLECTION_SERVICE_H
#define HVRPC_REFLECTION_SERVICE_H

#include <hvrpc/hvrpc.h>

#include "hvrpc/reflection/v1/reflection.hvrpc.h"

/* Registers Reflection on ep. Only before the server starts. */
hvrpc_code hvrpc_reflection_register(hvrpc_server *srv, hvrpc_endpoint *ep,
                                     hvrpc_status *st);

#endif /* HVRPC_REFLECTION_SERVICE_H */
