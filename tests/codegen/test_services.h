/*
 * test_services.h - implementations of every service in
 * tests/codegen/protos, served through the generated handler tables and
 * listen helpers, for the run tests.
 */
#ifndef HVRPC_TEST_CODEGEN_SERVICES_H
#define HVRPC_TEST_CODEGEN_SERVICES_H

#include <pthread.h>
#include <stdbool.h>

#include <hvrpc/hvrpc.h>

#include "deep/nest/nested.hvrpc.h"
#include "imports.hvrpc.h"
#include "multi.hvrpc.h"
#include "names.hvrpc.h"
#include "nopkg.hvrpc.h"
#include "types/thing.hvrpc.h"

/* What Importer.Take saw: its handlers get this as user_data. */
typedef struct taken {
    char name[64];
    size_t n_parts;
} taken;

/* Makes a fresh directory for the sockets and points every service's
 * address variable at a socket in it (HVRPC_..._ADDR=unix://dir/name).
 * Returns the directory. */
const char *test_route_all(void);

/* Creates a server with every service on its generated endpoint (the
 * routed unix sockets) and starts it. NULL on failure, after saying why. */
hvrpc_server *test_server_start(taken *t);

/* Connects to a service through its generated connect_host helper; NULL on
 * failure, after saying why. */
hvrpc_client *
    test_connect(hvrpc_code (*connect_host)(const hvrpc_client_options *,
                                            hvrpc_client **, hvrpc_status *));

/* Removes the sockets' directory (after the server is freed). */
void test_unroute_all(void);

/* One asynchronous completion to wait for: its status, and the value of
 * the multi.v1.Sum it brought (-1 without one). */
typedef struct test_waiter {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    bool done;
    hvrpc_status st;
    int64_t value;
} test_waiter;

void test_waiter_init(test_waiter *w);

/* A completion for the Sum-returning stubs; arg is a test_waiter. */
void test_sum_done(const hvrpc_status *st, Multi__V1__Sum *resp, void *arg);
void test_wait(test_waiter *w);

#endif
