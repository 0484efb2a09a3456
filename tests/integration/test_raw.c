/*
 * tests/integration/test_raw.c - protocol rules of DESIGN.md section 3,
 * checked with hand-written frames on a plain socket against a server in
 * another process:
 * - an even stream id, a reused id and a lower id: a Response on that
 *   stream with INVALID_ARGUMENT, the connection stays;
 * - a zero-length Request decodes as an empty service: UNIMPLEMENTED;
 * - a frame announcing 4 MiB + 1, its bytes trickled in small chunks:
 *   RESOURCE_EXHAUSTED on that stream, its bytes discarded (they hold
 *   well-formed frames that must not be acted on), the connection stays;
 * - a valid request sent one byte at a time is answered;
 * - the peer identity on both ends of the plain socket: the server names
 *   this socket's own address (vsock:1:<our port>, tcp:127.0.0.1:<our
 *   port>, our unix credentials) and the socket's peer is the address the
 *   server listens on.
 *
 * Usage: test_raw unix|tcp|vsock
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <linux/vm_sockets.h>

#include "check.h"
#include "integ_util.h"
#include "server_proc.h"
#include "ttrpc/request.pb-c.h"

#define HEADER_LEN    10
#define TYPE_REQUEST  1
#define TYPE_RESPONSE 2
#define MAX_FRAME     4194304u
#define IO_TIMEOUT_MS 5000
#define CHUNK         1021 /* small, and aligned with nothing */

static const char *transport;
/* The peer the echo service named in the last OK response read. */
static char last_peer[128];

/* --- frames by hand ------------------------------------------------- */

/* A whole frame (header + data) in a malloc'd buffer. */
static uint8_t *make_frame(uint32_t stream, uint8_t type, const uint8_t *data,
                           size_t len, size_t *frame_len)
{
    uint8_t *f = malloc(HEADER_LEN + len);
    if (!f)
        return NULL;
    integ_frame_header(f, (uint32_t)len, stream, type, 0);
    if (len)
        memcpy(f + HEADER_LEN, data, len);
    *frame_len = HEADER_LEN + len;
    return f;
}

/* The data of a Request frame calling Echo with payload text. */
static uint8_t *echo_envelope(const char *text, size_t *len)
{
    echo_req req = ECHO_REQ_INIT;
    req.payload.data = (uint8_t *)text;
    req.payload.len = strlen(text);
    size_t plen = 0;
    uint8_t *payload = echo_req_pack(&req, &plen);
    if (!payload)
        return NULL;
    Ttrpc__Request env = TTRPC__REQUEST__INIT;
    env.service = (char *)ECHO_SERVICE;
    env.method = (char *)ECHO_METHOD;
    env.payload.data = payload;
    env.payload.len = plen;
    size_t n = ttrpc__request__get_packed_size(&env);
    uint8_t *out = malloc(n ? n : 1);
    if (out)
        *len = ttrpc__request__pack(&env, out);
    free(payload);
    return out;
}

/* Sends an Echo request for text on stream, in one write or one byte per
 * write. 0 or -1. */
static int send_echo(int fd, uint32_t stream, const char *text, int bytewise)
{
    size_t env_len = 0, frame_len = 0;
    uint8_t *env = echo_envelope(text, &env_len);
    uint8_t *frame =
        env ? make_frame(stream, TYPE_REQUEST, env, env_len, &frame_len) : NULL;
    int rc = frame ? 0 : -1;
    if (frame && !bytewise)
        rc = integ_send_all(fd, frame, frame_len, IO_TIMEOUT_MS);
    for (size_t i = 0; frame && bytewise && rc == 0 && i < frame_len; i++)
        rc = integ_send_all(fd, frame + i, 1, IO_TIMEOUT_MS);
    free(frame);
    free(env);
    return rc;
}

/* Reads the next frame and checks that it is a Response on stream with
 * code (a missing status is OK); for OK, that it echoes text. Returns 0
 * when a frame came, -1 when the connection failed. */
