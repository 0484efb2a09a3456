/*
 * tests/integration/test_listen.c - listeners and taken addresses.
 *
 * - An address another process listens on: hvrpc_server_listen() refuses
 *   it at once with ALREADY_EXISTS and a message naming the address; the
 *   other server keeps serving; once it has stopped, the address can be
 *   listened on again.
 * - vsock: a fixed port and a kernel-chosen one (port any, which
 *   hvrpc_endpoint_address() resolves); a port taken on CID any is taken
 *   for CID 1 too; two `any` listeners get different ports; a connect to
 *   a port nobody listens on fails UNAVAILABLE naming the address.
 *
 * Usage: test_listen unix|tcp|vsock
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "integ_util.h"
#include "server_proc.h"

/* A fixed vsock port for the "specific port" case: far from the echo
 * service's 5000 and from the ports the kernel hands out to clients. */
#define FIXED_VSOCK_PORT 27610u

static const char *transport;

/* Listens on uri in this process; returns the code, the message in st. */
static hvrpc_code try_listen(const char *uri, hvrpc_status *st, char *bound,
                             size_t bound_size)
{
    hvrpc_server *srv = NULL;
    hvrpc_endpoint *ep = NULL;
    hvrpc_status_clear(st);
    hvrpc_code code = hvrpc_server_create(NULL, &srv, st);
    if (code == HVRPC_OK)
        code = hvrpc_server_listen(srv, uri, &ep, st);
    if (code == HVRPC_OK && bound)
        hvrpc_address_format(hvrpc_endpoint_address(ep), bound, bound_size);
    hvrpc_server_free(srv);
    return code;
}

static void call_works(const char *uri, const char *what)
{
    hvrpc_client *c = integ_connect(uri, 0);
    CHECK(c != NULL);
    if (!c)
        return;
    echo_req req = ECHO_REQ_INIT;
    req.payload.data = (uint8_t *)"still mine";
    req.payload.len = 10;
    echo_resp *r = NULL;
    hvrpc_status st;
    hvrpc_code code = integ_echo(c, &req, NULL, &r, &st);
    if (code != HVRPC_OK)
        fprintf(stderr, "%s: %s (%s)\n", what, hvrpc_code_name(code),
                st.message);
    CHECK_INT(code, HVRPC_OK);
    CHECK(echo_resp_payload_is(r, "still mine", 10));
    echo_resp_free(r);
    hvrpc_client_free(c);
}

/* A server in another process holds listen_uri (NULL: a fresh address of
 * the transport); a second listener on its resolved address is refused. */
static void test_taken(const char *listen_uri)
{
    fprintf(stderr, "-- address taken (%s%s%s)\n", transport,
            listen_uri ? ", " : "", listen_uri ? listen_uri : "");
    server_proc sp;
    server_proc_options so = {
        .transport = transport, .workers = 1, .listen_uri = listen_uri};
    char err[512];
    int started = server_proc_start(&sp, &so, err, sizeof err) == 0;
    if (!started)
        fprintf(stderr, "%s\n", err);
    CHECK(started);
    if (!started)
        return;
    fprintf(stderr, "server %d listens on %s\n", (int)sp.pid, sp.listen_uri);

    hvrpc_status st;
    hvrpc_code code = try_listen(sp.listen_uri, &st, NULL, 0);
    fprintf(stderr, "second listener on %s: %s: %s\n", sp.listen_uri,
            hvrpc_code_name(code), st.message);
    CHECK_INT(code, HVRPC_ALREADY_EXISTS);
    CHECK_INT(st.code, HVRPC_ALREADY_EXISTS);
    /* The message names the address as the user wrote it. */
    hvrpc_address a;
    CHECK_INT(hvrpc_address_parse(sp.listen_uri, &a, NULL), HVRPC_OK);
    char shown[HVRPC_ADDRESS_STRLEN];
    if (a.kind == HVRPC_ADDR_UNIX)
        snprintf(shown, sizeof shown, "%s", a.u.unix_sock.path);
    else
        hvrpc_address_format(&a, shown, sizeof shown);
    CHECK_CONTAINS(st.message, shown);

    if (a.kind == HVRPC_ADDR_VSOCK && a.u.vsock.cid == HVRPC_VSOCK_CID_ANY) {
        /* The port is taken on every CID, CID 1 included. */
        char local[HVRPC_ADDRESS_STRLEN];
        snprintf(local, sizeof local, "vsock://local:%" PRIu32, a.u.vsock.port);
        code = try_listen(local, &st, NULL, 0);
        fprintf(stderr, "listener on %s: %s: %s\n", local,
                hvrpc_code_name(code), st.message);
        CHECK_INT(code, HVRPC_ALREADY_EXISTS);
        CHECK_CONTAINS(st.message, local);
    }

    /* The refusal cost the first server nothing. */
    call_works(sp.uri, "the first server after the refused listen");
    CHECK_INT(server_proc_stop(&sp, 10000), 0);

    /* Free again once that server is gone (its unix socket file was
     * removed, its port released). */
    code = try_listen(sp.listen_uri, &st, NULL, 0);
    if (code != HVRPC_OK)
        fprintf(stderr, "listen on %s after the stop: %s: %s\n", sp.listen_uri,
                hvrpc_code_name(code), st.message);
    CHECK_INT(code, HVRPC_OK);
    server_proc_cleanup(&sp);
}

