/*
 * test_reconnect.c - client_options.reconnect_ms and keepalive_ms.
 *
 * In-process echo servers on one unix path are stopped and started again
 * under a reconnecting client: the client comes back by itself, a call
 * made while it is down waits for the connection (or its deadline), calls
 * in flight at the loss fail UNAVAILABLE and are not sent twice, a client
 * may start before its server, and freeing it releases waiting calls.
 * Keepalive: a peer that accepts and never answers is found dead; a live
 * idle server is not dropped. Argument: unix (the only transport: the
 * test restarts servers on the same address).
 */
#include <errno.h>
#include <pthread.h>
#include <semaphore.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include <hvrpc/hvrpc.h>

#include "check.h"
#include "echo_service.h"
#include "integ_util.h"
#include "svc_time.h"

static char dir[48];
static char sock_path[96];
static char uri[160];

/* --- servers ------------------------------------------------------------- */

static hvrpc_server *server_up(void)
{
    hvrpc_status st;
    hvrpc_server *srv = NULL;
    hvrpc_endpoint *ep = NULL;
    if (hvrpc_server_create(NULL, &srv, &st) != HVRPC_OK ||
        hvrpc_server_listen(srv, uri, &ep, &st) != HVRPC_OK ||
        hvrpc_echo_service_register(srv, ep, &st) != HVRPC_OK ||
        hvrpc_server_start(srv, &st) != HVRPC_OK) {
        fprintf(stderr, "server on %s: %s\n", uri, st.message);
        hvrpc_server_free(srv);
        return NULL;
    }
    return srv;
}

static void server_down(hvrpc_server *srv)
{
    hvrpc_server_stop(srv);
    hvrpc_server_free(srv);
}

/* --- what the client logs ------------------------------------------------ */

static pthread_mutex_t log_mu = PTHREAD_MUTEX_INITIALIZER;
static int n_closed, n_failed_attempts;

static void on_log(hvrpc_log_level level, const char *line, void *arg)
{
    (void)level;
    (void)arg;
    pthread_mutex_lock(&log_mu);
    if (strstr(line, "connection closed"))
        n_closed++;
    if (strstr(line, "reconnect failed"))
        n_failed_attempts++;
    pthread_mutex_unlock(&log_mu);
}

static int log_count(int *n)
{
    pthread_mutex_lock(&log_mu);
    int v = *n;
    pthread_mutex_unlock(&log_mu);
    return v;
}

static void sleep_ms(int ms)
{
    struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
    while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
        ;
}

/* Waits (5 s at most) until the client has seen its connection close. */
static void wait_closed(int before)
{
    for (int i = 0; i < 500 && log_count(&n_closed) == before; i++)
        sleep_ms(10);
    CHECK(log_count(&n_closed) > before);
}

static hvrpc_client *connect_reconnecting(uint32_t keepalive_ms)
{
    hvrpc_client_options o;
    hvrpc_client_options_init(&o);
    o.reconnect_ms = 20;
    o.reconnect_max_ms = 200;
    o.keepalive_ms = keepalive_ms;
    o.log = on_log;
    hvrpc_client *c = NULL;
    hvrpc_status st;
    if (hvrpc_client_connect(uri, &o, &c, &st) != HVRPC_OK)
        fprintf(stderr, "connect %s: %s\n", uri, st.message);
    return c;
}

static hvrpc_code echo(hvrpc_client *c, uint32_t timeout_ms, hvrpc_status *st)
{
    echo_req req = ECHO_REQ_INIT;
    hvrpc_call_options o = HVRPC_CALL_OPTIONS_INIT;
    o.timeout_ms = timeout_ms;
    return integ_echo(c, &req, &o, NULL, st);
}

/* An asynchronous call's end, to wait on. */
typedef struct ended {
    sem_t sem;
    hvrpc_status st;
} ended;

static void on_done(const hvrpc_status *st, const uint8_t *resp, size_t len,
                    void *arg)
{
    (void)resp;
    (void)len;
    ended *e = arg;
    e->st = *st;
    sem_post(&e->sem);
}

