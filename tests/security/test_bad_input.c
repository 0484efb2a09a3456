/*
 * test_bad_input.c - the rows of docs/SECURITY.md's bad-input table not
 * asserted elsewhere: truncated header, unknown frame types and flags,
 * Data frames on a unary stream and after its answer, Response frames
 * from a client, deep nesting through the typed layer, huge metadata,
 * 10 000 connections from one peer. Each time: what the server answers,
 * and that other peers' calls kept working.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include "check.h"
#include "echo_service.h"
#include "google/protobuf/descriptor.pb-c.h"
#include "raw_peer.h"

#define ECHO "hvrpc.echo.v1.Echo"

static void put_be32(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)(v >> 24);
    p[1] = (uint8_t)(v >> 16);
    p[2] = (uint8_t)(v >> 8);
    p[3] = (uint8_t)v;
}

static int send_frame(int fd, uint32_t stream, uint8_t type, uint8_t flags,
                      const void *data, uint32_t len)
{
    uint8_t h[10];
    put_be32(h, len);
    put_be32(h + 4, stream);
    h[8] = type;
    h[9] = flags;
    if (raw_write(fd, h, sizeof h) != 0)
        return -1;
    return len ? raw_write(fd, data, len) : 0;
}

/* One echo call on fd answered OK on stream. */
static void served(int fd, uint32_t stream)
{
    uint32_t got;
    int code = -1;
    CHECK_INT(raw_send_echo(fd, stream, ECHO, "Echo", 8, 0, 0, 0, ""), 0);
    CHECK_INT(raw_read_status(fd, 3000, &got, &code, NULL, 0), 0);
    CHECK_INT(got, stream);
    CHECK_INT(code, 0);
}

/* Another peer, on its own connection, is served too. */
static void others_served(const test_server *ts)
{
    hvrpc_status st;
    CHECK_INT(client_echo(ts->uri, &st), HVRPC_OK);
}

/* Half a header, then the peer goes: no answer, that connection closes,
 * nothing else notices. */
static void truncated_header(const test_server *ts)
{
    for (int n = 1; n < 10; n++) {
        int fd = raw_connect(ts);
        uint8_t h[10] = {0, 0, 0, 4, 0, 0, 0, 1, 1, 0};
        CHECK_INT(raw_write(fd, h, (size_t)n), 0);
        shutdown(fd, SHUT_WR);
        CHECK(raw_wait_closed(fd, 2000)); /* closed, and not answered */
        close(fd);
    }
    others_served(ts);
}

/* Frame types other than Request, and flags nobody defined: ignored; the
 * connection goes on. */
static void unknown_types_and_flags(const test_server *ts)
{
    int fd = raw_connect(ts);
    static const uint8_t types[] = {0, 4, 7, 0x80, 0xFF};
    for (size_t i = 0; i < sizeof types; i++)
        CHECK_INT(send_frame(fd, 1, types[i], 0, "abc", 3), 0);
    /* A Response from a client: also ignored. */
    CHECK_INT(send_frame(fd, 1, 2, 0, NULL, 0), 0);
    served(fd, 1);
    /* A Request with undefined flag bits is served as a plain Request. */
    int sp[2];
    CHECK_INT(socketpair(AF_UNIX, SOCK_STREAM, 0, sp), 0);
    raw_send_echo(sp[0], 3, ECHO, "Echo", 8, 0, 0, 0, "");
    uint8_t frame[256];
    ssize_t n = read(sp[1], frame, sizeof frame);
    close(sp[0]);
    close(sp[1]);
    CHECK(n > 10);
    frame[9] = 0xF0;
    CHECK_INT(raw_write(fd, frame, (size_t)n), 0);
    uint32_t got;
    int code = -1;
    CHECK_INT(raw_read_status(fd, 3000, &got, &code, NULL, 0), 0);
    CHECK_INT(got, 3);
    CHECK_INT(code, 0);
    served(fd, 5);
    close(fd);
    others_served(ts);
}

/* Data frames on a unary call's stream, while it runs and after its
 * answer: ignored (streams are not served); the call is answered once,
 * the connection goes on. */
static void data_on_unary(const test_server *ts)
{
    int fd = raw_connect(ts);
    CHECK_INT(raw_send_echo(fd, 1, ECHO, "Echo", 8, 0, 200, 0, ""), 0);
    CHECK_INT(send_frame(fd, 1, 3, 0, "more", 4), 0);
    CHECK_INT(send_frame(fd, 1, 3, 0x1, NULL, 0), 0); /* remote-closed */
    CHECK_INT(send_frame(fd, 1, 3, 0x4, NULL, 0), 0); /* no-data */
    uint32_t got;
    int code = -1;
    CHECK_INT(raw_read_status(fd, 3000, &got, &code, NULL, 0), 0);
    CHECK_INT(got, 1);
    CHECK_INT(code, 0);
    /* After the answer. */
    CHECK_INT(send_frame(fd, 1, 3, 0, "late", 4), 0);
    served(fd, 3);
    /* Exactly one answer each: nothing else is waiting. */
    struct pollfd pfd = {.fd = fd, .events = POLLIN};
    CHECK_INT(poll(&pfd, 1, 300), 0);
    close(fd);
    others_served(ts);
}

