/*
 * test_io.c - a server and a client whose every socket read and write goes
 * through a faulty transport: split to one byte, interrupted (EINTR),
 * refused for now (EAGAIN, with the data really there). None of that is
 * an error: every call must still succeed with the right bytes, promptly,
 * and leave nothing allocated.
 *
 * The faulty transport wraps the unix one through the runtime's test hook
 * (hvrpc__transport_unix_override, runtime/src/transport.h), so both
 * sides' reads, writes and accepts pass through it.
 *
 *   every step: op k (reads, writes and accepts counted together) fails
 *               with EINTR, then with EAGAIN, for k = 1, 2, ... until a
 *               call needs fewer than k: with whole and with 1-byte I/O;
 *   everything: every op interrupted, then refused, then done one byte
 *               at a time, with concurrent calls of several sizes;
 *   batched:    calls queued behind a full socket leave in one writev
 *               when it drains (the connection's flush gathers them).
 *
 * Writes of several buffers (the transport's writev) go through the same
 * faults: split to their first byte, interrupted, refused.
 */
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "check.h"
#include "count_alloc.h"
#include "hvrpc/hvrpc.h"
#include "transport.h"

/* --- the faulty transport --------------------------------------------- */

static atomic_long ops;     /* reads, writes and accepts so far */
static atomic_long fail_at; /* the op that fails; 0: none */
static atomic_int fail_errno;
static atomic_bool one_byte; /* every read and write moves 1 byte at most */
static atomic_bool every;    /* every op: EINTR, then EAGAIN, then done */
static atomic_bool hold;     /* every write refused (EAGAIN), not counted */
static atomic_int most_iov;  /* the most buffers one writev was given */

static int injected(void)
{
    long k = atomic_fetch_add(&ops, 1) + 1;
    if (atomic_load(&every))
        return k % 3 == 1 ? EINTR : k % 3 == 2 ? EAGAIN : 0;
    return k == atomic_load(&fail_at) ? atomic_load(&fail_errno) : 0;
}

static ssize_t faulty_read(int fd, void *buf, size_t n)
{
    int e = injected();
    if (e) {
        errno = e;
        return -1;
    }
    return hvrpc__transport_unix.read(fd, buf,
                                      atomic_load(&one_byte) && n ? 1 : n);
}

/* What a write meets instead of the socket: EAGAIN while held (not
 * counted as an op), else the injected error; 0 when it goes through. */
static int write_refused(void)
{
    return atomic_load(&hold) ? EAGAIN : injected();
}

static ssize_t faulty_write(int fd, const void *buf, size_t n)
{
    int e = write_refused();
    if (e) {
        errno = e;
        return -1;
    }
    return hvrpc__transport_unix.write(fd, buf,
                                       atomic_load(&one_byte) && n ? 1 : n);
}

static ssize_t faulty_writev(int fd, const struct iovec *iov, int cnt)
{
    int most = atomic_load(&most_iov);
    while (cnt > most && !atomic_compare_exchange_weak(&most_iov, &most, cnt))
        ;
    int e = write_refused();
    if (e) {
        errno = e;
        return -1;
    }
    if (atomic_load(&one_byte) && iov[0].iov_len > 0) {
        struct iovec first = {iov[0].iov_base, 1};
        return hvrpc__transport_unix.writev(fd, &first, 1);
    }
    return hvrpc__transport_unix.writev(fd, iov, cnt);
}

static int faulty_accept(int lfd, const hvrpc_address *bound, int *fd,
                         hvrpc_peer *peer)
{
    int e = injected();
    if (e)
        return e;
    return hvrpc__transport_unix.accept(lfd, bound, fd, peer);
}

static hvrpc__transport faulty;

/* --- a server that returns the request, and calls to it ---------------- */

static void echo_bytes(hvrpc_call *call, const uint8_t *req, size_t len,
                       void *ud)
{
    (void)ud;
    const char *v = hvrpc_call_metadata_get(call, "fail");
    if (v)
        hvrpc_call_fail(call, HVRPC_NOT_FOUND, "%s", v);
    else
        hvrpc_call_reply(call, req, len);
}

static const hvrpc_method methods[] = {{.name = "Echo", .handler = echo_bytes}};
static const hvrpc_service service = {"fault.Bytes", methods, 1};

typedef struct fixture {
    char dir[32];
    char uri[96];
    hvrpc_server *srv;
    hvrpc_client *c;
} fixture;

