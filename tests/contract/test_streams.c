/*
 * test_streams.c - contracts of streaming interactions, end to end:
 *
 *   record  a guest's server-streaming, client-streaming and bidi calls
 *           (and a stream that fails) through `hvrpc contract record`
 *           in front of a real streams.v1.Calc service in this process;
 *           the recorded messages are asserted in the order they passed;
 *   verify  that service against the recording: passing, then a broken
 *           host (Twice triples instead of doubling) caught with the
 *           message and field at fault;
 *   mock    the recording in-process (mem://): the same guest script
 *           gets the same answers in order, and a guest that strays
 *           from the script gets FAILED_PRECONDITION saying where.
 *
 * Usage: test_contract_streams HVRPC_BINARY STREAMS_PROTO PROTO_DIR
 * (streams.proto: tests/codegen/protos; protoc from HVRPC_PROTOC).
 */
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>

#include "check.h"
#include "hvrpc_contract.h"

#define CALC "streams.v1.Calc"

/* --- Num {int32 n = 1} and Total {sum = 1, count = 2}, small values ----- */

/* Encodes the fields (a, b) of a message whose fields 1 and 2 are
 * non-negative varints; a zero field is left out (proto3). */
static size_t encode2(uint8_t *out, uint32_t a, uint32_t b)
{
    size_t n = 0;
    uint32_t v[2] = {a, b};
    for (int f = 0; f < 2; f++) {
        if (v[f] == 0)
            continue;
        out[n++] = (uint8_t)((f + 1) << 3);
        for (uint32_t x = v[f]; x; x >>= 7)
            out[n++] = (uint8_t)((x & 0x7f) | (x >= 0x80 ? 0x80 : 0));
    }
    return n;
}

/* Decodes such a message: fields 1 and 2, -1 when malformed. */
static int decode2(const uint8_t *p, size_t len, uint32_t *a, uint32_t *b)
{
    *a = *b = 0;
    for (size_t i = 0; i < len;) {
        uint8_t tag = p[i++];
        uint32_t x = 0;
        for (int shift = 0;; shift += 7) {
            if (i >= len || shift > 28)
                return -1;
            x |= (uint32_t)(p[i] & 0x7f) << shift;
            if (!(p[i++] & 0x80))
                break;
        }
        if (tag == 0x08)
            *a = x;
        else if (tag == 0x10)
            *b = x;
        else
            return -1;
    }
    return 0;
}

/* --- the host service: streams.v1.Calc ---------------------------------- */

/* A deliberately broken host change: Twice multiplies by 3. */
static atomic_int factor = 2;

/* Count(Num n): 1..n, then OK; more than 10 is OUT_OF_RANGE. */
static void calc_count(hvrpc_stream *s, void *ud)
{
    (void)ud;
    hvrpc_buf req;
    hvrpc_status st;
    uint32_t n, unused;
    if (hvrpc_stream_recv(s, &req, HVRPC_WAIT_FOREVER, &st) != HVRPC_OK) {
        hvrpc_stream_finish(s, HVRPC_INVALID_ARGUMENT, "no request");
        return;
    }
    int bad = decode2(req.data, req.len, &n, &unused);
    hvrpc_buf_free(&req);
    if (bad || n > 10) {
        hvrpc_stream_finish(s, HVRPC_OUT_OF_RANGE, "count to 10 at most");
        return;
    }
    for (uint32_t i = 1; i <= n; i++) {
        uint8_t msg[16];
        if (hvrpc_stream_send(s, msg, encode2(msg, i, 0), HVRPC_WAIT_FOREVER,
                              &st) != HVRPC_OK)
            break;
    }
    hvrpc_stream_finish(s, HVRPC_OK, NULL);
}

