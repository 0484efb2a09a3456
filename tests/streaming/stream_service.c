/* tests/streaming/stream_service.c - see stream_service.h. */
#include "stream_service.h"

#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static atomic_int last_end = -1;

static void note_end(hvrpc_code code)
{
    if (code != HVRPC_OK && code != HVRPC_END)
        atomic_store(&last_end, (int)code);
}

static void sleep_ms(int ms)
{
    struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

static void sum(hvrpc_stream *s, void *ud)
{
    (void)ud;
    unsigned long count = 0, bytes = 0;
    for (;;) {
        hvrpc_buf b;
        hvrpc_status st;
        hvrpc_code r = hvrpc_stream_recv(s, &b, HVRPC_WAIT_FOREVER, &st);
        if (r == HVRPC_OK) {
            count++;
            bytes += b.len;
            hvrpc_buf_free(&b);
            continue;
        }
        if (r == HVRPC_END) {
            char out[64];
            int n =
                snprintf(out, sizeof out, "count=%lu bytes=%lu", count, bytes);
            hvrpc_stream_reply(s, out, (size_t)n);
            return;
        }
        note_end(r);
        hvrpc_stream_finish(s, r, "%s", st.message);
        return;
    }
}

static void range(hvrpc_stream *s, void *ud)
{
    (void)ud;
    hvrpc_buf req;
    hvrpc_status st;
    hvrpc_code r = hvrpc_stream_recv(s, &req, HVRPC_WAIT_FOREVER, &st);
    if (r != HVRPC_OK) {
        note_end(r);
        hvrpc_stream_finish(s, r == HVRPC_END ? HVRPC_INVALID_ARGUMENT : r,
                            "no request");
        return;
    }
    char text[64] = "";
    memcpy(text, req.data, req.len < sizeof text - 1 ? req.len : 0);
    hvrpc_buf_free(&req);
    unsigned long n = 0, size = 0, delay = 0, code = 0;
    if (sscanf(text, "%lu %lu %lu %lu", &n, &size, &delay, &code) < 2 ||
        size > 8 * 1024 * 1024) {
        hvrpc_stream_finish(s, HVRPC_INVALID_ARGUMENT, "bad range \"%s\"",
                            text);
        return;
    }
    uint8_t *msg = calloc(1, size + 1);
    memset(msg, 'x', size);
    for (unsigned long i = 0; i < n; i++) {
        if (size >= 4) {
            msg[0] = (uint8_t)(i >> 24);
            msg[1] = (uint8_t)(i >> 16);
            msg[2] = (uint8_t)(i >> 8);
            msg[3] = (uint8_t)i;
        }
        r = hvrpc_stream_send(s, msg, size, HVRPC_WAIT_FOREVER, &st);
        if (r != HVRPC_OK) {
            free(msg);
            note_end(r);
            hvrpc_stream_finish(s, r, "%s", st.message);
            return;
        }
        if (delay)
            sleep_ms((int)delay);
    }
    free(msg);
    if (code)
        hvrpc_stream_finish(s, (hvrpc_code)code, "failing as asked");
    else
        hvrpc_stream_finish(s, HVRPC_OK, NULL);
}

static void echo(hvrpc_stream *s, void *ud)
{
    (void)ud;
    for (;;) {
        hvrpc_buf b;
        hvrpc_status st;
        hvrpc_code r = hvrpc_stream_recv(s, &b, HVRPC_WAIT_FOREVER, &st);
        if (r == HVRPC_END) {
            hvrpc_stream_finish(s, HVRPC_OK, NULL);
            return;
        }
        if (r != HVRPC_OK) {
            note_end(r);
            hvrpc_stream_finish(s, r, "%s", st.message);
            return;
        }
        if (b.len == 5 && memcmp(b.data, "close", 5) == 0) {
            hvrpc_buf_free(&b);
            hvrpc_stream_finish(s, HVRPC_OK, NULL);
            return;
        }
        if (b.len == 5 && memcmp(b.data, "abort", 5) == 0) {
            hvrpc_buf_free(&b);
            hvrpc_stream_finish(s, HVRPC_ABORTED, "aborting as asked");
            return;
        }
        r = hvrpc_stream_send(s, b.data, b.len, HVRPC_WAIT_FOREVER, &st);
        hvrpc_buf_free(&b);
        if (r != HVRPC_OK) {
            note_end(r);
            hvrpc_stream_finish(s, r, "%s", st.message);
            return;
        }
    }
}

static void stall(hvrpc_stream *s, void *ud)
{
    (void)ud;
    for (int i = 0; i < 1000 && !hvrpc_stream_done(s); i++)
        sleep_ms(10);
    hvrpc_buf b;
    hvrpc_status st;
    hvrpc_code r;
    while ((r = hvrpc_stream_recv(s, &b, 0, &st)) == HVRPC_OK)
        hvrpc_buf_free(&b);
    note_end(r);
    hvrpc_stream_finish(s, r == HVRPC_END ? HVRPC_OK : r, "%s", st.message);
}

static void last_end_method(hvrpc_call *call, const uint8_t *req, size_t len,
                            void *ud)
{
    (void)req;
    (void)len;
    (void)ud;
    int code = atomic_load(&last_end);
    const char *name = code < 0 ? "NONE" : hvrpc_code_name(code);
    hvrpc_call_reply(call, name, strlen(name));
}

static const hvrpc_method methods[] = {
    {.name = "Sum", .kind = HVRPC_CLIENT_STREAMING, .stream = sum},
    {.name = "Range", .kind = HVRPC_SERVER_STREAMING, .stream = range},
    {.name = "Echo", .kind = HVRPC_BIDI_STREAMING, .stream = echo},
    {.name = "Stall", .kind = HVRPC_CLIENT_STREAMING, .stream = stall},
    {.name = "LastEnd", .handler = last_end_method},
};

static const hvrpc_service service = {STREAMS_SERVICE, methods,
                                      sizeof methods / sizeof methods[0]};

int stream_service_register(hvrpc_server *srv, hvrpc_endpoint *ep)
{
    hvrpc_status st;
    if (hvrpc_server_register(srv, ep, &service, NULL, NULL, &st) != HVRPC_OK) {
        fprintf(stderr, "register %s: %s\n", STREAMS_SERVICE, st.message);
        return -1;
    }
    return 0;
}
