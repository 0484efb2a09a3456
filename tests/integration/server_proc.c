/*
 * tests/integration/server_proc.c - an echo server in a child process.
 */
#include "server_proc.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <hvrpc/hvrpc.h>

#include "echo_service.h"

#define SOCK_NAME         "echo.sock"
#define REPORT_TIMEOUT_MS 10000

static int64_t mono_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* --- the child ------------------------------------------------------- */

static int child_verbose;

static void child_log(hvrpc_log_level level, const char *line, void *arg)
{
    (void)arg;
    if (level <= HVRPC_LOG_WARN || child_verbose)
        fprintf(stderr, "[server %d] %s\n", (int)getpid(), line);
}

HVRPC_PRINTF(2, 3) static void child_report(int fd, const char *fmt, ...)
{
    char buf[512];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(buf, sizeof buf - 1, fmt, ap);
    va_end(ap);
    if (n < 0)
        n = 0;
    if ((size_t)n > sizeof buf - 2)
        n = (int)sizeof buf - 2;
    buf[n++] = '\n';
    size_t off = 0;
    while (off < (size_t)n) {
        ssize_t k = write(fd, buf + off, (size_t)n - off);
        if (k < 0 && errno == EINTR)
            continue;
        if (k <= 0)
            return;
        off += (size_t)k;
    }
}

/* The URI a client connects to, from the address the endpoint resolved:
 * the listener's own address, except that vsock CID any (a listener on
 * every CID) is reached at CID 1, vsock_loopback. Ports the kernel picks
 * must have been resolved. */
static int format_uri(const hvrpc_address *a, char *buf, size_t size)
{
    int n = -1;
    switch (a->kind) {
    case HVRPC_ADDR_TCP:
        if (a->u.tcp.port == 0)
            return -1;
        n = hvrpc_address_format(a, buf, size);
        break;
    case HVRPC_ADDR_VSOCK:
        if (a->u.vsock.port == HVRPC_VSOCK_PORT_ANY)
            return -1;
        if (a->u.vsock.cid == HVRPC_VSOCK_CID_ANY) {
            hvrpc_address local = *a;
            local.u.vsock.cid = HVRPC_VSOCK_CID_LOCAL;
            n = hvrpc_address_format(&local, buf, size);
        } else {
            n = hvrpc_address_format(a, buf, size);
        }
        break;
    default:
        n = hvrpc_address_format(a, buf, size);
        break;
    }
    return n < 0 || (size_t)n >= size ? -1 : n;
}

__attribute__((noreturn)) static void child_main(const server_proc_options *o,
                                                 const char *listen_uri,
                                                 int wfd, pid_t parent,
                                                 const sigset_t *term)
{
    /* Never outlive the test; the parent may have died before prctl. */
    if (prctl(PR_SET_PDEATHSIG, SIGKILL) != 0 || getppid() != parent)
        _exit(3);
    child_verbose = getenv("HVRPC_TEST_VERBOSE") != NULL;

    hvrpc_server_options so;
    hvrpc_server_options_init(&so);
    if (o->workers)
        so.workers = o->workers;
    if (o->max_frame)
        so.max_frame = o->max_frame;
    so.log = child_log;
    if (o->tune)
        o->tune(&so);

    hvrpc_status st;
    hvrpc_status_clear(&st);
    hvrpc_server *srv = NULL;
    hvrpc_endpoint *ep = NULL;
    if (hvrpc_server_create(&so, &srv, &st) != HVRPC_OK) {
        child_report(wfd, "ERR hvrpc_server_create: %s", st.message);
        exit(2);
    }
    if (hvrpc_server_listen(srv, listen_uri, &ep, &st) != HVRPC_OK) {
        child_report(wfd, "ERR hvrpc_server_listen(%s): %s", listen_uri,
                     st.message);
        hvrpc_server_free(srv);
        exit(2);
    }
    if (hvrpc_echo_service_register(srv, ep, &st) != HVRPC_OK) {
        child_report(wfd, "ERR hvrpc_echo_service_register: %s", st.message);
        hvrpc_server_free(srv);
        exit(2);
    }
    if (o->register_more && o->register_more(srv, ep) != 0) {
        child_report(wfd, "ERR register_more failed");
        hvrpc_server_free(srv);
        exit(2);
    }
    if (hvrpc_server_start(srv, &st) != HVRPC_OK) {
        child_report(wfd, "ERR hvrpc_server_start: %s", st.message);
        hvrpc_server_free(srv);
        exit(2);
    }
    char uri[192], bound[192];
    const hvrpc_address *a = hvrpc_endpoint_address(ep);
    int bn = a ? hvrpc_address_format(a, bound, sizeof bound) : -1;
    if (!a || format_uri(a, uri, sizeof uri) < 0 || bn < 0 ||
        (size_t)bn >= sizeof bound) {
        child_report(wfd, "ERR hvrpc_endpoint_address(%s): no usable address",
                     listen_uri);
        hvrpc_server_free(srv);
        exit(2);
    }
    child_report(wfd, "OK %s %s", uri, bound);

    /* SIGTERM was blocked before the fork, so every server thread has it
     * blocked too and only this sigwait() receives it. */
    int sig = 0;
    while (sigwait(term, &sig) != 0 || sig != SIGTERM)
        ;
    hvrpc_server_stop(srv);
    hvrpc_server_free(srv);
    /* exit(), not _exit(): under the sanitizers the leak check runs now.
     * wfd closes when the process is gone: the parent waits for that. */
    exit(0);
}