static hvrpc_code start_echo(hvrpc_client *c, uint32_t timeout_ms,
                             uint32_t delay_ms, ended *e)
{
    echo_req req = ECHO_REQ_INIT;
    req.delay_ms = delay_ms;
    size_t len;
    uint8_t *buf = echo_req_pack(&req, &len);
    hvrpc_call_options o = HVRPC_CALL_OPTIONS_INIT;
    o.timeout_ms = timeout_ms;
    hvrpc_status st;
    sem_init(&e->sem, 0, 0);
    hvrpc_code code = hvrpc_client_call_async(c, ECHO_SERVICE, ECHO_METHOD, buf,
                                              len, &o, on_done, e, &st);
    free(buf);
    return code;
}

/* True when e ended within ms. */
static bool ended_within(ended *e, int ms)
{
    struct timespec ts = hvrpc_svc_deadline(CLOCK_REALTIME, ms);
    while (sem_timedwait(&e->sem, &ts) != 0)
        if (errno != EINTR)
            return false;
    return true;
}

/* --- cases ----------------------------------------------------------------
 */

static void test_restart(void)
{
    hvrpc_server *srv = server_up();
    hvrpc_client *c = connect_reconnecting(0);
    CHECK(srv && c);
    if (!srv || !c)
        goto out;
    hvrpc_status st;
    CHECK_INT(echo(c, 5000, &st), HVRPC_OK);
    CHECK_INT(hvrpc_client_connections(c), 1);

    /* A call in flight at the loss fails, and is not sent again. */
    ended inflight;
    CHECK_INT(start_echo(c, 0, 3000, &inflight), HVRPC_OK);
    sleep_ms(100);
    int closed = log_count(&n_closed);
    server_down(srv);
    srv = NULL;
    CHECK(ended_within(&inflight, 10000));
    CHECK_INT(inflight.st.code, HVRPC_UNAVAILABLE);
    wait_closed(closed);

    /* Down: a call waits its deadline, then says why it failed. */
    CHECK_INT(echo(c, 200, &st), HVRPC_DEADLINE_EXCEEDED);
    CHECK_CONTAINS(st.message, "reconnect");
    /* A stream is not opened while down. */
    hvrpc_stream *s = NULL;
    CHECK_INT(hvrpc_client_stream(c, ECHO_SERVICE, "Chat", HVRPC_BIDI_STREAMING,
                                  NULL, 0, NULL, &s, &st),
              HVRPC_UNAVAILABLE);
    CHECK_CONTAINS(st.message, "reconnecting");

    /* A call made while down is sent once the server is back. */
    ended waiting;
    CHECK_INT(start_echo(c, 20000, 0, &waiting), HVRPC_OK);
    CHECK(!ended_within(&waiting, 300));
    srv = server_up();
    CHECK(srv != NULL);
    CHECK(ended_within(&waiting, 20000));
    CHECK_INT(waiting.st.code, HVRPC_OK);
    CHECK_INT(echo(c, 5000, &st), HVRPC_OK);
    CHECK_INT(hvrpc_client_connections(c), 2);
out:
    hvrpc_client_free(c);
    if (srv)
        server_down(srv);
}

static void test_client_first(void)
{
    /* Without reconnect, no server is an error at once. */
    hvrpc_client *plain = NULL;
    hvrpc_status st;
    CHECK_INT(hvrpc_client_connect(uri, NULL, &plain, &st), HVRPC_UNAVAILABLE);

    int failed = log_count(&n_failed_attempts);
    hvrpc_client *c = connect_reconnecting(0);
    CHECK(c != NULL);
    if (!c)
        return;
    CHECK_INT(hvrpc_client_connections(c), 0);
    ended e;
    CHECK_INT(start_echo(c, 20000, 0, &e), HVRPC_OK);
    sleep_ms(1200);
    /* Backoff: 20, 40, ... 200 ms, less jitter, so a few attempts a
     * second; without it, one every 20 ms would make 60. */
    int attempts = log_count(&n_failed_attempts) - failed;
    CHECK(attempts >= 1);
    CHECK(attempts <= 14);
    hvrpc_server *srv = server_up();
    CHECK(ended_within(&e, 20000));
    CHECK_INT(e.st.code, HVRPC_OK);
    CHECK_INT(hvrpc_client_connections(c), 1);
    hvrpc_client_free(c);
    if (srv)
        server_down(srv);
}

