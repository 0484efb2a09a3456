/*
 * test_lead.c - a blocking caller alone in flight reads its own answer
 * (runtime/src/client_lead.c). What must still hold while it does:
 * another thread's asynchronous call is answered at once and completed
 * on the client's I/O thread, not held until the blocking call ends; a
 * deadline, the server's death and hvrpc_client_free end the blocking
 * call with the right status; many threads mixing blocking and
 * asynchronous calls all get their own answers; a server dying between
 * lone blocking calls, while the client is parked, is seen at once.
 */
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "check.h"
#include "integ_util.h"
#include "server_proc.h"

/* --- a blocking call on its own thread ------------------------------------ */

typedef struct slow_call {
    hvrpc_client *c;
    uint32_t delay_ms;
    uint32_t timeout_ms;
    pthread_t thread;
    hvrpc_code code;
    hvrpc_status st;
    int64_t took_ms;
    atomic_bool done;
} slow_call;

static void *slow_main(void *arg)
{
    slow_call *s = arg;
    echo_req req = ECHO_REQ_INIT;
    req.delay_ms = s->delay_ms;
    hvrpc_call_options o = HVRPC_CALL_OPTIONS_INIT;
    o.timeout_ms = s->timeout_ms;
    int64_t t0 = integ_now_ms();
    s->code = integ_echo(s->c, &req, &o, NULL, &s->st);
    s->took_ms = integ_now_ms() - t0;
    atomic_store(&s->done, true);
    return NULL;
}

/* Starts it, and gives it time to send and take the socket over. */
static void slow_start(slow_call *s, hvrpc_client *c, uint32_t delay_ms,
                       uint32_t timeout_ms)
{
    memset(s, 0, sizeof *s);
    s->c = c;
    s->delay_ms = delay_ms;
    s->timeout_ms = timeout_ms;
    CHECK(pthread_create(&s->thread, NULL, slow_main, s) == 0);
    usleep(100 * 1000);
}

/* --- an asynchronous call --------------------------------------------------
 */

typedef struct async_call {
    integ_waiter w;
    pthread_t on_thread; /* where done ran */
    bool ok;
    bool before_slow; /* the blocking call was still waiting */
    const slow_call *slow;
    uint8_t payload[64];
} async_call;

static void async_done(const hvrpc_status *st, const uint8_t *data, size_t len,
                       void *arg)
{
    async_call *a = arg;
    a->on_thread = pthread_self();
    echo_resp *r = st->code == HVRPC_OK ? echo_resp_decode(data, len) : NULL;
    a->ok = r && echo_resp_payload_is(r, a->payload, sizeof a->payload);
    echo_resp_free(r);
    a->before_slow = a->slow && !atomic_load(&a->slow->done);
    integ_waiter_add(&a->w, 1);
}

static void async_start(async_call *a, hvrpc_client *c, uint8_t fill)
{
    memset(a->payload, fill, sizeof a->payload);
    echo_req req = ECHO_REQ_INIT;
    req.payload.data = a->payload;
    req.payload.len = sizeof a->payload;
    size_t len;
    uint8_t *buf = echo_req_pack(&req, &len);
    CHECK(buf != NULL);
    hvrpc_status st;
    CHECK_INT(hvrpc_client_call_async(c, ECHO_SERVICE, ECHO_METHOD, buf, len,
                                      NULL, async_done, a, &st),
              HVRPC_OK);
    free(buf);
}

/* --- the cases -------------------------------------------------------------
 */

/* An async call made while a blocking one leads is answered on the I/O
 * thread while the blocking call still waits (a leader that kept the
 * socket would hold it back 1.5 s). */
