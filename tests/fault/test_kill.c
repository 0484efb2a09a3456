/*
 * test_kill.c - a peer killed (SIGKILL) at every stage of a call.
 *
 * Client killed: a child process holds a connection to the in-process echo
 * server and dies before the header, mid header, after the header, mid
 * body, with its calls in flight, and mid response (a 4 MiB answer it has
 * begun to read). Each time the server drops that connection and nothing
 * else: a connection open all along and a new client are served, and
 * after the server is freed the runtime holds no memory.
 *
 * Server killed: a child process plays a server that dies at the same
 * stages (nothing read, part of the header, part of the request, all of
 * it, part of its answer written). Each time the call fails UNAVAILABLE
 * at once, not at its deadline; another client, on the real server,
 * keeps working; the client is freed with nothing left allocated.
 */
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include "check.h"
#include "count_alloc.h"
#include "raw_peer.h"

#define ECHO "hvrpc.echo.v1.Echo"

/* The bytes raw_send_echo() would write, for a child to write later
 * (after fork only async-signal-safe calls: no malloc, no protobuf-c). */
static size_t echo_frame(uint8_t *out, size_t cap, uint32_t stream,
                         uint32_t response_size, uint32_t delay_ms)
{
    int sp[2];
    if (socketpair(AF_UNIX, SOCK_STREAM, 0, sp) != 0)
        return 0;
    raw_send_echo(sp[0], stream, ECHO, "Echo", 100, response_size, delay_ms, 2,
                  "v");
    close(sp[0]);
    size_t n = 0;
    ssize_t r;
    while (n < cap && (r = read(sp[1], out + n, cap - n)) > 0)
        n += (size_t)r;
    close(sp[1]);
    return n;
}

static int write_all(int fd, const uint8_t *p, size_t n)
{
    while (n) {
        ssize_t w = write(fd, p, n);
        if (w <= 0)
            return -1;
        p += w;
        n -= (size_t)w;
    }
    return 0;
}

static int read_n(int fd, uint8_t *p, size_t n)
{
    while (n) {
        ssize_t r = read(fd, p, n);
        if (r <= 0)
            return -1;
        p += r;
        n -= (size_t)r;
    }
    return 0;
}

/* Tells the parent the child reached its stage, then waits to die. */
static _Noreturn void ready_and_wait(int ready)
{
    char b = 1;
    ssize_t w = write(ready, &b, 1);
    (void)w;
    for (;;)
        pause();
}

/* Runs child(arg) in a process, waits until it is ready, kills it. */
static void run_and_kill(void (*child)(void *arg, int ready), void *arg,
                         int settle_ms)
{
    int p[2];
    CHECK_INT(pipe(p), 0);
    pid_t pid = fork();
    if (pid == 0) {
        close(p[0]);
        child(arg, p[1]);
        _exit(0);
    }
    close(p[1]);
    struct pollfd pfd = {.fd = p[0], .events = POLLIN};
    CHECK(poll(&pfd, 1, 5000) == 1);
    char b;
    CHECK_INT(read(p[0], &b, 1), 1);
    close(p[0]);
    if (settle_ms)
        usleep((useconds_t)settle_ms * 1000);
    kill(pid, SIGKILL);
    int status;
    waitpid(pid, &status, 0);
    CHECK(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL);
}

/* --- the client dies ---------------------------------------------------- */

enum {
    BEFORE_HEADER,
    MID_HEADER,
    HEADER_ONLY,
    MID_BODY,
    IN_FLIGHT,
    MID_RESPONSE,
    N_CLIENT_STAGES
};
static const char *client_stage[] = {"before the header", "mid header",
                                     "after the header",  "mid body",
                                     "calls in flight",   "mid response"};

typedef struct client_child {
    int fd;
    int stage;
    uint8_t frame[4096];
    size_t len;
    uint8_t more[4096]; /* IN_FLIGHT: several delayed calls */
    size_t more_len;
} client_child;

