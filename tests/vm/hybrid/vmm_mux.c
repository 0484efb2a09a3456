/*
 * tests/vm/hybrid/vmm_mux.c - a stand-in for the host side of a Firecracker
 * / Cloud Hypervisor VMM's hybrid vsock, for testing hvrpc's
 * hybrid+vsock:// transport without a VM.
 *
 * Host to guest: the VMM listens on a unix socket (--uds PATH). A host
 * process connects, writes "CONNECT <port>\n" and, when the guest listens
 * on that port, reads "OK <host-side port>\n"; from then on the stream is
 * the guest's. Here "the guest listening on port P" is a unix listener
 * named by --port P=unix:///path, and the stream is relayed to it.
 *
 * Guest to host: a guest connecting to host port P is forwarded to the unix
 * socket "<uds>_P". Here the guest's connection is one accepted on
 * --guest-listen PATH=P.
 *
 *   vmm_mux --uds PATH [--port P=TARGET]... [--guest-listen PATH=P]...
 *
 * TARGET, what port P does on CONNECT:
 *   unix:///path       relay to that listener ("OK N" once it accepted)
 *   slow:unix:///path  the same, the OK line sent one byte per 20 ms
 *   close              close without answering (the guest has no listener:
 *                      what Firecracker does)
 *   reply:TEXT         answer "TEXT\n", then close (an error line)
 *   silent             read CONNECT, never answer, keep the connection
 * A port not listed is closed like `close`; so is a relay whose target
 * refuses the connection.
 *
 * Prints READY on stdout once every socket listens; exits 0 on SIGTERM or
 * SIGINT, removing the sockets it made. One thread per connection.
 */
#include <errno.h>
#include <inttypes.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#define MAX_RULES       32
#define MAX_GUEST       8
#define LINE_MAX_LEN    64
#define HANDSHAKE_MS    5000
#define FIRST_HOST_PORT 1073741824u /* where Firecracker's numbers start */
#define RELAY_BUF       65536

typedef enum rule_kind {
    RULE_RELAY,
    RULE_CLOSE,
    RULE_REPLY,
    RULE_SILENT,
} rule_kind;

typedef struct rule {
    uint32_t port;
    rule_kind kind;
    int slow;
    char arg[108]; /* relay: the unix path; reply: the text */
} rule;

typedef struct guest_listener {
    char path[108];
    uint32_t port;
    int fd;
} guest_listener;

static const char *uds_path;
static rule rules[MAX_RULES];
static size_t n_rules;
static guest_listener guests[MAX_GUEST];
static size_t n_guests;
static atomic_uint next_host_port = FIRST_HOST_PORT;
static int stop_pipe[2] = {-1, -1};

static void usage(void)
{
    fprintf(stderr, "usage: vmm_mux --uds PATH [--port P=unix:///path|slow:"
                    "unix:///path|close|reply:TEXT|silent]... "
                    "[--guest-listen PATH=P]...\n");
    exit(2);
}

static int parse_port(const char *s, uint32_t *out)
{
    char *end = NULL;
    errno = 0;
    unsigned long v = strtoul(s, &end, 10);
    if (errno || end == s || *end != '\0' || v > UINT32_MAX)
        return -1;
    *out = (uint32_t)v;
    return 0;
}

static int unix_addr(const char *path, struct sockaddr_un *sun)
{
    if (strlen(path) >= sizeof sun->sun_path)
        return -1;
    memset(sun, 0, sizeof *sun);
    sun->sun_family = AF_UNIX;
    memcpy(sun->sun_path, path, strlen(path));
    return 0;
}

static int unix_listen(const char *path)
{
    struct sockaddr_un sun;
    if (unix_addr(path, &sun) != 0)
        return -1;
    unlink(path);
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return -1;
    if (bind(fd, (struct sockaddr *)&sun, sizeof sun) != 0 ||
        listen(fd, 64) != 0) {
        close(fd);
        return -1;
    }
    return fd;
}

static int unix_connect(const char *path)
{
    struct sockaddr_un sun;
    if (unix_addr(path, &sun) != 0)
        return -1;
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return -1;
    if (connect(fd, (struct sockaddr *)&sun, sizeof sun) != 0) {
        close(fd);
        return -1;
    }
    return fd;
}

static int write_all(int fd, const void *buf, size_t len)
{
    const char *p = buf;
    while (len > 0) {
        ssize_t k = send(fd, p, len, MSG_NOSIGNAL);
        if (k < 0 && errno == EINTR)
            continue;
        if (k <= 0)
            return -1;
        p += k;
        len -= (size_t)k;
    }
    return 0;
}

/* Copies both ways until both sides have finished; a side's end of file
 * becomes a shutdown(SHUT_WR) of the other, an error closes both. */
