/*
 * tests/bus/bus_util.h - what the bus tests share: the broker in a server
 * child (tests/integration/server_proc.c), and client helpers for
 * publishing, subscribing and reading events.
 */
#ifndef HVRPC_TEST_BUS_UTIL_H
#define HVRPC_TEST_BUS_UTIL_H

#include <stddef.h>
#include <stdint.h>

#include <hvrpc/hvrpc.h>

#include "bus_service.h"
#include "integ_util.h"
#include "server_proc.h"

typedef Hvrpc__Bus__V1__Event bus_ev;
typedef Hvrpc__Bus__V1__PublishResponse bus_resp;

#define OV_DROP_OLDEST HVRPC__BUS__V1__SUBSCRIBE_REQUEST__OVERFLOW__DROP_OLDEST
#define OV_BLOCK       HVRPC__BUS__V1__SUBSCRIBE_REQUEST__OVERFLOW__BLOCK
#define OV_DISCONNECT  HVRPC__BUS__V1__SUBSCRIBE_REQUEST__OVERFLOW__DISCONNECT

/* Starts a server child for transport with echo and a bus made with *o
 * (NULL: the defaults) registered. 0, or -1 after printing why. */
int bus_server_start(server_proc *sp, const char *transport,
                     const hvrpc_bus_options *o);

/* Subscribe options. */
typedef struct bus_sub_opts {
    int overflow;        /* OV_* */
    uint32_t queue_size; /* 0: the broker's default */
    uint32_t window;     /* the stream's receive window; 0: the default */
} bus_sub_opts;

/* Subscribes c to patterns and waits (up to 5 s) for the SUBSCRIBED
 * message. NULL after printing why (*code, when not NULL, gets the code
 * the stream ended with). */
hvrpc_stream *bus_subscribe(hvrpc_client *c, const char *const *patterns,
                            size_t n, const bus_sub_opts *o, hvrpc_code *code,
                            hvrpc_status *st);

/* One pattern, the defaults. */
hvrpc_stream *bus_subscribe1(hvrpc_client *c, const char *pattern);

/* Publishes (blocking; timeout_ms 0: no deadline). *resp (may be NULL)
 * gets the counts. headers: n_headers pairs of key, value. */
hvrpc_code bus_publish(hvrpc_client *c, const char *topic, const void *payload,
                       size_t len, const char *const *headers, size_t n_headers,
                       uint32_t timeout_ms, bus_resp *resp, hvrpc_status *st);

/* Publishes a text payload, no headers, no deadline. */
hvrpc_code bus_publish_text(hvrpc_client *c, const char *topic,
                            const char *text, bus_resp *resp);

/* Receives the next event within timeout_ms (free with bus_ev_free). */
hvrpc_code bus_recv(hvrpc_stream *s, bus_ev **out, int timeout_ms,
                    hvrpc_status *st);
void bus_ev_free(bus_ev *e);

/* The value of header key in e, or NULL. */
const char *bus_ev_header(const bus_ev *e, const char *key);

/* The caller's identity as the server sees this client's connection (the
 * echo service's peer field): what the broker stamps its events with.
 * Static buffer; "" on failure. */
const char *bus_identity(hvrpc_client *c);

#endif
