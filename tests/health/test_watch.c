/*
 * test_watch.c - grpc.health.v1.Health/Watch (services/health) through
 * the generated stubs, server and client in this process over a unix
 * socket (a child process plays the client that dies): the first status
 * at once, changes from hvrpc_health_set() on other threads in order,
 * SERVICE_UNKNOWN for a name the endpoint does not know (and the change
 * when it becomes known), and the handler's end, in bounded time, when
 * the client cancels, when its process dies, when the server stops, and
 * after hvrpc_health_shutdown() (NOT_SERVING first).
 */
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "check.h"
#include "health_service.h"

typedef Grpc__Health__V1__HealthCheckRequest Req;
typedef Grpc__Health__V1__HealthCheckResponse Resp;
typedef Grpc__Health__V1__HealthCheckResponse__ServingStatus serving_status;

#define SERVING GRPC__HEALTH__V1__HEALTH_CHECK_RESPONSE__SERVING_STATUS__SERVING
#define NOT_SERVING                                                            \
    GRPC__HEALTH__V1__HEALTH_CHECK_RESPONSE__SERVING_STATUS__NOT_SERVING
#define SERVICE_UNKNOWN                                                        \
    GRPC__HEALTH__V1__HEALTH_CHECK_RESPONSE__SERVING_STATUS__SERVICE_UNKNOWN

/* Every wait in this test is bounded by this; the ones that must be
 * quick by SOON_MS. */
#define WAIT_MS 5000
#define SOON_MS 1000

static char dir[] = "/tmp/hvrpc-health-XXXXXX";

static int64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

typedef struct server {
    hvrpc_server *srv;
    hvrpc_health *h;
    char uri[160];
} server;

static void server_start(server *s, const char *name)
{
    hvrpc_endpoint *ep;
    hvrpc_status st;

    snprintf(s->uri, sizeof s->uri, "unix://%s/%s.sock", dir, name);
    CHECK_INT(hvrpc_health_create(&s->h, &st), HVRPC_OK);
    CHECK_INT(hvrpc_server_create(NULL, &s->srv, &st), HVRPC_OK);
    CHECK_INT(hvrpc_server_listen(s->srv, s->uri, &ep, &st), HVRPC_OK);
    CHECK_INT(hvrpc_health_register(s->srv, ep, s->h, &st), HVRPC_OK);
    CHECK_INT(hvrpc_server_start(s->srv, &st), HVRPC_OK);
}

static void server_free(server *s)
{
    hvrpc_server_free(s->srv);
    hvrpc_health_free(s->h);
}

static hvrpc_client *connect_to(const server *s)
{
    hvrpc_client *c = NULL;
    hvrpc_status st;

    CHECK_INT(hvrpc_client_connect(s->uri, NULL, &c, &st), HVRPC_OK);
    return c;
}

static hvrpc_stream *watch(hvrpc_client *c, const char *service)
{
    Req req = GRPC__HEALTH__V1__HEALTH_CHECK_REQUEST__INIT;
    hvrpc_stream *s = NULL;
    hvrpc_status st;

    req.service = (char *)service;
    CHECK_INT(grpc__health__v1__health__watch_open(c, &req, NULL, &s, &st),
              HVRPC_OK);
    return s;
}

/* The next status on s, or -1 with *code saying why there is none. */
static int next_status(hvrpc_stream *s, int timeout_ms, hvrpc_code *code)
{
    Resp *r = NULL;
    hvrpc_status st;
    hvrpc_code rc = HVRPC_INTERNAL; /* no stream: open failed */
    int status = -1;

    if (s)
        rc = grpc__health__v1__health__watch_recv(s, &r, timeout_ms, &st);

    if (rc == HVRPC_OK) {
        status = (int)r->status;
        protobuf_c_message_free_unpacked(&r->base, NULL);
    }
    if (code)
        *code = rc;
    return status;
}

/* Checks that s carries nothing for a little while. */
static void expect_quiet(hvrpc_stream *s)
{
    hvrpc_code code;
    CHECK_INT(next_status(s, 200, &code), -1);
    CHECK_INT(code, HVRPC_WOULD_BLOCK);
}

/* Waits (bounded) for the number of running Watch handlers to reach n. */
static bool watching_reaches(hvrpc_health *h, size_t n, int timeout_ms)
{
    int64_t until = now_ms() + timeout_ms;

    while (hvrpc_health_watching(h) != n) {
        if (now_ms() > until)
            return false;
        usleep(10 * 1000);
    }
    return true;
}

