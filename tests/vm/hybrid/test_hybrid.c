/*
 * tests/vm/hybrid/test_hybrid.c - the host side of hybrid+vsock:// (the
 * Firecracker / Cloud Hypervisor scheme), against vmm_mux, a stand-in VMM
 * in another process, with echo servers in processes of their own.
 *
 * Host to guest: a client dials hybrid+vsock://DIR/v.sock:PORT; vmm_mux
 * answers the CONNECT handshake and relays to the "guest" echo server.
 *   - calls work (payloads, metadata, 1 MiB, 100 concurrent calls, two
 *     connections at once); the guest server sees the VMM process as its
 *     peer;
 *   - an OK line sent one byte at a time is read without losing a byte;
 *   - a port nobody listens on (the VMM closes), an error line instead of
 *     OK, an unlisted port, a relay target that refuses: UNAVAILABLE with
 *     the reason; no VMM socket at all: UNAVAILABLE;
 *   - a VMM that never answers: DEADLINE_EXCEEDED when the client's
 *     connect timeout (300 ms) passes;
 *   - the guest server killed: calls over the relay fail UNAVAILABLE.
 * Guest to host: an echo server listens on hybrid+vsock://DIR/v.sock:6000
 * (the unix socket DIR/v.sock_6000); a "guest" connection reaches it
 * through vmm_mux.
 *   - calls work; the server names the peer hybrid+vsock:6000 with the
 *     VMM's credentials;
 *   - a second listener on that port: ALREADY_EXISTS naming the path;
 *   - a guest connection to a host port nobody listens on: UNAVAILABLE;
 *   - a path too long for <path>_<port>: INVALID_ARGUMENT;
 *   - the stopped server removes its socket file.
 *
 * usage: test_hybrid PATH/TO/vmm_mux
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "check.h"
#include "integ_util.h"
#include "mux_proc.h"
#include "server_proc.h"

#define GUEST_PORT    5000u
#define HOST_PORT     6000u
#define N_CONCURRENT  100
#define CONNECT_TO_MS 300
#define ANSWER_TO_MS  10000

static char dir[64];
static char vsock_path[128]; /* the VMM's unix socket */

/* --- helpers ------------------------------------------------------------ */

static void path_in_dir(char *buf, size_t size, const char *name)
{
    snprintf(buf, size, "%s/%s", dir, name);
}

static hvrpc_client *connect_hybrid(uint32_t port, hvrpc_code want,
                                    const char *want_text, int64_t *took_ms)
{
    char uri[192];
    snprintf(uri, sizeof uri, "hybrid+vsock://%s:%u", vsock_path,
             (unsigned)port);
    hvrpc_client_options o;
    hvrpc_client_options_init(&o);
    /* Only the case that waits for the timeout uses the short one: on a
     * loaded machine an answering VMM may take longer than 300 ms. */
    o.connect_timeout_ms =
        want == HVRPC_DEADLINE_EXCEEDED ? CONNECT_TO_MS : ANSWER_TO_MS;
    hvrpc_client *c = NULL;
    hvrpc_status st;
    hvrpc_status_clear(&st);
    int64_t t0 = integ_now_ms();
    hvrpc_code code = hvrpc_client_connect(uri, &o, &c, &st);
    if (took_ms)
        *took_ms = integ_now_ms() - t0;
    if (code != want || want != HVRPC_OK)
        fprintf(stderr, "connect %s: %s: %s\n", uri, hvrpc_code_name(code),
                st.message);
    CHECK_INT(code, want);
    if (want_text)
        CHECK_CONTAINS(st.message, want_text);
    if (code != HVRPC_OK) {
        hvrpc_client_free(c);
        return NULL;
    }
    return c;
}

static int echo_text(hvrpc_client *c, const char *text, echo_resp **out)
{
    echo_req req = ECHO_REQ_INIT;
    req.payload.data = (uint8_t *)text;
    req.payload.len = strlen(text);
    echo_resp *r = NULL;
    hvrpc_status st;
    hvrpc_code code = integ_echo(c, &req, NULL, &r, &st);
    if (code != HVRPC_OK)
        fprintf(stderr, "echo \"%s\": %s: %s\n", text, hvrpc_code_name(code),
                st.message);
    CHECK_INT(code, HVRPC_OK);
    CHECK(echo_resp_payload_is(r, text, strlen(text)));
    if (out)
        *out = r;
    else
        echo_resp_free(r);
    return code == HVRPC_OK ? 0 : -1;
}