static void relay(int a, int b)
{
    char *buf = malloc(RELAY_BUF);
    int open_a = 1, open_b = 1; /* still reading from a / b */
    while (buf && (open_a || open_b)) {
        struct pollfd p[2] = {{.fd = open_a ? a : -1, .events = POLLIN},
                              {.fd = open_b ? b : -1, .events = POLLIN}};
        if (poll(p, 2, -1) < 0) {
            if (errno == EINTR)
                continue;
            break;
        }
        int failed = 0;
        for (int i = 0; i < 2 && !failed; i++) {
            if (!(p[i].revents & (POLLIN | POLLHUP | POLLERR)))
                continue;
            int from = i == 0 ? a : b, to = i == 0 ? b : a;
            ssize_t k = recv(from, buf, RELAY_BUF, 0);
            if (k < 0 && errno == EINTR)
                continue;
            if (k < 0) {
                failed = 1;
            } else if (k == 0) {
                shutdown(to, SHUT_WR);
                if (i == 0)
                    open_a = 0;
                else
                    open_b = 0;
            } else if (write_all(to, buf, (size_t)k) != 0) {
                failed = 1;
            }
        }
        if (failed)
            break;
    }
    free(buf);
    close(a);
    close(b);
}

/* Reads one line (without the '\n') within HANDSHAKE_MS. 0 or -1. */
static int read_line(int fd, char *line, size_t size)
{
    size_t n = 0;
    struct timespec t0;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    for (;;) {
        struct pollfd p = {.fd = fd, .events = POLLIN};
        if (poll(&p, 1, HANDSHAKE_MS) <= 0)
            return -1;
        char ch;
        ssize_t k = recv(fd, &ch, 1, 0);
        if (k < 0 && errno == EINTR)
            continue;
        if (k <= 0)
            return -1;
        if (ch == '\n') {
            line[n] = '\0';
            return 0;
        }
        if (n + 1 >= size)
            return -1;
        line[n++] = ch;
    }
}

static const rule *find_rule(uint32_t port)
{
    for (size_t i = 0; i < n_rules; i++)
        if (rules[i].port == port)
            return &rules[i];
    return NULL;
}

/* A host process on --uds: the handshake, then what the port's rule says. */
static void *host_conn(void *arg)
{
    int fd = (int)(intptr_t)arg;
    char line[LINE_MAX_LEN];
    uint32_t port;
    if (read_line(fd, line, sizeof line) != 0 ||
        strncmp(line, "CONNECT ", 8) != 0 || parse_port(line + 8, &port)) {
        fprintf(stderr, "vmm_mux: bad handshake, closing\n");
        close(fd);
        return NULL;
    }
    const rule *r = find_rule(port);
    if (!r || r->kind == RULE_CLOSE) {
        close(fd);
        return NULL;
    }
    if (r->kind == RULE_REPLY) {
        char out[LINE_MAX_LEN + 2];
        int n = snprintf(out, sizeof out, "%s\n", r->arg);
        write_all(fd, out, (size_t)n);
        close(fd);
        return NULL;
    }
    if (r->kind == RULE_SILENT) {
        /* Hold the connection until the host gives up. */
        char junk[256];
        while (recv(fd, junk, sizeof junk, 0) > 0)
            ;
        close(fd);
        return NULL;
    }
    int guest = unix_connect(r->arg);
    if (guest < 0) {
        close(fd);
        return NULL;
    }
    char ok[32];
    int n = snprintf(ok, sizeof ok, "OK %u\n",
                     atomic_fetch_add(&next_host_port, 1));
    int sent = 0;
    if (r->slow) {
        sent = 1;
        for (int i = 0; i < n && sent; i++) {
            struct timespec ts = {0, 20 * 1000 * 1000};
            nanosleep(&ts, NULL);
            sent = write_all(fd, ok + i, 1) == 0;
        }
    } else {
        sent = write_all(fd, ok, (size_t)n) == 0;
    }
    if (!sent) {
        close(fd);
        close(guest);
        return NULL;
    }
    relay(fd, guest);
    return NULL;
}

/* A "guest" connecting to host port P: forwarded to <uds>_P. */
static void *guest_conn(void *arg)
{
    intptr_t v = (intptr_t)arg;
    int fd = (int)(v & 0xffff);
    size_t gi = (size_t)(v >> 16);
    char path[160];
    snprintf(path, sizeof path, "%s_%" PRIu32, uds_path, guests[gi].port);
    int host = unix_connect(path);
    if (host < 0) {
        close(fd); /* nobody listens on that host port */
        return NULL;
    }
    relay(fd, host);
    return NULL;
}

static void on_signal(int sig)
{
    (void)sig;
    char c = 1;
    if (write(stop_pipe[1], &c, 1) < 0) {
        /* nothing to do: the pipe is full, a stop is pending already */
    }
}