static int expect_response(int fd, uint32_t stream, hvrpc_code code,
                           const char *text, const char *what)
{
    uint8_t h[HEADER_LEN];
    if (integ_recv_all(fd, h, sizeof h, IO_TIMEOUT_MS) != 0) {
        fprintf(stderr, "%s: no response frame\n", what);
        CHECK(0 && "a response frame");
        return -1;
    }
    uint32_t len = (uint32_t)h[0] << 24 | (uint32_t)h[1] << 16 |
                   (uint32_t)h[2] << 8 | h[3];
    uint32_t got_stream = (uint32_t)h[4] << 24 | (uint32_t)h[5] << 16 |
                          (uint32_t)h[6] << 8 | h[7];
    if (len > MAX_FRAME) {
        fprintf(stderr, "%s: a frame of %u bytes\n", what, (unsigned)len);
        CHECK(len <= MAX_FRAME);
        return -1;
    }
    uint8_t *data = malloc(len ? len : 1);
    if (!data || integ_recv_all(fd, data, len, IO_TIMEOUT_MS) != 0) {
        free(data);
        CHECK(0 && "the response frame's data");
        return -1;
    }
    Ttrpc__Response *r = ttrpc__response__unpack(NULL, len, data);
    int got_code = r && r->status ? r->status->code : 0;
    if (h[8] != TYPE_RESPONSE || got_stream != stream || got_code != (int)code)
        fprintf(stderr,
                "%s: got type %u stream %u code %d (%s), want type %u "
                "stream %u code %d\n",
                what, h[8], (unsigned)got_stream, got_code,
                r && r->status && r->status->message ? r->status->message : "",
                TYPE_RESPONSE, (unsigned)stream, (int)code);
    CHECK_INT(h[8], TYPE_RESPONSE);
    CHECK_INT(got_stream, stream);
    CHECK(r != NULL);
    CHECK_INT(got_code, code);
    if (h[8] == TYPE_RESPONSE && got_stream == stream && r &&
        got_code == (int)code)
        integ_count_calls(1);
    if (r && code == HVRPC_OK && text) {
        echo_resp *e = echo_resp_decode(r->payload.data, r->payload.len);
        CHECK(echo_resp_payload_is(e, text, strlen(text)));
        snprintf(last_peer, sizeof last_peer, "%s",
                 e && e->peer ? e->peer : "");
        echo_resp_free(e);
    }
    if (r)
        ttrpc__response__free_unpacked(r, NULL);
    free(data);
    return 0;
}

/* --- the rules ------------------------------------------------------- */

/* A frame of 4 MiB + 1 announced, its data sent CHUNK bytes at a time.
 * The data is back-to-back valid Request frames for stream 101: a server
 * that parsed the discarded bytes would answer them. */
static int send_oversized(int fd, uint32_t stream)
{
    size_t len = (size_t)MAX_FRAME + 1;
    uint8_t *data = malloc(len);
    size_t inner_env_len = 0, inner_len = 0;
    uint8_t *inner_env = echo_envelope("smuggled", &inner_env_len);
    uint8_t *inner = inner_env ? make_frame(101, TYPE_REQUEST, inner_env,
                                            inner_env_len, &inner_len)
                               : NULL;
    int rc = data && inner ? 0 : -1;
    for (size_t off = 0; rc == 0 && off < len; off += inner_len) {
        size_t n = len - off < inner_len ? len - off : inner_len;
        memcpy(data + off, inner, n);
    }
    uint8_t h[HEADER_LEN];
    integ_frame_header(h, (uint32_t)len, stream, TYPE_REQUEST, 0);
    if (rc == 0)
        rc = integ_send_all(fd, h, sizeof h, IO_TIMEOUT_MS);
    for (size_t off = 0; rc == 0 && off < len; off += CHUNK) {
        size_t n = len - off < CHUNK ? len - off : CHUNK;
        rc = integ_send_all(fd, data + off, n, IO_TIMEOUT_MS);
    }
    free(inner);
    free(inner_env);
    free(data);
    return rc;
}

/* Both ends of fd, connected to the server listening on listen_uri: the
 * server's view (last_peer, from the echo reply) is this socket's own
 * address, and this socket's peer is the listener's address. */
static void check_identity(int fd, const char *listen_uri)
{
    hvrpc_address listen;
    hvrpc_status st;
    CHECK_INT(hvrpc_address_parse(listen_uri, &listen, &st), HVRPC_OK);
    char want[160];
    want[0] = '\0';
    if (strcmp(transport, "vsock") == 0) {
        struct sockaddr_vm self, peer;
        socklen_t sl = sizeof self, pl = sizeof peer;
        CHECK_INT(getsockname(fd, (struct sockaddr *)&self, &sl), 0);
        CHECK_INT(getpeername(fd, (struct sockaddr *)&peer, &pl), 0);
        /* The client lives on CID 1 (vsock_loopback): that is what the
         * kernel tells the server, with the port it bound us to. */
        snprintf(want, sizeof want, "vsock:1:%u", (unsigned)self.svm_port);
        CHECK_INT(peer.svm_cid, HVRPC_VSOCK_CID_LOCAL);
        CHECK_INT(peer.svm_port, listen.u.vsock.port);
        CHECK(self.svm_port != HVRPC_VSOCK_PORT_ANY);
        fprintf(stderr,
                "vsock: we are port %u, the server at %u:%u says "
                "\"%s\"\n",
                (unsigned)self.svm_port, (unsigned)peer.svm_cid,
                (unsigned)peer.svm_port, last_peer);
    } else if (strcmp(transport, "tcp") == 0) {
        struct sockaddr_in self, peer;
        socklen_t sl = sizeof self, pl = sizeof peer;
        CHECK_INT(getsockname(fd, (struct sockaddr *)&self, &sl), 0);
        CHECK_INT(getpeername(fd, (struct sockaddr *)&peer, &pl), 0);
        snprintf(want, sizeof want, "tcp:127.0.0.1:%u",
                 (unsigned)ntohs(self.sin_port));
        CHECK_INT(ntohs(peer.sin_port), listen.u.tcp.port);
    } else {
        snprintf(want, sizeof want, "unix:uid=%u,gid=%u,pid=%d",
                 (unsigned)geteuid(), (unsigned)getegid(), (int)getpid());
    }
    CHECK_STR(last_peer, want);
}

