/*
 * loop.h - the event loop: epoll, timers and tasks posted from other
 * threads. One thread runs a loop; the server has one, each client has one.
 *
 * I/O callbacks, timer callbacks and posted tasks all run on the loop's
 * thread, one at a time, with no loop lock held. Timers and tasks may be
 * started from any thread.
 */
#ifndef HVRPC__LOOP_H
#define HVRPC__LOOP_H

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "hvrpc/status.h"

/* Size of the loop's read buffer, shared by every connection it serves
 * (so an idle connection costs no buffer). */
#define HVRPC__LOOP_READ_BUF 65536

typedef struct hvrpc__loop hvrpc__loop;

/* A watched fd. Embedded in its owner; fn finds the owner by offset. */
typedef struct hvrpc__io {
    int fd;
    void (*fn)(struct hvrpc__io *io, uint32_t events);
} hvrpc__io;

/* A one-shot timer, embedded in its owner. */
typedef struct hvrpc__timer {
    int64_t when; /* CLOCK_MONOTONIC ns */
    size_t slot;  /* 1 + index in the heap; 0 when not armed */
    void (*fn)(struct hvrpc__timer *t);
} hvrpc__timer;

/* A task posted to run once on the loop thread, embedded in its owner. */
typedef struct hvrpc__task {
    struct hvrpc__task *next;
    void (*fn)(struct hvrpc__task *t);
} hvrpc__task;

struct hvrpc__loop {
    int epfd;
#ifdef _WIN32
    struct hvrpc__poll_set *ps; /* win/loop_win.c: the watched sockets */
#endif
    hvrpc__io wake;     /* eventfd that interrupts epoll_wait */
    pthread_mutex_t mu; /* guards everything below */
    hvrpc__timer **heap;
    size_t heap_len, heap_cap;
    hvrpc__task *tasks, *tasks_tail;
    bool stop;
    pthread_t thread;
    bool running;
    uint8_t rbuf[HVRPC__LOOP_READ_BUF];
};

hvrpc_code hvrpc__loop_init(hvrpc__loop *l, hvrpc_status *st);
void hvrpc__loop_destroy(hvrpc__loop *l);

/* Starts a thread running the loop until hvrpc__loop_stop. */
hvrpc_code hvrpc__loop_start(hvrpc__loop *l, hvrpc_status *st);
/* Asks the loop to return after the current callback, then joins it.
 * Not from the loop thread. */
void hvrpc__loop_stop(hvrpc__loop *l);
bool hvrpc__loop_in_thread(const hvrpc__loop *l);

/* --- the backend (loop_epoll.c, win/loop_win.c) ------------------------ */

/* Sets up what waits for sockets, and the wake-up watch (l->mu is ready). */
hvrpc_code hvrpc__loop_backend_init(hvrpc__loop *l, hvrpc_status *st);
void hvrpc__loop_backend_destroy(hvrpc__loop *l);
/* Interrupts a wait in progress (any thread). */
void hvrpc__loop_wake(hvrpc__loop *l);
/* Loop thread, no lock held: waits up to timeout_ms (-1: no limit) and
 * calls back each ready watch. */
void hvrpc__loop_backend_wait(hvrpc__loop *l, int timeout_ms);

/* Registration (any thread). events: EPOLLIN, EPOLLOUT. */
int hvrpc__loop_add(hvrpc__loop *l, hvrpc__io *io, uint32_t events);
int hvrpc__loop_mod(hvrpc__loop *l, hvrpc__io *io, uint32_t events);
void hvrpc__loop_del(hvrpc__loop *l, hvrpc__io *io);

/* Arms t to fire at `when` (re-arms an armed timer). False, with t not
 * armed, when there is no memory for it. */
bool hvrpc__loop_timer_start(hvrpc__loop *l, hvrpc__timer *t, int64_t when);
/* Disarms t. True when it was armed (so its callback will not run). */
bool hvrpc__loop_timer_stop(hvrpc__loop *l, hvrpc__timer *t);

/* Runs t->fn on the loop thread soon. */
void hvrpc__loop_post(hvrpc__loop *l, hvrpc__task *t);

#endif
