/* peer_proc.c - running the Go ttrpc peer as a child process. */
#include "peer_proc.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

long long peer_now_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void sleep_ms(int ms)
{
    struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};

    while (nanosleep(&ts, &ts) != 0 && errno == EINTR) {
    }
}

int peer_proc_start(peer_proc *p, char *const argv[], bool capture_stdout)
{
    int fds[2] = {-1, -1};
    pid_t parent = getpid();
    pid_t pid;

    p->pid = 0;
    p->out_fd = -1;
    p->status = -1;
    if (capture_stdout && pipe2(fds, O_CLOEXEC) != 0) {
        fprintf(stderr, "peer_proc: pipe: %s\n", strerror(errno));
        return -1;
    }
    pid = fork();
    if (pid < 0) {
        fprintf(stderr, "peer_proc: fork: %s\n", strerror(errno));
        if (capture_stdout) {
            close(fds[0]);
            close(fds[1]);
        }
        return -1;
    }
    if (pid == 0) {
        /* Child: async-signal-safe calls only (the parent has threads). */
        sigset_t none;

        if (prctl(PR_SET_PDEATHSIG, SIGKILL) != 0 || getppid() != parent)
            _exit(127);
        /* Its own process group, so stopping it also stops anything it
         * started (a wrapper script's children, say). */
        setpgid(0, 0);
        sigemptyset(&none);
        sigprocmask(SIG_SETMASK, &none, NULL);
        if (capture_stdout && dup2(fds[1], STDOUT_FILENO) < 0)
            _exit(127);
        execv(argv[0], argv);
        _exit(127);
    }
    setpgid(pid, pid); /* also here: no race with the first kill */
    p->pid = pid;
    if (capture_stdout) {
        close(fds[1]);
        p->out_fd = fds[0];
    }
    return 0;
}

bool peer_proc_wait_line(peer_proc *p, const char *want, int timeout_ms)
{
    char line[256];
    size_t len = 0;
    long long deadline = peer_now_ms() + timeout_ms;

    if (p->out_fd < 0)
        return false;
    for (;;) {
        struct pollfd pfd = {p->out_fd, POLLIN, 0};
        long long left = deadline - peer_now_ms();
        char ch;
        ssize_t n;
        int r;

        if (left <= 0)
            return false;
        r = poll(&pfd, 1, (int)left);
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0)
            return false;
        n = read(p->out_fd, &ch, 1);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            return false; /* EOF: the child closed stdout or died */
        if (ch == '\n') {
            line[len] = '\0';
            if (strcmp(line, want) == 0)
                return true;
            len = 0;
        } else if (len + 1 < sizeof line) {
            line[len++] = ch;
        }
    }
}

bool peer_proc_wait(peer_proc *p, int timeout_ms)
{
    long long deadline = peer_now_ms() + timeout_ms;

    if (p->pid <= 0)
        return true;
    for (;;) {
        int status;
        pid_t r = waitpid(p->pid, &status, WNOHANG);

        if (r == p->pid) {
            p->status = status;
            p->pid = 0;
            return true;
        }
        if (r < 0 && errno != EINTR) {
            /* Not our child any more (cannot happen unless someone else
             * reaped it): forget it rather than loop. */
            fprintf(stderr, "peer_proc: waitpid: %s\n", strerror(errno));
            p->pid = 0;
            return true;
        }
        if (peer_now_ms() >= deadline)
            return false;
        sleep_ms(10);
    }
}

static bool exited_cleanly(int status)
{
    return status != -1 && WIFEXITED(status) && WEXITSTATUS(status) == 0;
}

bool peer_proc_stop(peer_proc *p, int grace_ms)
{
    bool clean = false;

    if (p->pid > 0) {
        pid_t pgid = p->pid;

        kill(-pgid, SIGTERM);
        if (peer_proc_wait(p, grace_ms)) {
            clean = exited_cleanly(p->status);
        } else {
            fprintf(stderr,
                    "peer_proc: pid %d ignored SIGTERM for %d ms, killing it\n",
                    (int)p->pid, grace_ms);
            kill(-pgid, SIGKILL);
            while (!peer_proc_wait(p, 1000)) {
            }
        }
        kill(-pgid, SIGKILL); /* whatever is left of its group */
    } else {
        clean = exited_cleanly(p->status);
    }
    if (p->out_fd >= 0) {
        close(p->out_fd);
        p->out_fd = -1;
    }
    return clean;
}

const char *peer_proc_describe(int status, char *buf, size_t size)
{
    if (status == -1)
        snprintf(buf, size, "not reaped");
    else if (WIFEXITED(status))
        snprintf(buf, size, "exit %d", WEXITSTATUS(status));
    else if (WIFSIGNALED(status))
        snprintf(buf, size, "signal %d", WTERMSIG(status));
    else
        snprintf(buf, size, "status 0x%x", (unsigned)status);
    return buf;
}

int peer_tmpdir(char *buf, size_t size)
{
    const char *base = getenv("TMPDIR");
    int n;

    if (!base || !*base || strlen(base) > 60)
        base = "/tmp";
    n = snprintf(buf, size, "%s/hvrpc-interop-XXXXXX", base);
    if (n < 0 || (size_t)n >= size)
        return -1;
    if (!mkdtemp(buf)) {
        fprintf(stderr, "peer_proc: mkdtemp %s: %s\n", buf, strerror(errno));
        return -1;
    }
    return 0;
}
