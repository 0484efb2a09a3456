/*
 * workers.h - the pool of threads that run handlers, so the event loop
 * never runs user code and a slow handler holds up only itself.
 */
#ifndef HVRPC__WORKERS_H
#define HVRPC__WORKERS_H

#include <pthread.h>
#include <semaphore.h>
#include <stdbool.h>

#include "hvrpc/status.h"
#include "loop.h"

typedef struct hvrpc__worker hvrpc__worker;

typedef struct hvrpc__workers {
    pthread_mutex_t mu;
    hvrpc__task *head, *tail; /* FIFO of tasks to run */
    bool stop;
    hvrpc__worker *idle; /* workers asleep, the last to fall asleep first */
    hvrpc__worker *all;  /* n of them */
    unsigned n;
} hvrpc__workers;

hvrpc_code hvrpc__workers_start(hvrpc__workers *w, unsigned n,
                                hvrpc_status *st);
/* Queues t; one worker runs t->fn(t). */
void hvrpc__workers_push(hvrpc__workers *w, hvrpc__task *t);
/* Runs what is queued, then joins the threads. Not from a worker. */
void hvrpc__workers_stop(hvrpc__workers *w);

#endif
