/* mux_proc.c - vmm_mux in a child process (mux_proc.h). */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "mux_proc.h"

#define MUX_READY_MS 10000

static int64_t mono_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int mux_start(mux_proc *m, char *const argv[])
{
    int p[2];
    m->pid = 0;
    m->out_fd = -1;
    if (pipe2(p, O_CLOEXEC) != 0)
        return -1;
    pid_t parent = getpid();
    fflush(NULL);
    pid_t pid = fork();
    if (pid == 0) {
        if (prctl(PR_SET_PDEATHSIG, SIGKILL) != 0 || getppid() != parent)
            _exit(127);
        dup2(p[1], STDOUT_FILENO);
        execv(argv[0], argv);
        fprintf(stderr, "exec %s: %s\n", argv[0], strerror(errno));
        _exit(127);
    }
    close(p[1]);
    if (pid < 0) {
        close(p[0]);
        return -1;
    }
    m->pid = pid;
    m->out_fd = p[0];
    char buf[64];
    size_t n = 0;
    int64_t deadline = mono_ms() + MUX_READY_MS;
    while (n < sizeof buf - 1 && !memchr(buf, '\n', n)) {
        int64_t left = deadline - mono_ms();
        struct pollfd pfd = {.fd = m->out_fd, .events = POLLIN};
        if (left <= 0 || poll(&pfd, 1, (int)left) <= 0)
            break;
        ssize_t k = read(m->out_fd, buf + n, sizeof buf - 1 - n);
        if (k <= 0)
            break;
        n += (size_t)k;
    }
    buf[n] = '\0';
    return strcmp(buf, "READY\n") == 0 ? 0 : -1;
}

int mux_stop(mux_proc *m)
{
    if (m->pid <= 0)
        return -1;
    kill(m->pid, SIGTERM);
    int ws = 0;
    pid_t r;
    do
        r = waitpid(m->pid, &ws, 0);
    while (r < 0 && errno == EINTR);
    m->pid = 0;
    if (m->out_fd >= 0)
        close(m->out_fd);
    m->out_fd = -1;
    return r > 0 && WIFEXITED(ws) ? WEXITSTATUS(ws) : -1;
}
