/*
 * agent_ctl.c - hvrpc-agentctl: the host's client of a guest agent
 * (docs/AGENT.md).
 *
 *   hvrpc-agentctl [--timeout MS] AGENT time
 *   hvrpc-agentctl [--timeout MS] AGENT shutdown [REASON]
 *   hvrpc-agentctl [--timeout MS] AGENT exec [--exec-timeout MS]
 *                  [--max-output BYTES] [--] PATH [ARG]...
 *
 * AGENT is a URI (vsock://3:5004, unix:///run/agent.sock) or a bare CID
 * (3 means vsock://3:5004). Exit status: a failed call's status code (7
 * PERMISSION_DENIED, 14 UNAVAILABLE, ...), 2 for a usage error; exec
 * otherwise exits with the command's exit status (128 + N for signal N,
 * 124 when it timed out, 125 when its output was cut).
 */
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "hvrpc/agent/v1/agent.hvrpc.h"

#define EXIT_USAGE      2
#define DEFAULT_TIMEOUT 10000u
#define RECV_POLL       200

static const char usage[] =
    "usage: hvrpc-agentctl [--timeout MS] AGENT time\n"
    "       hvrpc-agentctl [--timeout MS] AGENT shutdown [REASON]\n"
    "       hvrpc-agentctl [--timeout MS] AGENT exec [--exec-timeout MS]\n"
    "                      [--max-output BYTES] [--] PATH [ARG]...\n"
    "  AGENT            a URI (vsock://3:5004, unix:///run/agent.sock) or a\n"
    "                   guest's CID (3: vsock://3:5004)\n"
    "  --timeout MS     connect and call limit for time/shutdown (default\n"
    "                   10000)\n"
    "  time             the guest's clocks and their skew from the host's\n"
    "  shutdown         ask the guest to shut down (its --shutdown-cmd)\n"
    "  exec             run an allow-listed command in the guest; its output\n"
    "                   streams here, its exit status is ours\n"
    "Exit status: a failed call's status code (7 PERMISSION_DENIED, ...),\n"
    "2 usage; exec: the command's (128+N signal N, 124 timed out, 125 output\n"
    "cut).\n";

static volatile sig_atomic_t interrupted;

static void on_signal(int sig)
{
    (void)sig;
    interrupted = 1;
}

