/*
 * workers.c - a fixed pool of threads draining one FIFO of tasks.
 *
 * An idle worker sleeps on its own semaphore, on a stack of sleepers, and
 * a new task wakes the one that fell asleep last (its cache is the
 * warmest). Waking one thread is then one futex wake and its wait one
 * futex wait; a condition variable costs a third (the woken waiter takes
 * the mutex back as contended, so its unlock always makes a syscall), on
 * every call a worker runs.
 */
#include <stdlib.h>
#include <string.h>

#include "alloc.h"
#include "workers.h"

struct hvrpc__worker {
    hvrpc__workers *pool;
    pthread_t thread;
    sem_t wake;
    hvrpc__worker *next_idle;
};

static void *worker_main(void *arg)
{
    hvrpc__worker *me = arg;
    hvrpc__workers *w = me->pool;
    pthread_mutex_lock(&w->mu);
    for (;;) {
        while (!w->head && !w->stop) {
            me->next_idle = w->idle;
            w->idle = me;
            pthread_mutex_unlock(&w->mu);
            /* Whoever took me off the stack posts once. */
            while (sem_wait(&me->wake) != 0)
                ; /* EINTR */
            pthread_mutex_lock(&w->mu);
        }
        hvrpc__task *t = w->head;
        if (!t)
            break; /* stopping and drained */
        w->head = t->next;
        if (!w->head)
            w->tail = NULL;
        pthread_mutex_unlock(&w->mu);
        t->fn(t);
        pthread_mutex_lock(&w->mu);
    }
    pthread_mutex_unlock(&w->mu);
    return NULL;
}

hvrpc_code hvrpc__workers_start(hvrpc__workers *w, unsigned n, hvrpc_status *st)
{
    memset(w, 0, sizeof *w);
    pthread_mutex_init(&w->mu, NULL);
    w->all = hvrpc__calloc(n, sizeof *w->all);
    if (!w->all)
        return hvrpc_status_set(st, HVRPC_RESOURCE_EXHAUSTED,
                                "out of memory for %u workers", n);
    for (; w->n < n; w->n++) {
        hvrpc__worker *k = &w->all[w->n];
        k->pool = w;
        sem_init(&k->wake, 0, 0);
        int err = pthread_create(&k->thread, NULL, worker_main, k);
        if (err) {
            sem_destroy(&k->wake);
            hvrpc__workers_stop(w);
            return hvrpc_status_set(st, HVRPC_RESOURCE_EXHAUSTED,
                                    "cannot start worker %u: %s", w->n,
                                    strerror(err));
        }
    }
    return HVRPC_OK;
}

void hvrpc__workers_push(hvrpc__workers *w, hvrpc__task *t)
{
    t->next = NULL;
    pthread_mutex_lock(&w->mu);
    if (w->tail)
        w->tail->next = t;
    else
        w->head = t;
    w->tail = t;
    hvrpc__worker *k = w->idle;
    if (k)
        w->idle = k->next_idle;
    pthread_mutex_unlock(&w->mu);
    /* Posted after unlocking, so the woken worker finds the mutex free. */
    if (k)
        sem_post(&k->wake);
}

void hvrpc__workers_stop(hvrpc__workers *w)
{
    pthread_mutex_lock(&w->mu);
    w->stop = true;
    hvrpc__worker *k = w->idle;
    w->idle = NULL;
    pthread_mutex_unlock(&w->mu);
    while (k) {
        hvrpc__worker *next = k->next_idle;
        sem_post(&k->wake);
        k = next;
    }
    for (unsigned i = 0; i < w->n; i++) {
        pthread_join(w->all[i].thread, NULL);
        sem_destroy(&w->all[i].wake);
    }
    hvrpc__free(w->all);
    w->all = NULL;
    w->n = 0;
    pthread_mutex_destroy(&w->mu);
}
