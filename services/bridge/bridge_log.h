/*
 * bridge_log.h - the bridge program's log: one line on stderr, prefixed
 * "hvrpc-bridge: " (the program is the only user; nothing here is a
 * library).
 */
#ifndef HVRPC_BRIDGE_LOG_H
#define HVRPC_BRIDGE_LOG_H

void bridge_log(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

#endif /* HVRPC_BRIDGE_LOG_H */
