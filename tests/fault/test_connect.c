/*
 * test_connect.c - faults in a client's connect, on unix:// and through the
 * hybrid vsock handshake (CONNECT PORT / OK N, to tests/vm/hybrid's
 * vmm_mux standing in for the VMM): each step interrupted in turn must
 * still connect and serve a call, promptly; faults that never stop must
 * end in DEADLINE_EXCEEDED at the connect timeout; a unix listener whose
 * backlog is full is waited for, not taken for a connection. Nothing may
 * hang, crash or leak (memory and file descriptors are counted).
 *
 * How the faults get in (white-box, like test_io.c):
 *   - connect() and poll() of the runtime are wrapped at link time
 *     (-Wl,--wrap=connect,--wrap=poll, CMakeLists.txt), so the runtime's
 *     own connect loop (transport.c) meets EINTR, EINPROGRESS and EAGAIN;
 *   - the handshake's reads and writes go through the unix transport table,
 *     replaced by a faulty one (hvrpc__transport_unix_override).
 * Only the thread inside hvrpc_client_connect() is faulted (a thread-local
 * flag): the server's and the VMM's sides stay clean, so the op count of a
 * connect is the same from run to run.
 *
 *   usage: fault_connect PATH-TO-vmm_mux
 */
#include <dirent.h>
#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "check.h"
#include "count_alloc.h"
#include "mux_proc.h"
#include "hvrpc/hvrpc.h"
#include "transport.h"

#define GUEST_PORT 5000u /* relayed by vmm_mux to the server */

/* --- the faults --------------------------------------------------------- */

typedef enum mode {
    M_NONE,
    M_INTR,     /* connect: done, then EINTR; poll, read, write: EINTR */
    M_AGAIN,    /* connect: EAGAIN, nothing done; read, write: EAGAIN */
    M_PROGRESS, /* connect: done, then EINPROGRESS; nothing else */
} mode;

static const char *const mode_names[] = {"none", "EINTR", "EAGAIN",
                                         "EINPROGRESS"};

static _Thread_local bool connecting; /* this thread is in client_connect */
static atomic_long ops;               /* faultable ops while connecting */
static atomic_long fail_at;           /* the first op that fails; 0: none */
static atomic_long fail_span;         /* how many ops from there fail */
static atomic_int fail_mode;
static atomic_bool always;      /* every op fails (persistent faults)... */
static atomic_int always_kinds; /* ...of these kinds (1 << op_kind) */
static atomic_bool one_byte;    /* handshake writes move 1 byte at most */

typedef enum op_kind { OP_CONNECT, OP_POLL, OP_READ, OP_WRITE } op_kind;
#define ALL_OPS 15

/* The errno op k of the connecting thread fails with, or 0. *before:
 * whether the real call is made before the failure is reported. */
static int injected(op_kind kind, bool *before)
{
    *before = false;
    if (!connecting)
        return 0;
    long k = atomic_fetch_add(&ops, 1) + 1;
    if (atomic_load(&always)
            ? !(atomic_load(&always_kinds) & (1 << kind))
            : (k < atomic_load(&fail_at) ||
               k >= atomic_load(&fail_at) + atomic_load(&fail_span)))
        return 0;
    switch ((mode)atomic_load(&fail_mode)) {
    case M_INTR:
        *before = kind == OP_CONNECT;
        return EINTR;
    case M_AGAIN:
        return kind == OP_POLL ? EINTR : EAGAIN;
    case M_PROGRESS:
        *before = true;
        return kind == OP_CONNECT ? EINPROGRESS : 0;
    case M_NONE:
        break;
    }
    return 0;
}

int __real_connect(int fd, const struct sockaddr *sa, socklen_t len);
int __real_poll(struct pollfd *fds, nfds_t n, int timeout);
int __wrap_connect(int fd, const struct sockaddr *sa, socklen_t len);
int __wrap_poll(struct pollfd *fds, nfds_t n, int timeout);

int __wrap_connect(int fd, const struct sockaddr *sa, socklen_t len)
{
    bool before;
    int e = injected(OP_CONNECT, &before);
    if (!e)
        return __real_connect(fd, sa, len);
    if (before) {
        int r = __real_connect(fd, sa, len);
        if (r != 0 && errno != EINPROGRESS && errno != EAGAIN)
            return r; /* a real failure wins */
    }
    errno = e;
    return -1;
}

