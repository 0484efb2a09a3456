/* tests/streaming/stream_util.c - see stream_util.h. */
#include "stream_util.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "ttrpc/request.pb-c.h"

static uint32_t want_streams;

static void tune(hvrpc_server_options *so)
{
    if (want_streams)
        so->max_streams_per_connection = want_streams;
}

int stream_server_start(server_proc *sp, const char *transport,
                        uint32_t max_streams)
{
    want_streams = max_streams;
    server_proc_options so = {.transport = transport,
                              .workers = 2,
                              .tune = tune,
                              .register_more = stream_service_register};
    char err[256];
    if (server_proc_start(sp, &so, err, sizeof err) != 0) {
        fprintf(stderr, "server: %s\n", err);
        return -1;
    }
    return 0;
}

hvrpc_stream *open_stream(hvrpc_client *c, const char *method,
                          hvrpc_method_kind kind, const char *request,
                          const hvrpc_stream_options *o)
{
    hvrpc_stream *s = NULL;
    hvrpc_status st;
    hvrpc_code r =
        hvrpc_client_stream(c, STREAMS_SERVICE, method, kind, request,
                            request ? strlen(request) : 0, o, &s, &st);
    if (r != HVRPC_OK) {
        fprintf(stderr, "open %s: %s: %s\n", method, hvrpc_code_name(r),
                st.message);
        return NULL;
    }
    return s;
}

hvrpc_code send_text(hvrpc_stream *s, const char *text)
{
    hvrpc_status st;
    hvrpc_code r =
        hvrpc_stream_send(s, text, strlen(text), HVRPC_WAIT_FOREVER, &st);
    if (r != HVRPC_OK && r != HVRPC_END)
        fprintf(stderr, "send \"%s\": %s: %s\n", text, hvrpc_code_name(r),
                st.message);
    return r;
}

hvrpc_code recv_text(hvrpc_stream *s, char *buf, size_t size, size_t *len,
                     int timeout_ms)
{
    hvrpc_buf b;
    hvrpc_status st;
    hvrpc_code r = hvrpc_stream_recv(s, &b, timeout_ms, &st);
    buf[0] = '\0';
    if (len)
        *len = 0;
    if (r == HVRPC_OK) {
        size_t n = b.len < size - 1 ? b.len : size - 1;
        memcpy(buf, b.data, n);
        buf[n] = '\0';
        if (len)
            *len = b.len;
        hvrpc_buf_free(&b);
    } else {
        snprintf(buf, size, "%s", st.message);
    }
    return r;
}

const char *wait_last_end(hvrpc_client *c, const char *want, int timeout_ms)
{
    static char last[64];
    struct timespec t0, t;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    for (;;) {
        hvrpc_buf b = {0};
        hvrpc_status st;
        snprintf(last, sizeof last, "(call failed)");
        if (hvrpc_client_call(c, STREAMS_SERVICE, "LastEnd", NULL, 0, NULL, &b,
                              &st) == HVRPC_OK) {
            snprintf(last, sizeof last, "%.*s", (int)b.len, (char *)b.data);
            hvrpc_buf_free(&b);
        }
        if (strcmp(last, want) == 0)
            return last;
        clock_gettime(CLOCK_MONOTONIC, &t);
        long ms =
            (t.tv_sec - t0.tv_sec) * 1000 + (t.tv_nsec - t0.tv_nsec) / 1000000;
        if (ms > timeout_ms)
            return last;
        struct timespec d = {0, 10 * 1000000L};
        nanosleep(&d, NULL);
    }
}

uint32_t range_index(const uint8_t *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 |
           p[3];
}

/* --- raw frames ---------------------------------------------------------- */

