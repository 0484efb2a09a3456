/*
 * loop.c - the event loop's portable core: the thread, the timer heap and
 * the task queue. Waiting for sockets is the backend's (loop_epoll.c on
 * Linux, win/loop_win.c on Windows).
 */
#include <string.h>

#include "alloc.h"
#include "clock.h"
#include "loop.h"

/* The loop this thread runs, if any. */
static _Thread_local const hvrpc__loop *current_loop;

hvrpc_code hvrpc__loop_init(hvrpc__loop *l, hvrpc_status *st)
{
    memset(l, 0, sizeof *l);
    pthread_mutex_init(&l->mu, NULL);
    hvrpc_code c = hvrpc__loop_backend_init(l, st);
    if (c != HVRPC_OK)
        pthread_mutex_destroy(&l->mu);
    return c;
}

void hvrpc__loop_destroy(hvrpc__loop *l)
{
    hvrpc__loop_backend_destroy(l);
    hvrpc__free(l->heap);
    pthread_mutex_destroy(&l->mu);
}

bool hvrpc__loop_in_thread(const hvrpc__loop *l)
{
    return current_loop == l;
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
        hvrpc__loop_wake(l);
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
        hvrpc__loop_wake(l);
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
    current_loop = l;
    for (;;) {
        pthread_mutex_lock(&l->mu);
        bool stop = l->stop;
        int timeout = next_timeout_ms(l);
        pthread_mutex_unlock(&l->mu);
        if (stop)
            break;
        hvrpc__loop_backend_wait(l, timeout);
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
    hvrpc__loop_wake(l);
    pthread_join(l->thread, NULL);
    l->running = false;
}