/* Sum(stream Num): Total{sum, count}. */
static void calc_sum(hvrpc_stream *s, void *ud)
{
    (void)ud;
    uint32_t sum = 0, count = 0;
    for (;;) {
        hvrpc_buf b;
        hvrpc_status st;
        hvrpc_code code = hvrpc_stream_recv(s, &b, HVRPC_WAIT_FOREVER, &st);
        if (code == HVRPC_END)
            break;
        if (code != HVRPC_OK) {
            hvrpc_stream_finish(s, code, "%s", st.message);
            return;
        }
        uint32_t n, unused;
        decode2(b.data, b.len, &n, &unused);
        hvrpc_buf_free(&b);
        sum += n;
        count++;
    }
    uint8_t msg[16];
    hvrpc_stream_reply(s, msg, encode2(msg, sum, count));
}

/* Twice(stream Num): each n back as factor * n, until the guest's end. */
static void calc_twice(hvrpc_stream *s, void *ud)
{
    (void)ud;
    for (;;) {
        hvrpc_buf b;
        hvrpc_status st;
        hvrpc_code code = hvrpc_stream_recv(s, &b, HVRPC_WAIT_FOREVER, &st);
        if (code != HVRPC_OK) {
            hvrpc_stream_finish(s, code == HVRPC_END ? HVRPC_OK : code, NULL);
            return;
        }
        uint32_t n, unused;
        decode2(b.data, b.len, &n, &unused);
        hvrpc_buf_free(&b);
        uint8_t msg[16];
        hvrpc_stream_send(s, msg, encode2(msg, (uint32_t)factor * n, 0),
                          HVRPC_WAIT_FOREVER, &st);
    }
}

static void calc_add(hvrpc_call *call, const uint8_t *req, size_t len, void *ud)
{
    (void)ud, (void)req, (void)len;
    hvrpc_call_fail(call, HVRPC_UNIMPLEMENTED, "not in this test");
}

static const hvrpc_method calc_methods[] = {
    {.name = "Add", .kind = HVRPC_UNARY, .handler = calc_add},
    {.name = "Sum", .kind = HVRPC_CLIENT_STREAMING, .stream = calc_sum},
    {.name = "Count", .kind = HVRPC_SERVER_STREAMING, .stream = calc_count},
    {.name = "Twice", .kind = HVRPC_BIDI_STREAMING, .stream = calc_twice},
};
static const hvrpc_service calc_service = {
    .name = CALC, .methods = calc_methods, .n_methods = 4};

/* --- the guest's script ----------------------------------------------------
 */

static uint32_t recv_num(hvrpc_stream *s, uint32_t *b, hvrpc_code *code)
{
    hvrpc_buf m;
    hvrpc_status st;
    uint32_t a = 0, unused;
    *code = hvrpc_stream_recv(s, &m, 20000, &st);
    if (*code == HVRPC_OK) {
        if (decode2(m.data, m.len, &a, b ? b : &unused) != 0)
            *code = HVRPC_DATA_LOSS;
        hvrpc_buf_free(&m);
    }
    return a;
}

static hvrpc_code send_num(hvrpc_stream *s, uint32_t n)
{
    uint8_t msg[16];
    hvrpc_status st;
    return hvrpc_stream_send(s, msg, encode2(msg, n, 0), 20000, &st);
}

static hvrpc_stream *open_stream(hvrpc_client *c, const char *method,
                                 hvrpc_method_kind kind, uint32_t first)
{
    hvrpc_stream_options o = HVRPC_STREAM_OPTIONS_INIT;
    hvrpc_metadata md[] = {{"guest", "calc-test"}};
    hvrpc_stream *s = NULL;
    hvrpc_status st;
    uint8_t req[16];
    size_t len = kind == HVRPC_SERVER_STREAMING ? encode2(req, first, 0) : 0;
    o.timeout_ms = 30000;
    o.metadata = md;
    o.n_metadata = 1;
    if (hvrpc_client_stream(c, CALC, method, kind, len ? req : NULL, len, &o,
                            &s, &st) != HVRPC_OK)
        fprintf(stderr, "open %s: %s\n", method, st.message);
    return s;
}