int __wrap_poll(struct pollfd *fds, nfds_t n, int timeout)
{
    bool before;
    /* poll(NULL, 0, ms) is a pause, not a wait on the connection. */
    int e = n ? injected(OP_POLL, &before) : 0;
    if (!e)
        return __real_poll(fds, n, timeout);
    if (atomic_load(&always) && timeout != 0)
        usleep(1000); /* a signal storm, not a busy loop */
    errno = e;
    return -1;
}

static ssize_t faulty_read(int fd, void *buf, size_t n)
{
    bool before;
    int e = injected(OP_READ, &before);
    if (e) {
        errno = e;
        return -1;
    }
    return hvrpc__transport_unix.read(fd, buf, n);
}

static ssize_t faulty_write(int fd, const void *buf, size_t n)
{
    bool before;
    int e = injected(OP_WRITE, &before);
    if (e) {
        errno = e;
        return -1;
    }
    if (connecting && atomic_load(&one_byte) && n > 1)
        n = 1;
    return hvrpc__transport_unix.write(fd, buf, n);
}

static hvrpc__transport faulty;

/* --- this process's fds, counted (the runtime's memory: count_alloc.h) --- */

static int open_fds(void)
{
    DIR *d = opendir("/proc/self/fd");
    int n = 0;
    if (!d)
        return -1;
    while (readdir(d))
        n++;
    closedir(d);
    return n;
}

static int64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* --- a server, the VMM in front of it, and connects to both --------------- */

static void echo_bytes(hvrpc_call *call, const uint8_t *req, size_t len,
                       void *ud)
{
    (void)ud;
    hvrpc_call_reply(call, req, len);
}

static const hvrpc_method methods[] = {{.name = "Echo", .handler = echo_bytes}};
static const hvrpc_service service = {"fault.Bytes", methods, 1};

static char dir[32];
static char unix_uri[96], hybrid_uri[128], full_uri[128];
static hvrpc_server *srv;
static mux_proc mux;

/* Starts vmm_mux (its READY line read) relaying GUEST_PORT to the server. */
static int start_vmm(const char *exe)
{
    char uds[64], rule[128];
    snprintf(uds, sizeof uds, "%s/vmm.sock", dir);
    snprintf(rule, sizeof rule, "%u=unix://%s/s.sock", GUEST_PORT, dir);
    char *argv[] = {(char *)exe, "--uds", uds, "--port", rule, NULL};
    snprintf(hybrid_uri, sizeof hybrid_uri, "hybrid+vsock://%s:%u", uds,
             GUEST_PORT);
    return mux_start(&mux, argv);
}

/* Connects to uri with faults on (timeout_ms for connect and handshake);
 * the code, and with OK a call that must come back intact. */
static hvrpc_code faulted_connect(const char *uri, uint32_t timeout_ms,
                                  hvrpc_status *st)
{
    hvrpc_client_options o;
    hvrpc_client_options_init(&o);
    o.connect_timeout_ms = timeout_ms;
    hvrpc_client *c = NULL;
    connecting = true;
    hvrpc_code code = hvrpc_client_connect(uri, &o, &c, st);
    connecting = false;
    if (code != HVRPC_OK)
        return code;
    static const uint8_t req[] = "through the faults";
    hvrpc_call_options co = HVRPC_CALL_OPTIONS_INIT;
    co.timeout_ms = 10000;
    hvrpc_buf resp = {0};
    code = hvrpc_client_call(c, "fault.Bytes", "Echo", req, sizeof req, &co,
                             &resp, st);
    if (code == HVRPC_OK &&
        (resp.len != sizeof req || memcmp(resp.data, req, sizeof req))) {
        hvrpc_status_set(st, HVRPC_INTERNAL, "answer garbled");
        code = HVRPC_INTERNAL;
    }
    hvrpc_buf_free(&resp);
    hvrpc_client_free(c);
    return code;
}

/* Ops k to k + span - 1 of a connect to uri fail in mode m (k 0: none).
 * The ops a connect took, or -1 when it did not connect and serve,
 * promptly. */