static void async_beside_leader(hvrpc_client *c)
{
    slow_call s;
    slow_start(&s, c, 1500, 0);
    async_call a = {.slow = &s};
    integ_waiter_init(&a.w);
    async_start(&a, c, 'a');
    CHECK_INT(integ_waiter_wait(&a.w, 1, 5000), 1);
    CHECK(a.ok);
    CHECK(a.before_slow);
    CHECK(!pthread_equal(a.on_thread, pthread_self()));
    CHECK(!pthread_equal(a.on_thread, s.thread));
    pthread_join(s.thread, NULL);
    CHECK_INT(s.code, HVRPC_OK);
    integ_waiter_destroy(&a.w);

    /* The leader steps down for good: blocking calls alone lead again and
     * still get their answers. */
    for (int i = 0; i < 50; i++) {
        echo_req req = ECHO_REQ_INIT;
        uint8_t p[32];
        memset(p, i, sizeof p);
        req.payload.data = p;
        req.payload.len = sizeof p;
        echo_resp *r = NULL;
        CHECK_INT(integ_echo(c, &req, NULL, &r, NULL), HVRPC_OK);
        CHECK(echo_resp_payload_is(r, p, sizeof p));
        echo_resp_free(r);
    }
}

/* The deadline of a leading call ends it (the loop's timer nudges it). */
static void deadline_while_leading(hvrpc_client *c)
{
    slow_call s;
    slow_start(&s, c, 3000, 300);
    pthread_join(s.thread, NULL);
    CHECK_INT(s.code, HVRPC_DEADLINE_EXCEEDED);
    CHECK(s.took_ms < 2500);
    /* Its late answer is dropped, and the next call is fine. */
    CHECK_INT(integ_echo(c, &(echo_req)ECHO_REQ_INIT, NULL, NULL, NULL),
              HVRPC_OK);
}

/* A peer that never answers: only the client's own timer can end the
 * leading call, and must make the leader step down. */
static void *silent_accept(void *arg)
{
    int lfd = *(int *)arg;
    int fd = accept(lfd, NULL, NULL);
    char buf[256];
    while (fd >= 0 && read(fd, buf, sizeof buf) > 0)
        ; /* swallow the request, say nothing */
    if (fd >= 0)
        close(fd);
    return NULL;
}

static void deadline_with_silent_peer(void)
{
    integ_listener l;
    CHECK_INT(integ_listen(&l, "unix"), 0);
    pthread_t t;
    CHECK(pthread_create(&t, NULL, silent_accept, &l.fd) == 0);
    hvrpc_client *c = integ_connect(l.uri, 0);
    CHECK(c != NULL);
    slow_call s;
    slow_start(&s, c, 0, 300);
    pthread_join(s.thread, NULL);
    CHECK_INT(s.code, HVRPC_DEADLINE_EXCEEDED);
    CHECK(s.took_ms < 2500);
    hvrpc_client_free(c);
    pthread_join(t, NULL);
    integ_listener_close(&l);
}

/* Threads mixing blocking and asynchronous calls: each its own answer. */
typedef struct mixer {
    hvrpc_client *c;
    int id;
    int bad;
} mixer;

static void *mixer_main(void *arg)
{
    mixer *m = arg;
    for (int i = 0; i < 150; i++) {
        uint8_t p[48];
        memset(p, (m->id * 151 + i) & 0xff, sizeof p);
        echo_req req = ECHO_REQ_INIT;
        req.payload.data = p;
        req.payload.len = sizeof p;
        echo_resp *r = NULL;
        if (integ_echo(m->c, &req, NULL, &r, NULL) != HVRPC_OK ||
            !echo_resp_payload_is(r, p, sizeof p))
            m->bad++;
        echo_resp_free(r);
    }
    return NULL;
}

static void mixed_threads(hvrpc_client *c)
{
    enum { THREADS = 4, ASYNC = 100 };
    mixer m[THREADS];
    pthread_t t[THREADS];
    for (int i = 0; i < THREADS; i++) {
        m[i] = (mixer){.c = c, .id = i};
        CHECK(pthread_create(&t[i], NULL, mixer_main, &m[i]) == 0);
    }
    static async_call a[ASYNC];
    for (int i = 0; i < ASYNC; i++) {
        a[i] = (async_call){0};
        integ_waiter_init(&a[i].w);
        async_start(&a[i], c, (uint8_t)i);
        if (i % 10 == 0)
            usleep(1000);
    }
    for (int i = 0; i < THREADS; i++) {
        pthread_join(t[i], NULL);
        CHECK_INT(m[i].bad, 0);
    }
    for (int i = 0; i < ASYNC; i++) {
        CHECK_INT(integ_waiter_wait(&a[i].w, 1, 5000), 1);
        CHECK(a[i].ok);
        integ_waiter_destroy(&a[i].w);
    }
}

