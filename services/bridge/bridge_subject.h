/*
 * bridge_subject.h - how bus topics and NATS subjects map onto each other
 * (docs/FLEET.md, "Subjects"), and the JetStream message id of an event.
 * Pure functions, no I/O: tests/fleet/test_subject.c checks them.
 */
#ifndef HVRPC_BRIDGE_SUBJECT_H
#define HVRPC_BRIDGE_SUBJECT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <hvrpc/hvrpc.h>

#define BRIDGE_HOST_ID_MAX 64
/* "hvrpc." + host id + "." + a topic of the bus's longest (256). */
#define BRIDGE_SUBJECT_MAX 336
#define BRIDGE_MSG_ID_MAX  128

/* True for 1 to 64 bytes of [A-Za-z0-9_-]: one NATS token, and a valid
 * part of a stream name. */
bool bridge_host_id_valid(const char *id);

/* The subject of a bus topic: "hvrpc.<host>.<topic>". Refused
 * (INVALID_ARGUMENT): an empty segment, a byte outside 0x21-0x7e, '*' or
 * '>' anywhere (a NATS wildcard), a reserved first segment ("cmd": the
 * host's command space; "fleet": events imported from other hosts), or a
 * result longer than cap - 1. So no topic a guest chooses can leave its
 * host's subject space or land in its command space. */
hvrpc_code bridge_subject_for_topic(const char *host, const char *topic,
                                    char *out, size_t cap, hvrpc_status *st);

/* The bus topic for a subject this host receives: "hvrpc.<host>.cmd.X"
 * -> "cmd.X" (a command for this host); "hvrpc.<other>.T" -> "fleet.
 * <other>.T" (an event of another host, T not starting with "cmd").
 * Anything else (this host's own events, other hosts' commands, subjects
 * that do not make a valid topic) is INVALID_ARGUMENT. */
hvrpc_code bridge_topic_for_subject(const char *host, const char *subject,
                                    char *out, size_t cap, hvrpc_status *st);

/* The JetStream message id of an event: "<host>:<time_unix_nano>:<hash>"
 * with a 64-bit FNV-1a hash over the publisher, topic, headers and
 * payload. It depends only on the event as the broker stamped it, so any
 * bridge instance that receives that event (a replay after a restart, a
 * second instance during a hand-over) gives it the same id. */
void bridge_msg_id(const char *host, int64_t time_unix_nano,
                   const char *publisher, const char *topic,
                   const uint8_t *payload, size_t len, const char *const *keys,
                   const char *const *values, size_t n_headers,
                   char out[BRIDGE_MSG_ID_MAX]);

/* True when key can be a NATS header name (printable ASCII, no ':') and
 * does not begin with a prefix the bridge or NATS owns ("Hvrpc-",
 * "Nats-", any case). */
bool bridge_header_key_ok(const char *key);

/* True when value can be a NATS header value (no CR, LF or NUL). */
bool bridge_header_value_ok(const char *value);

#endif /* HVRPC_BRIDGE_SUBJECT_H */
