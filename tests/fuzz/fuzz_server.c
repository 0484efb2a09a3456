/*
 * fuzz_server.c - a whole server fed arbitrary bytes: the promises of
 * docs/SECURITY.md, checked from outside through the public API.
 *
 * Per input: a fresh in-process server with the echo service on an
 * abstract unix socket, a connection that receives the input as its byte
 * stream (while the answers are read, so backpressure cannot deadlock),
 * then end-of-file, then hvrpc_server_free(). Checks:
 * - every answer is a well-formed Response frame (type 2, no flags, within
 *   max_frame, a valid ttrpc Response, a status code 1-16 when present)
 *   on the stream of a Request frame of the input;
 * - every complete Request frame of the input is answered within 5 s,
 *   except echo calls asking for a delay (answered or not, both fine);
 * - the server closes the connection within 5 s of end-of-file;
 * - after hvrpc_server_free() the runtime holds no memory at all (its
 *   allocator is the counting one of fuzz_util.c), and its peak stayed
 *   within the bound the limits promise (see bound() below);
 * - ASan, UBSan and libFuzzer's leak check watch the rest.
 *
 * Built with FUZZ_OOM (the server_oom target), the input's first bytes
 * choose which of the runtime's allocations fail once the server is up
 * (fuzz_alloc_fail, fuzz.h), the rest is the byte stream. The promise is
 * then "RESOURCE_EXHAUSTED or a clean close": answers are still
 * well-formed and only on streams the input opened, and every request is
 * answered promptly unless the server closed the connection; nothing is
 * left allocated, and hvrpc_server_free returns.
 */
#include <errno.h>
#include <poll.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include <hvrpc/hvrpc.h>

#include "echo_service.h"
#include "fuzz.h"
#include "ttrpc/request.pb-c.h"

#define MAX_FRAME (64u * 1024u)
#define MAX_CALLS 16u
#define WAIT_MS   5000

#ifdef FUZZ_OOM
#define OOM 1
#else
#define OOM 0
#endif

/* What one connection may make the server hold at once, by SECURITY.md:
 * fixed structures (the server, its loop's 64 KiB read buffer), one frame
 * being assembled, and per call in flight its request and its answer, each
 * at most a frame; plus the status-only answers to the frames of one read
 * (under 12 times their size) queued before backpressure stops reading. */
static size_t bound(size_t input)
{
    return 512 * 1024 + MAX_FRAME + MAX_CALLS * (3 * (size_t)MAX_FRAME) +
           16 * input;
}

typedef struct expect {
    uint32_t stream;
    bool prompt; /* must be answered before end-of-file */
    bool answered;
} expect;

static int64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static uint32_t be32(const uint8_t *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 |
           p[3];
}

/* True when body is an echo call that asks to be answered later. */
static bool delayed_echo(const uint8_t *body, size_t len)
{
    Ttrpc__Request *req = ttrpc__request__unpack(NULL, len, body);
    if (!req)
        return false;
    bool delayed = false;
    if (req->service && req->method &&
        !strcmp(req->service, "hvrpc.echo.v1.Echo") &&
        !strcmp(req->method, "Echo")) {
        Hvrpc__Echo__V1__EchoRequest *e = hvrpc__echo__v1__echo_request__unpack(
            NULL, req->payload.len, req->payload.data);
        if (e) {
            delayed = e->delay_ms > 0;
            hvrpc__echo__v1__echo_request__free_unpacked(e, NULL);
        }
    }
    ttrpc__request__free_unpacked(req, NULL);
    return delayed;
}

/* The Request frames of the input, as the server must see them. */
static size_t expected(const uint8_t *p, size_t n, expect *out)
{
    size_t count = 0;
    uint64_t pos = 0;
    while (pos + 10 <= n) {
        uint32_t len = be32(p + pos), id = be32(p + pos + 4);
        uint8_t type = p[pos + 8];
        uint64_t body = pos + 10;
        if (len > MAX_FRAME) { /* answered on its header, then skipped */
            if (type == 1)
                out[count++] = (expect){id, true, false};
            pos = body + len;
            continue;
        }
        if (body + len > n)
            break;
        if (type == 1)
            out[count++] = (expect){id, !delayed_echo(p + body, len), false};
        pos = body + len;
    }
    return count;
}