static int64_t realtime_ns(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static int call_failed(const char *what, const hvrpc_status *st)
{
    fprintf(stderr, "hvrpc-agentctl: %s: %s: %s\n", what,
            hvrpc_code_name(st->code), st->message);
    return st->code > 0 && st->code < 100 ? (int)st->code : 1;
}

/* "2026-11-26T15:10:59.123456789Z" */
static void format_time(int64_t ns, char *buf, size_t size)
{
    time_t secs = (time_t)(ns / 1000000000);
    struct tm tm;
    char head[32];

    gmtime_r(&secs, &tm);
    strftime(head, sizeof head, "%Y-%m-%dT%H:%M:%S", &tm);
    snprintf(buf, size, "%s.%09" PRId64 "Z", head, ns % 1000000000);
}

static int do_time(hvrpc_client *c, uint32_t timeout)
{
    Hvrpc__Agent__V1__TimeRequest req = HVRPC__AGENT__V1__TIME_REQUEST__INIT;
    Hvrpc__Agent__V1__TimeResponse *resp;
    hvrpc_call_options co = HVRPC_CALL_OPTIONS_INIT;
    hvrpc_status st;
    int64_t before, after, mid, skew;
    char when[64];

    co.timeout_ms = timeout;
    before = realtime_ns();
    if (hvrpc__agent__v1__agent__time_call(c, &req, &resp, &co, &st) !=
        HVRPC_OK)
        return call_failed("Time", &st);
    after = realtime_ns();
    /* The guest read its clock somewhere inside [before, after]: compare
     * with the middle; the error is at most half the round trip. */
    mid = before + (after - before) / 2;
    skew = resp->realtime_unix_nano - mid;
    format_time(resp->realtime_unix_nano, when, sizeof when);
    printf("guest clock:  %s\n", when);
    format_time(mid, when, sizeof when);
    printf("host clock:   %s\n", when);
    printf("guest uptime: %.3f s (monotonic), %.3f s (boot time)\n",
           (double)resp->monotonic_nano / 1e9,
           (double)resp->boottime_nano / 1e9);
    printf("round trip:   %.3f ms\n", (double)(after - before) / 1e6);
    printf("skew:         %+.3f ms (guest %s host), +/- %.3f ms\n",
           (double)skew / 1e6, skew >= 0 ? "ahead of" : "behind",
           (double)(after - before) / 2e6);
    protobuf_c_message_free_unpacked(&resp->base, NULL);
    return 0;
}

static int do_shutdown(hvrpc_client *c, uint32_t timeout, const char *reason)
{
    Hvrpc__Agent__V1__ShutdownRequest req =
        HVRPC__AGENT__V1__SHUTDOWN_REQUEST__INIT;
    Hvrpc__Agent__V1__ShutdownResponse *resp;
    hvrpc_call_options co = HVRPC_CALL_OPTIONS_INIT;
    hvrpc_status st;

    co.timeout_ms = timeout;
    req.reason = (char *)(reason ? reason : "");
    if (hvrpc__agent__v1__agent__shutdown_call(c, &req, &resp, &co, &st) !=
        HVRPC_OK)
        return call_failed("Shutdown", &st);
    if (resp->dry_run)
        printf("shutdown: dry run (the agent has no --shutdown-cmd)\n");
    else
        printf("shutdown: the guest runs %s\n", resp->command);
    protobuf_c_message_free_unpacked(&resp->base, NULL);
    return 0;
}

/* exec's options and command into req (argv pointing into argv); false
 * for a usage error. */
static bool parse_exec(int argc, char **argv,
                       Hvrpc__Agent__V1__ExecRequest *req)
{
    char *end;
    int i = 0;

    for (; i < argc; i++) {
        if (strcmp(argv[i], "--") == 0) {
            i++;
            break;
        } else if (i + 1 < argc && strcmp(argv[i], "--exec-timeout") == 0) {
            req->timeout_ms = (uint32_t)strtoul(argv[++i], &end, 10);
            if (*end)
                return false;
        } else if (i + 1 < argc && strcmp(argv[i], "--max-output") == 0) {
            req->max_output_bytes = (uint32_t)strtoul(argv[++i], &end, 10);
            if (*end)
                return false;
        } else {
            break;
        }
    }
    if (i >= argc)
        return false;
    req->argv = argv + i;
    req->n_argv = (size_t)(argc - i);
    return true;
}

static int do_exec(hvrpc_client *c, const Hvrpc__Agent__V1__ExecRequest *req)
{
    const char *cmd = req->argv[0];
    hvrpc_stream *s;
    hvrpc_status st;
    int rc = 1;

    if (hvrpc__agent__v1__agent__exec_open(c, req, NULL, &s, &st) != HVRPC_OK)
        return call_failed("Exec", &st);
    for (;;) {
        Hvrpc__Agent__V1__ExecOutput *out;
        hvrpc_code code =
            hvrpc__agent__v1__agent__exec_recv(s, &out, RECV_POLL, &st);
        if (code == HVRPC_WOULD_BLOCK) {
            if (interrupted) {
                fprintf(stderr, "hvrpc-agentctl: interrupted\n");
                rc = 130;
                break;
            }
            continue;
        }
        if (code == HVRPC_END) {
            fprintf(stderr, "hvrpc-agentctl: the stream ended without an "
                            "exit status\n");
            rc = 1;
            break;
        }
        if (code != HVRPC_OK) {
            rc = call_failed("Exec", &st);
            break;
        }
        /* Flushed at once: the output streams, even into a pipe. */
        if (out->stdout.len) {
            fwrite(out->stdout.data, 1, out->stdout.len, stdout);
            fflush(stdout);
        }
        if (out->stderr.len)
            fwrite(out->stderr.data, 1, out->stderr.len, stderr);
        if (out->exit) {
            const Hvrpc__Agent__V1__ExitStatus *x = out->exit;
            fflush(stdout);
            if (x->timed_out) {
                fprintf(stderr,
                        "hvrpc-agentctl: %s: killed after %" PRIu64
                        " ms (time limit)\n",
                        cmd, x->duration_ms);
                rc = 124;
            } else if (x->truncated) {
                fprintf(stderr,
                        "hvrpc-agentctl: %s: killed after %" PRIu64
                        " bytes of output (output limit)\n",
                        cmd, x->output_bytes);
                rc = 125;
            } else if (x->signal) {
                fprintf(stderr, "hvrpc-agentctl: %s: signal %d\n", cmd,
                        x->signal);
                rc = 128 + x->signal;
            } else {
                rc = x->code;
            }
            protobuf_c_message_free_unpacked(&out->base, NULL);
            break;
        }
        protobuf_c_message_free_unpacked(&out->base, NULL);
    }
    fflush(stdout);
    hvrpc_stream_free(s);
    return rc;
}

int main(int argc, char **argv)
{
    uint32_t timeout = DEFAULT_TIMEOUT;
    const char *target, *verb;
    char uri[HVRPC_ADDRESS_STRLEN];
    hvrpc_client_options o;
    hvrpc_client *c;
    hvrpc_status st;
    Hvrpc__Agent__V1__ExecRequest exec_req =
        HVRPC__AGENT__V1__EXEC_REQUEST__INIT;
    struct sigaction sa;
    int i = 1, rc;

    if (argc > 1 &&
        (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0)) {
        fputs(usage, stdout);
        return 0;
    }
    if (argc > 2 && strcmp(argv[1], "--timeout") == 0) {
        char *end;
        timeout = (uint32_t)strtoul(argv[2], &end, 10);
        if (*end || timeout == 0) {
            fputs(usage, stderr);
            return EXIT_USAGE;
        }
        i = 3;
    }
    if (argc - i < 2) {
        fputs(usage, stderr);
        return EXIT_USAGE;
    }
    target = argv[i];
    verb = argv[i + 1];
    if (strspn(target, "0123456789") == strlen(target))
        snprintf(uri, sizeof uri, "vsock://%s:%u", target,
                 HVRPC__AGENT__V1__AGENT_VSOCK_PORT);
    else
        snprintf(uri, sizeof uri, "%s", target);
    if (strcmp(verb, "time") != 0 && strcmp(verb, "shutdown") != 0 &&
        strcmp(verb, "exec") != 0) {
        fprintf(stderr, "hvrpc-agentctl: unknown command %s\n%s", verb, usage);
        return EXIT_USAGE;
    }
    if (strcmp(verb, "exec") == 0 &&
        !parse_exec(argc - i - 2, argv + i + 2, &exec_req)) {
        fputs(usage, stderr);
        return EXIT_USAGE;
    }
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_signal;
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    signal(SIGPIPE, SIG_IGN);

    hvrpc_client_options_init(&o);
    o.connect_timeout_ms = timeout;
    if (hvrpc_client_connect(uri, &o, &c, &st) != HVRPC_OK)
        return call_failed(uri, &st);
    if (strcmp(verb, "time") == 0)
        rc = argc - i == 2 ? do_time(c, timeout) : (fputs(usage, stderr), 2);
    else if (strcmp(verb, "shutdown") == 0)
        rc = argc - i <= 3 ? do_shutdown(c, timeout, argv[i + 2])
                           : (fputs(usage, stderr), 2);
    else
        rc = do_exec(c, &exec_req);
    hvrpc_client_free(c);
    return rc;
}