static void test_free_while_down(void)
{
    hvrpc_client *c = connect_reconnecting(0);
    CHECK(c != NULL);
    if (!c)
        return;
    ended e;
    CHECK_INT(start_echo(c, 0, 0, &e), HVRPC_OK);
    CHECK(!ended_within(&e, 100));
    hvrpc_client_free(c);
    CHECK(ended_within(&e, 1000));
    CHECK_INT(e.st.code, HVRPC_CANCELLED);
    CHECK_CONTAINS(e.st.message, "reconnect");
}

/* A peer that accepts, reads and never answers: a stand-in for a VM that
 * went away without its transport saying so. */
static int silent_fd = -1;

static void *silent_peer(void *arg)
{
    (void)arg;
    int fd = accept(silent_fd, NULL, NULL);
    char buf[4096];
    while (fd >= 0 && read(fd, buf, sizeof buf) > 0)
        ;
    if (fd >= 0)
        close(fd);
    return NULL;
}

static void test_keepalive_dead_peer(void)
{
    silent_fd = socket(AF_UNIX, SOCK_STREAM, 0);
    struct sockaddr_un a = {.sun_family = AF_UNIX};
    snprintf(a.sun_path, sizeof a.sun_path, "%s", sock_path);
    CHECK(bind(silent_fd, (struct sockaddr *)&a, sizeof a) == 0);
    CHECK(listen(silent_fd, 4) == 0);
    pthread_t t;
    pthread_create(&t, NULL, silent_peer, NULL);

    hvrpc_client_options o;
    hvrpc_client_options_init(&o);
    o.keepalive_ms = 100;
    o.keepalive_timeout_ms = 300;
    hvrpc_client *c = NULL;
    hvrpc_status st;
    CHECK_INT(hvrpc_client_connect(uri, &o, &c, &st), HVRPC_OK);
    ended e;
    if (c) {
        /* No deadline: only the keepalive can end this call. */
        CHECK_INT(start_echo(c, 0, 0, &e), HVRPC_OK);
        CHECK(ended_within(&e, 20000));
        CHECK_INT(e.st.code, HVRPC_UNAVAILABLE);
        CHECK_CONTAINS(e.st.message, "keepalive");
        CHECK_INT(echo(c, 1000, &st), HVRPC_UNAVAILABLE);
    }
    hvrpc_client_free(c);
    shutdown(silent_fd, SHUT_RDWR);
    pthread_join(t, NULL);
    close(silent_fd);
    unlink(sock_path);
}

static void test_keepalive_live_peer(void)
{
    hvrpc_server *srv = server_up();
    hvrpc_client *c = connect_reconnecting(50);
    CHECK(srv && c);
    if (srv && c) {
        hvrpc_status st;
        int closed = log_count(&n_closed);
        /* Idle for many periods: the probes (answered UNIMPLEMENTED: the
         * server has no health service) keep it up. */
        sleep_ms(800);
        CHECK_INT(echo(c, 5000, &st), HVRPC_OK);
        CHECK_INT(log_count(&n_closed), closed);
        CHECK_INT(hvrpc_client_connections(c), 1);
    }
    hvrpc_client_free(c);
    if (srv)
        server_down(srv);
}

int main(int argc, char **argv)
{
    const char *transport = integ_transport(argc, argv);
    if (!transport)
        return 2;
    if (strcmp(transport, "unix") != 0) {
        fprintf(stderr, "test_reconnect: unix only; skipping %s\n", transport);
        return 0;
    }
    snprintf(dir, sizeof dir, "/tmp/hvrpc-reconnect-XXXXXX");
    if (!mkdtemp(dir))
        return 2;
    snprintf(sock_path, sizeof sock_path, "%s/s", dir);
    snprintf(uri, sizeof uri, "unix://%s", sock_path);

    test_restart();
    test_client_first();
    test_free_while_down();
    test_keepalive_dead_peer();
    test_keepalive_live_peer();

    unlink(sock_path);
    rmdir(dir);
    return check_done();
}
