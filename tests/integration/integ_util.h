/*
 * tests/integration/integ_util.h - client-side helpers shared by the
 * integration tests: the transport argument, a monotonic clock, echo calls,
 * a completion counter to wait on, and the count of answered calls each
 * program prints at its end (the VM suite adds them up: the calls that
 * crossed AF_VSOCK).
 */
#ifndef HVRPC_TEST_INTEG_UTIL_H
#define HVRPC_TEST_INTEG_UTIL_H

#include <pthread.h>
#include <stddef.h>
#include <stdint.h>

#include <hvrpc/hvrpc.h>

#include "hvrpc/echo/v1/echo.pb-c.h"

typedef Hvrpc__Echo__V1__EchoRequest echo_req;
typedef Hvrpc__Echo__V1__EchoResponse echo_resp;

#define ECHO_REQ_INIT HVRPC__ECHO__V1__ECHO_REQUEST__INIT
#define ECHO_SERVICE  "hvrpc.echo.v1.Echo"
#define ECHO_METHOD   "Echo"

/* "unix", "tcp" or "vsock" from argv[1]; NULL (and a usage line)
 * otherwise. vsock needs a kernel with vsock_loopback (CID 1): the QEMU
 * guest of tests/vm runs the programs that way. */
const char *integ_transport(int argc, char **argv);

/* Answered calls: integ_echo() counts each call that returned OK; a test
 * adds the calls it checked some other way (a status the server sent, a
 * hand-written frame answered) with integ_count_calls(). Thread-safe. */
void integ_count_calls(int n);
int integ_calls(void);

/* Prints "calls answered: N over TRANSPORT" on stderr: the line the VM
 * harness sums up. */
void integ_report_calls(const char *transport);

/* CLOCK_MONOTONIC in milliseconds. */
int64_t integ_now_ms(void);

/* Connects a client to uri; max_frame 0 keeps the default. NULL on
 * failure, after printing why. */
hvrpc_client *integ_connect(const char *uri, uint32_t max_frame);

/* --- speaking the protocol by hand ------------------------------------ */

/* A plain, non-blocking socket connected to uri (unix, tcp or vsock);
 * -1 after printing why. */
int integ_raw_connect(const char *uri);

/* All of buf written to / read from a non-blocking fd, waiting up to
 * timeout_ms each time the peer takes or sends nothing. 0, or -1 after
 * printing why (the wait ran out, the peer closed, an error). */
int integ_send_all(int fd, const void *buf, size_t len, int timeout_ms);
int integ_recv_all(int fd, void *buf, size_t len, int timeout_ms);

/* A ttrpc frame header: data length, stream id, type, flags. */
void integ_frame_header(uint8_t h[10], uint32_t len, uint32_t id, uint8_t type,
                        uint8_t flags);

/* A listening socket of our own, for peers written by hand: on a fresh
 * address of transport (unix: a socket file in a mkdtemp directory;
 * tcp: 127.0.0.1 and a port the kernel picks), where a client connects
 * to uri. Accepted sockets are blocking. */
typedef struct integ_listener {
    int fd;
    char dir[48]; /* unix: the directory, "" otherwise */
    char uri[160];
} integ_listener;

/* 0, or -1 (l->fd -1) for another transport or a failure. */
int integ_listen(integ_listener *l, const char *transport);
/* Closes it and removes what it left on disk. */
void integ_listener_close(integ_listener *l);

/* Calls hvrpc.echo.v1.Echo/Echo with req (blocking). On OK, *resp (may be
 * NULL) receives the decoded response (free with echo_resp_free); a
 * response that does not decode returns DATA_LOSS. st may be NULL. An OK
 * call is counted (integ_calls()). */
hvrpc_code integ_echo(hvrpc_client *c, const echo_req *req,
                      const hvrpc_call_options *o, echo_resp **resp,
                      hvrpc_status *st);

/* Packs req into a malloc'd buffer (free with free()); NULL on failure. */
uint8_t *echo_req_pack(const echo_req *req, size_t *len);

/* Decodes an EchoResponse payload; NULL when it does not decode. */
echo_resp *echo_resp_decode(const uint8_t *data, size_t len);
void echo_resp_free(echo_resp *r);

/* The value of key in r's metadata map, or NULL. */
const char *echo_resp_meta(const echo_resp *r, const char *key);

/* True when r's payload is exactly data/len. */
int echo_resp_payload_is(const echo_resp *r, const void *data, size_t len);

/* A completion counter: threads add, one thread waits for a total. */
typedef struct integ_waiter {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    int count;
} integ_waiter;

void integ_waiter_init(integ_waiter *w);
void integ_waiter_destroy(integ_waiter *w);
void integ_waiter_add(integ_waiter *w, int n);
/* Waits until the count reaches target or timeout_ms passes; returns the
 * count then. */
int integ_waiter_wait(integ_waiter *w, int target, int timeout_ms);
int integ_waiter_count(integ_waiter *w);

#endif /* HVRPC_TEST_INTEG_UTIL_H */