int raw_connect_uri(const char *uri)
{
    int fd = -1;
    if (strncmp(uri, "unix://", 7) == 0) {
        struct sockaddr_un a = {.sun_family = AF_UNIX};
        snprintf(a.sun_path, sizeof a.sun_path, "%s", uri + 7);
        fd = socket(AF_UNIX, SOCK_STREAM, 0);
        if (fd >= 0 && connect(fd, (struct sockaddr *)&a, sizeof a) != 0) {
            close(fd);
            return -1;
        }
        return fd;
    }
    if (strncmp(uri, "tcp://", 6) == 0) {
        char host[64];
        const char *colon = strrchr(uri + 6, ':');
        if (!colon || (size_t)(colon - (uri + 6)) >= sizeof host)
            return -1;
        memcpy(host, uri + 6, (size_t)(colon - (uri + 6)));
        host[colon - (uri + 6)] = '\0';
        struct sockaddr_in a = {.sin_family = AF_INET,
                                .sin_port = htons((uint16_t)atoi(colon + 1))};
        if (inet_pton(AF_INET, host, &a.sin_addr) != 1)
            return -1;
        fd = socket(AF_INET, SOCK_STREAM, 0);
        if (fd >= 0 && connect(fd, (struct sockaddr *)&a, sizeof a) != 0) {
            close(fd);
            return -1;
        }
        return fd;
    }
    return -1;
}

static int write_all(int fd, const void *p, size_t n)
{
    const uint8_t *b = p;
    while (n) {
        ssize_t w = write(fd, b, n);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            return -1;
        b += w;
        n -= (size_t)w;
    }
    return 0;
}

int raw_frame(int fd, uint32_t id, uint8_t type, uint8_t flags,
              const void *data, size_t len)
{
    uint8_t h[10] = {(uint8_t)(len >> 24),
                     (uint8_t)(len >> 16),
                     (uint8_t)(len >> 8),
                     (uint8_t)len,
                     (uint8_t)(id >> 24),
                     (uint8_t)(id >> 16),
                     (uint8_t)(id >> 8),
                     (uint8_t)id,
                     type,
                     flags};
    if (write_all(fd, h, sizeof h) != 0)
        return -1;
    return len ? write_all(fd, data, len) : 0;
}

int raw_request(int fd, uint32_t id, uint8_t flags, const char *service,
                const char *method, const void *payload, size_t len,
                const char *window)
{
    Ttrpc__Request req = TTRPC__REQUEST__INIT;
    Ttrpc__KeyValue kv = TTRPC__KEY_VALUE__INIT;
    Ttrpc__KeyValue *md[1] = {&kv};
    req.service = (char *)service;
    req.method = (char *)method;
    req.payload.data = (uint8_t *)payload;
    req.payload.len = len;
    if (window) {
        kv.key = (char *)HVRPC_STREAM_WINDOW_KEY;
        kv.value = (char *)window;
        req.metadata = md;
        req.n_metadata = 1;
    }
    size_t n = ttrpc__request__get_packed_size(&req);
    uint8_t *buf = malloc(n ? n : 1);
    ttrpc__request__pack(&req, buf);
    int r = raw_frame(fd, id, 1, flags, buf, n);
    free(buf);
    return r;
}

static int read_exact(int fd, uint8_t *p, size_t n, int timeout_ms)
{
    while (n) {
        struct pollfd pfd = {.fd = fd, .events = POLLIN};
        if (poll(&pfd, 1, timeout_ms) <= 0)
            return -1;
        ssize_t r = read(fd, p, n);
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0)
            return -1;
        p += r;
        n -= (size_t)r;
    }
    return 0;
}

int raw_read_frame(int fd, int timeout_ms, uint32_t *id, uint8_t *type,
                   uint8_t *flags, uint8_t *data, size_t size, size_t *len)
{
    uint8_t h[10];
    if (read_exact(fd, h, sizeof h, timeout_ms) != 0)
        return -1;
    uint32_t n = (uint32_t)h[0] << 24 | (uint32_t)h[1] << 16 |
                 (uint32_t)h[2] << 8 | h[3];
    *id = (uint32_t)h[4] << 24 | (uint32_t)h[5] << 16 | (uint32_t)h[6] << 8 |
          h[7];
    *type = h[8];
    *flags = h[9];
    *len = n;
    size_t keep = n < size ? n : size;
    if (read_exact(fd, data, keep, timeout_ms) != 0)
        return -1;
    for (size_t left = n - keep; left;) {
        uint8_t skip[4096];
        size_t k = left < sizeof skip ? left : sizeof skip;
        if (read_exact(fd, skip, k, timeout_ms) != 0)
            return -1;
        left -= k;
    }
    return 0;
}

int raw_response_code(const uint8_t *data, size_t len)
{
    Ttrpc__Response *r = ttrpc__response__unpack(NULL, len, data);
    if (!r)
        return -1;
    int code = r->status ? r->status->code : 0;
    ttrpc__response__free_unpacked(r, NULL);
    return code;
}
