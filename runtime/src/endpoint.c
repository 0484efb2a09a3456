/*
 * endpoint.c - where a server listens (one URI each), which services each
 * endpoint serves, and the accept loop of its listening socket.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <unistd.h>

#include "alloc.h"
#include "clock.h"
#include "envelope.h"
#include "options.h"
#include "server_internal.h"

#define LISTEN_BACKLOG    128
#define ACCEPTS_PER_EVENT 64
/* After EMFILE, accepting pauses this long instead of spinning. */
#define ACCEPT_PAUSE_NS (100 * HVRPC__NS_PER_MS)

static void on_resume(hvrpc__timer *t)
{
    hvrpc_endpoint *ep =
        (hvrpc_endpoint *)((char *)t - offsetof(hvrpc_endpoint, resume));
    hvrpc__loop_mod(&ep->srv->loop, &ep->io, EPOLLIN);
}

static void on_listener(hvrpc__io *io, uint32_t events)
{
    hvrpc_endpoint *ep =
        (hvrpc_endpoint *)((char *)io - offsetof(hvrpc_endpoint, io));
    (void)events;
    for (int i = 0; i < ACCEPTS_PER_EVENT; i++) {
        int fd;
        hvrpc_peer peer;
        int err = ep->tp->accept(io->fd, &ep->bound, &fd, &peer);
        if (err == EAGAIN || err == EWOULDBLOCK)
            return;
        if (err == EINTR || err == ECONNABORTED)
            continue;
        if (err) {
            /* Out of fds or memory: pause this listener, do not spin. */
            hvrpc__log(&ep->srv->log, HVRPC_LOG_WARN,
                       "accept failed, pausing the listener: %s",
                       strerror(err));
            hvrpc__loop_mod(&ep->srv->loop, io, 0);
            hvrpc__loop_timer_start(&ep->srv->loop, &ep->resume,
                                    hvrpc__deadline_after_ns(ACCEPT_PAUSE_NS));
            return;
        }
        hvrpc__sconn_accept(ep, fd, &peer);
    }
}

/* --- endpoints and services ---------------------------------------------- */

hvrpc_code hvrpc_server_listen(hvrpc_server *srv, const char *uri,
                               hvrpc_endpoint **out, hvrpc_status *st)
{
    hvrpc_code c = hvrpc__server_require_state(srv, SERVER_CREATED,
                                               "hvrpc_server_listen", st);
    if (c != HVRPC_OK)
        return c;
    hvrpc_address a;
    c = hvrpc_address_parse(uri, &a, st);
    if (c != HVRPC_OK)
        return c;
    hvrpc_endpoint *ep = hvrpc__calloc(1, sizeof *ep);
    hvrpc_endpoint **eps =
        hvrpc__realloc(srv->eps, (srv->n_eps + 1) * sizeof *eps);
    if (!ep || !eps) {
        hvrpc__free(ep);
        if (eps)
            srv->eps = eps;
        return hvrpc_status_set(st, HVRPC_RESOURCE_EXHAUSTED,
                                "out of memory for an endpoint");
    }
    srv->eps = eps;
    ep->srv = srv;
    ep->tp = hvrpc__transport_for(a.kind);
    ep->io.fn = on_listener;
    ep->resume.fn = on_resume;
    c = ep->tp->listen(&a, LISTEN_BACKLOG, &ep->io.fd, &ep->bound, st);
    if (c != HVRPC_OK) {
        hvrpc__free(ep);
        return c;
    }
    srv->eps[srv->n_eps++] = ep;
    if (out)
        *out = ep;
    return HVRPC_OK;
}

const hvrpc_address *hvrpc_endpoint_address(const hvrpc_endpoint *ep)
{
    return &ep->bound;
}

static hvrpc_code check_service(const hvrpc_service *svc, hvrpc_status *st)
{
    if (!svc || !svc->name || !svc->name[0])
        return hvrpc_status_set(st, HVRPC_INVALID_ARGUMENT,
                                "service without a name");
    if (svc->n_methods && !svc->methods)
        return hvrpc_status_set(st, HVRPC_INVALID_ARGUMENT,
                                "service %s: no method table", svc->name);
    for (size_t i = 0; i < svc->n_methods; i++) {
        const hvrpc_method *m = &svc->methods[i];
        if (!m->name || !m->name[0])
            return hvrpc_status_set(st, HVRPC_INVALID_ARGUMENT,
                                    "service %s: method %zu has no name",
                                    svc->name, i);
        if (m->kind < HVRPC_UNARY || m->kind > HVRPC_BIDI_STREAMING)
            return hvrpc_status_set(st, HVRPC_INVALID_ARGUMENT,
                                    "service %s: method %s has kind %d, "
                                    "not a hvrpc_method_kind",
                                    svc->name, m->name, (int)m->kind);
        if (m->kind == HVRPC_UNARY ? !m->handler : !m->stream)
            return hvrpc_status_set(
                st, HVRPC_INVALID_ARGUMENT, "service %s: method %s has no %s",
                svc->name, m->name,
                m->kind == HVRPC_UNARY ? "handler" : "stream handler");
    }
    return HVRPC_OK;
}

hvrpc_code hvrpc_server_register(hvrpc_server *srv, hvrpc_endpoint *ep,
                                 const hvrpc_service *svc, void *user_data,
                                 void (*user_data_free)(void *),
                                 hvrpc_status *st)
{
    hvrpc_code c = hvrpc__server_require_state(srv, SERVER_CREATED,
                                               "hvrpc_server_register", st);
    if (c != HVRPC_OK)
        return c;
    if (!ep || ep->srv != srv)
        return hvrpc_status_set(st, HVRPC_INVALID_ARGUMENT,
                                "endpoint does not belong to this server");
    c = check_service(svc, st);
    if (c != HVRPC_OK)
        return c;
    for (size_t i = 0; i < ep->n_regs; i++)
        if (strcmp(ep->regs[i].svc->name, svc->name) == 0)
            return hvrpc_status_set(st, HVRPC_ALREADY_EXISTS,
                                    "service %s is already registered on "
                                    "this endpoint",
                                    svc->name);
    hvrpc__registration *regs =
        hvrpc__realloc(ep->regs, (ep->n_regs + 1) * sizeof *regs);
    if (!regs)
        return hvrpc_status_set(st, HVRPC_RESOURCE_EXHAUSTED,
                                "out of memory registering %s", svc->name);
    ep->regs = regs;
    ep->regs[ep->n_regs++] =
        (hvrpc__registration){svc, user_data, user_data_free};
    return HVRPC_OK;
}