static int64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static int fixture_start(fixture *f)
{
    hvrpc_status st;
    hvrpc_endpoint *ep;
    snprintf(f->dir, sizeof f->dir, "/tmp/hvrpc-fault-XXXXXX");
    if (!mkdtemp(f->dir))
        return -1;
    snprintf(f->uri, sizeof f->uri, "unix://%s/s.sock", f->dir);
    if (hvrpc_server_create(NULL, &f->srv, &st) != HVRPC_OK ||
        hvrpc_server_listen(f->srv, f->uri, &ep, &st) != HVRPC_OK ||
        hvrpc_server_register(f->srv, ep, &service, NULL, NULL, &st) !=
            HVRPC_OK ||
        hvrpc_server_start(f->srv, &st) != HVRPC_OK ||
        hvrpc_client_connect(f->uri, NULL, &f->c, &st) != HVRPC_OK) {
        fprintf(stderr, "fixture: %s\n", st.message);
        return -1;
    }
    return 0;
}

static void fixture_stop(fixture *f)
{
    hvrpc_client_free(f->c);
    hvrpc_server_free(f->srv);
    char path[128];
    snprintf(path, sizeof path, "%s/s.sock", f->dir);
    unlink(path);
    rmdir(f->dir);
}

/* One call of n bytes (and metadata); true when it came back intact. */
static bool call_ok(hvrpc_client *c, size_t n, bool fail)
{
    uint8_t *req = malloc(n ? n : 1);
    for (size_t i = 0; i < n; i++)
        req[i] = (uint8_t)(i * 7 + n);
    hvrpc_metadata md[] = {{"trace", "0123456789"}, {"fail", "no such thing"}};
    hvrpc_call_options o = HVRPC_CALL_OPTIONS_INIT;
    o.timeout_ms = 20000;
    o.metadata = md;
    o.n_metadata = fail ? 2 : 1;
    hvrpc_buf resp = {0};
    hvrpc_status st;
    hvrpc_code code =
        hvrpc_client_call(c, "fault.Bytes", "Echo", req, n, &o, &resp, &st);
    bool ok;
    if (fail)
        ok = code == HVRPC_NOT_FOUND && !strcmp(st.message, "no such thing");
    else
        ok = code == HVRPC_OK && resp.len == n &&
             (n == 0 || !memcmp(resp.data, req, n));
    if (!ok)
        fprintf(stderr, "call of %zu bytes: %s: %s\n", n, hvrpc_code_name(code),
                st.message);
    hvrpc_buf_free(&resp);
    free(req);
    return ok;
}

/* Op k fails with e (0: none); returns the ops the run took, -1 when a
 * call went wrong. */
static long one_run(long k, int e)
{
    atomic_store(&fail_at, 0);
    atomic_store(&ops, 0);
    fixture f;
    if (fixture_start(&f) != 0)
        return -1;
    /* The fault lands in the call, not in the set-up before it. */
    long base = atomic_load(&ops);
    atomic_store(&fail_errno, e);
    atomic_store(&fail_at, k ? base + k : 0);
    int64_t t0 = now_ms();
    bool ok = call_ok(f.c, 100, false) && call_ok(f.c, 5, true);
    int64_t took = now_ms() - t0;
    long used = atomic_load(&ops) - base;
    atomic_store(&fail_at, 0);
    fixture_stop(&f);
    if (!ok || took > 3000) {
        fprintf(stderr, "op %ld failing with %s: %s after %lld ms\n", k,
                e == EINTR ? "EINTR" : "EAGAIN", ok ? "slow" : "failed",
                (long long)took);
        return -1;
    }
    return used;
}

static void every_step(bool bytewise)
{
    atomic_store(&one_byte, bytewise);
    long n = one_run(0, 0);
    CHECK(n > 0);
    fprintf(stderr, "%s I/O: a run takes %ld ops; failing each in turn\n",
            bytewise ? "1-byte" : "whole", n);
    int bad = 0;
    /* The ops of a run vary a little with timing: go past its count. */
    for (long k = 1; k <= n + 4; k++) {
        if (one_run(k, EINTR) < 0)
            bad++;
        if (one_run(k, EAGAIN) < 0)
            bad++;
    }
    CHECK_INT(bad, 0);
    CHECK_INT(atomic_load(&count_alloc_blocks), 0);
    atomic_store(&one_byte, false);
}

typedef struct worker_arg {
    hvrpc_client *c;
    int seed;
    int bad;
} worker_arg;