static int check_status(hvrpc_client *c, const char *service, hvrpc_code *code)
{
    Req req = GRPC__HEALTH__V1__HEALTH_CHECK_REQUEST__INIT;
    Resp *r = NULL;
    hvrpc_status st;
    int status = -1;

    req.service = (char *)service;
    *code = grpc__health__v1__health__check_call(c, &req, &r, NULL, &st);
    if (*code == HVRPC_OK) {
        status = (int)r->status;
        protobuf_c_message_free_unpacked(&r->base, NULL);
    }
    return status;
}

typedef struct set_job {
    hvrpc_health *h;
    const char *service;
    serving_status status;
} set_job;

static void *set_thread(void *arg)
{
    const set_job *j = arg;
    hvrpc_status st;

    CHECK_INT(hvrpc_health_set(j->h, j->service, j->status, &st), HVRPC_OK);
    return NULL;
}

/* hvrpc_health_set() on a thread of its own, as a program would. */
static void set_from_thread(hvrpc_health *h, const char *service,
                            serving_status status)
{
    set_job j = {h, service, status};
    pthread_t t;

    CHECK_INT(pthread_create(&t, NULL, set_thread, &j), 0);
    pthread_join(t, NULL);
}

/* First status, changes in order, unknown names, Check beside Watch. */
static void test_changes(void)
{
    server s;
    hvrpc_client *c;
    hvrpc_stream *all, *all2, *unknown;
    hvrpc_code code;
    hvrpc_status st;

    server_start(&s, "changes");
    c = connect_to(&s);

    all = watch(c, "");
    CHECK_INT(next_status(all, WAIT_MS, NULL), SERVING);
    all2 = watch(c, NULL);
    CHECK_INT(next_status(all2, WAIT_MS, NULL), SERVING);
    unknown = watch(c, "no.Such");
    CHECK_INT(next_status(unknown, WAIT_MS, NULL), SERVICE_UNKNOWN);
    CHECK(watching_reaches(s.h, 3, WAIT_MS));
    /* Check still fails an unknown name where Watch reports it. */
    CHECK_INT(check_status(c, "no.Such", &code), -1);
    CHECK_INT(code, HVRPC_NOT_FOUND);
    /* Nothing changes: nothing is sent. */
    expect_quiet(all);

    /* Two changes, from other threads, seen in order by both watchers. */
    set_from_thread(s.h, "", NOT_SERVING);
    CHECK_INT(next_status(all, WAIT_MS, NULL), NOT_SERVING);
    CHECK_INT(check_status(c, "", &code), NOT_SERVING);
    set_from_thread(s.h, "", SERVING);
    CHECK_INT(next_status(all, WAIT_MS, NULL), SERVING);
    CHECK_INT(next_status(all2, WAIT_MS, NULL), NOT_SERVING);
    CHECK_INT(next_status(all2, WAIT_MS, NULL), SERVING);
    /* Setting the same status again is no change. */
    CHECK_INT(hvrpc_health_set(s.h, "", SERVING, &st), HVRPC_OK);
    expect_quiet(all);
    /* Other names' changes do not reach a watcher of "". */
    expect_quiet(unknown);

    /* An unknown name becomes known when a status is set for it. */
    set_from_thread(s.h, "no.Such", NOT_SERVING);
    CHECK_INT(next_status(unknown, WAIT_MS, NULL), NOT_SERVING);
    CHECK_INT(hvrpc_health_set(s.h, "no.Such", SERVING, &st), HVRPC_OK);
    CHECK_INT(next_status(unknown, WAIT_MS, NULL), SERVING);
    expect_quiet(all);

    /* A service the endpoint serves is SERVING by default. */
    hvrpc_stream *health = watch(c, GRPC__HEALTH__V1__HEALTH_NAME);
    CHECK_INT(next_status(health, WAIT_MS, NULL), SERVING);

    /* The client cancels: each handler ends, in bounded time. */
    hvrpc_stream_free(all);
    CHECK(watching_reaches(s.h, 3, SOON_MS));
    hvrpc_stream_cancel(all2);
    CHECK_INT(next_status(all2, 0, &code), -1);
    CHECK_INT(code, HVRPC_CANCELLED);
    CHECK(watching_reaches(s.h, 2, SOON_MS));
    hvrpc_stream_free(all2);
    hvrpc_stream_free(unknown);
    hvrpc_stream_free(health);
    CHECK(watching_reaches(s.h, 0, SOON_MS));

    hvrpc_client_free(c);
    server_free(&s);
}

