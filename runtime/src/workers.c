/* workers.c - a fixed pool of threads draining one FIFO of tasks. */
#include <stdlib.h>
#include <string.h>

#include "alloc.h"
#include "workers.h"

static void *worker_main(void *arg)
{
    hvrpc__workers *w = arg;
    pthread_mutex_lock(&w->mu);
    for (;;) {
        while (!w->head && !w->stop) {
            w->idle++;
            pthread_cond_wait(&w->cv, &w->mu);
            w->idle--;
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
    pthread_cond_init(&w->cv, NULL);
    w->threads = hvrpc__calloc(n, sizeof *w->threads);
    if (!w->threads)
        return hvrpc_status_set(st, HVRPC_RESOURCE_EXHAUSTED,
                                "out of memory for %u workers", n);
    for (; w->n < n; w->n++) {
        int err = pthread_create(&w->threads[w->n], NULL, worker_main, w);
        if (err) {
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
    bool wake = w->idle > 0;
    pthread_mutex_unlock(&w->mu);
    /* Signalled after unlocking, and only when a worker waits: a woken
     * worker that found the mutex still held would block again at once. */
    if (wake)
        pthread_cond_signal(&w->cv);
}

void hvrpc__workers_stop(hvrpc__workers *w)
{
    pthread_mutex_lock(&w->mu);
    w->stop = true;
    pthread_cond_broadcast(&w->cv);
    pthread_mutex_unlock(&w->mu);
    for (unsigned i = 0; i < w->n; i++)
        pthread_join(w->threads[i], NULL);
    hvrpc__free(w->threads);
    w->threads = NULL;
    w->n = 0;
    pthread_cond_destroy(&w->cv);
    pthread_mutex_destroy(&w->mu);
}