static void *worker(void *p)
{
    worker_arg *a = p;
    static const size_t sizes[] = {0, 1, 10, 333, 4096, 20000};
    for (int i = 0; i < 6; i++) {
        size_t n = sizes[(size_t)(a->seed + i) % 6];
        if (!call_ok(a->c, n, (a->seed + i) % 4 == 0))
            a->bad++;
    }
    return NULL;
}

static void everything(void)
{
    fixture f;
    atomic_store(&fail_at, 0);
    atomic_store(&every, true);
    atomic_store(&one_byte, true);
    CHECK_INT(fixture_start(&f), 0);
    long before = atomic_load(&ops);
    int64_t t0 = now_ms();
    enum { N = 4 };
    pthread_t t[N];
    worker_arg a[N];
    for (int i = 0; i < N; i++) {
        a[i] = (worker_arg){f.c, i, 0};
        pthread_create(&t[i], NULL, worker, &a[i]);
    }
    for (int i = 0; i < N; i++) {
        pthread_join(t[i], NULL);
        CHECK_INT(a[i].bad, 0);
    }
    fprintf(stderr,
            "%d concurrent callers, every op interrupted, refused, then "
            "1 byte: %ld ops, %lld ms\n",
            N, atomic_load(&ops) - before, (long long)(now_ms() - t0));
    fixture_stop(&f);
    atomic_store(&every, false);
    atomic_store(&one_byte, false);
    CHECK_INT(atomic_load(&count_alloc_blocks), 0);
}

typedef struct batch_call {
    atomic_int done;
    bool ok;
    uint8_t req[40];
} batch_call;

static void batch_done(const hvrpc_status *st, const uint8_t *resp, size_t len,
                       void *arg)
{
    batch_call *b = arg;
    b->ok = st->code == HVRPC_OK && len == sizeof b->req &&
            !memcmp(resp, b->req, len);
    atomic_store(&b->done, 1);
}

/* While every write is refused, N calls queue up on the client's
 * connection; once writes are allowed they must leave in one writev of
 * at least N buffers (one per frame), and every call come back intact. */
static void batched(void)
{
    enum { N = 12 };
    fixture f;
    atomic_store(&fail_at, 0);
    CHECK_INT(fixture_start(&f), 0);
    CHECK(call_ok(f.c, 10, false)); /* connected, and the server ready */
    atomic_store(&most_iov, 0);
    atomic_store(&hold, true);
    batch_call b[N];
    for (int i = 0; i < N; i++) {
        atomic_init(&b[i].done, 0);
        b[i].ok = false;
        memset(b[i].req, 'a' + i, sizeof b[i].req);
        hvrpc_status st;
        hvrpc_call_options o = HVRPC_CALL_OPTIONS_INIT;
        o.timeout_ms = 20000;
        CHECK_INT(hvrpc_client_call_async(f.c, "fault.Bytes", "Echo", b[i].req,
                                          sizeof b[i].req, &o, batch_done,
                                          &b[i], &st),
                  HVRPC_OK);
    }
    /* The loop retries the refused flush with everything queued. */
    int64_t deadline = now_ms() + 10000;
    while (atomic_load(&most_iov) < N && now_ms() < deadline)
        usleep(1000);
    int most = atomic_load(&most_iov);
    atomic_store(&hold, false);
    CHECK(most >= N);
    deadline = now_ms() + 20000;
    for (int i = 0; i < N; i++) {
        while (!atomic_load(&b[i].done) && now_ms() < deadline)
            usleep(1000);
        CHECK(atomic_load(&b[i].done) && b[i].ok);
    }
    fprintf(stderr, "%d queued calls: one writev of %d buffers\n", N, most);
    fixture_stop(&f);
    CHECK_INT(atomic_load(&count_alloc_blocks), 0);
}

int main(void)
{
    hvrpc_allocator al = count_allocator();
    hvrpc_status st;
    CHECK_INT(hvrpc_replace_allocator(&al, &st), HVRPC_OK);
    faulty = hvrpc__transport_unix;
    faulty.name = "unix (faulty)";
    faulty.read = faulty_read;
    faulty.write = faulty_write;
    faulty.writev = faulty_writev;
    faulty.accept = faulty_accept;
    hvrpc__transport_unix_override = &faulty;

    every_step(false);
    every_step(true);
    everything();
    batched();

    hvrpc__transport_unix_override = NULL;
    CHECK_INT(hvrpc_replace_allocator(NULL, &st), HVRPC_OK);
    return check_done();
}