/* Freeing the client while a call leads: the call ends CANCELLED. */
static void free_while_leading(const char *uri)
{
    hvrpc_client *c = integ_connect(uri, 0);
    CHECK(c != NULL);
    slow_call s;
    slow_start(&s, c, 3000, 0);
    hvrpc_client_free(c);
    pthread_join(s.thread, NULL);
    CHECK_INT(s.code, HVRPC_CANCELLED);
    CHECK(s.took_ms < 2500);
}

/* The server dies under a leading call: it fails UNAVAILABLE at once. */
static void server_dies_while_leading(server_proc *sp)
{
    hvrpc_client *c = integ_connect(sp->uri, 0);
    CHECK(c != NULL);
    slow_call s;
    slow_start(&s, c, 3000, 0);
    CHECK(server_proc_signal(sp, SIGKILL) == 0);
    pthread_join(s.thread, NULL);
    CHECK_INT(s.code, HVRPC_UNAVAILABLE);
    CHECK_CONTAINS(s.st.message, "closed");
    CHECK(s.took_ms < 2500);
    /* Later calls fail fast with the same story. */
    CHECK_INT(integ_echo(c, &(echo_req)ECHO_REQ_INIT, NULL, NULL, NULL),
              HVRPC_UNAVAILABLE);
    hvrpc_client_free(c);
}

/* Lone blocking calls leave the client parked between them (input not
 * watched, client_lead.c): a server dying then is still seen at once,
 * with no call in flight (the client logs the close; over tcp only the
 * watch for the peer's close tells), and the next call says so. */
static atomic_int closes_logged;

static void count_closes(hvrpc_log_level level, const char *line, void *arg)
{
    (void)level;
    (void)arg;
    if (strstr(line, "connection closed"))
        atomic_fetch_add(&closes_logged, 1);
}

static void server_dies_while_parked(server_proc *sp)
{
    hvrpc_client_options o;
    hvrpc_client_options_init(&o);
    o.log = count_closes;
    hvrpc_client *c = NULL;
    hvrpc_status st;
    CHECK_INT(hvrpc_client_connect(sp->uri, &o, &c, &st), HVRPC_OK);
    if (!c)
        return;
    for (int i = 0; i < 3; i++)
        CHECK_INT(integ_echo(c, &(echo_req)ECHO_REQ_INIT, NULL, NULL, NULL),
                  HVRPC_OK);
    CHECK(server_proc_signal(sp, SIGKILL) == 0);
    for (int i = 0; i < 500 && atomic_load(&closes_logged) == 0; i++)
        usleep(10 * 1000);
    CHECK_INT(atomic_load(&closes_logged), 1);
    CHECK_INT(integ_echo(c, &(echo_req)ECHO_REQ_INIT, NULL, NULL, NULL),
              HVRPC_UNAVAILABLE);
    hvrpc_client_free(c);
}

int main(int argc, char **argv)
{
    const char *transport = integ_transport(argc, argv);
    if (!transport)
        return 2;
    /* Both servers are forked before any client thread exists. */
    server_proc sp, doomed, doomed_parked;
    server_proc_options so = {.transport = transport};
    char err[256];
    if (server_proc_start(&sp, &so, err, sizeof err) != 0 ||
        server_proc_start(&doomed, &so, err, sizeof err) != 0 ||
        server_proc_start(&doomed_parked, &so, err, sizeof err) != 0) {
        fprintf(stderr, "server: %s\n", err);
        return 1;
    }
    hvrpc_client *c = integ_connect(sp.uri, 0);
    CHECK(c != NULL);
    async_beside_leader(c);
    deadline_while_leading(c);
    deadline_with_silent_peer();
    mixed_threads(c);
    hvrpc_client_free(c);
    free_while_leading(sp.uri);
    server_dies_while_leading(&doomed);
    server_dies_while_parked(&doomed_parked);

    CHECK_INT(server_proc_stop(&sp, 10000), 0);
    server_proc_cleanup(&sp);
    server_proc_cleanup(&doomed);
    server_proc_cleanup(&doomed_parked);
    integ_report_calls(transport);
    return check_done();
}