static long one_run(const char *uri, long k, long span, mode m)
{
    atomic_store(&ops, 0);
    atomic_store(&fail_span, span);
    atomic_store(&fail_at, k);
    atomic_store(&fail_mode, m);
    hvrpc_status st = {0};
    int64_t t0 = now_ms();
    hvrpc_code code = faulted_connect(uri, 5000, &st);
    int64_t took = now_ms() - t0;
    atomic_store(&fail_at, 0);
    if (code != HVRPC_OK || took > 3000) {
        fprintf(stderr,
                "%s, ops %ld-%ld failing with %s: %s: %s after %lld ms\n", uri,
                k, k + span - 1, mode_names[m], hvrpc_code_name(code),
                st.message, (long long)took);
        return -1;
    }
    return atomic_load(&ops);
}

/* Each op of a connect to uri failing in turn, in every mode; then each
 * with the 3 ops after it (so the waits that follow an interrupted step
 * are interrupted too). */
static void every_step(const char *uri, const char *what)
{
    long n = one_run(uri, 0, 0, M_NONE);
    CHECK(n > 0);
    int bad = 0, runs = 0;
    for (long span = 1; span <= 4; span += 3)
        for (mode m = M_INTR; m <= M_PROGRESS; m++)
            for (long k = 1; k <= n + 2; k++, runs++)
                if (one_run(uri, k, span, m) < 0)
                    bad++;
    fprintf(stderr, "%s: a connect takes %ld ops; %d runs, %d failed\n", what,
            n, runs, bad);
    CHECK_INT(bad, 0);
}

/* Faults that never stop, on the ops of the kinds given: DEADLINE_EXCEEDED
 * at the connect timeout, saying which step it ended in. */
static void never_ends(const char *uri, int kinds, mode m, const char *want_msg)
{
    atomic_store(&fail_mode, m);
    atomic_store(&always_kinds, kinds);
    atomic_store(&always, true);
    hvrpc_status st = {0};
    int64_t t0 = now_ms();
    hvrpc_code code = faulted_connect(uri, 300, &st);
    int64_t took = now_ms() - t0;
    atomic_store(&always, false);
    fprintf(stderr, "%s, every op %s: %s (%s) after %lld ms\n", uri,
            mode_names[m], hvrpc_code_name(code), st.message, (long long)took);
    CHECK_INT(code, HVRPC_DEADLINE_EXCEEDED);
    CHECK_CONTAINS(st.message, want_msg);
    CHECK(took >= 250 && took < 3000);
}

/* --- a real unix listener whose backlog is full ----------------------------
 */

static int full_fd = -1; /* listening, backlog 1, accepted on only by ... */
static int full_held[8];
static int n_held;

/* Fills the backlog of a fresh listener that nobody accepts on. */
static int full_listener(void)
{
    struct sockaddr_un sun = {.sun_family = AF_UNIX};
    snprintf(sun.sun_path, sizeof sun.sun_path, "%s/full.sock", dir);
    snprintf(full_uri, sizeof full_uri, "unix://%s", sun.sun_path);
    full_fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (bind(full_fd, (struct sockaddr *)&sun, sizeof sun) != 0 ||
        listen(full_fd, 1) != 0)
        return -1;
    /* Connect until the kernel says EAGAIN: the backlog is full. */
    while (n_held < 8) {
        int s = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
        if (connect(s, (struct sockaddr *)&sun, sizeof sun) != 0) {
            int e = errno;
            close(s);
            return e == EAGAIN ? 0 : -1;
        }
        full_held[n_held++] = s;
    }
    return -1;
}

static void *accept_later(void *arg)
{
    (void)arg;
    usleep(300 * 1000);
    /* Room in the backlog: the waiting connect gets in. */
    int a = accept4(full_fd, NULL, NULL, SOCK_CLOEXEC);
    return (void *)(intptr_t)a;
}