/* A client process that dies with its Watch open: the handler ends. */
static void test_client_dies(void)
{
    server s;
    int ready[2];
    char byte = 0;

    server_start(&s, "dies");
    CHECK_INT(pipe(ready), 0);
    pid_t pid = fork();
    if (pid == 0) {
        hvrpc_client *c;
        hvrpc_stream *w;
        hvrpc_status st;
        Resp *r = NULL;
        Req req = GRPC__HEALTH__V1__HEALTH_CHECK_REQUEST__INIT;

        close(ready[0]);
        if (hvrpc_client_connect(s.uri, NULL, &c, &st) != HVRPC_OK ||
            grpc__health__v1__health__watch_open(c, &req, NULL, &w, &st) !=
                HVRPC_OK ||
            grpc__health__v1__health__watch_recv(w, &r, WAIT_MS, &st) !=
                HVRPC_OK)
            _exit(1);
        if (write(ready[1], "x", 1) != 1)
            _exit(1);
        pause(); /* until killed: no cancel, no close */
        _exit(0);
    }
    close(ready[1]);
    CHECK(pid > 0);
    CHECK_INT(read(ready[0], &byte, 1), 1);
    close(ready[0]);
    CHECK(watching_reaches(s.h, 1, WAIT_MS));
    kill(pid, SIGKILL);
    waitpid(pid, NULL, 0);
    CHECK(watching_reaches(s.h, 0, SOON_MS));
    server_free(&s);
}

/* hvrpc_server_stop() with watchers open: they end UNAVAILABLE and stop
 * does not wait long for their handlers. */
static void test_stop(void)
{
    server s;
    hvrpc_client *c;
    hvrpc_stream *w[3];
    hvrpc_code code;

    server_start(&s, "stop");
    c = connect_to(&s);
    for (int i = 0; i < 3; i++) {
        w[i] = watch(c, i == 2 ? "no.Such" : "");
        CHECK(next_status(w[i], WAIT_MS, NULL) >= 0);
    }
    CHECK(watching_reaches(s.h, 3, WAIT_MS));
    int64_t t0 = now_ms();
    hvrpc_server_stop(s.srv);
    int64_t took = now_ms() - t0;
    CHECK(took < SOON_MS);
    fprintf(stderr, "stop with 3 watchers took %lld ms\n", (long long)took);
    CHECK_INT(hvrpc_health_watching(s.h), 0);
    for (int i = 0; i < 3; i++) {
        /* NOT_SERVING may or may not have made it before the end. */
        int status = next_status(w[i], WAIT_MS, &code);
        if (status == NOT_SERVING)
            status = next_status(w[i], WAIT_MS, &code);
        CHECK_INT(status, -1);
        CHECK_INT(code, HVRPC_UNAVAILABLE);
        hvrpc_stream_free(w[i]);
    }
    hvrpc_client_free(c);
    server_free(&s);
}

/* hvrpc_health_shutdown() then stop, as `hvrpc serve` does: watchers of
 * known names hear NOT_SERVING, then the stream ends UNAVAILABLE. */
static void test_shutdown(void)
{
    server s;
    hvrpc_client *c;
    hvrpc_stream *all, *unknown;
    hvrpc_code code;

    server_start(&s, "shutdown");
    c = connect_to(&s);
    all = watch(c, "");
    CHECK_INT(next_status(all, WAIT_MS, NULL), SERVING);
    unknown = watch(c, "no.Such");
    CHECK_INT(next_status(unknown, WAIT_MS, NULL), SERVICE_UNKNOWN);
    CHECK(watching_reaches(s.h, 2, WAIT_MS));

    int64_t t0 = now_ms();
    hvrpc_health_shutdown(s.h);
    CHECK(now_ms() - t0 < SOON_MS);
    CHECK_INT(hvrpc_health_watching(s.h), 0);
    hvrpc_health_shutdown(s.h); /* idempotent */
    CHECK_INT(next_status(all, WAIT_MS, NULL), NOT_SERVING);
    CHECK_INT(next_status(all, WAIT_MS, &code), -1);
    CHECK_INT(code, HVRPC_UNAVAILABLE);
    CHECK_INT(next_status(unknown, WAIT_MS, &code), -1);
    CHECK_INT(code, HVRPC_UNAVAILABLE);
    CHECK_INT(check_status(c, "", &code), NOT_SERVING);
    hvrpc_stream_free(all);
    hvrpc_stream_free(unknown);

    t0 = now_ms();
    hvrpc_server_stop(s.srv);
    CHECK(now_ms() - t0 < SOON_MS);
    hvrpc_client_free(c);
    server_free(&s);
    hvrpc_health_shutdown(NULL);
}

int main(void)
{
    signal(SIGPIPE, SIG_IGN);
    if (!mkdtemp(dir))
        return 1;
    test_changes();
    test_client_dies();
    test_stop();
    test_shutdown();
    rmdir(dir);
    return check_done();
}
