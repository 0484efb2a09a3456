/*
 * health_service.h - grpc.health.v1.Health (proto/grpc/health/v1/
 * health.proto), gRPC's health checking protocol, on the generated layer.
 *
 * Check(service) answers, for the endpoint the request came through:
 *   ""                 SERVING, or NOT_SERVING once the server is stopping
 *                      (or hvrpc_health_shutdown() was called) or when set
 *                      so with hvrpc_health_set("", ...);
 *   a registered name  SERVING unless set otherwise with hvrpc_health_set()
 *                      (NOT_SERVING too once stopping);
 *   a name set with hvrpc_health_set()  that status;
 *   any other name     the call fails NOT_FOUND ("unknown service NAME"),
 *                      as gRPC's health service does.
 *
 * Watch(service) streams the same status, as gRPC's does: the current one
 * at once, then one message each time it changes (hvrpc_health_set() from
 * any thread; NOT_SERVING at hvrpc_health_shutdown()). A name Check would
 * fail is reported SERVICE_UNKNOWN instead, and the stream stays open: a
 * later hvrpc_health_set() for it makes it known. Changes quicker than the
 * stream can carry them are merged: the client always gets the latest
 * status, never the same status twice in a row. The stream ends when the
 * client cancels it or goes away (the handler notices within about
 * 100 ms; it runs on a thread of its own, never a worker) and when the
 * server stops (UNAVAILABLE; hvrpc_server_stop() waits the same 100 ms at
 * most for each handler to return).
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

/* How long hvrpc_health_shutdown() waits, at most, for the watchers. */
#define HVRPC_HEALTH_SHUTDOWN_WAIT_MS 1000

/* Reports NOT_SERVING for everything h knows from now on (later
 * hvrpc_health_set() calls are kept but do not show), and waits until
 * every running Watch has sent that (or tried to: a client that does not
 * read is not waited for) and ended its stream UNAVAILABLE,
 * HVRPC_HEALTH_SHUTDOWN_WAIT_MS at most; a Watch that starts later gets
 * NOT_SERVING and that end too. Call it just before hvrpc_server_stop():
 * stop ends every stream at once, so a watcher would otherwise see its
 * stream end UNAVAILABLE without a NOT_SERVING first. h may be NULL.
 * Idempotent. */
void hvrpc_health_shutdown(hvrpc_health *h);

/* How many Watch streams are being served now (their handlers running):
 * for monitoring, and for tests that a handler ended. */
size_t hvrpc_health_watching(hvrpc_health *h);

/* Registers Health on ep, answering from h. Only before the server
 * starts. h must outlive the server. */
hvrpc_code hvrpc_health_register(hvrpc_server *srv, hvrpc_endpoint *ep,
                                 hvrpc_health *h, hvrpc_status *st);

/* Frees h, after the servers it is registered with. h may be NULL. */
void hvrpc_health_free(hvrpc_health *h);

#endif /* HVRPC_HEALTH_SERVICE_H */
