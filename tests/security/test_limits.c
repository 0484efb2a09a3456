/*
 * test_limits.c - every server limit of docs/SECURITY.md, at its boundary,
 * and that a peer hitting one does not cost another peer its service.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include "check.h"
#include "raw_peer.h"

#define ECHO "hvrpc.echo.v1.Echo"

static hvrpc_server_options options(void)
{
    hvrpc_server_options o;
    hvrpc_server_options_init(&o);
    return o;
}

/* Calls in flight on one connection: the limit, then one more. */
static void calls_per_connection(void)
{
    hvrpc_server_options o = options();
    o.max_calls_per_connection = 4;
    test_server ts;
    CHECK_INT(test_server_start(&ts, &o, NULL), 0);
    int fd = raw_connect(&ts);
    for (uint32_t id = 1; id <= 9; id += 2) /* 5 calls, each 400 ms */
        CHECK_INT(raw_send_echo(fd, id, ECHO, "Echo", 1, 0, 400, 0, ""), 0);
    uint32_t stream;
    int code;
    char msg[256];
    /* The fifth is refused at once; the four others answer later. */
    CHECK_INT(raw_read_status(fd, 300, &stream, &code, msg, sizeof msg), 0);
    CHECK_INT(stream, 9);
    CHECK_INT(code, HVRPC_RESOURCE_EXHAUSTED);
    CHECK_CONTAINS(msg, "calls in flight");
    int ok = 0;
    for (int i = 0; i < 4; i++)
        if (raw_read_status(fd, 3000, &stream, &code, NULL, 0) == 0 &&
            code == 0)
            ok++;
    CHECK_INT(ok, 4);
    /* Once they are answered, the connection takes calls again. */
    CHECK_INT(raw_send_echo(fd, 11, ECHO, "Echo", 1, 0, 0, 0, ""), 0);
    CHECK_INT(raw_read_status(fd, 3000, &stream, &code, NULL, 0), 0);
    CHECK_INT(code, 0);
    close(fd);
    test_server_stop(&ts);
}

/* Calls per peer count over all its connections, and calls whose
 * connection closed still count until their handler lets them go: a peer
 * cannot shed its calls by reconnecting. */
static void calls_per_peer(void)
{
    hvrpc_server_options o = options();
    o.max_calls_per_peer = 4;
    test_server ts;
    CHECK_INT(test_server_start(&ts, &o, NULL), 0);
    int a = raw_connect(&ts), b = raw_connect(&ts);
    for (uint32_t id = 1; id <= 3; id += 2) {
        CHECK_INT(raw_send_echo(a, id, ECHO, "Echo", 1, 0, 800, 0, ""), 0);
        CHECK_INT(raw_send_echo(b, id, ECHO, "Echo", 1, 0, 800, 0, ""), 0);
    }
    uint32_t stream;
    int code;
    char msg[256];
    usleep(100 * 1000);
    close(a); /* its two calls are still held by their handlers */
    int c = raw_connect(&ts);
    CHECK_INT(raw_send_echo(c, 1, ECHO, "Echo", 1, 0, 0, 0, ""), 0);
    CHECK_INT(raw_read_status(c, 3000, &stream, &code, msg, sizeof msg), 0);
    CHECK_INT(code, HVRPC_RESOURCE_EXHAUSTED);
    CHECK_CONTAINS(msg, "calls of this peer");
    /* Once the held calls are answered, the peer may call again. */
    int ok = 0;
    for (int i = 0; i < 2; i++)
        if (raw_read_status(b, 3000, &stream, &code, NULL, 0) == 0 && code == 0)
            ok++;
    CHECK_INT(ok, 2);
    usleep(300 * 1000);
    CHECK_INT(raw_send_echo(c, 3, ECHO, "Echo", 1, 0, 0, 0, ""), 0);
    CHECK_INT(raw_read_status(c, 3000, &stream, &code, NULL, 0), 0);
    CHECK_INT(code, 0);
    close(b);
    close(c);
    test_server_stop(&ts);
}