static void test_raw(const char *uri, const char *listen_uri)
{
    fprintf(stderr, "-- raw frames (%s)\n", transport);
    int fd = integ_raw_connect(uri);
    CHECK(fd >= 0);
    if (fd < 0)
        return;
    size_t flen = 0;
    uint8_t *frame = NULL;

    /* A valid call first: the framing is right. */
    CHECK_INT(send_echo(fd, 1, "raw-1", 0), 0);
    if (expect_response(fd, 1, HVRPC_OK, "raw-1", "stream 1") != 0)
        goto out;
    check_identity(fd, listen_uri);

    /* An even stream id. */
    CHECK_INT(send_echo(fd, 2, "raw-2", 0), 0);
    if (expect_response(fd, 2, HVRPC_INVALID_ARGUMENT, NULL, "even id 2"))
        goto out;

    /* Ids need not be consecutive, only increasing. */
    CHECK_INT(send_echo(fd, 5, "raw-5", 0), 0);
    if (expect_response(fd, 5, HVRPC_OK, "raw-5", "stream 5") != 0)
        goto out;

    /* A reused id, then a lower one. */
    CHECK_INT(send_echo(fd, 5, "raw-5 again", 0), 0);
    if (expect_response(fd, 5, HVRPC_INVALID_ARGUMENT, NULL, "reused id 5"))
        goto out;
    CHECK_INT(send_echo(fd, 3, "raw-3", 0), 0);
    if (expect_response(fd, 3, HVRPC_INVALID_ARGUMENT, NULL, "lower id 3"))
        goto out;

    /* A zero-length Request: service "" -> UNIMPLEMENTED. */
    frame = make_frame(7, TYPE_REQUEST, NULL, 0, &flen);
    CHECK(frame != NULL);
    CHECK_INT(frame ? integ_send_all(fd, frame, flen, IO_TIMEOUT_MS) : -1, 0);
    free(frame);
    if (expect_response(fd, 7, HVRPC_UNIMPLEMENTED, NULL, "empty request"))
        goto out;

    /* Still open, still in sync. */
    CHECK_INT(send_echo(fd, 9, "raw-9", 0), 0);
    if (expect_response(fd, 9, HVRPC_OK, "raw-9", "stream 9") != 0)
        goto out;

    /* 4 MiB + 1 announced and trickled in. */
    CHECK_INT(send_oversized(fd, 11), 0);
    if (expect_response(fd, 11, HVRPC_RESOURCE_EXHAUSTED, NULL,
                        "oversized frame") != 0)
        goto out;
    CHECK_INT(send_echo(fd, 13, "raw-13", 0), 0);
    if (expect_response(fd, 13, HVRPC_OK, "raw-13", "after oversized") != 0)
        goto out;

    /* A request one byte per write. */
    CHECK_INT(send_echo(fd, 15, "raw-15 bytewise", 1), 0);
    if (expect_response(fd, 15, HVRPC_OK, "raw-15 bytewise", "bytewise"))
        goto out;

    /* Another even id late in the connection, then a valid call. */
    CHECK_INT(send_echo(fd, 16, "raw-16", 0), 0);
    if (expect_response(fd, 16, HVRPC_INVALID_ARGUMENT, NULL, "even id 16"))
        goto out;
    CHECK_INT(send_echo(fd, 17, "raw-17", 0), 0);
    expect_response(fd, 17, HVRPC_OK, "raw-17", "stream 17");
out:
    close(fd);
}

int main(int argc, char **argv)
{
    transport = integ_transport(argc, argv);
    if (!transport)
        return 2;
    server_proc sp;
    server_proc_options so = {.transport = transport, .workers = 2};
    char err[512];
    int started = server_proc_start(&sp, &so, err, sizeof err) == 0;
    if (!started)
        fprintf(stderr, "%s\n", err);
    CHECK(started);
    if (started) {
        test_raw(sp.uri, sp.listen_uri);
        CHECK_INT(server_proc_stop(&sp, 10000), 0);
    }
    server_proc_cleanup(&sp);
    integ_report_calls(transport);
    return check_done();
}
