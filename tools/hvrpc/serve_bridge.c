/*
 * serve_bridge.c - `hvrpc serve --bridge`: hvrpc-bridge as a child of
 * serve (serve_bridge.h). The child gets "--nats URLS --bus URI" and every
 * --bridge-NAME VALUE as --NAME VALUE; it is restarted (1 s, doubling to
 * 30 s) when it ends on its own, and stopped before serve stops its bus.
 * Nothing is lost across a restart that reached the bridge's spool
 * (docs/FLEET.md).
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#ifdef __linux__
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>
#endif

#include <hvrpc/hvrpc.h>

#include "serve_bridge.h"

/* The bridge's options that take a value (all of them do); --nats and
 * --bus come from --bridge and the serve's own endpoint unless given. */
static const char *const known[] = {
    "host-id", "bus",       "spool",  "nats",         "pattern",   "import",
    "stream",  "replicas",  "listen", "dedup-window", "spool-max", "ack-wait",
    "creds",   "user-file", "tls-ca", "tls-cert",     "tls-key",
};

bool serve_bridge_parse(serve_bridge *br, cli_args *a, char *arg)
{
    char *value, *name;
    size_t len;
    bool ok = false;

    if (cli_args_value(a, arg, "--bridge", &value)) {
        br->nats = value;
        return true;
    }
    if (strncmp(arg, "--bridge-", 9) != 0)
        return false;
    name = arg + 9;
    len = strcspn(name, "=");
    if (name[len] == '=') {
        value = name + len + 1;
    } else if (a->next < a->argc) {
        value = a->argv[a->next++];
    } else {
        cli_usage("serve", "option '%s' needs a value", arg);
    }
    if (len == 7 && strncmp(name, "program", 7) == 0) {
        br->program = value;
        return true;
    }
    for (size_t i = 0; i < sizeof known / sizeof known[0] && !ok; i++)
        ok = strlen(known[i]) == len && strncmp(known[i], name, len) == 0;
    if (!ok)
        cli_usage("serve",
                  "unknown option '%.*s' (the --bridge-NAME options are "
                  "hvrpc-bridge's --NAME options: hvrpc-bridge --help)",
                  (int)(len + 9), arg);
    br->has_bus |= len == 3 && strncmp(name, "bus", 3) == 0;
    br->has_host_id |= len == 7 && strncmp(name, "host-id", 7) == 0;
    br->has_spool |= len == 5 && strncmp(name, "spool", 5) == 0;
    char *opt = malloc(len + 3);
    if (opt == NULL)
        cli_usage("serve", "out of memory");
    opt[0] = opt[1] = '-';
    memcpy(opt + 2, name, len);
    opt[len + 2] = '\0';
    br->args[br->n_args++] = opt;
    br->args[br->n_args++] = value;
    return true;
}

void serve_bridge_check(const serve_bridge *br)
{
    if (br->nats == NULL) {
        if (br->n_args > 0 || br->program)
            cli_usage("serve", "--bridge-%s needs --bridge nats://HOST:PORT",
                      br->n_args > 0 ? br->args[0] + 2 : "program");
        return;
    }
#ifndef __linux__
    cli_usage("serve", "--bridge: only on Linux (run hvrpc-bridge instead)");
#else
    if (!br->has_host_id || !br->has_spool)
        cli_usage("serve", "--bridge needs --bridge-host-id ID and "
                           "--bridge-spool PATH (docs/FLEET.md)");
#endif
}

#ifdef __linux__

