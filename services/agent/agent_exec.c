/*
 * agent_exec.c - runs one allow-listed command for Exec and pumps its
 * output (agent_service.h).
 *
 * posix_spawn, not fork: the agent is multithreaded, and posix_spawn
 * touches nothing in the child but what its file actions say. The child
 * gets its own process group so that a time-out, an output overrun or a
 * vanished client kills everything it started, not just argv[0].
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "agent_service.h"

/* The child's whole environment: nothing of the agent's leaks into it. */
static char *const child_env[] = {
    "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
    "LANG=C.UTF-8", NULL};

static uint64_t now_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

/* Spawns argv with stdout and stderr on out[1] and err[1], stdin
 * /dev/null, cwd /, in a new process group. */
static int spawn(char *const argv[], int out_fd, int err_fd, pid_t *pid)
{
    posix_spawn_file_actions_t fa;
    posix_spawnattr_t attr;
    sigset_t none, dfl;
    int rc;

    posix_spawn_file_actions_init(&fa);
    posix_spawnattr_init(&attr);
    posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
    if (out_fd >= 0)
        posix_spawn_file_actions_adddup2(&fa, out_fd, 1);
    else
        posix_spawn_file_actions_addopen(&fa, 1, "/dev/null", O_WRONLY, 0);
    if (err_fd >= 0)
        posix_spawn_file_actions_adddup2(&fa, err_fd, 2);
    else
        posix_spawn_file_actions_addopen(&fa, 2, "/dev/null", O_WRONLY, 0);
    posix_spawn_file_actions_addchdir_np(&fa, "/");
    /* The agent blocks SIGINT/SIGTERM for sigwait(); the child must not
     * inherit that, nor an ignored SIGPIPE. */
    sigemptyset(&none);
    sigemptyset(&dfl);
    sigaddset(&dfl, SIGPIPE);
    sigaddset(&dfl, SIGINT);
    sigaddset(&dfl, SIGTERM);
    posix_spawnattr_setsigmask(&attr, &none);
    posix_spawnattr_setsigdefault(&attr, &dfl);
    posix_spawnattr_setpgroup(&attr, 0);
    posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETPGROUP |
                                        POSIX_SPAWN_SETSIGMASK |
                                        POSIX_SPAWN_SETSIGDEF);
    rc = posix_spawn(pid, argv[0], &fa, &attr, argv, child_env);
    posix_spawnattr_destroy(&attr);
    posix_spawn_file_actions_destroy(&fa);
    return rc;
}