static void dying_client(void *arg, int ready)
{
    client_child *c = arg;
    size_t n = 0;
    switch (c->stage) {
    case BEFORE_HEADER:
        break;
    case MID_HEADER:
        n = 5;
        break;
    case HEADER_ONLY:
        n = 10;
        break;
    case MID_BODY:
        n = 10 + (c->len - 10) / 2;
        break;
    default:
        n = c->len;
    }
    write_all(c->fd, c->frame, n);
    if (c->stage == IN_FLIGHT)
        write_all(c->fd, c->more, c->more_len);
    if (c->stage == MID_RESPONSE) {
        static uint8_t buf[1000];
        read_n(c->fd, buf, sizeof buf); /* some of it, then no more */
    }
    ready_and_wait(ready);
}

static void client_killed(void)
{
    test_server ts;
    CHECK_INT(test_server_start(&ts, NULL, NULL), 0);
    int steady = raw_connect(&ts); /* a peer that stays throughout */
    uint32_t steady_id = 1;
    for (int stage = 0; stage < N_CLIENT_STAGES; stage++) {
        static client_child c;
        memset(&c, 0, sizeof c);
        c.stage = stage;
        c.len = echo_frame(c.frame, sizeof c.frame, 1,
                           stage == MID_RESPONSE ? 4u << 20 : 0,
                           stage == IN_FLIGHT ? 300 : 0);
        CHECK(c.len > 10);
        if (stage == MID_RESPONSE) /* a 4 MiB answer does not fit */
            c.len = echo_frame(c.frame, sizeof c.frame, 1, (4u << 20) - 200, 0);
        for (uint32_t id = 3; id < 17; id += 2)
            c.more_len += echo_frame(c.more + c.more_len,
                                     sizeof c.more - c.more_len, id, 0, 300);
        c.fd = raw_connect(&ts);
        CHECK(c.fd >= 0);
        run_and_kill(dying_client, &c, stage == IN_FLIGHT ? 50 : 20);
        close(c.fd);

        uint32_t stream;
        int code;
        CHECK_INT(
            raw_send_echo(steady, steady_id, ECHO, "Echo", 10, 0, 0, 0, ""), 0);
        CHECK_INT(raw_read_status(steady, 3000, &stream, &code, NULL, 0), 0);
        CHECK_INT(stream, steady_id);
        CHECK_INT(code, 0);
        steady_id += 2;
        hvrpc_status st;
        hvrpc_code got = client_echo(ts.uri, &st);
        if (got != HVRPC_OK)
            fprintf(stderr, "after a client died %s: %s\n", client_stage[stage],
                    st.message);
        CHECK_INT(got, HVRPC_OK);
    }
    close(steady);
    test_server_stop(&ts);
    CHECK_INT(atomic_load(&count_alloc_blocks), 0);
}

/* --- the server dies ---------------------------------------------------- */

enum {
    S_NOTHING_READ,
    S_MID_HEADER,
    S_MID_REQUEST,
    S_WHOLE_REQUEST,
    S_HEADER_ANSWERED,
    S_MID_ANSWER,
    N_SERVER_STAGES
};
static const char *server_stage[] = {"before reading",
                                     "mid header",
                                     "mid request",
                                     "after the request",
                                     "after its answer's header",
                                     "mid answer"};

typedef struct server_child {
    int lfd;
    int stage;
} server_child;

static void dying_server(void *arg, int ready)
{
    server_child *s = arg;
    int fd = accept(s->lfd, NULL, NULL);
    uint8_t h[10];
    static uint8_t body[65536];
    if (fd < 0)
        _exit(1);
    switch (s->stage) {
    case S_NOTHING_READ:
        break;
    case S_MID_HEADER:
        read_n(fd, h, 5);
        break;
    default: {
        read_n(fd, h, 10);
        uint32_t len = (uint32_t)h[0] << 24 | (uint32_t)h[1] << 16 |
                       (uint32_t)h[2] << 8 | h[3];
        if (len > sizeof body)
            _exit(1);
        read_n(fd, body, s->stage == S_MID_REQUEST ? len / 2 : len);
        if (s->stage >= S_HEADER_ANSWERED) {
            /* A Response on the request's stream promising 100 bytes. */
            uint8_t r[10 + 40] = {0, 0, 0, 100};
            memcpy(r + 4, h + 4, 4);
            r[8] = 2;
            memset(r + 10, 0x12, 40);
            write_all(fd, r, s->stage == S_MID_ANSWER ? sizeof r : 10);
        }
    }
    }
    ready_and_wait(ready);
}

