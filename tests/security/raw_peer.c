/* raw_peer.c - hand-written frames and a test server (raw_peer.h). */
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "echo_service.h"
#include "raw_peer.h"
#include "ttrpc/request.pb-c.h"

int64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int test_server_start(test_server *ts, const hvrpc_server_options *opts,
                      void (*setup)(hvrpc_endpoint *ep))
{
    hvrpc_status st;
    memset(ts, 0, sizeof *ts);
    snprintf(ts->dir, sizeof ts->dir, "/tmp/hvrpc-sec-XXXXXX");
    if (!mkdtemp(ts->dir))
        return -1;
    snprintf(ts->path, sizeof ts->path, "%s/s.sock", ts->dir);
    snprintf(ts->uri, sizeof ts->uri, "unix://%s", ts->path);
    if (hvrpc_server_create(opts, &ts->srv, &st) != HVRPC_OK ||
        hvrpc_server_listen(ts->srv, ts->uri, &ts->ep, &st) != HVRPC_OK ||
        hvrpc_echo_service_register(ts->srv, ts->ep, &st) != HVRPC_OK) {
        fprintf(stderr, "server: %s\n", st.message);
        return -1;
    }
    if (setup)
        setup(ts->ep);
    if (hvrpc_server_start(ts->srv, &st) != HVRPC_OK) {
        fprintf(stderr, "server start: %s\n", st.message);
        return -1;
    }
    return 0;
}

void test_server_stop(test_server *ts)
{
    hvrpc_server_free(ts->srv);
    rmdir(ts->dir);
}

int raw_connect(const test_server *ts)
{
    struct sockaddr_un sun = {.sun_family = AF_UNIX};
    snprintf(sun.sun_path, sizeof sun.sun_path, "%s", ts->path);
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0 || connect(fd, (struct sockaddr *)&sun, sizeof sun) != 0) {
        if (fd >= 0)
            close(fd);
        return -1;
    }
    return fd;
}

int raw_write(int fd, const void *p, size_t n)
{
    const uint8_t *b = p;
    while (n) {
        ssize_t w = send(fd, b, n, MSG_NOSIGNAL);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            return -1;
        b += w;
        n -= (size_t)w;
    }
    return 0;
}

static void put_be32(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)(v >> 24);
    p[1] = (uint8_t)(v >> 16);
    p[2] = (uint8_t)(v >> 8);
    p[3] = (uint8_t)v;
}

int raw_send_echo(int fd, uint32_t stream, const char *service,
                  const char *method, size_t payload_len,
                  uint32_t response_size, uint32_t delay_ms, size_t n_md,
                  const char *md_value)
{
    Hvrpc__Echo__V1__EchoRequest er = HVRPC__ECHO__V1__ECHO_REQUEST__INIT;
    uint8_t *payload = calloc(1, payload_len + 1);
    er.payload.data = payload;
    er.payload.len = payload_len;
    er.response_size = response_size;
    er.delay_ms = delay_ms;
    size_t er_len = hvrpc__echo__v1__echo_request__get_packed_size(&er);
    uint8_t *er_buf = malloc(er_len + 1);
    hvrpc__echo__v1__echo_request__pack(&er, er_buf);

    Ttrpc__KeyValue *kv = calloc(n_md + 1, sizeof *kv);
    Ttrpc__KeyValue **kvp = calloc(n_md + 1, sizeof *kvp);
    char(*keys)[24] = calloc(n_md + 1, sizeof *keys);
    for (size_t i = 0; i < n_md; i++) {
        ttrpc__key_value__init(&kv[i]);
        snprintf(keys[i], sizeof keys[i], "k%zu", i);
        kv[i].key = keys[i];
        kv[i].value = (char *)md_value;
        kvp[i] = &kv[i];
    }
    Ttrpc__Request req = TTRPC__REQUEST__INIT;
    req.service = (char *)service;
    req.method = (char *)method;
    req.payload.data = er_buf;
    req.payload.len = er_len;
    req.n_metadata = n_md;
    req.metadata = kvp;
    size_t len = ttrpc__request__get_packed_size(&req);
    uint8_t *frame = malloc(10 + len);
    put_be32(frame, (uint32_t)len);
    put_be32(frame + 4, stream);
    frame[8] = 1;
    frame[9] = 0;
    ttrpc__request__pack(&req, frame + 10);
    int r = raw_write(fd, frame, 10 + len);
    free(frame);
    free(keys);
    free(kvp);
    free(kv);
    free(er_buf);
    free(payload);
    return r;
}

/* Reads exactly n bytes before deadline. 0, or -1. */
static int read_full(int fd, uint8_t *p, size_t n, int64_t deadline)
{
    while (n) {
        struct pollfd pfd = {.fd = fd, .events = POLLIN};
        int64_t left = deadline - now_ms();
        if (left <= 0 || poll(&pfd, 1, (int)left) <= 0)
            return -1;
        ssize_t r = read(fd, p, n);
        if (r <= 0)
            return -1;
        p += r;
        n -= (size_t)r;
    }
    return 0;
}

int raw_read_status(int fd, int timeout_ms, uint32_t *stream, int *code,
                    char *msg, size_t msg_size)
{
    int64_t deadline = now_ms() + timeout_ms;
    uint8_t h[10];
    if (read_full(fd, h, 10, deadline) != 0 || h[8] != 2)
        return -1;
    uint32_t len = (uint32_t)h[0] << 24 | (uint32_t)h[1] << 16 |
                   (uint32_t)h[2] << 8 | h[3];
    *stream = (uint32_t)h[4] << 24 | (uint32_t)h[5] << 16 |
              (uint32_t)h[6] << 8 | h[7];
    uint8_t *body = malloc(len + 1);
    if (!body || read_full(fd, body, len, deadline) != 0) {
        free(body);
        return -1;
    }
    Ttrpc__Response *resp = ttrpc__response__unpack(NULL, len, body);
    free(body);
    if (!resp)
        return -1;
    *code = resp->status ? resp->status->code : 0;
    if (msg)
        snprintf(msg, msg_size, "%s",
                 resp->status && resp->status->message ? resp->status->message
                                                       : "");
    ttrpc__response__free_unpacked(resp, NULL);
    return 0;
}

int raw_wait_closed(int fd, int timeout_ms)
{
    int64_t deadline = now_ms() + timeout_ms;
    uint8_t buf[4096];
    for (;;) {
        struct pollfd pfd = {.fd = fd, .events = POLLIN};
        int64_t left = deadline - now_ms();
        if (left <= 0 || poll(&pfd, 1, (int)left) <= 0)
            return 0;
        ssize_t r = read(fd, buf, sizeof buf);
        if (r == 0 || (r < 0 && errno == ECONNRESET))
            return 1;
        if (r < 0 && errno != EINTR)
            return 0;
    }
}

hvrpc_code client_echo(const char *uri, hvrpc_status *st)
{
    hvrpc_client *c;
    hvrpc_code code = hvrpc_client_connect(uri, NULL, &c, st);
    if (code != HVRPC_OK)
        return code;
    Hvrpc__Echo__V1__EchoRequest er = HVRPC__ECHO__V1__ECHO_REQUEST__INIT;
    hvrpc_call_options o = HVRPC_CALL_OPTIONS_INIT;
    o.timeout_ms = 5000;
    code = hvrpc_client_call_message(c, "hvrpc.echo.v1.Echo", "Echo", &er.base,
                                     &o, NULL, st);
    hvrpc_client_free(c);
    return code;
}