static void conc_done(const hvrpc_status *st, const uint8_t *resp, size_t len,
                      void *arg)
{
    integ_waiter *w = arg;
    echo_resp *r = st->code == HVRPC_OK ? echo_resp_decode(resp, len) : NULL;
    if (r && echo_resp_payload_is(r, "many", 4)) {
        integ_count_calls(1);
        integ_waiter_add(w, 1);
    } else {
        integ_waiter_add(w, 1000); /* shows as a wrong total */
    }
    echo_resp_free(r);
}

/* --- host to guest ------------------------------------------------------ */

static void test_host_to_guest(pid_t mux_pid)
{
    fprintf(stderr, "-- host to guest: hybrid+vsock://%s:%u\n", vsock_path,
            GUEST_PORT);
    hvrpc_client *c = connect_hybrid(GUEST_PORT, HVRPC_OK, NULL, NULL);
    hvrpc_client *c2 = connect_hybrid(GUEST_PORT, HVRPC_OK, NULL, NULL);
    if (!c || !c2) {
        hvrpc_client_free(c);
        hvrpc_client_free(c2);
        return;
    }
    /* The guest's server sees the VMM process. */
    echo_resp *r = NULL;
    if (echo_text(c, "through the VMM", &r) == 0) {
        char want[128];
        snprintf(want, sizeof want, "unix:uid=%u,gid=%u,pid=%d",
                 (unsigned)geteuid(), (unsigned)getegid(), (int)mux_pid);
        CHECK_STR(r->peer, want);
    }
    echo_resp_free(r);
    echo_text(c2, "a second connection", NULL);

    /* Metadata and a 1 MiB payload cross the relay intact. */
    static const hvrpc_metadata md[] = {{"x-vmm", "firecracker-ish"}};
    hvrpc_call_options o = HVRPC_CALL_OPTIONS_INIT;
    o.metadata = md;
    o.n_metadata = 1;
    size_t big_len = 1u << 20;
    uint8_t *big = malloc(big_len);
    CHECK(big != NULL);
    if (big) {
        for (size_t i = 0; i < big_len; i++)
            big[i] = (uint8_t)(i * 131u + (i >> 10));
        echo_req req = ECHO_REQ_INIT;
        req.payload.data = big;
        req.payload.len = big_len;
        hvrpc_status st;
        CHECK_INT(integ_echo(c, &req, &o, &r, &st), HVRPC_OK);
        CHECK(echo_resp_payload_is(r, big, big_len));
        CHECK_STR(echo_resp_meta(r, "x-vmm"), "firecracker-ish");
        echo_resp_free(r);
        free(big);
    }

    /* Many calls at once on one relayed connection. */
    integ_waiter w;
    integ_waiter_init(&w);
    echo_req req = ECHO_REQ_INIT;
    req.payload.data = (uint8_t *)"many";
    req.payload.len = 4;
    size_t len = 0;
    uint8_t *bytes = echo_req_pack(&req, &len);
    int started = 0;
    for (int i = 0; bytes && i < N_CONCURRENT; i++) {
        hvrpc_status st;
        if (hvrpc_client_call_async(c2, ECHO_SERVICE, ECHO_METHOD, bytes, len,
                                    NULL, conc_done, &w, &st) == HVRPC_OK)
            started++;
    }
    free(bytes);
    CHECK_INT(started, N_CONCURRENT);
    CHECK_INT(integ_waiter_wait(&w, started, 10000), started);
    hvrpc_client_free(c2);
    hvrpc_client_free(c);
    integ_waiter_destroy(&w);

    /* The OK line one byte at a time (port GUEST_PORT + 5). */
    c = connect_hybrid(GUEST_PORT + 5, HVRPC_OK, NULL, NULL);
    if (c)
        echo_text(c, "after a slow handshake", NULL);
    hvrpc_client_free(c);
}