static void spawn(void *(*fn)(void *), intptr_t arg)
{
    pthread_t th;
    pthread_attr_t at;
    pthread_attr_init(&at);
    pthread_attr_setdetachstate(&at, PTHREAD_CREATE_DETACHED);
    if (pthread_create(&th, &at, fn, (void *)arg) != 0)
        close((int)(arg & 0xffff));
    pthread_attr_destroy(&at);
}

int main(int argc, char **argv)
{
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--uds") == 0 && i + 1 < argc) {
            uds_path = argv[++i];
        } else if (strcmp(argv[i], "--port") == 0 && i + 1 < argc) {
            const char *spec = argv[++i];
            const char *eq = strchr(spec, '=');
            char num[16];
            if (!eq || (size_t)(eq - spec) >= sizeof num ||
                n_rules == MAX_RULES)
                usage();
            memcpy(num, spec, (size_t)(eq - spec));
            num[eq - spec] = '\0';
            rule *r = &rules[n_rules++];
            if (parse_port(num, &r->port))
                usage();
            const char *t = eq + 1;
            if (strncmp(t, "slow:", 5) == 0) {
                r->slow = 1;
                t += 5;
            }
            if (strncmp(t, "unix://", 7) == 0 &&
                strlen(t + 7) < sizeof r->arg) {
                r->kind = RULE_RELAY;
                snprintf(r->arg, sizeof r->arg, "%s", t + 7);
            } else if (strcmp(t, "close") == 0) {
                r->kind = RULE_CLOSE;
            } else if (strcmp(t, "silent") == 0) {
                r->kind = RULE_SILENT;
            } else if (strncmp(t, "reply:", 6) == 0 &&
                       strlen(t + 6) < LINE_MAX_LEN) {
                r->kind = RULE_REPLY;
                snprintf(r->arg, sizeof r->arg, "%s", t + 6);
            } else {
                usage();
            }
        } else if (strcmp(argv[i], "--guest-listen") == 0 && i + 1 < argc) {
            const char *spec = argv[++i];
            const char *eq = strrchr(spec, '=');
            if (!eq || n_guests == MAX_GUEST ||
                (size_t)(eq - spec) >= sizeof guests[0].path)
                usage();
            guest_listener *g = &guests[n_guests++];
            memcpy(g->path, spec, (size_t)(eq - spec));
            g->path[eq - spec] = '\0';
            if (parse_port(eq + 1, &g->port))
                usage();
        } else {
            usage();
        }
    }
    if (!uds_path)
        usage();

    if (pipe(stop_pipe) != 0)
        return 1;
    signal(SIGPIPE, SIG_IGN);
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_signal;
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGINT, &sa, NULL);

    int ufd = unix_listen(uds_path);
    if (ufd < 0) {
        fprintf(stderr, "vmm_mux: listen %s: %s\n", uds_path, strerror(errno));
        return 1;
    }
    for (size_t i = 0; i < n_guests; i++) {
        guests[i].fd = unix_listen(guests[i].path);
        if (guests[i].fd < 0) {
            fprintf(stderr, "vmm_mux: listen %s: %s\n", guests[i].path,
                    strerror(errno));
            return 1;
        }
    }
    printf("READY\n");
    fflush(stdout);

    struct pollfd p[MAX_GUEST + 2];
    for (;;) {
        size_t n = 0;
        p[n++] = (struct pollfd){.fd = stop_pipe[0], .events = POLLIN};
        p[n++] = (struct pollfd){.fd = ufd, .events = POLLIN};
        for (size_t i = 0; i < n_guests; i++)
            p[n++] = (struct pollfd){.fd = guests[i].fd, .events = POLLIN};
        if (poll(p, n, -1) < 0) {
            if (errno == EINTR)
                continue;
            break;
        }
        if (p[0].revents)
            break;
        if (p[1].revents & POLLIN) {
            int c = accept4(ufd, NULL, NULL, SOCK_CLOEXEC);
            if (c >= 0 && c <= 0xffff)
                spawn(host_conn, c);
            else if (c >= 0)
                close(c);
        }
        for (size_t i = 0; i < n_guests; i++) {
            if (!(p[2 + i].revents & POLLIN))
                continue;
            int c = accept4(guests[i].fd, NULL, NULL, SOCK_CLOEXEC);
            if (c >= 0 && c <= 0xffff)
                spawn(guest_conn, (intptr_t)c | (intptr_t)(i << 16));
            else if (c >= 0)
                close(c);
        }
    }
    close(ufd);
    unlink(uds_path);
    for (size_t i = 0; i < n_guests; i++) {
        close(guests[i].fd);
        unlink(guests[i].path);
    }
    return 0;
}