/* Metadata far over the limits: refused on the raw bytes, before any of
 * it is decoded, quickly; the connection goes on. */
static void huge_metadata(const test_server *ts)
{
    int fd = raw_connect(ts);
    uint32_t got;
    int code = -1;
    char msg[256];
    char *big = malloc(1 << 20);
    memset(big, 'm', (1 << 20) - 1);
    big[(1 << 20) - 1] = '\0';
    int64_t t0 = now_ms();
    CHECK_INT(raw_send_echo(fd, 1, ECHO, "Echo", 8, 0, 0, 1, big), 0);
    CHECK_INT(raw_read_status(fd, 3000, &got, &code, msg, sizeof msg), 0);
    CHECK_INT(code, HVRPC_RESOURCE_EXHAUSTED);
    CHECK_CONTAINS(msg, "bytes of metadata");
    free(big);

    /* 200 000 empty entries: 400 KB of two-byte KeyValues. */
    enum { ENTRIES = 200000 };
    uint32_t len = 2 * ENTRIES;
    uint8_t *body = malloc(len);
    for (uint32_t i = 0; i < ENTRIES; i++) {
        body[2 * i] = 0x2a; /* field 5, length-delimited */
        body[2 * i + 1] = 0;
    }
    CHECK_INT(send_frame(fd, 3, 1, 0, body, len), 0);
    CHECK_INT(raw_read_status(fd, 3000, &got, &code, msg, sizeof msg), 0);
    CHECK_INT(got, 3);
    CHECK_INT(code, HVRPC_RESOURCE_EXHAUSTED);
    CHECK_CONTAINS(msg, "200000 metadata entries");
    free(body);
    CHECK(now_ms() - t0 < 2000);
    served(fd, 5);
    close(fd);
    others_served(ts);
}

/* A handler on the typed layer's decoder (hvrpc_message_unpack, what
 * generated code calls) for a recursive type. */
static void decode_descriptor(hvrpc_call *call, const uint8_t *req, size_t len,
                              void *ud)
{
    (void)ud;
    ProtobufCMessage *m;
    hvrpc_status st;
    if (hvrpc_message_unpack(&google__protobuf__descriptor_proto__descriptor,
                             req, len, &m, &st) != HVRPC_OK) {
        hvrpc_call_fail(call, st.code, "%s", st.message);
        return;
    }
    protobuf_c_message_free_unpacked(m, NULL);
    hvrpc_call_reply(call, NULL, 0);
}

static const hvrpc_method nest_methods[] = {
    {.name = "Decode", .handler = decode_descriptor}};
static const hvrpc_service nest_service = {"test.Nest", nest_methods, 1};

static test_server *nest_ts; /* the server add_nest registers on */

static void add_nest(hvrpc_endpoint *ep)
{
    hvrpc_status st;
    CHECK_INT(
        hvrpc_server_register(nest_ts->srv, ep, &nest_service, NULL, NULL, &st),
        HVRPC_OK);
}

/* depth levels of DescriptorProto.nested_type (field 3), innermost
 * empty. */
static uint8_t *nested(size_t depth, size_t *len)
{
    size_t cap = depth * 6 + 16;
    uint8_t *buf = malloc(cap);
    size_t start = cap, n = 0; /* built from the inside out, at the end */
    for (size_t i = 1; i < depth; i++) {
        uint8_t pre[6];
        size_t k = 0;
        pre[k++] = 0x1a;
        size_t v = n;
        do {
            pre[k++] = (uint8_t)((v & 0x7f) | (v >= 0x80 ? 0x80 : 0));
            v >>= 7;
        } while (v);
        start -= k;
        memcpy(buf + start, pre, k);
        n += k;
    }
    memmove(buf, buf + start, n);
    *len = n;
    return buf;
}

static hvrpc_code call_nest(const char *uri, const uint8_t *p, size_t n,
                            hvrpc_status *st)
{
    hvrpc_client *c;
    hvrpc_code code = hvrpc_client_connect(uri, NULL, &c, st);
    if (code != HVRPC_OK)
        return code;
    hvrpc_call_options o = HVRPC_CALL_OPTIONS_INIT;
    o.timeout_ms = 5000;
    hvrpc_buf resp = {0};
    code = hvrpc_client_call(c, "test.Nest", "Decode", p, n, &o, &resp, st);
    hvrpc_buf_free(&resp);
    hvrpc_client_free(c);
    return code;
}