/* --- the parent ------------------------------------------------------ */

int server_proc_start(server_proc *sp, const server_proc_options *o, char *err,
                      size_t err_size)
{
    memset(sp, 0, sizeof *sp);
    sp->report_fd = -1;

    char listen_uri[192];
    if (o->listen_uri) {
        if (strlen(o->listen_uri) >= sizeof listen_uri) {
            snprintf(err, err_size, "listen address too long");
            return -1;
        }
        snprintf(listen_uri, sizeof listen_uri, "%s", o->listen_uri);
    } else if (strcmp(o->transport, "unix") == 0) {
        snprintf(sp->dir, sizeof sp->dir, "/tmp/hvrpc-integ-XXXXXX");
        if (!mkdtemp(sp->dir)) {
            snprintf(err, err_size, "mkdtemp: %s", strerror(errno));
            sp->dir[0] = '\0';
            return -1;
        }
        snprintf(listen_uri, sizeof listen_uri, "unix://%s/%s", sp->dir,
                 SOCK_NAME);
    } else if (strcmp(o->transport, "tcp") == 0) {
        snprintf(listen_uri, sizeof listen_uri, "tcp://127.0.0.1:0");
    } else if (strcmp(o->transport, "vsock") == 0) {
        snprintf(listen_uri, sizeof listen_uri, "vsock://any:any");
    } else {
        snprintf(err, err_size, "unknown transport \"%s\"", o->transport);
        return -1;
    }

    int p[2];
    if (pipe2(p, O_CLOEXEC) != 0) {
        snprintf(err, err_size, "pipe2: %s", strerror(errno));
        server_proc_cleanup(sp);
        return -1;
    }
    sigset_t term, old;
    sigemptyset(&term);
    sigaddset(&term, SIGTERM);
    pthread_sigmask(SIG_BLOCK, &term, &old);
    fflush(NULL); /* nothing buffered gets written twice */
    pid_t parent = getpid();
    pid_t pid = fork();
    if (pid == 0) {
        close(p[0]);
        child_main(o, listen_uri, p[1], parent, &term);
    }
    int fork_errno = errno;
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    close(p[1]);
    if (pid < 0) {
        close(p[0]);
        snprintf(err, err_size, "fork: %s", strerror(fork_errno));
        server_proc_cleanup(sp);
        return -1;
    }
    sp->pid = pid;
    sp->report_fd = p[0];

    /* One line: "OK <client uri> <listen uri>" or "ERR <reason>". */
    char line[512];
    size_t n = 0;
    int64_t deadline = mono_ms() + REPORT_TIMEOUT_MS;
    while (n < sizeof line - 1 && !memchr(line, '\n', n)) {
        int64_t left = deadline - mono_ms();
        if (left <= 0)
            break;
        struct pollfd pfd = {.fd = sp->report_fd, .events = POLLIN};
        int r = poll(&pfd, 1, (int)left);
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0)
            break;
        ssize_t k = read(sp->report_fd, line + n, sizeof line - 1 - n);
        if (k < 0 && errno == EINTR)
            continue;
        if (k <= 0)
            break;
        n += (size_t)k;
    }
    line[n] = '\0';
    char *nl = strchr(line, '\n');
    if (nl)
        *nl = '\0';
    char *sep = nl ? strchr(line + 3, ' ') : NULL;
    if (nl && strncmp(line, "OK ", 3) == 0 && sep &&
        (size_t)(sep - (line + 3)) < sizeof sp->uri &&
        strlen(sep + 1) < sizeof sp->listen_uri) {
        size_t ulen = (size_t)(sep - (line + 3));
        memcpy(sp->uri, line + 3, ulen);
        sp->uri[ulen] = '\0';
        memcpy(sp->listen_uri, sep + 1, strlen(sep + 1) + 1);
        return 0;
    }
    snprintf(err, err_size, "server child: %s",
             n ? line : "no report (it died or timed out)");
    server_proc_cleanup(sp);
    return -1;
}

