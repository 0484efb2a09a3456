/*
 * health_service.c - grpc.health.v1.Health Check and Watch, on the
 * generated layer.
 *
 * Every status lives in one hvrpc_health under one mutex. A change (a set
 * that changes something, or the shutdown) bumps a generation and
 * broadcasts a condition variable; each Watch handler, on its stream's own
 * thread, waits on it with a bounded timeout (WATCH_POLL_MS), which is how
 * it notices a cancelled stream or a stopping server, neither of which
 * signals us.
 */
#include <errno.h>
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "health_service.h"
#include "svc_time.h"

typedef Grpc__Health__V1__HealthCheckResponse__ServingStatus serving_status;

#define SERVING GRPC__HEALTH__V1__HEALTH_CHECK_RESPONSE__SERVING_STATUS__SERVING
#define NOT_SERVING                                                            \
    GRPC__HEALTH__V1__HEALTH_CHECK_RESPONSE__SERVING_STATUS__NOT_SERVING
#define SERVICE_UNKNOWN                                                        \
    GRPC__HEALTH__V1__HEALTH_CHECK_RESPONSE__SERVING_STATUS__SERVICE_UNKNOWN

/* How long a Watch handler waits for a change before it looks at its
 * stream and the server again, and how long one send waits for the
 * client's window: the latency of noticing a cancel or a stop. */
#define WATCH_POLL_MS 100

typedef struct set_status {
    char *service;
    serving_status status;
    struct set_status *next;
} set_status;

/* One endpoint's registration: what its handlers need. */
typedef struct binding {
    hvrpc_health *h;
    hvrpc_endpoint *ep;
    struct binding *next;
} binding;

struct hvrpc_health {
    pthread_mutex_t mu;     /* guards everything below but bindings */
    pthread_cond_t changed; /* generation moved */
    pthread_cond_t left;    /* a Watch handler is about to return */
    uint64_t generation;    /* counts changes */
    bool shut_down;         /* hvrpc_health_shutdown() was called */
    size_t watching;        /* Watch handlers running */
    set_status *statuses;
    binding *bindings; /* written before the server starts only */
};

hvrpc_code hvrpc_health_create(hvrpc_health **out, hvrpc_status *st)
{
    hvrpc_health *h = calloc(1, sizeof *h);
    pthread_condattr_t ca;

    *out = NULL;
    if (!h)
        return hvrpc_status_set(st, HVRPC_RESOURCE_EXHAUSTED,
                                "out of memory for the health service");
    pthread_mutex_init(&h->mu, NULL);
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&h->changed, &ca);
    pthread_cond_init(&h->left, &ca);
    pthread_condattr_destroy(&ca);
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
    pthread_cond_destroy(&h->left);
    pthread_cond_destroy(&h->changed);
    pthread_mutex_destroy(&h->mu);
    free(h);
}

/* A change watchers must look at. h->mu held. */
static void changed_locked(hvrpc_health *h)
{
    h->generation++;
    pthread_cond_broadcast(&h->changed);
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
            if (s->status != status) {
                s->status = status;
                changed_locked(h);
            }
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
    changed_locked(h); /* a name may have become known */
    pthread_mutex_unlock(&h->mu);
    return HVRPC_OK;
}

/* Every Watch handler sends NOT_SERVING (or tries to, for up to
 * WATCH_POLL_MS) and ends its stream: wait for them to leave. */
void hvrpc_health_shutdown(hvrpc_health *h)
{
    struct timespec until;

    if (!h)
        return;
    until = hvrpc_svc_deadline(CLOCK_MONOTONIC, HVRPC_HEALTH_SHUTDOWN_WAIT_MS);
    pthread_mutex_lock(&h->mu);
    if (!h->shut_down) {
        h->shut_down = true;
        changed_locked(h);
    }
    while (h->watching > 0 &&
           pthread_cond_timedwait(&h->left, &h->mu, &until) != ETIMEDOUT)
        ;
    pthread_mutex_unlock(&h->mu);
}

size_t hvrpc_health_watching(hvrpc_health *h)
{
    size_t n;

    pthread_mutex_lock(&h->mu);
    n = h->watching;
    pthread_mutex_unlock(&h->mu);
    return n;
}

/* The status of service through b's endpoint, h->mu held. False when the
 * endpoint does not serve it and no status was set for it. */
