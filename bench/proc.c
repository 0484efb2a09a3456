/*
 * bench/proc.c - child processes for hvrpc-bench.
 */
#include "proc.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

int proc_spawn(proc *p, char *const argv[], char *err, size_t err_size)
{
    memset(p, 0, sizeof *p);
    p->in_fd = p->out_fd = -1;
    int in[2], out[2];
    if (pipe2(in, O_CLOEXEC) != 0) {
        snprintf(err, err_size, "pipe: %s", strerror(errno));
        return -1;
    }
    if (pipe2(out, O_CLOEXEC) != 0) {
        snprintf(err, err_size, "pipe: %s", strerror(errno));
        close(in[0]);
        close(in[1]);
        return -1;
    }
    pid_t parent = getpid();
    pid_t pid = fork();
    if (pid == 0) {
        /* Only async-signal-safe calls until exec. */
        if (prctl(PR_SET_PDEATHSIG, SIGKILL) != 0 || getppid() != parent)
            _exit(126);
        if (dup2(in[0], 0) < 0 || dup2(out[1], 1) < 0)
            _exit(126);
        execv(argv[0], argv);
        static const char msg[] = "error exec failed\n";
        ssize_t w = write(1, msg, sizeof msg - 1);
        (void)w;
        _exit(127);
    }
    close(in[0]);
    close(out[1]);
    if (pid < 0) {
        snprintf(err, err_size, "fork: %s", strerror(errno));
        close(in[1]);
        close(out[0]);
        return -1;
    }
    p->pid = pid;
    p->in_fd = in[1];
    p->out_fd = out[0];
    return 0;
}

static long long now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int proc_read_line(proc *p, char *line, size_t size, int timeout_ms)
{
    long long deadline = now_ms() + timeout_ms;
    for (;;) {
        char *nl = memchr(p->buf + p->off, '\n', p->len - p->off);
        if (nl || p->len - p->off == sizeof p->buf) {
            size_t n = nl ? (size_t)(nl - (p->buf + p->off)) : p->len - p->off;
            size_t k = n < size - 1 ? n : size - 1;
            memcpy(line, p->buf + p->off, k);
            line[k] = '\0';
            p->off += nl ? n + 1 : n;
            return 1;
        }
        if (p->off) {
            memmove(p->buf, p->buf + p->off, p->len - p->off);
            p->len -= p->off;
            p->off = 0;
        }
        long long left = deadline - now_ms();
        if (left <= 0 || p->out_fd < 0)
            return p->out_fd < 0 ? 0 : -1;
        struct pollfd pfd = {.fd = p->out_fd, .events = POLLIN};
        int r = poll(&pfd, 1, (int)left);
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0)
            return -1;
        ssize_t n = read(p->out_fd, p->buf + p->len, sizeof p->buf - p->len);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0) {
            if (p->len == 0)
                return 0;
            /* A last line without its newline. */
            p->buf[p->len] = '\n';
            p->len++;
            close(p->out_fd);
            p->out_fd = -1;
            continue;
        }
        p->len += (size_t)n;
    }
}

int proc_write(proc *p, const char *s)
{
    size_t n = strlen(s);
    while (n && p->in_fd >= 0) {
        ssize_t w = write(p->in_fd, s, n);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            return -1;
        s += w;
        n -= (size_t)w;
    }
    return n ? -1 : 0;
}

void proc_close_stdin(proc *p)
{
    if (p->in_fd >= 0)
        close(p->in_fd);
    p->in_fd = -1;
}

void proc_signal(proc *p, int sig)
{
    if (p->pid > 0)
        kill(p->pid, sig);
}

int proc_finish(proc *p, int timeout_ms)
{
    proc_close_stdin(p);
    int rc = -1;
    if (p->pid > 0) {
        long long deadline = now_ms() + timeout_ms;
        int status;
        pid_t r;
        while ((r = waitpid(p->pid, &status, WNOHANG)) == 0 &&
               now_ms() < deadline) {
            struct timespec ts = {0, 2000000};
            nanosleep(&ts, NULL);
        }
        if (r == 0) {
            kill(p->pid, SIGKILL);
            waitpid(p->pid, &status, 0);
        } else if (r == p->pid) {
            rc = WIFEXITED(status) ? WEXITSTATUS(status)
                                   : 128 + WTERMSIG(status);
        }
        p->pid = 0;
    }
    if (p->out_fd >= 0)
        close(p->out_fd);
    p->out_fd = -1;
    return rc;
}

long proc_rss_kib(pid_t pid)
{
    char path[64], line[256];
    snprintf(path, sizeof path, "/proc/%d/status", (int)pid);
    FILE *f = fopen(path, "r");
    long kib = -1;
    if (!f)
        return -1;
    while (fgets(line, sizeof line, f))
        if (sscanf(line, "VmRSS: %ld kB", &kib) == 1)
            break;
    fclose(f);
    return kib;
}
