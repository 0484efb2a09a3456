/*
 * bridge_spool.h - the bridge's local spool: bus events not yet
 * acknowledged by JetStream, oldest first, in one SQLite file that
 * survives the bridge (docs/FLEET.md, "Spool").
 *
 * Every event is written here before it is published and removed only
 * after JetStream acknowledged it, so a bridge that stops or crashes
 * between the two publishes it again on its next start, with the same
 * message id (JetStream drops the second copy). Message ids are unique in
 * the spool: a second instance writing the same event (a hand-over) adds
 * nothing, and the row order stays the bus's order.
 *
 * Several processes may open one spool; only the one holding its
 * publisher lock (bridge_spool_try_lock) publishes. Every function is
 * safe from any thread of the process.
 */
#ifndef HVRPC_BRIDGE_SPOOL_H
#define HVRPC_BRIDGE_SPOOL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <hvrpc/hvrpc.h>

typedef struct bridge_spool bridge_spool;

typedef struct bridge_spool_entry {
    int64_t id; /* increasing; never reused */
    char *msg_id;
    char *subject;
    uint8_t *event; /* the packed hvrpc.bus.v1.Event */
    size_t len;
    bool waited; /* it arrived while NATS could not take it */
} bridge_spool_entry;

/* Opens (creating) the spool at path, holding at most max events. */
hvrpc_code bridge_spool_open(const char *path, uint64_t max, bridge_spool **out,
                             hvrpc_status *st);

/* Appends an event. *added is false when an event with msg_id is already
 * there (nothing written). RESOURCE_EXHAUSTED when the spool holds max
 * events: the event is not written (the caller counts it dropped). */
hvrpc_code bridge_spool_add(bridge_spool *sp, const char *msg_id,
                            const char *subject, const uint8_t *event,
                            size_t len, bool waited, bool *added,
                            hvrpc_status *st);

/* Up to cap of the oldest events into out (each freed with
 * bridge_spool_entry_clear); *n says how many. */
hvrpc_code bridge_spool_peek(bridge_spool *sp, bridge_spool_entry *out,
                             size_t cap, size_t *n, hvrpc_status *st);
void bridge_spool_entry_clear(bridge_spool_entry *e);

/* Removes the event with this id (acknowledged). */
hvrpc_code bridge_spool_remove(bridge_spool *sp, int64_t id, hvrpc_status *st);

/* Events in the spool now. */
uint64_t bridge_spool_depth(bridge_spool *sp);

/* A number kept beside the events (0 when never set): the stream
 * sequence of the last command published into the bus (bridge_cmd.c). */
uint64_t bridge_spool_get_meta(bridge_spool *sp, const char *key);
hvrpc_code bridge_spool_set_meta(bridge_spool *sp, const char *key,
                                 uint64_t value, hvrpc_status *st);

/* Takes the publisher lock (an flock on "<path>.lock") without waiting:
 * true when this process holds it now. Released by bridge_spool_close or
 * the process's end, even a crash. */
bool bridge_spool_try_lock(bridge_spool *sp);

/* sp may be NULL. */
void bridge_spool_close(bridge_spool *sp);

#endif /* HVRPC_BRIDGE_SPOOL_H */
