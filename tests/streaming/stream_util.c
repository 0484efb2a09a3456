/* tests/streaming/stream_util.c - see stream_util.h. */
#include "stream_util.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "integ_util.h"
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

/* Every wait on a hand-written peer's socket. */
#define RAW_TIMEOUT_MS 5000

int raw_frame(int fd, uint32_t id, uint8_t type, uint8_t flags,
              const void *data, size_t len)
{
    uint8_t h[10];
    integ_frame_header(h, (uint32_t)len, id, type, flags);
    if (integ_send_all(fd, h, sizeof h, RAW_TIMEOUT_MS) != 0)
        return -1;
    return len ? integ_send_all(fd, data, len, RAW_TIMEOUT_MS) : 0;
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

int raw_read_frame(int fd, int timeout_ms, uint32_t *id, uint8_t *type,
                   uint8_t *flags, uint8_t *data, size_t size, size_t *len)
{
    uint8_t h[10];
    if (integ_recv_all(fd, h, sizeof h, timeout_ms) != 0)
        return -1;
    uint32_t n = (uint32_t)h[0] << 24 | (uint32_t)h[1] << 16 |
                 (uint32_t)h[2] << 8 | h[3];
    *id = (uint32_t)h[4] << 24 | (uint32_t)h[5] << 16 | (uint32_t)h[6] << 8 |
          h[7];
    *type = h[8];
    *flags = h[9];
    *len = n;
    size_t keep = n < size ? n : size;
    if (integ_recv_all(fd, data, keep, timeout_ms) != 0)
        return -1;
    for (size_t left = n - keep; left;) {
        uint8_t skip[4096];
        size_t k = left < sizeof skip ? left : sizeof skip;
        if (integ_recv_all(fd, skip, k, timeout_ms) != 0)
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