static bool status_locked(const binding *b, const char *service, bool stopping,
                          serving_status *out)
{
    const hvrpc_health *h = b->h;
    serving_status status = SERVING;
    bool known = service[0] == '\0';

    for (size_t i = 0; !known && i < hvrpc_endpoint_service_count(b->ep); i++)
        known = strcmp(hvrpc_endpoint_service_name(b->ep, i), service) == 0;
    for (const set_status *s = h->statuses; s; s = s->next) {
        if (strcmp(s->service, service) == 0) {
            status = s->status;
            known = true;
            break;
        }
    }
    if (!known)
        return false;
    *out = stopping || h->shut_down ? NOT_SERVING : status;
    return true;
}

static void check(hvrpc_call *call,
                  const Grpc__Health__V1__HealthCheckRequest *req,
                  void *user_data)
{
    const binding *b = user_data;
    const char *service = req->service ? req->service : "";
    Grpc__Health__V1__HealthCheckResponse resp =
        GRPC__HEALTH__V1__HEALTH_CHECK_RESPONSE__INIT;
    bool stopping = hvrpc_server_stopping(hvrpc_call_server(call));
    serving_status status = SERVING;
    bool known;

    pthread_mutex_lock(&b->h->mu);
    known = status_locked(b, service, stopping, &status);
    pthread_mutex_unlock(&b->h->mu);
    if (!known) {
        hvrpc_call_fail(call, HVRPC_NOT_FOUND,
                        "unknown service %s (hvrpc list shows what this "
                        "endpoint serves)",
                        service);
        return;
    }
    resp.status = status;
    grpc__health__v1__health__check_reply(call, &resp);
}

/* Runs on the stream's own thread until the stream is over: the client
 * cancelled, its connection went, its deadline passed, or the server is
 * stopping (or hvrpc_health_shutdown() was called). Sends only when the
 * status differs from the last one sent, so a change and its undoing
 * between two looks send nothing, as in gRPC. */
static void watch(hvrpc_stream *stream,
                  const Grpc__Health__V1__HealthCheckRequest *req,
                  void *user_data)
{
    const binding *b = user_data;
    hvrpc_health *h = b->h;
    hvrpc_server *srv = hvrpc_stream_server(stream);
    const char *service = req->service ? req->service : "";
    serving_status last = SERVING;
    bool sent = false, stopping = false;

    pthread_mutex_lock(&h->mu);
    h->watching++;
    while (!hvrpc_stream_done(stream)) {
        uint64_t gen = h->generation;
        serving_status now;

        /* After the shutdown the server is about to stop: end the
         * stream once NOT_SERVING has gone, so that stop finds no
         * handler to wait for. */
        stopping = hvrpc_server_stopping(srv) || h->shut_down;
        if (!status_locked(b, service, stopping, &now))
            now = SERVICE_UNKNOWN;
        if (!sent || now != last) {
            Grpc__Health__V1__HealthCheckResponse resp =
                GRPC__HEALTH__V1__HEALTH_CHECK_RESPONSE__INIT;
            hvrpc_code code;

            resp.status = now;
            pthread_mutex_unlock(&h->mu);
            code = grpc__health__v1__health__watch_server_send(
                stream, &resp, WATCH_POLL_MS, NULL);
            pthread_mutex_lock(&h->mu);
            /* HVRPC_WOULD_BLOCK: the client is not reading; the latest
             * status goes when it makes room. */
            if (code == HVRPC_OK) {
                last = now;
                sent = true;
            } else if (code != HVRPC_WOULD_BLOCK) {
                break; /* the stream is over */
            }
        }
        if (stopping)
            break;
        if (h->generation == gen) {
            struct timespec until =
                hvrpc_svc_deadline(CLOCK_MONOTONIC, WATCH_POLL_MS);
            pthread_cond_timedwait(&h->changed, &h->mu, &until);
        }
    }
    pthread_mutex_unlock(&h->mu);
    /* Unless the server is stopping the stream is over already: the
     * answer is dropped, and the call only releases the stream. */
    hvrpc_stream_finish(stream, HVRPC_UNAVAILABLE,
                        stopping ? "the server is stopping"
                                 : "the watch is over");
    pthread_mutex_lock(&h->mu);
    h->watching--;
    pthread_cond_broadcast(&h->left);
    pthread_mutex_unlock(&h->mu);
}

hvrpc_code hvrpc_health_register(hvrpc_server *srv, hvrpc_endpoint *ep,
                                 hvrpc_health *h, hvrpc_status *st)
{
    static const grpc__health__v1__health_handlers handlers = {
        .check = check,
        .watch = watch,
    };
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