/* The guest: what it sends and what it relies on. */
static void guest_script(const char *uri)
{
    hvrpc_client *c = NULL;
    hvrpc_status st;
    hvrpc_code code;
    CHECK_INT(hvrpc_client_connect(uri, NULL, &c, &st), HVRPC_OK);
    if (!c)
        return;

    /* Server streaming: Count 3 -> 1, 2, 3, end. */
    hvrpc_stream *s = open_stream(c, "Count", HVRPC_SERVER_STREAMING, 3);
    CHECK(s != NULL);
    for (uint32_t i = 1; s && i <= 3; i++) {
        CHECK_INT(recv_num(s, NULL, &code), i);
        CHECK_INT(code, HVRPC_OK);
    }
    if (s) {
        recv_num(s, NULL, &code);
        CHECK_INT(code, HVRPC_END);
    }
    hvrpc_stream_free(s);

    /* Client streaming: 2, 3, 4 -> {sum 9, count 3}. */
    s = open_stream(c, "Sum", HVRPC_CLIENT_STREAMING, 0);
    CHECK(s != NULL);
    if (s) {
        for (uint32_t i = 2; i <= 4; i++)
            CHECK_INT(send_num(s, i), HVRPC_OK);
        CHECK_INT(hvrpc_stream_close_send(s, &st), HVRPC_OK);
        uint32_t count = 0;
        CHECK_INT(recv_num(s, &count, &code), 9);
        CHECK_INT(code, HVRPC_OK);
        CHECK_INT(count, 3);
    }
    hvrpc_stream_free(s);

    /* Bidi, in lockstep: 1 -> 2, 2 -> 4, 3 -> 6, then the guest ends. */
    s = open_stream(c, "Twice", HVRPC_BIDI_STREAMING, 0);
    CHECK(s != NULL);
    for (uint32_t i = 1; s && i <= 3; i++) {
        CHECK_INT(send_num(s, i), HVRPC_OK);
        CHECK_INT(recv_num(s, NULL, &code), 2 * i);
        CHECK_INT(code, HVRPC_OK);
    }
    if (s) {
        CHECK_INT(hvrpc_stream_close_send(s, &st), HVRPC_OK);
        recv_num(s, NULL, &code);
        CHECK_INT(code, HVRPC_END);
    }
    hvrpc_stream_free(s);

    /* A stream the host refuses: its status is part of the contract. */
    s = open_stream(c, "Count", HVRPC_SERVER_STREAMING, 11);
    CHECK(s != NULL);
    if (s) {
        recv_num(s, NULL, &code);
        CHECK_INT(code, HVRPC_OUT_OF_RANGE);
    }
    hvrpc_stream_free(s);
    hvrpc_client_free(c);
}

/* --- record through the CLI's proxy ------------------------------------- */

static pid_t start_proxy(const char *hvrpc, const char *proto,
                         const char *proto_dir, const char *listen,
                         const char *upstream, const char *out, const char *log)
{
    pid_t pid = fork();
    if (pid == 0) {
        if (!freopen(log, "w", stdout) || !freopen(log, "a", stderr))
            _exit(127);
        setvbuf(stdout, NULL, _IONBF, 0);
        execl(hvrpc, hvrpc, "contract", "record", "--listen", listen,
              "--upstream", upstream, "--proto", proto, "-I", proto_dir,
              "--service", CALC, "-o", out, (char *)NULL);
        _exit(127);
    }
    /* Wait (up to 30 s on a loaded machine) for "listening on". */
    for (int i = 0; pid > 0 && i < 600; i++) {
        char text[4096] = "";
        FILE *f = fopen(log, "r");
        if (f) {
            size_t n = fread(text, 1, sizeof text - 1, f);
            text[n] = '\0';
            fclose(f);
        }
        if (strstr(text, "listening on "))
            return pid;
        struct timespec ts = {0, 50 * 1000000L};
        nanosleep(&ts, NULL);
    }
    fprintf(stderr, "the recording proxy did not start\n");
    return -1;
}

/* The interaction's messages as compact JSON (free()). */
static char *messages_of(json_t *root, size_t i)
{
    json_t *in = json_array_get(json_object_get(root, "interactions"), i);
    return json_dumps(json_object_get(in, "messages"), JSON_COMPACT);
}