/* Metadata entries and bytes, and name lengths, checked before decoding. */
static void request_limits(void)
{
    hvrpc_server_options o = options();
    test_server ts;
    CHECK_INT(test_server_start(&ts, &o, NULL), 0);
    int fd = raw_connect(&ts);
    uint32_t stream;
    int code;
    char msg[256];

    CHECK_INT(raw_send_echo(fd, 1, ECHO, "Echo", 1, 0, 0, 64, "v"), 0);
    CHECK_INT(raw_read_status(fd, 3000, &stream, &code, msg, sizeof msg), 0);
    CHECK_INT(code, 0); /* 64 entries: the default limit, accepted */
    CHECK_INT(raw_send_echo(fd, 3, ECHO, "Echo", 1, 0, 0, 65, "v"), 0);
    CHECK_INT(raw_read_status(fd, 3000, &stream, &code, msg, sizeof msg), 0);
    CHECK_INT(stream, 3);
    CHECK_INT(code, HVRPC_RESOURCE_EXHAUSTED);
    CHECK_CONTAINS(msg, "65 metadata entries");

    /* 2 entries of ~9 KiB: over 16 KiB of metadata. */
    static char big[9000];
    memset(big, 'm', sizeof big - 1);
    CHECK_INT(raw_send_echo(fd, 5, ECHO, "Echo", 1, 0, 0, 2, big), 0);
    CHECK_INT(raw_read_status(fd, 3000, &stream, &code, msg, sizeof msg), 0);
    CHECK_INT(code, HVRPC_RESOURCE_EXHAUSTED);
    CHECK_CONTAINS(msg, "bytes of metadata");
    CHECK_INT(raw_send_echo(fd, 7, ECHO, "Echo", 1, 0, 0, 1, big), 0);
    CHECK_INT(raw_read_status(fd, 3000, &stream, &code, msg, sizeof msg), 0);
    CHECK_INT(code, 0); /* one such entry fits */

    char name[300];
    memset(name, 's', 256);
    name[256] = '\0';
    CHECK_INT(raw_send_echo(fd, 9, name, "Echo", 1, 0, 0, 0, ""), 0);
    CHECK_INT(raw_read_status(fd, 3000, &stream, &code, msg, sizeof msg), 0);
    CHECK_INT(code, HVRPC_UNIMPLEMENTED); /* 256: allowed, just unknown */
    name[256] = 's';
    name[257] = '\0';
    CHECK_INT(raw_send_echo(fd, 11, name, "Echo", 1, 0, 0, 0, ""), 0);
    CHECK_INT(raw_read_status(fd, 3000, &stream, &code, msg, sizeof msg), 0);
    CHECK_INT(code, HVRPC_INVALID_ARGUMENT);
    CHECK_CONTAINS(msg, "service name of 257 bytes");
    CHECK_INT(raw_send_echo(fd, 13, ECHO, name, 1, 0, 0, 0, ""), 0);
    CHECK_INT(raw_read_status(fd, 3000, &stream, &code, msg, sizeof msg), 0);
    CHECK_INT(code, HVRPC_INVALID_ARGUMENT);
    CHECK_CONTAINS(msg, "method name");

    /* Garbage where a Request should be: a clear status, no close. */
    uint8_t junk[14] = {0, 0, 0, 4, 0, 0, 0, 15, 1, 0, 0xFF, 0xFF, 0xFF, 0xFF};
    CHECK_INT(raw_write(fd, junk, sizeof junk), 0);
    CHECK_INT(raw_read_status(fd, 3000, &stream, &code, msg, sizeof msg), 0);
    CHECK_INT(stream, 15);
    CHECK_INT(code, HVRPC_INVALID_ARGUMENT);
    CHECK_INT(raw_send_echo(fd, 17, ECHO, "Echo", 1, 0, 0, 0, ""), 0);
    CHECK_INT(raw_read_status(fd, 3000, &stream, &code, NULL, 0), 0);
    CHECK_INT(code, 0);
    close(fd);
    test_server_stop(&ts);
}

/* Connections per peer and in all: one over is closed at accept, and the
 * connections already open keep working. */
static void connection_limits(void)
{
    hvrpc_server_options o = options();
    o.max_connections_per_peer = 3;
    test_server ts;
    CHECK_INT(test_server_start(&ts, &o, NULL), 0);
    int fds[4];
    for (int i = 0; i < 4; i++)
        fds[i] = raw_connect(&ts);
    CHECK(raw_wait_closed(fds[3], 2000)); /* the fourth */
    uint32_t stream;
    int code;
    for (int i = 0; i < 3; i++) {
        CHECK_INT(raw_send_echo(fds[i], 1, ECHO, "Echo", 1, 0, 0, 0, ""), 0);
        CHECK_INT(raw_read_status(fds[i], 3000, &stream, &code, NULL, 0), 0);
        CHECK_INT(code, 0);
    }
    /* A slot freed is a slot taken again. */
    close(fds[0]);
    usleep(100 * 1000);
    int again = raw_connect(&ts);
    CHECK_INT(raw_send_echo(again, 1, ECHO, "Echo", 1, 0, 0, 0, ""), 0);
    CHECK_INT(raw_read_status(again, 3000, &stream, &code, NULL, 0), 0);
    CHECK_INT(code, 0);
    close(again);
    for (int i = 1; i < 4; i++)
        close(fds[i]);
    test_server_stop(&ts);

    o = options();
    o.max_connections = 2;
    CHECK_INT(test_server_start(&ts, &o, NULL), 0);
    int a = raw_connect(&ts), b = raw_connect(&ts), c = raw_connect(&ts);
    CHECK(raw_wait_closed(c, 2000));
    CHECK_INT(raw_send_echo(b, 1, ECHO, "Echo", 1, 0, 0, 0, ""), 0);
    CHECK_INT(raw_read_status(b, 3000, &stream, &code, NULL, 0), 0);
    CHECK_INT(code, 0);
    close(a);
    close(b);
    close(c);
    test_server_stop(&ts);
}