typedef struct answers {
    uint8_t *buf;
    size_t len, cap;
    expect *exp;
    size_t n_exp;
    bool closed; /* by the server, out of memory (FUZZ_OOM only) */
} answers;

static void check_response(answers *a, const uint8_t *f, uint32_t len)
{
    uint32_t id = be32(f + 4);
    if (f[8] != 2 || f[9] != 0)
        fuzz_fail("answer on stream %u has type %u flags %u", id, f[8], f[9]);
    Ttrpc__Response *resp = ttrpc__response__unpack(NULL, len, f + 10);
    if (!resp)
        fuzz_fail("answer on stream %u is no ttrpc Response", id);
    if (resp->status &&
        (resp->status->code < 1 || resp->status->code > HVRPC_CODE_MAX))
        fuzz_fail("answer on stream %u has status code %d", id,
                  resp->status->code);
    ttrpc__response__free_unpacked(resp, NULL);
    /* Prompt requests first: a reused id may stand for both kinds. */
    for (int pass = 0; pass < 2; pass++)
        for (size_t i = 0; i < a->n_exp; i++)
            if (a->exp[i].stream == id && !a->exp[i].answered &&
                a->exp[i].prompt == (pass == 0)) {
                a->exp[i].answered = true;
                return;
            }
    fuzz_fail("answer on stream %u, which no request (left) asked for", id);
}

/* Takes the complete frames out of a->buf. */
static void take_frames(answers *a)
{
    size_t off = 0;
    while (a->len - off >= 10) {
        uint32_t len = be32(a->buf + off);
        if (len > MAX_FRAME)
            fuzz_fail("answer of %u bytes, over max_frame", len);
        if (a->len - off - 10 < len)
            break;
        check_response(a, a->buf + off, len);
        off += 10 + (size_t)len;
    }
    memmove(a->buf, a->buf + off, a->len - off);
    a->len -= off;
}

/* Reads what is there; false at end-of-file. */
static bool read_some(int fd, answers *a)
{
    for (;;) {
        if (a->cap - a->len < 65536) {
            a->cap = a->cap * 2 + 65536;
            a->buf = realloc(a->buf, a->cap);
            FUZZ_ASSERT(a->buf);
        }
        ssize_t r = read(fd, a->buf + a->len, a->cap - a->len);
        if (r > 0) {
            a->len += (size_t)r;
            take_frames(a);
            continue;
        }
        if (r == 0)
            return false;
        if (errno == EINTR)
            continue;
        if (errno == EAGAIN || errno == EWOULDBLOCK)
            return true;
        if (errno == ECONNRESET)
            return false;
        fuzz_fail("read: %s", strerror(errno));
    }
}

static bool prompt_answered(const answers *a)
{
    for (size_t i = 0; i < a->n_exp; i++)
        if (a->exp[i].prompt && !a->exp[i].answered)
            return false;
    return true;
}