static void check_recording(const char *path)
{
    json_error_t err;
    json_t *root = json_load_file(path, 0, &err);
    CHECK(root != NULL);
    if (!root)
        return;
    json_t *ins = json_object_get(root, "interactions");
    CHECK_INT(json_array_size(ins), 4);
    const char *want[] = {
        "[{\"send\":{\"n\":3}},{\"receive\":{\"n\":1}},"
        "{\"receive\":{\"n\":2}},{\"receive\":{\"n\":3}}]",
        "[{\"send\":{\"n\":2}},{\"send\":{\"n\":3}},{\"send\":{\"n\":4}},"
        "{\"receive\":{\"sum\":9,\"count\":3}}]",
        "[{\"send\":{\"n\":1}},{\"receive\":{\"n\":2}},{\"send\":{\"n\":2}},"
        "{\"receive\":{\"n\":4}},{\"send\":{\"n\":3}},{\"receive\":{\"n\":6}}]",
        "[{\"send\":{\"n\":11}}]",
    };
    const char *methods[] = {"Count", "Sum", "Twice", "Count"};
    for (size_t i = 0; i < 4; i++) {
        json_t *in = json_array_get(ins, i);
        CHECK_STR(json_string_value(json_object_get(in, "method")), methods[i]);
        char *got = messages_of(root, i);
        CHECK_STR(got, want[i]);
        free(got);
        CHECK_STR(json_string_value(json_object_get(
                      json_object_get(in, "metadata"), "guest")),
                  "calc-test");
    }
    json_t *status = json_object_get(json_array_get(ins, 3), "status");
    CHECK_STR(json_string_value(json_object_get(status, "code")),
              "OUT_OF_RANGE");
    CHECK_STR(json_string_value(json_object_get(status, "message")),
              "count to 10 at most");
    json_decref(root);
}

/* --- verify and mock ------------------------------------------------------ */

static void check_verify(const hvrpc_contract *c, const char *uri)
{
    char *report = NULL;
    hvrpc_status st;
    CHECK_INT(hvrpc_contract_verify_uri(c, uri, NULL, &report, &st), HVRPC_OK);
    CHECK_STR(report, "ok   1 Count #1 (Count)\n"
                      "ok   2 Sum #2 (Sum)\n"
                      "ok   3 Twice #3 (Twice)\n"
                      "ok   4 Count #4 (Count)\n"
                      "4 interactions of streams.v1.Calc: 4 ok, 0 failed "
                      "(0 mismatches)\n");
    free(report);

    /* The host's broken change: the message and the field at fault. */
    atomic_store(&factor, 3);
    report = NULL;
    CHECK_INT(hvrpc_contract_verify_uri(c, uri, NULL, &report, &st),
              HVRPC_FAILED_PRECONDITION);
    CHECK_CONTAINS(report, "FAIL 3 Twice #3 (Twice)\n"
                           "     receive #1 $.n: expected 2, got 3\n"
                           "     receive #2 $.n: expected 4, got 6\n"
                           "     receive #3 $.n: expected 6, got 9\n");
    CHECK_CONTAINS(report, "4 interactions of streams.v1.Calc: 3 ok, 1 "
                           "failed (3 mismatches)");
    CHECK_CONTAINS(st.message, "1 of 4 interactions do not match");
    free(report);
    atomic_store(&factor, 2);
}