/* Half a header, then nothing: cut off after the read timeout, while a
 * well-behaved peer is served throughout. */
static void read_and_idle_timeouts(void)
{
    hvrpc_server_options o = options();
    o.read_timeout_ms = 300;
    test_server ts;
    CHECK_INT(test_server_start(&ts, &o, NULL), 0);
    int stalled = raw_connect(&ts);
    uint8_t half[5] = {0, 0, 0, 20, 0};
    CHECK_INT(raw_write(stalled, half, sizeof half), 0);
    int64_t t0 = now_ms();
    hvrpc_status st;
    CHECK_INT(client_echo(ts.uri, &st), HVRPC_OK);
    CHECK(raw_wait_closed(stalled, 3000));
    int64_t took = now_ms() - t0;
    CHECK(took >= 250 && took < 2000);
    /* A connection with no partial frame is not cut by the read timeout. */
    int quiet = raw_connect(&ts);
    CHECK(!raw_wait_closed(quiet, 800));
    close(quiet);
    close(stalled);
    test_server_stop(&ts);

    o = options();
    o.idle_timeout_ms = 300;
    CHECK_INT(test_server_start(&ts, &o, NULL), 0);
    int idle = raw_connect(&ts);
    /* A call in flight longer than the idle timeout is not idleness. */
    uint32_t stream;
    int code;
    CHECK_INT(raw_send_echo(idle, 1, ECHO, "Echo", 1, 0, 700, 0, ""), 0);
    CHECK_INT(raw_read_status(idle, 3000, &stream, &code, NULL, 0), 0);
    CHECK_INT(code, 0);
    t0 = now_ms();
    CHECK(raw_wait_closed(idle, 3000));
    took = now_ms() - t0;
    CHECK(took >= 250 && took < 2000);
    close(idle);
    test_server_stop(&ts);
}

/* A peer that sends without reading its answers stops being read: its
 * writes block, and other peers are served meanwhile. */
static void backpressure(void)
{
    hvrpc_server_options o = options();
    o.max_frame = 1 << 20;
    test_server ts;
    CHECK_INT(test_server_start(&ts, &o, NULL), 0);
    int fd = raw_connect(&ts);
    /* A write that cannot go on for 700 ms gives up: the server stopped
     * reading. Each 64 KiB request asks for 512 KiB back. */
    struct timeval tv = {.tv_sec = 0, .tv_usec = 700 * 1000};
    setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
    int sent = 0;
    while (sent < 1000 &&
           raw_send_echo(fd, (uint32_t)(2 * sent + 1), ECHO, "Echo", 64 * 1024,
                         512 * 1024, 0, 0, "") == 0) {
        sent++;
        usleep(5000); /* paced: answers pile up as the requests come */
    }
    /* Without backpressure all 1000 would be read (and the answers of the
     * calls in flight queued); the server stops after a few MiB. */
    fprintf(stderr,
            "requests accepted before the server stopped reading: "
            "%d\n",
            sent);
    CHECK(sent < 100);
    hvrpc_status st;
    CHECK_INT(client_echo(ts.uri, &st), HVRPC_OK);
    close(fd);
    test_server_stop(&ts);

    /* And if it never reads, it is cut off after the write timeout. */
    o.write_timeout_ms = 400;
    CHECK_INT(test_server_start(&ts, &o, NULL), 0);
    fd = raw_connect(&ts);
    for (uint32_t id = 1; id < 20; id += 2)
        raw_send_echo(fd, id, ECHO, "Echo", 1, 512 * 1024, 0, 0, "");
    usleep(1500 * 1000);
    CHECK(raw_wait_closed(fd, 3000));
    close(fd);
    test_server_stop(&ts);
}

int main(void)
{
    calls_per_connection();
    calls_per_peer();
    request_limits();
    connection_limits();
    read_and_idle_timeouts();
    backpressure();
    return check_done();
}