static void deep_nesting(void)
{
    test_server ts;
    nest_ts = &ts;
    CHECK_INT(test_server_start(&ts, NULL, add_nest), 0);
    hvrpc_status st;
    size_t n;
    uint8_t *p = nested(HVRPC_MAX_MESSAGE_DEPTH, &n);
    CHECK_INT(call_nest(ts.uri, p, n, &st), HVRPC_OK);
    free(p);
    p = nested(HVRPC_MAX_MESSAGE_DEPTH + 1, &n);
    CHECK_INT(call_nest(ts.uri, p, n, &st), HVRPC_INVALID_ARGUMENT);
    CHECK_CONTAINS(st.message, "nests messages deeper than 100 levels");
    free(p);
    /* 600 000 levels in 3 MiB: refused, the stack untouched. */
    p = nested(600000, &n);
    CHECK(n < HVRPC_DEFAULT_MAX_FRAME - 64);
    CHECK_INT(call_nest(ts.uri, p, n, &st), HVRPC_INVALID_ARGUMENT);
    free(p);
    others_served(&ts);
    test_server_stop(&ts);
}

/* 10 000 connections from one peer (tcp from 127.0.0.2): the first
 * max_connections_per_peer (64) stay, every other one is closed at
 * accept; another peer (127.0.0.1) is served throughout. */
static void ten_thousand_connections(void)
{
    enum { WANT = 10000 };
    struct rlimit rl;
    getrlimit(RLIMIT_NOFILE, &rl);
    if (rl.rlim_cur < WANT + 256) {
        rl.rlim_cur = rl.rlim_max < WANT + 256 ? rl.rlim_max : WANT + 256;
        setrlimit(RLIMIT_NOFILE, &rl);
    }
    int n_conns = WANT;
    if (rl.rlim_cur < WANT + 256) {
        n_conns = (int)rl.rlim_cur - 256;
        fprintf(stderr, "RLIMIT_NOFILE %lu: %d connections instead\n",
                (unsigned long)rl.rlim_cur, n_conns);
    }
    hvrpc_server *srv;
    hvrpc_endpoint *ep;
    hvrpc_status st;
    CHECK_INT(hvrpc_server_create(NULL, &srv, &st), HVRPC_OK);
    CHECK_INT(hvrpc_server_listen(srv, "tcp://127.0.0.1:0", &ep, &st),
              HVRPC_OK);
    CHECK_INT(hvrpc_echo_service_register(srv, ep, &st), HVRPC_OK);
    CHECK_INT(hvrpc_server_start(srv, &st), HVRPC_OK);
    uint16_t port = hvrpc_endpoint_address(ep)->u.tcp.port;
    char uri[64];
    snprintf(uri, sizeof uri, "tcp://127.0.0.1:%u", port);

    int *fds = malloc(sizeof *fds * (size_t)n_conns);
    struct sockaddr_in from = {.sin_family = AF_INET};
    struct sockaddr_in to = {.sin_family = AF_INET, .sin_port = htons(port)};
    inet_pton(AF_INET, "127.0.0.2", &from.sin_addr);
    inet_pton(AF_INET, "127.0.0.1", &to.sin_addr);
    int64_t t0 = now_ms();
    int opened = 0;
    for (int i = 0; i < n_conns; i++) {
        fds[i] = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
        if (fds[i] < 0 ||
            bind(fds[i], (struct sockaddr *)&from, sizeof from) != 0 ||
            connect(fds[i], (struct sockaddr *)&to, sizeof to) != 0) {
            fprintf(stderr, "connection %d: %s\n", i, strerror(errno));
            if (fds[i] >= 0)
                close(fds[i]);
            break;
        }
        opened++;
        /* The other peer is served meanwhile; its call also paces this
         * loop to the server's accepting (the backlog is 128: a full
         * accept queue would cost SYN retransmits of a second or more). */
        if (i % 64 == 63)
            CHECK_INT(client_echo(uri, &st), HVRPC_OK);
    }
    CHECK_INT(opened, n_conns);
    /* Once this call is served, every connection before it was accepted
     * or refused. */
    CHECK_INT(client_echo(uri, &st), HVRPC_OK);
    int open = 0;
    for (int i = 0; i < opened; i++) {
        struct pollfd pfd = {.fd = fds[i], .events = POLLIN};
        if (poll(&pfd, 1, 0) == 0)
            open++;
    }
    fprintf(stderr, "%d connections from one peer in %lld ms: %d kept\n",
            opened, (long long)(now_ms() - t0), open);
    CHECK_INT(open, 64);
    /* The ones kept work. */
    int kept = -1;
    for (int i = 0; i < opened && kept < 0; i++) {
        struct pollfd pfd = {.fd = fds[i], .events = POLLIN};
        if (poll(&pfd, 1, 0) == 0)
            kept = fds[i];
    }
    if (kept >= 0)
        served(kept, 1);
    for (int i = 0; i < opened; i++)
        close(fds[i]);
    free(fds);
    hvrpc_server_free(srv);
}

int main(void)
{
    test_server ts;
    CHECK_INT(test_server_start(&ts, NULL, NULL), 0);
    truncated_header(&ts);
    unknown_types_and_flags(&ts);
    data_on_unary(&ts);
    huge_metadata(&ts);
    test_server_stop(&ts);
    deep_nesting();
    ten_thousand_connections();
    return check_done();
}
