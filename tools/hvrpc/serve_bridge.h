/*
 * serve_bridge.h - `hvrpc serve --bridge nats://...`: the serve verb runs
 * hvrpc-bridge (services/bridge, docs/FLEET.md) as its child, connected
 * to its own bus, and keeps it running until serve stops.
 *
 * A child rather than a thread: the bridge keeps its own process (libnats
 * is process-global, its stop waits for every NATS thread), a bridge
 * crash does not take the host bus with it, and the `hvrpc` tool does not
 * need libnats. Linux only (elsewhere --bridge is refused).
 */
#ifndef HVRPC_SERVE_BRIDGE_H
#define HVRPC_SERVE_BRIDGE_H

#include <signal.h>
#include <stdbool.h>
#include <stddef.h>

#include "cli.h"

typedef struct serve_bridge {
    const char *nats;    /* --bridge URL[,URL]; NULL: no bridge */
    const char *program; /* --bridge-program, or found at start */
    /* The other --bridge-NAME VALUE options, as "--NAME", "VALUE" pairs
     * for the child (argc entries allocated by the caller; the "--NAME"
     * strings are allocated, freed by serve_bridge_free). */
    char **args;
    size_t n_args;
    bool has_bus, has_host_id, has_spool;
    char program_path[4096];
    char bus_uri[300];
    int pid; /* 0: not running */
    unsigned restarts;
} serve_bridge;

/* True when arg is a --bridge option (taken, with its value, from a). */
bool serve_bridge_parse(serve_bridge *br, cli_args *a, char *arg);

/* After parsing: the usage errors (exits like cli_usage). */
void serve_bridge_check(const serve_bridge *br);

/* Starts the child with bus_uri (when no --bridge-bus was given). Returns
 * 0 or an exit status after saying what failed. */
int serve_bridge_start(serve_bridge *br, const char *bus_uri);

/* Waits for one of stop_signals (which must hold SIGCHLD too, blocked in
 * every thread) and restarts the child when it ends on its own. Returns 0
 * with *sig when a stop signal came, or CLI_EXIT_USAGE when the bridge
 * refused its options. */
#ifndef _WIN32
int serve_bridge_wait(serve_bridge *br, const sigset_t *stop_signals, int *sig);
#endif

/* Stops the child (SIGTERM, SIGKILL after 10 s) and frees. */
void serve_bridge_free(serve_bridge *br);

#endif /* HVRPC_SERVE_BRIDGE_H */