static void log_line(const char *level, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static void log_line(const char *level, const char *fmt, ...)
{
    char line[512];
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(line, sizeof line, fmt, ap);
    va_end(ap);
    fprintf(stderr, "%s: bridge: %s\n", level, line);
}

static bool executable(const char *path)
{
    return access(path, X_OK) == 0;
}

/* The program to run: --bridge-program (a path, or a name looked up in
 * PATH), else hvrpc-bridge beside this executable, else in PATH. Looked
 * up here, before fork(), because the child may only exec. */
static bool find_program(serve_bridge *br)
{
    const char *name = br->program ? br->program : "hvrpc-bridge";
    char self[4096];
    ssize_t n;

    if (strchr(name, '/') != NULL)
        return snprintf(br->program_path, sizeof br->program_path, "%s", name) <
                   (int)sizeof br->program_path &&
               executable(br->program_path);
    if (br->program == NULL &&
        (n = readlink("/proc/self/exe", self, sizeof self - 1)) > 0) {
        char *slash;
        self[n] = '\0';
        if ((slash = strrchr(self, '/')) != NULL) {
            *slash = '\0';
            if (snprintf(br->program_path, sizeof br->program_path, "%s/%s",
                         self, name) < (int)sizeof br->program_path &&
                executable(br->program_path))
                return true;
        }
    }
    const char *path = getenv("PATH");
    while (path && *path) {
        size_t len = strcspn(path, ":");
        if (len > 0 &&
            snprintf(br->program_path, sizeof br->program_path, "%.*s/%s",
                     (int)len, path, name) < (int)sizeof br->program_path &&
            executable(br->program_path))
            return true;
        path += len + (path[len] == ':');
    }
    return false;
}

static char **child_argv;

static int spawn(serve_bridge *br)
{
    pid_t parent = getpid();
    pid_t pid = fork();

    if (pid == 0) {
        /* Only async-signal-safe calls between fork and exec: serve has
         * threads. The signal mask survives exec: clear it. */
        sigset_t none;
        sigemptyset(&none);
        sigprocmask(SIG_SETMASK, &none, NULL);
        /* The bridge must not outlive serve (even a SIGKILLed one). */
        prctl(PR_SET_PDEATHSIG, SIGTERM);
        if (getppid() != parent)
            _exit(1);
        execv(br->program_path, child_argv);
        _exit(127);
    }
    if (pid < 0) {
        log_line("error", "fork: %s", strerror(errno));
        return -1;
    }
    br->pid = (int)pid;
    log_line("info", "started %s (pid %d): %s -> %s", br->program_path,
             (int)pid, br->bus_uri, br->nats);
    return 0;
}

int serve_bridge_start(serve_bridge *br, const char *bus_uri)
{
    size_t n = 0;

    if (br->nats == NULL)
        return 0;
    if (!find_program(br)) {
        fprintf(stderr,
                "hvrpc: serve: --bridge: %s not found (beside hvrpc or in "
                "PATH; --bridge-program PATH)\n",
                br->program ? br->program : "hvrpc-bridge");
        return HVRPC_NOT_FOUND;
    }
    if (!br->has_bus && bus_uri == NULL)
        return cli_usage_error("serve", "--bridge needs a unix:// --listen "
                                        "endpoint (the bridge connects to "
                                        "the bus there) or --bridge-bus URI");
    snprintf(br->bus_uri, sizeof br->bus_uri, "%s",
             br->has_bus ? "(--bridge-bus)" : bus_uri);
    child_argv = calloc(br->n_args + 6, sizeof *child_argv);
    if (child_argv == NULL)
        return cli_out_of_memory("serve");
    child_argv[n++] = br->program_path;
    child_argv[n++] = "--nats";
    child_argv[n++] = (char *)br->nats;
    if (!br->has_bus) {
        child_argv[n++] = "--bus";
        child_argv[n++] = br->bus_uri;
    }
    memcpy(&child_argv[n], br->args, br->n_args * sizeof *br->args);
    return spawn(br) == 0 ? 0 : HVRPC_INTERNAL;
}

static int64_t now_s(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (int64_t)t.tv_sec;
}

int serve_bridge_wait(serve_bridge *br, const sigset_t *stop_signals, int *sig)
{
    int64_t started = now_s(), restart_at = 0;
    unsigned backoff = 1;

    for (;;) {
        struct timespec tick = {1, 0};
        int status, s = sigtimedwait(stop_signals, NULL, &tick);

        if (s == SIGINT || s == SIGTERM) {
            *sig = s;
            return 0;
        }
        if (s == SIGCHLD && br->pid > 0 &&
            waitpid((pid_t)br->pid, &status, WNOHANG) == (pid_t)br->pid) {
            br->pid = 0;
            if (WIFEXITED(status) &&
                (WEXITSTATUS(status) == 2 || WEXITSTATUS(status) == 127)) {
                log_line("error", "%s %s (exit %d): serve stops",
                         br->program_path,
                         WEXITSTATUS(status) == 2 ? "refused its options"
                                                  : "could not be run",
                         WEXITSTATUS(status));
                return CLI_EXIT_USAGE;
            }
            /* A bridge that ran a while starts again soon; one that keeps
             * failing (NATS refusing it) less and less often. */
            if (now_s() - started > 60)
                backoff = 1;
            log_line("warn", "hvrpc-bridge ended (%s %d); restarting in %u s",
                     WIFEXITED(status) ? "exit" : "signal",
                     WIFEXITED(status) ? WEXITSTATUS(status) : WTERMSIG(status),
                     backoff);
            restart_at = now_s() + backoff;
            backoff = backoff * 2 > 30 ? 30 : backoff * 2;
        }
        if (br->pid == 0 && now_s() >= restart_at) {
            br->restarts++;
            started = now_s();
            spawn(br); /* a failed fork: tried again next tick */
        }
    }
}

void serve_bridge_free(serve_bridge *br)
{
    if (br->pid > 0) {
        pid_t pid = (pid_t)br->pid;
        int status;

        log_line("info", "stopping hvrpc-bridge (pid %d)", (int)pid);
        kill(pid, SIGTERM);
        for (int i = 0; i < 200 && waitpid(pid, &status, WNOHANG) == 0; i++) {
            struct timespec t = {0, 50 * 1000000L};
            nanosleep(&t, NULL);
            if (i == 199) {
                log_line("warn", "hvrpc-bridge did not stop in 10 s: killed");
                kill(pid, SIGKILL);
                waitpid(pid, &status, 0);
            }
        }
        br->pid = 0;
    }
    for (size_t i = 0; i < br->n_args; i += 2)
        free(br->args[i]);
    br->n_args = 0;
    free(child_argv);
    child_argv = NULL;
}

#else /* !__linux__: --bridge is refused by serve_bridge_check */

int serve_bridge_start(serve_bridge *br, const char *bus_uri)
{
    (void)br;
    (void)bus_uri;
    return 0;
}

#ifndef _WIN32
int serve_bridge_wait(serve_bridge *br, const sigset_t *stop_signals, int *sig)
{
    (void)br;
    return sigwait(stop_signals, sig);
}
#endif

void serve_bridge_free(serve_bridge *br)
{
    for (size_t i = 0; i < br->n_args; i += 2)
        free(br->args[i]);
    br->n_args = 0;
}

#endif