hvrpc_code hvrpc_agent_exec(char *const argv[], uint32_t timeout_ms,
                            uint32_t max_output, hvrpc_agent_sink_fn sink,
                            void *arg, hvrpc_agent_exec_result *res,
                            hvrpc_status *st)
{
    int out[2] = {-1, -1}, err[2] = {-1, -1};
    struct pollfd pfd[2];
    uint8_t *buf;
    uint64_t start = now_ms(), deadline = start + timeout_ms;
    bool killed = false;
    pid_t pid;
    int rc, status = 0;

    memset(res, 0, sizeof *res);
    buf = malloc(HVRPC_AGENT_CHUNK);
    if (!buf)
        return hvrpc_status_set(st, HVRPC_RESOURCE_EXHAUSTED, "out of memory");
    if (pipe2(out, O_CLOEXEC) != 0 || pipe2(err, O_CLOEXEC) != 0) {
        rc = errno;
        free(buf);
        if (out[0] >= 0) {
            close(out[0]);
            close(out[1]);
        }
        return hvrpc_status_set(st, HVRPC_INTERNAL, "pipe: %s", strerror(rc));
    }
    rc = spawn(argv, out[1], err[1], &pid);
    close(out[1]);
    close(err[1]);
    if (rc != 0) {
        close(out[0]);
        close(err[0]);
        free(buf);
        return hvrpc_status_set(st, HVRPC_FAILED_PRECONDITION,
                                "cannot run %s: %s", argv[0], strerror(rc));
    }
    pfd[0] = (struct pollfd){.fd = out[0], .events = POLLIN};
    pfd[1] = (struct pollfd){.fd = err[0], .events = POLLIN};
    while (pfd[0].fd >= 0 || pfd[1].fd >= 0) {
        uint64_t now = now_ms();
        int n;

        if (!killed && now >= deadline) {
            res->timed_out = true;
            kill(-pid, SIGKILL);
            killed = true;
        }
        /* After a kill, the pipes still drain to EOF (a grandchild that
         * left the group could hold them open: give up after a second). */
        if (killed && now >= deadline + 1000)
            break;
        n = poll(pfd, 2,
                 (int)(killed ? 100
                              : (deadline - now < 100 ? deadline - now : 100)));
        if (n < 0 && errno != EINTR)
            break;
        for (int i = 0; i < 2 && n > 0; i++) {
            ssize_t got;
            size_t room;

            if (pfd[i].fd < 0 || pfd[i].revents == 0)
                continue;
            got = read(pfd[i].fd, buf, HVRPC_AGENT_CHUNK);
            if (got < 0 && (errno == EINTR || errno == EAGAIN))
                continue;
            if (got <= 0) {
                close(pfd[i].fd);
                pfd[i].fd = -1;
                continue;
            }
            if (killed)
                continue; /* drained, not sent */
            room = max_output - (size_t)res->output_bytes;
            if ((size_t)got > room) {
                got = (ssize_t)room;
                res->truncated = true;
            }
            if (got > 0) {
                if (!sink(i + 1, buf, (size_t)got, arg))
                    res->cancelled = true;
                res->output_bytes += (uint64_t)got;
            }
            if (res->truncated || res->cancelled) {
                kill(-pid, SIGKILL);
                killed = true;
                deadline = now_ms(); /* the drain's second starts now */
            }
        }
    }
    for (int i = 0; i < 2; i++)
        if (pfd[i].fd >= 0)
            close(pfd[i].fd);
    free(buf);
    /* Killed or not, it has ended or will at once: its pipes are closed
     * (or it was killed a second ago). */
    if (!killed) {
        /* Output closed but the process may live on (it closed its
         * stdout): wait for it up to the deadline. */
        while (waitpid(pid, &status, WNOHANG) == 0) {
            if (now_ms() >= deadline) {
                res->timed_out = true;
                kill(-pid, SIGKILL);
                break;
            }
            usleep(10000);
        }
    }
    while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
        ;
    /* Whatever it left in its group goes too. */
    kill(-pid, SIGKILL);
    if (WIFEXITED(status)) {
        res->code = WEXITSTATUS(status);
    } else {
        res->code = -1;
        res->signal = WIFSIGNALED(status) ? WTERMSIG(status) : 0;
    }
    res->duration_ms = now_ms() - start;
    return HVRPC_OK;
}

typedef struct detached {
    pid_t pid;
    char name[256];
    hvrpc_agent_log_fn log;
    void *log_arg;
} detached;

static void *reap(void *p)
{
    detached *d = p;
    char line[400];
    int status;

    while (waitpid(d->pid, &status, 0) < 0 && errno == EINTR)
        ;
    if (d->log) {
        if (WIFEXITED(status))
            snprintf(line, sizeof line, "shutdown command %s exited %d",
                     d->name, WEXITSTATUS(status));
        else
            snprintf(line, sizeof line,
                     "shutdown command %s ended by signal %d", d->name,
                     WIFSIGNALED(status) ? WTERMSIG(status) : 0);
        d->log(line, d->log_arg);
    }
    free(d);
    return NULL;
}

hvrpc_code hvrpc_agent_spawn_detached(char *const argv[],
                                      hvrpc_agent_log_fn log, void *log_arg,
                                      hvrpc_status *st)
{
    detached *d = calloc(1, sizeof *d);
    pthread_t t;
    pthread_attr_t attr;
    int rc;

    if (!d)
        return hvrpc_status_set(st, HVRPC_RESOURCE_EXHAUSTED, "out of memory");
    rc = spawn(argv, -1, -1, &d->pid);
    if (rc != 0) {
        free(d);
        return hvrpc_status_set(st, HVRPC_FAILED_PRECONDITION,
                                "cannot run %s: %s", argv[0], strerror(rc));
    }
    snprintf(d->name, sizeof d->name, "%s", argv[0]);
    d->log = log;
    d->log_arg = log_arg;
    pthread_attr_init(&attr);
    pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
    rc = pthread_create(&t, &attr, reap, d);
    pthread_attr_destroy(&attr);
    if (rc != 0) {
        /* Not reaped: a zombie until the agent exits, which a shutdown
         * makes soon anyway. */
        free(d);
    }
    return HVRPC_OK;
}