static void backlog_full(void)
{
    CHECK_INT(full_listener(), 0);
    /* Nobody makes room: the connect times out, it is not "connected". */
    hvrpc_client_options o;
    hvrpc_client_options_init(&o);
    o.connect_timeout_ms = 300;
    hvrpc_client *c = NULL;
    hvrpc_status st = {0};
    int64_t t0 = now_ms();
    hvrpc_code code = hvrpc_client_connect(full_uri, &o, &c, &st);
    int64_t took = now_ms() - t0;
    fprintf(stderr, "full backlog, nobody accepting: %s (%s) after %lld ms\n",
            hvrpc_code_name(code), st.message, (long long)took);
    CHECK_INT(code, HVRPC_DEADLINE_EXCEEDED);
    CHECK(took >= 250 && took < 3000);
    hvrpc_client_free(code == HVRPC_OK ? c : NULL);

    /* Someone makes room 300 ms later: the connect waits and gets in. */
    pthread_t t;
    pthread_create(&t, NULL, accept_later, NULL);
    o.connect_timeout_ms = 10000;
    c = NULL;
    t0 = now_ms();
    code = hvrpc_client_connect(full_uri, &o, &c, &st);
    took = now_ms() - t0;
    void *accepted;
    pthread_join(t, &accepted);
    fprintf(stderr, "full backlog, room after 300 ms: %s after %lld ms\n",
            hvrpc_code_name(code), (long long)took);
    CHECK_INT(code, HVRPC_OK);
    CHECK(took >= 200 && took < 5000);
    hvrpc_client_free(code == HVRPC_OK ? c : NULL);
    if ((intptr_t)accepted >= 0)
        close((int)(intptr_t)accepted);
    for (int i = 0; i < n_held; i++)
        close(full_held[i]);
    close(full_fd);
    char path[64];
    snprintf(path, sizeof path, "%s/full.sock", dir);
    unlink(path);
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        fprintf(stderr, "usage: %s PATH-TO-vmm_mux\n", argv[0]);
        return 2;
    }
    signal(SIGPIPE, SIG_IGN);
    hvrpc_allocator al = count_allocator();
    hvrpc_status st;
    CHECK_INT(hvrpc_replace_allocator(&al, &st), HVRPC_OK);
    faulty = hvrpc__transport_unix;
    faulty.name = "unix (faulty)";
    faulty.read = faulty_read;
    faulty.write = faulty_write;
    hvrpc__transport_unix_override = &faulty;

    snprintf(dir, sizeof dir, "/tmp/hvrpc-fconn-XXXXXX");
    CHECK(mkdtemp(dir) != NULL);
    snprintf(unix_uri, sizeof unix_uri, "unix://%s/s.sock", dir);
    hvrpc_endpoint *ep;
    if (hvrpc_server_create(NULL, &srv, &st) != HVRPC_OK ||
        hvrpc_server_listen(srv, unix_uri, &ep, &st) != HVRPC_OK ||
        hvrpc_server_register(srv, ep, &service, NULL, NULL, &st) != HVRPC_OK ||
        hvrpc_server_start(srv, &st) != HVRPC_OK) {
        fprintf(stderr, "server: %s\n", st.message);
        return 1;
    }
    if (start_vmm(argv[1]) != 0) {
        fprintf(stderr, "vmm_mux %s did not start\n", argv[1]);
        mux_stop(&mux);
        return 1;
    }
    int fds0 = open_fds();

    every_step(unix_uri, "unix");
    every_step(hybrid_uri, "hybrid vsock");
    atomic_store(&one_byte, true);
    every_step(hybrid_uri, "hybrid vsock, CONNECT written 1 byte at a time");
    atomic_store(&one_byte, false);

    never_ends(unix_uri, ALL_OPS, M_AGAIN, "connect timed out");
    never_ends(unix_uri, ALL_OPS, M_INTR, "connect timed out");
    never_ends(hybrid_uri, ALL_OPS, M_INTR, "connect timed out");
    /* The connect let through: the handshake meets the storm. */
    int wr = (1 << OP_POLL) | (1 << OP_WRITE);
    int rd = (1 << OP_POLL) | (1 << OP_READ);
    never_ends(hybrid_uri, wr, M_AGAIN, "CONNECT not sent in time");
    never_ends(hybrid_uri, rd, M_AGAIN, "no handshake answer in time");
    never_ends(hybrid_uri, rd, M_INTR, "no handshake answer in time");
    backlog_full();

    /* Every fd a failed or interrupted connect made was closed. */
    CHECK_INT(open_fds(), fds0);
    mux_stop(&mux);
    hvrpc_server_free(srv);
    hvrpc__transport_unix_override = NULL;
    CHECK_INT(atomic_load(&count_alloc_blocks), 0);
    CHECK_INT(hvrpc_replace_allocator(NULL, &st), HVRPC_OK);
    char path[64];
    snprintf(path, sizeof path, "%s/s.sock", dir);
    unlink(path);
    rmdir(dir);
    return check_done();
}
