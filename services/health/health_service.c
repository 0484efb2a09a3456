/*
 * health_service.c - grpc.health.v1.Health Check, on the generated layer.
 */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "health_service.h"

typedef Grpc__Health__V1__HealthCheckResponse__ServingStatus serving_status;

#define SERVING GRPC__HEALTH__V1__HEALTH_CHECK_RESPONSE__SERVING_STATUS__SERVING
#define NOT_SERVING                                                            \
    GRPC__HEALTH__V1__HEALTH_CHECK_RESPONSE__SERVING_STATUS__NOT_SERVING

typedef struct set_status {
    char *service;
    serving_status status;
    struct set_status *next;
} set_status;

/* One endpoint's registration: what its handler needs. */
typedef struct binding {
    hvrpc_health *h;
    hvrpc_endpoint *ep;
    struct binding *next;
} binding;

struct hvrpc_health {
    pthread_mutex_t mu; /* guards statuses */
    set_status *statuses;
    binding *bindings;
};

hvrpc_code hvrpc_health_create(hvrpc_health **out, hvrpc_status *st)
{
    hvrpc_health *h = calloc(1, sizeof *h);

    *out = NULL;
    if (!h)
        return hvrpc_status_set(st, HVRPC_RESOURCE_EXHAUSTED,
                                "out of memory for the health service");
    pthread_mutex_init(&h->mu, NULL);
    *out = h;
    return HVRPC_OK;
}

void hvrpc_health_free(hvrpc_health *h)
{
    if (!h)
        return;
    while (h->statuses) {
        set_status *s = h->statuses;
        h->statuses = s->next;
        free(s->service);
        free(s);
    }
    while (h->bindings) {
        binding *b = h->bindings;
        h->bindings = b->next;
        free(b);
    }
    pthread_mutex_destroy(&h->mu);
    free(h);
}

hvrpc_code hvrpc_health_set(hvrpc_health *h, const char *service,
                            serving_status status, hvrpc_status *st)
{
    set_status *s;

    if (!service)
        service = "";
    pthread_mutex_lock(&h->mu);
    for (s = h->statuses; s; s = s->next) {
        if (strcmp(s->service, service) == 0) {
            s->status = status;
            pthread_mutex_unlock(&h->mu);
            return HVRPC_OK;
        }
    }
    s = calloc(1, sizeof *s);
    if (s)
        s->service = strdup(service);
    if (!s || !s->service) {
        pthread_mutex_unlock(&h->mu);
        free(s);
        return hvrpc_status_set(st, HVRPC_RESOURCE_EXHAUSTED,
                                "out of memory setting a health status");
    }
    s->status = status;
    s->next = h->statuses;
    h->statuses = s;
    pthread_mutex_unlock(&h->mu);
    return HVRPC_OK;
}

/* The status set for service; false when none was. */
static bool lookup(hvrpc_health *h, const char *service, serving_status *out)
{
    bool found = false;

    pthread_mutex_lock(&h->mu);
    for (set_status *s = h->statuses; s; s = s->next) {
        if (strcmp(s->service, service) == 0) {
            *out = s->status;
            found = true;
            break;
        }
    }
    pthread_mutex_unlock(&h->mu);
    return found;
}

static void check(hvrpc_call *call,
                  const Grpc__Health__V1__HealthCheckRequest *req,
                  void *user_data)
{
    const binding *b = user_data;
    const char *service = req->service ? req->service : "";
    Grpc__Health__V1__HealthCheckResponse resp =
        GRPC__HEALTH__V1__HEALTH_CHECK_RESPONSE__INIT;
    serving_status status = SERVING;
    bool known = service[0] == '\0';

    for (size_t i = 0; !known && i < hvrpc_endpoint_service_count(b->ep); i++)
        known = strcmp(hvrpc_endpoint_service_name(b->ep, i), service) == 0;
    if (lookup(b->h, service, &status))
        known = true;
    if (!known) {
        hvrpc_call_fail(call, HVRPC_NOT_FOUND,
                        "unknown service %s (hvrpc list shows what this "
                        "endpoint serves)",
                        service);
        return;
    }
    if (hvrpc_server_stopping(hvrpc_call_server(call)))
        status = NOT_SERVING;
    resp.status = status;
    grpc__health__v1__health__check_reply(call, &resp);
}

hvrpc_code hvrpc_health_register(hvrpc_server *srv, hvrpc_endpoint *ep,
                                 hvrpc_health *h, hvrpc_status *st)
{
    static const grpc__health__v1__health_handlers handlers = {.check = check};
    binding *b = calloc(1, sizeof *b);
    hvrpc_code code;

    if (!b)
        return hvrpc_status_set(st, HVRPC_RESOURCE_EXHAUSTED,
                                "out of memory registering health");
    b->h = h;
    b->ep = ep;
    code = grpc__health__v1__health_register(srv, ep, &handlers, b, st);
    if (code != HVRPC_OK) {
        free(b);
        return code;
    }
    b->next = h->bindings;
    h->bindings = b;
    return HVRPC_OK;
}