static void converse(int fd, const uint8_t *data, size_t size, answers *a)
{
    size_t sent = 0;
    int64_t deadline = now_ms() + WAIT_MS;
    while (sent < size || !prompt_answered(a)) {
        if (a->closed)
            return; /* out of memory: a clean close ends it all */
        struct pollfd pfd = {fd, POLLIN | (sent < size ? POLLOUT : 0), 0};
        int left = (int)(deadline - now_ms());
        if (left <= 0 || poll(&pfd, 1, left) == 0) {
            for (size_t i = 0; i < a->n_exp; i++)
                if (a->exp[i].prompt && !a->exp[i].answered)
                    fuzz_fail("stream %u not answered within %d ms (%zu of "
                              "%zu bytes sent)",
                              a->exp[i].stream, WAIT_MS, sent, size);
            fuzz_fail("input not taken within %d ms (%zu of %zu bytes sent)",
                      WAIT_MS, sent, size);
        }
        if (pfd.revents & (POLLIN | POLLHUP | POLLERR))
            if (!read_some(fd, a)) {
                if (OOM) {
                    a->closed = true;
                    continue;
                }
                fuzz_fail("server closed the connection (%zu of %zu bytes "
                          "sent)",
                          sent, size);
            }
        if (sent < size && (pfd.revents & POLLOUT)) {
            ssize_t w = send(fd, data + sent, size - sent, MSG_NOSIGNAL);
            if (w > 0)
                sent += (size_t)w;
            else if (OOM && w < 0 && (errno == EPIPE || errno == ECONNRESET))
                a->closed = true;
            else if (w < 0 && errno != EAGAIN && errno != EINTR)
                fuzz_fail("send: %s", strerror(errno));
        }
    }
    /* End-of-file: the server must close its side. */
    shutdown(fd, SHUT_WR);
    deadline = now_ms() + WAIT_MS;
    for (;;) {
        struct pollfd pfd = {fd, POLLIN, 0};
        int left = (int)(deadline - now_ms());
        if (left <= 0 || poll(&pfd, 1, left) == 0)
            fuzz_fail("connection still open %d ms after end-of-file", WAIT_MS);
        if (!read_some(fd, a))
            break;
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    fuzz_alloc_install();
    static char name[64], uri[80];
    if (!name[0]) {
        snprintf(name, sizeof name, "hvrpc-fuzz-server-%d", (int)getpid());
        snprintf(uri, sizeof uri, "unix://@%s", name);
    }
    FUZZ_ASSERT(fuzz_alloc_live_blocks() == 0);
    fuzz_alloc_reset_peak();
    if (OOM) {
        data = fuzz_alloc_fail(data, &size);
        if (!data)
            return 0;
        fuzz_alloc_fail_pause(1); /* the set-up is test_oom.c's */
    }

    hvrpc_server_options o;
    hvrpc_server_options_init(&o);
    o.max_frame = MAX_FRAME;
    o.max_calls_per_connection = MAX_CALLS;
    o.workers = 2;
    hvrpc_server *srv;
    hvrpc_endpoint *ep;
    hvrpc_status st;
    if (hvrpc_server_create(&o, &srv, &st) != HVRPC_OK ||
        hvrpc_server_listen(srv, uri, &ep, &st) != HVRPC_OK ||
        hvrpc_echo_service_register(srv, ep, &st) != HVRPC_OK ||
        hvrpc_server_start(srv, &st) != HVRPC_OK)
        fuzz_fail("server: %s", st.message);
    if (OOM)
        fuzz_alloc_fail_pause(0);

    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    FUZZ_ASSERT(fd >= 0);
    struct sockaddr_un sun = {.sun_family = AF_UNIX};
    size_t n = strlen(name);
    memcpy(sun.sun_path + 1, name, n);
    socklen_t len = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + 1 + n);
    if (connect(fd, (struct sockaddr *)&sun, len) != 0 && errno != EINPROGRESS)
        fuzz_fail("connect: %s", strerror(errno));

    answers a = {0};
    a.exp = calloc(size / 10 + 1, sizeof *a.exp);
    FUZZ_ASSERT(a.exp);
    a.n_exp = expected(data, size, a.exp);
    converse(fd, data, size, &a);
    close(fd);

    hvrpc_server_free(srv);
    if (OOM && getenv("HVRPC_FUZZ_VERBOSE"))
        fprintf(stderr, "%zu allocations failed; %s\n", fuzz_alloc_failed(),
                a.closed ? "the server closed the connection"
                         : "the connection lasted");
    fuzz_alloc_fail_off();
    if (fuzz_alloc_live_blocks() != 0)
        fuzz_fail("the runtime still holds %zu blocks (%zu bytes) after "
                  "hvrpc_server_free",
                  fuzz_alloc_live_blocks(), fuzz_alloc_live_bytes());
    if (fuzz_alloc_peak_bytes() > bound(size))
        fuzz_fail("the runtime held %zu bytes at once, over the bound of "
                  "%zu",
                  fuzz_alloc_peak_bytes(), bound(size));
    free(a.exp);
    free(a.buf);
    return 0;
}
