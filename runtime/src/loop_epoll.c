/*
 * loop_epoll.c - the event loop's Linux backend (loop.h): epoll, and an
 * eventfd that interrupts a wait. win/loop_win.c is the Windows one.
 */
#include <errno.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "loop.h"

#define MAX_EVENTS 64

void hvrpc__loop_wake(hvrpc__loop *l)
{
    uint64_t one = 1;
    ssize_t r = write(l->wake.fd, &one, sizeof one);
    (void)r; /* a full counter already means "wake up" */
}

static void on_wake(hvrpc__io *io, uint32_t events)
{
    uint64_t n;
    (void)events;
    ssize_t r = read(io->fd, &n, sizeof n);
    (void)r;
}

hvrpc_code hvrpc__loop_backend_init(hvrpc__loop *l, hvrpc_status *st)
{
    l->epfd = epoll_create1(EPOLL_CLOEXEC);
    if (l->epfd < 0)
        return hvrpc_status_set(st, HVRPC_RESOURCE_EXHAUSTED,
                                "epoll_create1: %s", strerror(errno));
    l->wake.fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    if (l->wake.fd < 0) {
        int err = errno;
        close(l->epfd);
        return hvrpc_status_set(st, HVRPC_RESOURCE_EXHAUSTED, "eventfd: %s",
                                strerror(err));
    }
    l->wake.fn = on_wake;
    if (hvrpc__loop_add(l, &l->wake, EPOLLIN) != 0) {
        int err = errno;
        hvrpc__loop_backend_destroy(l);
        return hvrpc_status_set(st, HVRPC_RESOURCE_EXHAUSTED,
                                "cannot watch the wake-up eventfd: %s",
                                strerror(err));
    }
    return HVRPC_OK;
}

void hvrpc__loop_backend_destroy(hvrpc__loop *l)
{
    close(l->wake.fd);
    close(l->epfd);
}

int hvrpc__loop_add(hvrpc__loop *l, hvrpc__io *io, uint32_t events)
{
    struct epoll_event ev = {.events = events, .data.ptr = io};
    return epoll_ctl(l->epfd, EPOLL_CTL_ADD, io->fd, &ev);
}

int hvrpc__loop_mod(hvrpc__loop *l, hvrpc__io *io, uint32_t events)
{
    struct epoll_event ev = {.events = events, .data.ptr = io};
    return epoll_ctl(l->epfd, EPOLL_CTL_MOD, io->fd, &ev);
}

void hvrpc__loop_del(hvrpc__loop *l, hvrpc__io *io)
{
    epoll_ctl(l->epfd, EPOLL_CTL_DEL, io->fd, NULL);
}

void hvrpc__loop_backend_wait(hvrpc__loop *l, int timeout_ms)
{
    struct epoll_event ev[MAX_EVENTS];
    int n = epoll_wait(l->epfd, ev, MAX_EVENTS, timeout_ms);
    for (int i = 0; i < n; i++) {
        hvrpc__io *io = ev[i].data.ptr;
        io->fn(io, ev[i].events);
    }
}