typedef struct outcome {
    atomic_int done;
    hvrpc_code code;
    char msg[HVRPC_STATUS_MESSAGE_MAX];
} outcome;

static void on_done(const hvrpc_status *st, const uint8_t *resp, size_t len,
                    void *arg)
{
    (void)resp;
    (void)len;
    outcome *o = arg;
    o->code = st->code;
    snprintf(o->msg, sizeof o->msg, "%s", st->message);
    atomic_store(&o->done, 1);
}

static void server_killed(void)
{
    test_server ts; /* the real server another client keeps using */
    CHECK_INT(test_server_start(&ts, NULL, NULL), 0);
    hvrpc_client *other;
    hvrpc_status st;
    CHECK_INT(hvrpc_client_connect(ts.uri, NULL, &other, &st), HVRPC_OK);

    char path[96];
    snprintf(path, sizeof path, "%s/fake.sock", ts.dir);
    char uri[160];
    snprintf(uri, sizeof uri, "unix://%s", path);
    for (int stage = 0; stage < N_SERVER_STAGES; stage++) {
        unlink(path);
        server_child s = {.stage = stage};
        s.lfd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
        struct sockaddr_un sun = {.sun_family = AF_UNIX};
        snprintf(sun.sun_path, sizeof sun.sun_path, "%s", path);
        CHECK_INT(bind(s.lfd, (struct sockaddr *)&sun, sizeof sun), 0);
        CHECK_INT(listen(s.lfd, 4), 0);

        hvrpc_client *c;
        CHECK_INT(hvrpc_client_connect(uri, NULL, &c, &st), HVRPC_OK);
        static uint8_t req[3000];
        memset(req, 0x0a, sizeof req);
        hvrpc_call_options o = HVRPC_CALL_OPTIONS_INIT;
        o.timeout_ms = 10000;
        static outcome out;
        memset(&out, 0, sizeof out);
        CHECK_INT(hvrpc_client_call_async(c, ECHO, "Echo", req, sizeof req, &o,
                                          on_done, &out, &st),
                  HVRPC_OK);
        run_and_kill(dying_server, &s, 20);
        close(s.lfd);
        int64_t t0 = now_ms();
        while (!atomic_load(&out.done) && now_ms() - t0 < 5000)
            usleep(1000);
        int64_t took = now_ms() - t0;
        CHECK(atomic_load(&out.done));
        if (out.code != HVRPC_UNAVAILABLE || took > 2000)
            fprintf(stderr, "server died %s: %s (%s) after %lld ms\n",
                    server_stage[stage], hvrpc_code_name(out.code), out.msg,
                    (long long)took);
        CHECK_INT(out.code, HVRPC_UNAVAILABLE);
        CHECK(took < 2000);
        /* A call on the dead connection fails at once, too. */
        hvrpc_buf resp = {0};
        hvrpc_code again =
            hvrpc_client_call(c, ECHO, "Echo", NULL, 0, &o, &resp, &st);
        CHECK_INT(again, HVRPC_UNAVAILABLE);
        hvrpc_buf_free(&resp);
        hvrpc_client_free(c);

        hvrpc_code code =
            hvrpc_client_call(other, ECHO, "Echo", NULL, 0, &o, &resp, &st);
        CHECK_INT(code, HVRPC_OK);
        hvrpc_buf_free(&resp);
    }
    unlink(path);
    hvrpc_client_free(other);
    test_server_stop(&ts);
    CHECK_INT(atomic_load(&count_alloc_blocks), 0);
}

int main(void)
{
    signal(SIGPIPE, SIG_IGN);
    hvrpc_allocator al = count_allocator();
    hvrpc_status st;
    CHECK_INT(hvrpc_replace_allocator(&al, &st), HVRPC_OK);
    client_killed();
    server_killed();
    CHECK_INT(hvrpc_replace_allocator(NULL, &st), HVRPC_OK);
    return check_done();
}