static void test_refused(void)
{
    fprintf(stderr, "-- host to guest: refused ports\n");
    int64_t took = 0;
    /* The guest has no listener: the VMM closes the connection. */
    connect_hybrid(GUEST_PORT + 1, HVRPC_UNAVAILABLE,
                   "connection closed during the handshake", NULL);
    /* An error line instead of OK. */
    connect_hybrid(GUEST_PORT + 2, HVRPC_UNAVAILABLE,
                   "refused: \"ERR no listener\"", NULL);
    /* A port the VMM knows nothing of, and a relay target that refuses. */
    connect_hybrid(GUEST_PORT + 9, HVRPC_UNAVAILABLE, NULL, NULL);
    connect_hybrid(GUEST_PORT + 4, HVRPC_UNAVAILABLE, NULL, NULL);

    /* A VMM that never answers: the connect timeout ends it. */
    connect_hybrid(GUEST_PORT + 3, HVRPC_DEADLINE_EXCEEDED, "in time", &took);
    if (took < CONNECT_TO_MS - 20 || took > 2000)
        fprintf(stderr, "connect timeout %d ms took %lld ms\n", CONNECT_TO_MS,
                (long long)took);
    CHECK(took >= CONNECT_TO_MS - 20);
    CHECK(took <= 2000);

    /* No VMM socket at all. */
    char uri[192];
    snprintf(uri, sizeof uri, "hybrid+vsock://%s/nothing.sock:%u", dir,
             GUEST_PORT);
    hvrpc_client *c = NULL;
    hvrpc_status st;
    CHECK_INT(hvrpc_client_connect(uri, NULL, &c, &st), HVRPC_UNAVAILABLE);
    hvrpc_client_free(c);
}

/* --- guest to host ------------------------------------------------------ */

static void test_guest_to_host(const server_proc *host, pid_t mux_pid)
{
    fprintf(stderr, "-- guest to host: %s\n", host->listen_uri);
    char guest_out[128], uri[160];
    path_in_dir(guest_out, sizeof guest_out, "guest-out.sock");
    snprintf(uri, sizeof uri, "unix://%s", guest_out);
    hvrpc_client *c = integ_connect(uri, 0);
    CHECK(c != NULL);
    if (c) {
        echo_resp *r = NULL;
        if (echo_text(c, "from the guest", &r) == 0) {
            char want[128];
            snprintf(want, sizeof want, "hybrid+vsock:%u,uid=%u,gid=%u,pid=%d",
                     HOST_PORT, (unsigned)geteuid(), (unsigned)getegid(),
                     (int)mux_pid);
            CHECK_STR(r->peer, want);
        }
        echo_resp_free(r);
    }
    hvrpc_client_free(c);

    /* The port is taken: a second listener is refused, naming the path. */
    hvrpc_server *srv = NULL;
    hvrpc_status st;
    CHECK_INT(hvrpc_server_create(NULL, &srv, &st), HVRPC_OK);
    if (srv) {
        char sock[160];
        snprintf(sock, sizeof sock, "%s_%u", vsock_path, HOST_PORT);
        hvrpc_code code = hvrpc_server_listen(srv, host->listen_uri, NULL, &st);
        fprintf(stderr, "second listener on %s: %s: %s\n", host->listen_uri,
                hvrpc_code_name(code), st.message);
        CHECK_INT(code, HVRPC_ALREADY_EXISTS);
        CHECK_CONTAINS(st.message, sock);

        /* <path>_<port> must fit a unix socket path. */
        char long_uri[300];
        snprintf(long_uri, sizeof long_uri, "hybrid+vsock://%s/%0100d:%u", dir,
                 0, HOST_PORT);
        code = hvrpc_server_listen(srv, long_uri, NULL, &st);
        CHECK_INT(code, HVRPC_INVALID_ARGUMENT);
        CHECK_CONTAINS(st.message, "a unix socket allows");
    }
    hvrpc_server_free(srv);

    /* A guest connection to a host port nobody listens on: the VMM closes
     * it, and the call fails UNAVAILABLE. */
    char none[128];
    path_in_dir(none, sizeof none, "guest-out-none.sock");
    snprintf(uri, sizeof uri, "unix://%s", none);
    c = integ_connect(uri, 0);
    if (c) {
        echo_req req = ECHO_REQ_INIT;
        hvrpc_call_options o = HVRPC_CALL_OPTIONS_INIT;
        o.timeout_ms = 5000;
        CHECK_INT(integ_echo(c, &req, &o, NULL, &st), HVRPC_UNAVAILABLE);
    }
    hvrpc_client_free(c);
}

/* The guest server dies under a relayed connection. */
static void test_guest_gone(server_proc *guest)
{
    fprintf(stderr, "-- host to guest: the guest server killed\n");
    hvrpc_client *c = connect_hybrid(GUEST_PORT, HVRPC_OK, NULL, NULL);
    if (!c)
        return;
    echo_text(c, "before", NULL);
    CHECK_INT(server_proc_signal(guest, SIGKILL), 0);
    CHECK_INT(server_proc_wait(guest, 5000, NULL), 0);
    echo_req req = ECHO_REQ_INIT;
    hvrpc_call_options o = HVRPC_CALL_OPTIONS_INIT;
    o.timeout_ms = 5000;
    hvrpc_status st;
    int64_t t0 = integ_now_ms();
    CHECK_INT(integ_echo(c, &req, &o, NULL, &st), HVRPC_UNAVAILABLE);
    CHECK(integ_now_ms() - t0 < 2000);
    hvrpc_client_free(c);
}

