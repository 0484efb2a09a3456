/* loop.c - epoll event loop with a timer heap and a task queue. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "alloc.h"
#include "clock.h"
#include "loop.h"

#define MAX_EVENTS 64

/* The loop this thread runs, if any. */
static _Thread_local const hvrpc__loop *current_loop;

static void wake(hvrpc__loop *l)
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

hvrpc_code hvrpc__loop_init(hvrpc__loop *l, hvrpc_status *st)
{
    memset(l, 0, sizeof *l);
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
    pthread_mutex_init(&l->mu, NULL);
    hvrpc__loop_add(l, &l->wake, EPOLLIN);
    return HVRPC_OK;
}

void hvrpc__loop_destroy(hvrpc__loop *l)
{
    close(l->wake.fd);
    close(l->epfd);
    hvrpc__free(l->heap);
    pthread_mutex_destroy(&l->mu);
}

bool hvrpc__loop_in_thread(const hvrpc__loop *l)
{
    return current_loop == l;
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

/* --- timer heap (min-heap on `when`, l->mu held) ---------------------- */

static void heap_set(hvrpc__loop *l, size_t i, hvrpc__timer *t)
{
    l->heap[i] = t;
    t->slot = i + 1;
}

static void heap_up(hvrpc__loop *l, size_t i)
{
    hvrpc__timer *t = l->heap[i];
    while (i > 0) {
        size_t parent = (i - 1) / 2;
        if (l->heap[parent]->when <= t->when)
            break;
        heap_set(l, i, l->heap[parent]);
        i = parent;
    }
    heap_set(l, i, t);
}

static void heap_down(hvrpc__loop *l, size_t i)
{
    hvrpc__timer *t = l->heap[i];
    for (;;) {
        size_t c = 2 * i + 1;
        if (c >= l->heap_len)
            break;
        if (c + 1 < l->heap_len && l->heap[c + 1]->when < l->heap[c]->when)
            c++;
        if (l->heap[c]->when >= t->when)
            break;
        heap_set(l, i, l->heap[c]);
        i = c;
    }
    heap_set(l, i, t);
}

static void heap_remove(hvrpc__loop *l, hvrpc__timer *t)
{
    size_t i = t->slot - 1;
    hvrpc__timer *last = l->heap[--l->heap_len];
    t->slot = 0;
    if (last == t)
        return;
    heap_set(l, i, last);
    heap_down(l, i);
    heap_up(l, last->slot - 1);
}

bool hvrpc__loop_timer_start(hvrpc__loop *l, hvrpc__timer *t, int64_t when)
{
    pthread_mutex_lock(&l->mu);
    if (t->slot)
        heap_remove(l, t);
    if (l->heap_len == l->heap_cap) {
        size_t cap = l->heap_cap ? 2 * l->heap_cap : 64;
        hvrpc__timer **h = hvrpc__realloc(l->heap, cap * sizeof *h);
        if (!h) {
            pthread_mutex_unlock(&l->mu);
            return false;
        }
        l->heap = h;
        l->heap_cap = cap;
    }
    t->when = when;
    l->heap[l->heap_len++] = t;
    heap_up(l, l->heap_len - 1);
    bool earliest = l->heap[0] == t;
    pthread_mutex_unlock(&l->mu);
    if (earliest && !hvrpc__loop_in_thread(l))
        wake(l);
    return true;
}

bool hvrpc__loop_timer_stop(hvrpc__loop *l, hvrpc__timer *t)
{
    pthread_mutex_lock(&l->mu);
    bool armed = t->slot != 0;
    if (armed)
        heap_remove(l, t);
    pthread_mutex_unlock(&l->mu);
    return armed;
}

void hvrpc__loop_post(hvrpc__loop *l, hvrpc__task *t)
{
    t->next = NULL;
    pthread_mutex_lock(&l->mu);
    if (l->tasks_tail)
        l->tasks_tail->next = t;
    else
        l->tasks = t;
    l->tasks_tail = t;
    pthread_mutex_unlock(&l->mu);
    if (!hvrpc__loop_in_thread(l))
        wake(l);
}

/* --- the loop ---------------------------------------------------------- */

static int next_timeout_ms(hvrpc__loop *l)
{
    if (l->tasks)
        return 0;
    if (!l->heap_len)
        return -1;
    return hvrpc__poll_timeout_ms(l->heap[0]->when > 0 ? l->heap[0]->when : 1);
}

static void run_due(hvrpc__loop *l)
{
    int64_t now = hvrpc__now_ns();
    pthread_mutex_lock(&l->mu);
    while (l->heap_len && l->heap[0]->when <= now) {
        hvrpc__timer *t = l->heap[0];
        heap_remove(l, t);
        pthread_mutex_unlock(&l->mu);
        t->fn(t);
        pthread_mutex_lock(&l->mu);
    }
    hvrpc__task *task = l->tasks;
    l->tasks = l->tasks_tail = NULL;
    pthread_mutex_unlock(&l->mu);
    while (task) {
        hvrpc__task *next = task->next;
        task->fn(task);
        task = next;
    }
}

static void *loop_main(void *arg)
{
    hvrpc__loop *l = arg;
    struct epoll_event ev[MAX_EVENTS];
    current_loop = l;
    for (;;) {
        pthread_mutex_lock(&l->mu);
        bool stop = l->stop;
        int timeout = next_timeout_ms(l);
        pthread_mutex_unlock(&l->mu);
        if (stop)
            break;
        int n = epoll_wait(l->epfd, ev, MAX_EVENTS, timeout);
        for (int i = 0; i < n; i++) {
            hvrpc__io *io = ev[i].data.ptr;
            io->fn(io, ev[i].events);
        }
        run_due(l);
    }
    return NULL;
}

hvrpc_code hvrpc__loop_start(hvrpc__loop *l, hvrpc_status *st)
{
    l->running = true;
    int err = pthread_create(&l->thread, NULL, loop_main, l);
    if (err) {
        l->running = false;
        return hvrpc_status_set(st, HVRPC_RESOURCE_EXHAUSTED,
                                "cannot start the event loop thread: %s",
                                strerror(err));
    }
    return HVRPC_OK;
}

void hvrpc__loop_stop(hvrpc__loop *l)
{
    if (!l->running)
        return;
    pthread_mutex_lock(&l->mu);
    l->stop = true;
    pthread_mutex_unlock(&l->mu);
    wake(l);
    pthread_join(l->thread, NULL);
    l->running = false;
}
