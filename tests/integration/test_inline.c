/*
 * test_inline.c - a server whose handlers run on its event-loop thread
 * (hvrpc_server_options.inline_handlers): answers, delayed answers that do
 * not hold the loop (hvrpc_server_schedule), deadlines and concurrency
 * all behave as with workers.
 */
#include <pthread.h>
#include <stdio.h>
#include <string.h>

#include "check.h"
#include "integ_util.h"
#include "server_proc.h"

static void inline_handlers(hvrpc_server_options *so)
{
    so->inline_handlers = true;
    so->workers = 1;
}

typedef struct delayed {
    hvrpc_client *c;
    hvrpc_code code;
} delayed;

static void *delayed_call(void *arg)
{
    delayed *d = arg;
    echo_req req = ECHO_REQ_INIT;
    req.delay_ms = 300;
    d->code = integ_echo(d->c, &req, NULL, NULL, NULL);
    return NULL;
}

int main(int argc, char **argv)
{
    const char *transport = integ_transport(argc, argv);
    if (!transport)
        return 2;
    server_proc sp;
    server_proc_options so = {.transport = transport, .tune = inline_handlers};
    char err[256];
    if (server_proc_start(&sp, &so, err, sizeof err) != 0) {
        fprintf(stderr, "server: %s\n", err);
        return 1;
    }
    hvrpc_client *c = integ_connect(sp.uri, 0);
    CHECK(c != NULL);

    /* A plain answer, its payload intact. */
    echo_req req = ECHO_REQ_INIT;
    uint8_t payload[100];
    memset(payload, 'p', sizeof payload);
    req.payload.data = payload;
    req.payload.len = sizeof payload;
    echo_resp *resp = NULL;
    CHECK_INT(integ_echo(c, &req, NULL, &resp, NULL), HVRPC_OK);
    CHECK(resp && resp->payload.len == sizeof payload &&
          memcmp(resp->payload.data, payload, sizeof payload) == 0);
    echo_resp_free(resp);

    /* Eight delayed answers at once: they wait on timers, not on the
     * loop, so together they take about one delay, not eight. */
    pthread_t t[8];
    delayed d[8];
    int64_t t0 = integ_now_ms();
    for (int i = 0; i < 8; i++) {
        d[i].c = c;
        pthread_create(&t[i], NULL, delayed_call, &d[i]);
    }
    for (int i = 0; i < 8; i++) {
        pthread_join(t[i], NULL);
        CHECK_INT(d[i].code, HVRPC_OK);
    }
    int64_t took = integ_now_ms() - t0;
    CHECK(took >= 290 && took < 1500);

    /* A deadline still fires while the answer is pending. */
    req = (echo_req)ECHO_REQ_INIT;
    req.delay_ms = 2000;
    hvrpc_call_options o = HVRPC_CALL_OPTIONS_INIT;
    o.timeout_ms = 200;
    CHECK_INT(integ_echo(c, &req, &o, NULL, NULL), HVRPC_DEADLINE_EXCEEDED);

    /* And the server stops cleanly with an answer still scheduled. */
    CHECK_INT(server_proc_stop(&sp, 5000), 0);
    hvrpc_client_free(c);
    integ_report_calls(transport);
    return check_done();
}