int main(int argc, char **argv)
{
    if (argc != 2) {
        fprintf(stderr, "usage: %s PATH/TO/vmm_mux\n", argv[0]);
        return 2;
    }
    snprintf(dir, sizeof dir, "/tmp/hvrpc-hybrid-XXXXXX");
    if (!mkdtemp(dir)) {
        perror("mkdtemp");
        return 1;
    }
    path_in_dir(vsock_path, sizeof vsock_path, "v.sock");

    /* The servers first: fork only while this process has one thread. */
    char guest_sock[128], guest_uri[160], host_uri[192];
    path_in_dir(guest_sock, sizeof guest_sock, "guest-5000.sock");
    snprintf(guest_uri, sizeof guest_uri, "unix://%s", guest_sock);
    snprintf(host_uri, sizeof host_uri, "hybrid+vsock://%s:%u", vsock_path,
             HOST_PORT);
    server_proc guest, host;
    server_proc_options go = {.listen_uri = guest_uri, .workers = 2};
    server_proc_options ho = {.listen_uri = host_uri, .workers = 2};
    char err[512];
    int guest_ok = server_proc_start(&guest, &go, err, sizeof err) == 0;
    if (!guest_ok)
        fprintf(stderr, "guest server: %s\n", err);
    int host_ok = server_proc_start(&host, &ho, err, sizeof err) == 0;
    if (!host_ok)
        fprintf(stderr, "host server: %s\n", err);
    CHECK(guest_ok);
    CHECK(host_ok);

    char a_relay[160], a_slow[170], a_none[160], a_close[32], a_reply[48],
        a_silent[32], a_out[160], a_out_none[160], nobody[128];
    path_in_dir(nobody, sizeof nobody, "nobody.sock");
    snprintf(a_relay, sizeof a_relay, "%u=unix://%s", GUEST_PORT, guest_sock);
    snprintf(a_close, sizeof a_close, "%u=close", GUEST_PORT + 1);
    snprintf(a_reply, sizeof a_reply, "%u=reply:ERR no listener",
             GUEST_PORT + 2);
    snprintf(a_silent, sizeof a_silent, "%u=silent", GUEST_PORT + 3);
    snprintf(a_none, sizeof a_none, "%u=unix://%s", GUEST_PORT + 4, nobody);
    snprintf(a_slow, sizeof a_slow, "%u=slow:unix://%s", GUEST_PORT + 5,
             guest_sock);
    snprintf(a_out, sizeof a_out, "%s/guest-out.sock=%u", dir, HOST_PORT);
    snprintf(a_out_none, sizeof a_out_none, "%s/guest-out-none.sock=%u", dir,
             HOST_PORT + 1);
    char *mux_argv[] = {argv[1], "--uds",          vsock_path, "--port",
                        a_relay, "--port",         a_close,    "--port",
                        a_reply, "--port",         a_silent,   "--port",
                        a_none,  "--port",         a_slow,     "--guest-listen",
                        a_out,   "--guest-listen", a_out_none, NULL};
    mux_proc mux = {0, -1};
    int mux_ok = guest_ok && host_ok && mux_start(&mux, mux_argv) == 0;
    CHECK(mux_ok);

    if (mux_ok) {
        fprintf(stderr, "vmm_mux %d on %s\n", (int)mux.pid, vsock_path);
        test_host_to_guest(mux.pid);
        test_refused();
        test_guest_to_host(&host, mux.pid);
        test_guest_gone(&guest);
    }
    if (mux.pid > 0)
        CHECK_INT(mux_stop(&mux), 0);
    if (host_ok) {
        CHECK_INT(server_proc_stop(&host, 10000), 0);
        /* The hybrid listener removed <path>_<port>. */
        char sock[160];
        snprintf(sock, sizeof sock, "%s_%u", vsock_path, HOST_PORT);
        struct stat sb;
        CHECK(stat(sock, &sb) != 0 && errno == ENOENT);
    }
    server_proc_cleanup(&host);
    server_proc_cleanup(&guest);
    unlink(guest_sock);
    if (rmdir(dir) != 0)
        fprintf(stderr, "rmdir %s: %s\n", dir, strerror(errno));
    integ_report_calls("hybrid+vsock");
    return check_done();
}
