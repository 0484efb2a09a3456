/*
 * agent_service.c - hvrpc.agent.v1.Agent's handlers and authorizer
 * (agent_service.h, docs/AGENT.md).
 */
#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "agent_service.h"
#include "svc_log.h"

#define VMADDR_CID_HOST_ 2u /* the host, seen from a guest */
#define SEND_SLICE_MS    200

struct hvrpc_agent {
    hvrpc_agent_config cfg;
    char **shutdown_argv; /* NULL-terminated; NULL: dry run */
    char *shutdown_line;
    char *shutdown_buf; /* the words of shutdown_argv */
    pthread_mutex_t mu;
    size_t running;
};

#define agent_log(a, ...)                                                      \
    hvrpc_svc_logf((a)->cfg.log, (a)->cfg.log_arg, __VA_ARGS__)

static uint64_t clock_ns(clockid_t id)
{
    struct timespec ts;

    clock_gettime(id, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/* --- who is the host ----------------------------------------------------- */

bool hvrpc_agent_caller_is_host(const hvrpc_agent *a, const hvrpc_peer *peer)
{
    switch (peer->kind) {
    case HVRPC_ADDR_VSOCK:
        if (peer->vsock_cid == VMADDR_CID_HOST_)
            return true;
        for (size_t i = 0; i < a->cfg.n_caller_cids; i++)
            if (peer->vsock_cid == a->cfg.caller_cids[i])
                return true;
        return false;
    case HVRPC_ADDR_HVSOCK:
        /* A guest's AF_HYPERV listener is reached only from its parent
         * partition (DESIGN.md section 2). */
        return true;
    case HVRPC_ADDR_UNIX:
        if (peer->uid < 0)
            return false;
        if (peer->uid == 0 || peer->uid == (int64_t)geteuid())
            return true;
        for (size_t i = 0; i < a->cfg.n_caller_uids; i++)
            if (peer->uid == (int64_t)a->cfg.caller_uids[i])
                return true;
        return false;
    default:
        /* tcp, hybrid vsock (a host-side transport) and anything newer:
         * a guest's agent never takes them for its host. */
        return false;
    }
}

/* The endpoint's authorizer: runs before routing, on the loop thread. */
static hvrpc_code authorize(const hvrpc_peer *peer, const char *service,
                            const char *method, void *arg, hvrpc_status *st)
{
    const hvrpc_agent *a = arg;
    char who[128];

    if (strcmp(service, HVRPC__AGENT__V1__AGENT_NAME) != 0 ||
        strcmp(method, "Time") == 0)
        return HVRPC_OK;
    if (hvrpc_agent_caller_is_host(a, peer))
        return HVRPC_OK;
    hvrpc_peer_format(peer, who, sizeof who);
    return hvrpc_status_set(st, HVRPC_PERMISSION_DENIED,
                            "%s: only the host may call it; %s is not the "
                            "host (docs/AGENT.md)",
                            method, who);
}

/* --- Time ---------------------------------------------------------------- */

static void time_(hvrpc_call *call, const Hvrpc__Agent__V1__TimeRequest *req,
                  void *user_data)
{
    Hvrpc__Agent__V1__TimeResponse resp = HVRPC__AGENT__V1__TIME_RESPONSE__INIT;

    (void)req;
    (void)user_data;
    resp.realtime_unix_nano = (int64_t)clock_ns(CLOCK_REALTIME);
    resp.monotonic_nano = clock_ns(CLOCK_MONOTONIC);
    resp.boottime_nano = clock_ns(CLOCK_BOOTTIME);
    hvrpc__agent__v1__agent__time_reply(call, &resp);
}

/* --- Shutdown ------------------------------------------------------------ */

static void shutdown_(hvrpc_call *call,
                      const Hvrpc__Agent__V1__ShutdownRequest *req,
                      void *user_data)
{
    hvrpc_agent *a = user_data;
    Hvrpc__Agent__V1__ShutdownResponse resp =
        HVRPC__AGENT__V1__SHUTDOWN_RESPONSE__INIT;
    char who[128];
    size_t reason_len = strnlen(req->reason, HVRPC_AGENT_MAX_REASON + 1);
    hvrpc_status st;

    if (reason_len > HVRPC_AGENT_MAX_REASON) {
        hvrpc_call_fail(call, HVRPC_INVALID_ARGUMENT,
                        "reason is longer than %d bytes",
                        HVRPC_AGENT_MAX_REASON);
        return;
    }
    hvrpc_peer_format(hvrpc_call_peer(call), who, sizeof who);
    if (!a->shutdown_argv) {
        agent_log(a,
                  "shutdown requested by %s (reason: %s): dry run, no "
                  "--shutdown-cmd",
                  who, *req->reason ? req->reason : "none");
        resp.dry_run = true;
        hvrpc__agent__v1__agent__shutdown_reply(call, &resp);
        return;
    }
    agent_log(a, "shutdown requested by %s (reason: %s): running %s", who,
              *req->reason ? req->reason : "none", a->shutdown_line);
    resp.command = a->shutdown_line;
    /* Answered first: the command may take the connection down with the
     * guest. */
    hvrpc__agent__v1__agent__shutdown_reply(call, &resp);
    if (hvrpc_agent_spawn_detached(a->shutdown_argv, a->cfg.log, a->cfg.log_arg,
                                   &st) != HVRPC_OK)
        agent_log(a, "shutdown command failed: %s", st.message);
}

/* --- Exec ---------------------------------------------------------------- */

typedef struct exec_sink {
    hvrpc_stream *stream;
    uint64_t deadline_ms; /* give up a blocked send then */
} exec_sink;

static uint64_t mono_ms(void)
{
    return clock_ns(CLOCK_MONOTONIC) / 1000000u;
}

/* Sends msg, retrying while the client's window is full, until the
 * stream ends or the command's time is up. */
static bool send_output(hvrpc_stream *stream,
                        const Hvrpc__Agent__V1__ExecOutput *msg,
                        uint64_t deadline_ms)
{
    for (;;) {
        hvrpc_code code = hvrpc__agent__v1__agent__exec_server_send(
            stream, msg, SEND_SLICE_MS, NULL);
        if (code == HVRPC_OK)
            return true;
        if (code != HVRPC_WOULD_BLOCK || hvrpc_stream_done(stream) ||
            hvrpc_server_stopping(hvrpc_stream_server(stream)) ||
            mono_ms() >= deadline_ms)
            return false;
    }
}

static bool sink(int which, const uint8_t *data, size_t len, void *arg)
{
    exec_sink *s = arg;
    Hvrpc__Agent__V1__ExecOutput out = HVRPC__AGENT__V1__EXEC_OUTPUT__INIT;

    if (which == 1) {
        out.stdout.data = (uint8_t *)data;
        out.stdout.len = len;
    } else {
        out.stderr.data = (uint8_t *)data;
        out.stderr.len = len;
    }
    return send_output(s->stream, &out, s->deadline_ms);
}

static bool allowed(const hvrpc_agent *a, const char *path)
{
    for (size_t i = 0; i < a->cfg.n_allow; i++)
        if (strcmp(a->cfg.allow[i], path) == 0)
            return true;
    return false;
}

/* Checks the request; OK or the status to end the stream with. */
static hvrpc_code check_exec(const hvrpc_agent *a,
                             const Hvrpc__Agent__V1__ExecRequest *req,
                             hvrpc_status *st)
{
    if (req->n_argv == 0)
        return hvrpc_status_set(st, HVRPC_INVALID_ARGUMENT,
                                "argv is empty: argv[0] is the command");
    if (req->n_argv > HVRPC_AGENT_MAX_ARGV)
        return hvrpc_status_set(st, HVRPC_INVALID_ARGUMENT,
                                "%zu arguments; at most %d", req->n_argv,
                                HVRPC_AGENT_MAX_ARGV);
    for (size_t i = 0; i < req->n_argv; i++)
        if (strnlen(req->argv[i], HVRPC_AGENT_MAX_ARG + 1) >
            HVRPC_AGENT_MAX_ARG)
            return hvrpc_status_set(st, HVRPC_INVALID_ARGUMENT,
                                    "argv[%zu] is longer than %d bytes", i,
                                    HVRPC_AGENT_MAX_ARG);
    if (a->cfg.n_allow == 0)
        return hvrpc_status_set(st, HVRPC_PERMISSION_DENIED,
                                "command %.256s refused: command execution "
                                "is off on this agent (no --allow or "
                                "--exec-allow)",
                                req->argv[0]);
    if (!allowed(a, req->argv[0]))
        return hvrpc_status_set(st, HVRPC_PERMISSION_DENIED,
                                "command %.256s is not on the agent's allow "
                                "list",
                                req->argv[0]);
    return HVRPC_OK;
}

static bool exec_enter(hvrpc_agent *a)
{
    bool ok;

    pthread_mutex_lock(&a->mu);
    ok = a->running < HVRPC_AGENT_MAX_EXECS;
    if (ok)
        a->running++;
    pthread_mutex_unlock(&a->mu);
    return ok;
}

static void exec_leave(hvrpc_agent *a)
{
    pthread_mutex_lock(&a->mu);
    a->running--;
    pthread_mutex_unlock(&a->mu);
}

static void exec_(hvrpc_stream *stream,
                  const Hvrpc__Agent__V1__ExecRequest *req, void *user_data)
{
    hvrpc_agent *a = user_data;
    Hvrpc__Agent__V1__ExecOutput last = HVRPC__AGENT__V1__EXEC_OUTPUT__INIT;
    Hvrpc__Agent__V1__ExitStatus ex = HVRPC__AGENT__V1__EXIT_STATUS__INIT;
    hvrpc_agent_exec_result res;
    uint32_t timeout = a->cfg.exec_timeout_ms, max_out = a->cfg.exec_max_output;
    char who[128];
    char *argv[HVRPC_AGENT_MAX_ARGV + 1];
    exec_sink s;
    hvrpc_status st;

    hvrpc_peer_format(hvrpc_stream_peer(stream), who, sizeof who);
    if (check_exec(a, req, &st) != HVRPC_OK) {
        agent_log(a, "exec refused for %s: %s", who, st.message);
        hvrpc_stream_finish(stream, st.code, "%s", st.message);
        return;
    }
    if (!exec_enter(a)) {
        hvrpc_stream_finish(stream, HVRPC_RESOURCE_EXHAUSTED,
                            "%d commands are running already, the limit",
                            HVRPC_AGENT_MAX_EXECS);
        return;
    }
    if (req->timeout_ms != 0 && req->timeout_ms < timeout)
        timeout = req->timeout_ms;
    if (req->max_output_bytes != 0 && req->max_output_bytes < max_out)
        max_out = req->max_output_bytes;
    for (size_t i = 0; i < req->n_argv; i++)
        argv[i] = req->argv[i];
    argv[req->n_argv] = NULL;
    agent_log(a,
              "exec for %s: %s (%zu args, %" PRIu32 " ms, %" PRIu32
              " bytes at most)",
              who, argv[0], req->n_argv - 1, timeout, max_out);
    s.stream = stream;
    s.deadline_ms = mono_ms() + timeout;
    if (hvrpc_agent_exec(argv, timeout, max_out, sink, &s, &res, &st) !=
        HVRPC_OK) {
        exec_leave(a);
        agent_log(a, "exec %s: %s", argv[0], st.message);
        hvrpc_stream_finish(stream, st.code, "%s", st.message);
        return;
    }
    exec_leave(a);
    agent_log(a,
              "exec %s: exit %d signal %d%s%s, %" PRIu64 " bytes in %" PRIu64
              " ms",
              argv[0], res.code, res.signal, res.timed_out ? ", timed out" : "",
              res.truncated ? ", output truncated" : "", res.output_bytes,
              res.duration_ms);
    if (res.cancelled) {
        hvrpc_stream_finish(stream, HVRPC_CANCELLED, "the client went away");
        return;
    }
    ex.code = res.code;
    ex.signal = res.signal;
    ex.timed_out = res.timed_out;
    ex.truncated = res.truncated;
    ex.output_bytes = res.output_bytes;
    ex.duration_ms = res.duration_ms;
    last.exit = &ex;
    /* A few more seconds for the last message than for the output. */
    if (!send_output(stream, &last, mono_ms() + 5000)) {
        hvrpc_stream_finish(stream, HVRPC_UNAVAILABLE, "the stream is over");
        return;
    }
    hvrpc_stream_finish(stream, HVRPC_OK, NULL);
}

/* --- life ---------------------------------------------------------------- */

static hvrpc_code split_shutdown(hvrpc_agent *a, const char *cmd,
                                 hvrpc_status *st)
{
    size_t n = 0, cap = 8;
    char *copy, *save = NULL, *word;

    copy = strdup(cmd);
    a->shutdown_line = strdup(cmd);
    a->shutdown_argv = calloc(cap, sizeof *a->shutdown_argv);
    if (!copy || !a->shutdown_line || !a->shutdown_argv) {
        free(copy);
        return hvrpc_status_set(st, HVRPC_RESOURCE_EXHAUSTED, "out of memory");
    }
    for (word = strtok_r(copy, " \t", &save); word;
         word = strtok_r(NULL, " \t", &save)) {
        if (n + 1 == cap) {
            char **more = realloc(a->shutdown_argv, 2 * cap * sizeof *more);
            if (!more) {
                free(copy);
                return hvrpc_status_set(st, HVRPC_RESOURCE_EXHAUSTED,
                                        "out of memory");
            }
            a->shutdown_argv = more;
            cap *= 2;
        }
        a->shutdown_argv[n++] = word;
        a->shutdown_argv[n] = NULL;
    }
    if (n == 0 || a->shutdown_argv[0][0] != '/') {
        free(copy);
        free(a->shutdown_argv);
        a->shutdown_argv = NULL;
        return hvrpc_status_set(st, HVRPC_INVALID_ARGUMENT,
                                "--shutdown-cmd \"%s\": the command must be "
                                "an absolute path",
                                cmd);
    }
    a->shutdown_buf = copy;
    return HVRPC_OK;
}

hvrpc_code hvrpc_agent_create(const hvrpc_agent_config *cfg, hvrpc_agent **out,
                              hvrpc_status *st)
{
    hvrpc_agent *a;

    for (size_t i = 0; i < cfg->n_allow; i++)
        if (!cfg->allow[i] || cfg->allow[i][0] != '/')
            return hvrpc_status_set(st, HVRPC_INVALID_ARGUMENT,
                                    "allow list: %s is not an absolute path",
                                    cfg->allow[i] ? cfg->allow[i] : "(null)");
    if (cfg->n_allow > HVRPC_AGENT_MAX_ALLOW ||
        cfg->n_caller_cids > HVRPC_AGENT_MAX_CALLERS ||
        cfg->n_caller_uids > HVRPC_AGENT_MAX_CALLERS)
        return hvrpc_status_set(st, HVRPC_INVALID_ARGUMENT,
                                "too many allow-list or caller entries");
    if (cfg->exec_timeout_ms > HVRPC_AGENT_MAX_TIMEOUT ||
        cfg->exec_max_output > HVRPC_AGENT_MAX_OUTPUT)
        return hvrpc_status_set(st, HVRPC_INVALID_ARGUMENT,
                                "exec limits: at most %u ms and %u bytes",
                                HVRPC_AGENT_MAX_TIMEOUT,
                                HVRPC_AGENT_MAX_OUTPUT);
    a = calloc(1, sizeof *a);
    if (!a)
        return hvrpc_status_set(st, HVRPC_RESOURCE_EXHAUSTED, "out of memory");
    a->cfg = *cfg;
    if (a->cfg.exec_timeout_ms == 0)
        a->cfg.exec_timeout_ms = HVRPC_AGENT_DEFAULT_TIMEOUT;
    if (a->cfg.exec_max_output == 0)
        a->cfg.exec_max_output = HVRPC_AGENT_DEFAULT_OUTPUT;
    pthread_mutex_init(&a->mu, NULL);
    if (cfg->shutdown_cmd && split_shutdown(a, cfg->shutdown_cmd, st)) {
        hvrpc_agent_free(a);
        return st->code;
    }
    *out = a;
    return HVRPC_OK;
}

hvrpc_code hvrpc_agent_register(hvrpc_server *srv, hvrpc_endpoint *ep,
                                hvrpc_agent *a, hvrpc_status *st)
{
    static const hvrpc__agent__v1__agent_handlers handlers = {
        .time = time_,
        .shutdown = shutdown_,
        .exec = exec_,
    };
    hvrpc_code code =
        hvrpc__agent__v1__agent_register(srv, ep, &handlers, a, st);
    if (code != HVRPC_OK)
        return code;
    return hvrpc_endpoint_set_authorizer(ep, authorize, a, st);
}

hvrpc_code hvrpc_agent_read_allow_file(hvrpc_agent_config *cfg,
                                       const char *path, hvrpc_status *st)
{
    FILE *f = fopen(path, "r");
    char line[4096];
    unsigned lineno = 0;

    if (!f)
        return hvrpc_status_set(st, HVRPC_NOT_FOUND, "%s: %s", path,
                                strerror(errno));
    while (fgets(line, sizeof line, f)) {
        char *p = line, *end;

        lineno++;
        while (*p == ' ' || *p == '\t')
            p++;
        end = p + strlen(p);
        while (end > p && (end[-1] == '\n' || end[-1] == '\r' ||
                           end[-1] == ' ' || end[-1] == '\t'))
            *--end = '\0';
        if (*p == '\0' || *p == '#')
            continue;
        if (*p != '/' || cfg->n_allow == HVRPC_AGENT_MAX_ALLOW) {
            fclose(f);
            return hvrpc_status_set(
                st, HVRPC_INVALID_ARGUMENT, "%s:%u: %s", path, lineno,
                *p != '/' ? "not an absolute path"
                          : "too many entries (at most 256)");
        }
        cfg->allow[cfg->n_allow] = strdup(p);
        if (!cfg->allow[cfg->n_allow]) {
            fclose(f);
            return hvrpc_status_set(st, HVRPC_RESOURCE_EXHAUSTED,
                                    "out of memory");
        }
        cfg->allow_owned[cfg->n_allow] = true;
        cfg->n_allow++;
    }
    fclose(f);
    return HVRPC_OK;
}

void hvrpc_agent_config_release(hvrpc_agent_config *cfg)
{
    for (size_t i = 0; i < cfg->n_allow; i++) {
        if (cfg->allow_owned[i])
            free((char *)cfg->allow[i]);
        cfg->allow_owned[i] = false;
    }
    cfg->n_allow = 0;
}

size_t hvrpc_agent_running(hvrpc_agent *a)
{
    size_t n;

    pthread_mutex_lock(&a->mu);
    n = a->running;
    pthread_mutex_unlock(&a->mu);
    return n;
}

void hvrpc_agent_free(hvrpc_agent *a)
{
    if (!a)
        return;
    free(a->shutdown_buf);
    free(a->shutdown_argv);
    free(a->shutdown_line);
    pthread_mutex_destroy(&a->mu);
    free(a);
}