static void test_vsock_any(void)
{
    fprintf(stderr, "-- vsock port any\n");
    char a[HVRPC_ADDRESS_STRLEN] = "", b[HVRPC_ADDRESS_STRLEN] = "";
    hvrpc_status st;
    hvrpc_server *s1 = NULL, *s2 = NULL;
    hvrpc_endpoint *e1 = NULL, *e2 = NULL;
    CHECK_INT(hvrpc_server_create(NULL, &s1, &st), HVRPC_OK);
    CHECK_INT(hvrpc_server_create(NULL, &s2, &st), HVRPC_OK);
    if (s1 && s2) {
        CHECK_INT(hvrpc_server_listen(s1, "vsock://any:any", &e1, &st),
                  HVRPC_OK);
        CHECK_INT(hvrpc_server_listen(s2, "vsock://any:any", &e2, &st),
                  HVRPC_OK);
    }
    if (e1 && e2) {
        const hvrpc_address *a1 = hvrpc_endpoint_address(e1);
        const hvrpc_address *a2 = hvrpc_endpoint_address(e2);
        hvrpc_address_format(a1, a, sizeof a);
        hvrpc_address_format(a2, b, sizeof b);
        fprintf(stderr, "two listeners on vsock://any:any: %s and %s\n", a, b);
        CHECK_INT(a1->u.vsock.cid, HVRPC_VSOCK_CID_ANY);
        CHECK(a1->u.vsock.port != HVRPC_VSOCK_PORT_ANY);
        CHECK(a2->u.vsock.port != HVRPC_VSOCK_PORT_ANY);
        CHECK(a1->u.vsock.port != a2->u.vsock.port);
    }
    hvrpc_server_free(s2);
    hvrpc_server_free(s1);

    /* Nobody listens on the port s1 had: refused at once, naming it. */
    if (e1) {
        hvrpc_address gone;
        CHECK_INT(hvrpc_address_parse(a, &gone, NULL), HVRPC_OK);
        char uri[HVRPC_ADDRESS_STRLEN];
        snprintf(uri, sizeof uri, "vsock://local:%" PRIu32, gone.u.vsock.port);
        hvrpc_client_options o;
        hvrpc_client_options_init(&o);
        o.connect_timeout_ms = 3000;
        hvrpc_client *c = NULL;
        int64_t t0 = integ_now_ms();
        hvrpc_code code = hvrpc_client_connect(uri, &o, &c, &st);
        int64_t took = integ_now_ms() - t0;
        fprintf(stderr, "connect to %s (no listener): %s: %s (%lld ms)\n", uri,
                hvrpc_code_name(code), st.message, (long long)took);
        CHECK_INT(code, HVRPC_UNAVAILABLE);
        CHECK_CONTAINS(st.message, uri);
        CHECK(took < 2000);
        hvrpc_client_free(c);
    }
}

int main(int argc, char **argv)
{
    transport = integ_transport(argc, argv);
    if (!transport)
        return 2;
    test_taken(NULL);
    if (strcmp(transport, "vsock") == 0) {
        char fixed[64];
        snprintf(fixed, sizeof fixed, "vsock://any:%u", FIXED_VSOCK_PORT);
        test_taken(fixed);
        test_vsock_any();
    }
    integ_report_calls(transport);
    return check_done();
}
