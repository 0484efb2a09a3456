/*
 * health_service.h - grpc.health.v1.Health (proto/grpc/health/v1/
 * health.proto), gRPC's health checking protocol, on the generated layer.
 *
 * Check(service) answers, for the endpoint the request came through:
 *   ""                 SERVING, or NOT_SERVING once the server is stopping
 *                      or when set so with hvrpc_health_set("", ...);
 *   a registered name  SERVING unless set otherwise with hvrpc_health_set();
 *   any other name     the call fails NOT_FOUND ("unknown service NAME"),
 *                      as gRPC's health service does.
 */
#ifndef HVRPC_HEALTH_SERVICE_H
#define HVRPC_HEALTH_SERVICE_H

#include <hvrpc/hvrpc.h>

#include "grpc/health/v1/health.hvrpc.h"

typedef struct hvrpc_health hvrpc_health;

/* Creates the statuses one or more endpoints report. */
hvrpc_code hvrpc_health_create(hvrpc_health **out, hvrpc_status *st);

/* Sets the status reported for service ("" for the server as a whole),
 * e.g. GRPC__HEALTH__V1__HEALTH_CHECK_RESPONSE__SERVING_STATUS__NOT_SERVING.
 * From any thread, at any time. A name set here is known to Check even
 * when no endpoint registers it. */
hvrpc_code
hvrpc_health_set(hvrpc_health *h, const char *service,
                 Grpc__Health__V1__HealthCheckResponse__ServingStatus status,
                 hvrpc_status *st);

/* Registers Health on ep, answering from h. Only before the server
 * starts. h must outlive the server. */
hvrpc_code hvrpc_health_register(hvrpc_server *srv, hvrpc_endpoint *ep,
                                 hvrpc_health *h, hvrpc_status *st);

/* Frees h, after the servers it is registered with. h may be NULL. */
void hvrpc_health_free(hvrpc_health *h);

#endif /* HVRPC_HEALTH_SERVICE_H */
