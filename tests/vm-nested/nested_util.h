/*
 * tests/vm-nested/nested_util.h - what both nested programs (nested_peer,
 * nested_bus) need: a monotonic clock and a connect that waits for the
 * other VM.
 */
#ifndef HVRPC_TEST_NESTED_UTIL_H
#define HVRPC_TEST_NESTED_UTIL_H

#include <stdint.h>

#include <hvrpc/hvrpc.h>

/* CLOCK_MONOTONIC in milliseconds. */
int64_t nested_now_ms(void);

/* Connects to target ("host": svc's address on this machine's host, as
 * its generated P_connect_host() finds it; else a URI), retrying for
 * wait_s seconds: until the other VM, or its server, is up a connect
 * fails (ENODEV, a reset, a timeout). max_frame 0 keeps the default.
 * NULL, after saying why on stderr, when it gave up. */
hvrpc_client *nested_connect(const char *target, const hvrpc_service_info *svc,
                             uint32_t max_frame, int wait_s);

#endif
