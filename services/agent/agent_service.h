/*
 * agent_service.h - hvrpc.agent.v1.Agent (proto/hvrpc/agent/v1/
 * agent.proto), the guest agent's service, on the generated layer;
 * docs/AGENT.md is its manual.
 *
 * hvrpc-agent (agent_guest.c) creates one hvrpc_agent from its options,
 * registers it on its endpoint and sets its authorizer: Time is open to
 * any peer the endpoint accepts, Shutdown and Exec only to the host
 * (hvrpc_agent_caller_is_host()).
 *
 * Exec runs a command with posix_spawn (no shell, no PATH search) only
 * when argv[0] is exactly one of the allow-listed paths, with stdin
 * /dev/null, the working directory /, a fixed PATH, and its own process
 * group, which is killed (SIGKILL) at the time limit, at the output limit
 * or when the client goes away. Output is streamed in chunks as it comes.
 *
 * Threads: Time and Shutdown run on workers, each Exec on its stream's
 * own thread; hvrpc_agent is safe to share between them.
 */
#ifndef HVRPC_AGENT_SERVICE_H
#define HVRPC_AGENT_SERVICE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <hvrpc/hvrpc.h>

#include "hvrpc/agent/v1/agent.hvrpc.h"

#define HVRPC_AGENT_MAX_ALLOW       256 /* allow-listed commands */
#define HVRPC_AGENT_MAX_CALLERS     16  /* --caller-cid / --caller-uid each */
#define HVRPC_AGENT_MAX_ARGV        64
#define HVRPC_AGENT_MAX_ARG         4096 /* bytes of one argument */
#define HVRPC_AGENT_MAX_EXECS       4    /* commands running at once */
#define HVRPC_AGENT_MAX_REASON      256
#define HVRPC_AGENT_DEFAULT_TIMEOUT 10000u          /* ms */
#define HVRPC_AGENT_DEFAULT_OUTPUT  (1024u * 1024u) /* bytes */
#define HVRPC_AGENT_MAX_TIMEOUT     (3600u * 1000u) /* ms */
#define HVRPC_AGENT_MAX_OUTPUT      (64u << 20)     /* bytes */
#define HVRPC_AGENT_CHUNK           (16u * 1024u)   /* bytes per message */

typedef void (*hvrpc_agent_log_fn)(const char *line, void *arg);

typedef struct hvrpc_agent_config {
    /* Absolute paths of the executables Exec may run. None: Exec is off
     * (every call PERMISSION_DENIED). */
    const char *allow[HVRPC_AGENT_MAX_ALLOW];
    size_t n_allow;
    uint32_t exec_timeout_ms; /* the limit per command; 0: the default */
    uint32_t exec_max_output; /* bytes per command; 0: the default */
    /* The shutdown command, split at spaces (no quoting, no shell);
     * NULL: a dry run. */
    const char *shutdown_cmd;
    /* Who counts as the host, besides vsock CID 2 and, on unix sockets,
     * uid 0 and the agent's own uid. */
    uint32_t caller_cids[HVRPC_AGENT_MAX_CALLERS];
    size_t n_caller_cids;
    uint32_t caller_uids[HVRPC_AGENT_MAX_CALLERS];
    size_t n_caller_uids;
    hvrpc_agent_log_fn log; /* one line per request; may be NULL */
    void *log_arg;
    /* allow[i] was allocated by hvrpc_agent_read_allow_file(): freed by
     * hvrpc_agent_config_release(). */
    bool allow_owned[HVRPC_AGENT_MAX_ALLOW];
} hvrpc_agent_config;

typedef struct hvrpc_agent hvrpc_agent;

/* Creates the agent from cfg (copied). INVALID_ARGUMENT for an allow-list
 * entry that is not an absolute path, an empty shutdown command or a
 * limit out of range. */
hvrpc_code hvrpc_agent_create(const hvrpc_agent_config *cfg, hvrpc_agent **out,
                              hvrpc_status *st);

/* Registers Agent on ep and sets ep's authorizer (Shutdown and Exec for
 * the host only). Only before the server starts. */
hvrpc_code hvrpc_agent_register(hvrpc_server *srv, hvrpc_endpoint *ep,
                                hvrpc_agent *a, hvrpc_status *st);

/* True when peer may call the host-only methods of a. */
bool hvrpc_agent_caller_is_host(const hvrpc_agent *a, const hvrpc_peer *peer);

/* Reads an allow-list file into cfg: one absolute path per line; blank
 * lines and lines starting with '#' are skipped. The strings are
 * allocated (hvrpc_agent_create() copies the pointers, not the strings:
 * release cfg after the agent is freed). INVALID_ARGUMENT names the file
 * and line of a bad entry; NOT_FOUND for a file that cannot be read. */
hvrpc_code hvrpc_agent_read_allow_file(hvrpc_agent_config *cfg,
                                       const char *path, hvrpc_status *st);

/* Frees the strings hvrpc_agent_read_allow_file() allocated in cfg. */
void hvrpc_agent_config_release(hvrpc_agent_config *cfg);

/* Commands running now (for tests). */
size_t hvrpc_agent_running(hvrpc_agent *a);

/* Frees a after the server it is registered with. a may be NULL. Waits
 * for no shutdown command: those run on by themselves. */
void hvrpc_agent_free(hvrpc_agent *a);

/* --- agent_exec.c ------------------------------------------------------- */

/* Where a command's output goes: called for each chunk (stream 1 stdout,
 * 2 stderr). Returns false to stop the command (the client went away). */
typedef bool (*hvrpc_agent_sink_fn)(int stream, const uint8_t *data, size_t len,
                                    void *arg);

typedef struct hvrpc_agent_exec_result {
    int code;   /* exit status, -1 when ended by a signal */
    int signal; /* 0 when it exited */
    bool timed_out;
    bool truncated;
    bool cancelled; /* the sink said stop */
    uint64_t output_bytes;
    uint64_t duration_ms;
} hvrpc_agent_exec_result;

/* Runs argv (argv[0] an absolute path; NULL-terminated) and pumps its
 * output into sink until it ends, timeout_ms passes or max_output bytes
 * were sent; then kills its process group and reaps it. INTERNAL when it
 * could not be started (st names the reason). */
hvrpc_code hvrpc_agent_exec(char *const argv[], uint32_t timeout_ms,
                            uint32_t max_output, hvrpc_agent_sink_fn sink,
                            void *arg, hvrpc_agent_exec_result *res,
                            hvrpc_status *st);

/* Starts argv detached (its exit is reaped by a thread of its own and
 * logged through log). */
hvrpc_code hvrpc_agent_spawn_detached(char *const argv[],
                                      hvrpc_agent_log_fn log, void *log_arg,
                                      hvrpc_status *st);

#endif /* HVRPC_AGENT_SERVICE_H */
