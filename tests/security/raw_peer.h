/*
 * raw_peer.h - a peer that writes ttrpc frames by hand on a plain socket,
 * for the security tests: it can do what our client never would.
 */
#ifndef HVRPC_TEST_RAW_PEER_H
#define HVRPC_TEST_RAW_PEER_H

#include <stddef.h>
#include <stdint.h>

#include <hvrpc/hvrpc.h>

/* A test server: echo on a unix socket in a fresh temp dir. */
typedef struct test_server {
    hvrpc_server *srv;
    hvrpc_endpoint *ep;
    char dir[32];
    char uri[160];
    char path[96];
} test_server;

/* Creates the server with opts, calls setup(ep) (may be NULL) before
 * starting it. Returns 0 on success. */
int test_server_start(test_server *ts, const hvrpc_server_options *opts,
                      void (*setup)(hvrpc_endpoint *ep));
void test_server_stop(test_server *ts);

/* A connected blocking unix socket to ts, or -1. */
int raw_connect(const test_server *ts);

/* Writes one Request frame: hvrpc.echo.v1.Echo/Echo (or the given names),
 * the EchoRequest built from payload_len filler bytes, response_size and
 * delay_ms, plus n_md metadata entries of md_value. 0 on success. */
int raw_send_echo(int fd, uint32_t stream, const char *service,
                  const char *method, size_t payload_len,
                  uint32_t response_size, uint32_t delay_ms, size_t n_md,
                  const char *md_value);

/* Writes raw bytes (all of them). 0 on success. */
int raw_write(int fd, const void *p, size_t n);

/* Reads one Response frame within timeout_ms: its stream id and status
 * code (0 when OK). Returns 0, or -1 on timeout, EOF or garbage. */
int raw_read_status(int fd, int timeout_ms, uint32_t *stream, int *code,
                    char *msg, size_t msg_size);

/* True when the peer closed fd within timeout_ms (reads until EOF). */
int raw_wait_closed(int fd, int timeout_ms);

/* One echo call through our client to uri; returns its code. */
hvrpc_code client_echo(const char *uri, hvrpc_status *st);

int64_t now_ms(void);

#endif