static void check_mock(const hvrpc_contract *c)
{
    hvrpc_contract_mock *m = NULL;
    hvrpc_status st;
    CHECK_INT(hvrpc_contract_mock_start(c, NULL, &m, &st), HVRPC_OK);
    if (!m)
        return;
    const char *uri = hvrpc_contract_mock_uri(m);
    CHECK(strncmp(uri, "mem://", 6) == 0);

    /* The guest, unchanged, against the mock: same answers, same order
     * (even the refused stream's status). The real host is not asked:
     * its Twice is broken meanwhile. */
    atomic_store(&factor, 5);
    guest_script(uri);
    atomic_store(&factor, 2);
    for (size_t i = 0; i < 4; i++)
        CHECK_INT(hvrpc_contract_mock_hits(m, i), 1);
    CHECK_INT(hvrpc_contract_mock_unexpected_count(m), 0);

    /* A guest that strays: Twice with 1 then 5 (the script says 2). */
    hvrpc_client *cl = NULL;
    hvrpc_code code;
    CHECK_INT(hvrpc_client_connect(uri, NULL, &cl, &st), HVRPC_OK);
    hvrpc_stream *s =
        cl ? open_stream(cl, "Twice", HVRPC_BIDI_STREAMING, 0) : NULL;
    CHECK(s != NULL);
    if (s) {
        CHECK_INT(send_num(s, 1), HVRPC_OK);
        CHECK_INT(recv_num(s, NULL, &code), 2);
        CHECK_INT(send_num(s, 5), HVRPC_OK);
        hvrpc_buf b;
        CHECK_INT(hvrpc_stream_recv(s, &b, 20000, &st),
                  HVRPC_FAILED_PRECONDITION);
        CHECK_CONTAINS(st.message, "send #2 $.n: expected 2, got 5");
    }
    hvrpc_stream_free(s);

    /* A stream whose first message matches nothing: the closest named. */
    s = cl ? open_stream(cl, "Count", HVRPC_SERVER_STREAMING, 4) : NULL;
    if (s) {
        hvrpc_buf b;
        CHECK_INT(hvrpc_stream_recv(s, &b, 20000, &st), HVRPC_UNIMPLEMENTED);
        CHECK_CONTAINS(st.message, "contract: unexpected call "
                                   "streams.v1.Calc/Count");
        CHECK_CONTAINS(st.message, "closest is 1 \"Count #1\"");
    }
    hvrpc_stream_free(s);
    hvrpc_client_free(cl);
    hvrpc_contract_mock_free(m);
}

int main(int argc, char **argv)
{
    if (argc != 4) {
        fprintf(stderr, "usage: %s HVRPC STREAMS_PROTO PROTO_DIR\n", argv[0]);
        return 2;
    }
    char dir[] = "/tmp/hvrpc-contract-streams.XXXXXX";
    if (!mkdtemp(dir))
        return 1;
    char calc_uri[128], rec_uri[128], out[128], log[128];
    snprintf(calc_uri, sizeof calc_uri, "unix://%s/calc.sock", dir);
    snprintf(rec_uri, sizeof rec_uri, "unix://%s/rec.sock", dir);
    snprintf(out, sizeof out, "%s/calc.contract.json", dir);
    snprintf(log, sizeof log, "%s/record.log", dir);

    /* The real host service (the proxy, another process, reaches it). */
    hvrpc_server *srv = NULL;
    hvrpc_endpoint *ep;
    hvrpc_status st;
    CHECK_INT(hvrpc_server_create(NULL, &srv, &st), HVRPC_OK);
    CHECK_INT(hvrpc_server_listen(srv, calc_uri, &ep, &st), HVRPC_OK);
    CHECK_INT(hvrpc_server_register(srv, ep, &calc_service, NULL, NULL, &st),
              HVRPC_OK);
    CHECK_INT(hvrpc_server_start(srv, &st), HVRPC_OK);

    pid_t proxy =
        start_proxy(argv[1], argv[2], argv[3], rec_uri, calc_uri, out, log);
    CHECK(proxy > 0);
    if (proxy > 0) {
        guest_script(rec_uri);
        kill(proxy, SIGTERM);
        int status = -1;
        waitpid(proxy, &status, 0);
        CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0);
        check_recording(out);
    }

    hvrpc_contract *c = NULL;
    CHECK_INT(hvrpc_contract_load(out, NULL, &c, &st), HVRPC_OK);
    if (c) {
        check_verify(c, calc_uri);
        check_mock(c);
    } else {
        fprintf(stderr, "load: %s\n", st.message);
    }
    hvrpc_contract_free(c);
    hvrpc_server_free(srv);
    unlink(out);
    unlink(log);
    rmdir(dir);
    return check_done();
}