int server_proc_signal(server_proc *sp, int sig)
{
    if (sp->pid <= 0 || sp->reaped)
        return -1;
    return kill(sp->pid, sig);
}

static void reap_blocking(server_proc *sp)
{
    int ws = 0;
    pid_t r;
    do {
        r = waitpid(sp->pid, &ws, 0);
    } while (r < 0 && errno == EINTR);
    sp->reaped = 1;
    sp->wait_status = r == sp->pid ? ws : 0;
}

int server_proc_wait(server_proc *sp, int timeout_ms, int *status)
{
    if (sp->pid <= 0)
        return -1;
    int64_t deadline = mono_ms() + timeout_ms;
    /* The child holds the pipe's only write end until it is gone, so
     * end-of-file on the read end means it has exited. */
    while (!sp->reaped && sp->report_fd >= 0) {
        int64_t left = deadline - mono_ms();
        if (left < 0)
            left = 0;
        struct pollfd pfd = {.fd = sp->report_fd, .events = POLLIN};
        int r = poll(&pfd, 1, (int)left);
        if (r < 0 && errno == EINTR)
            continue;
        if (r == 0)
            return -1;
        char junk[256];
        ssize_t k = read(sp->report_fd, junk, sizeof junk);
        if (k < 0 && errno == EINTR)
            continue;
        if (k <= 0) {
            close(sp->report_fd);
            sp->report_fd = -1;
            reap_blocking(sp);
        }
    }
    /* Without the pipe: poll the process itself. */
    while (!sp->reaped) {
        int ws = 0;
        pid_t r = waitpid(sp->pid, &ws, WNOHANG);
        if (r == sp->pid) {
            sp->reaped = 1;
            sp->wait_status = ws;
            break;
        }
        if (r < 0 && errno != EINTR) {
            sp->reaped = 1;
            sp->wait_status = 0;
            break;
        }
        if (mono_ms() >= deadline)
            return -1;
        struct timespec ts = {0, 5 * 1000 * 1000};
        nanosleep(&ts, NULL);
    }
    if (status)
        *status = sp->wait_status;
    return 0;
}

int server_proc_stop(server_proc *sp, int timeout_ms)
{
    int ws = 0;
    server_proc_signal(sp, SIGTERM);
    if (server_proc_wait(sp, timeout_ms, &ws) != 0) {
        fprintf(stderr,
                "server %d did not exit within %d ms of SIGTERM: killing it\n",
                (int)sp->pid, timeout_ms);
        server_proc_cleanup(sp);
        return -1;
    }
    if (WIFEXITED(ws))
        return WEXITSTATUS(ws);
    if (WIFSIGNALED(ws))
        return 128 + WTERMSIG(ws);
    return -1;
}

void server_proc_cleanup(server_proc *sp)
{
    if (sp->pid > 0 && !sp->reaped) {
        kill(sp->pid, SIGKILL);
        reap_blocking(sp);
    }
    if (sp->report_fd >= 0) {
        close(sp->report_fd);
        sp->report_fd = -1;
    }
    if (sp->dir[0]) {
        char path[sizeof sp->dir + sizeof SOCK_NAME + 1];
        snprintf(path, sizeof path, "%s/%s", sp->dir, SOCK_NAME);
        if (unlink(path) != 0 && errno != ENOENT)
            fprintf(stderr, "unlink %s: %s\n", path, strerror(errno));
        if (rmdir(sp->dir) != 0)
            fprintf(stderr, "rmdir %s: %s\n", sp->dir, strerror(errno));
        sp->dir[0] = '\0';
    }
}
