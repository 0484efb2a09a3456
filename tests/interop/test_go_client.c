/*
 * test_go_client.c - containerd's Go ttrpc client calls our server.
 *
 * Starts an hvrpc server with the built-in echo service on a unix socket in
 * a fresh temporary directory, then runs `ttrpc-peer check SOCKPATH` (a Go
 * ttrpc client, tests/interop/go/ttrpc-peer) as a child process. The child
 * prints one line per check and exits 0 when all passed.
 *
 * With `vsock` the server listens on vsock://any:any (VMADDR_CID_ANY, a
 * port the kernel picks) and the Go client dials CID 1: run that way in
 * the QEMU guest of tests/vm (vsock_loopback). The Go client then checks
 * the peer identity our server reports: exactly vsock:1:<its own port>.
 *
 * usage: test_go_client PATH/TO/ttrpc-peer [unix|vsock]
 */
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include <hvrpc/hvrpc.h>

#include "check.h"
#include "echo_service.h"
#include "peer_proc.h"

/* How long the Go checks may take (they need ~3 s; ASan slows us). */
#define CHECK_RUN_TIMEOUT_MS 90000

static void log_to_stderr(hvrpc_log_level level, const char *line, void *arg)
{
    if (level <= HVRPC_LOG_WARN)
        fprintf(stderr, "hvrpc server: %s\n", line);
}

int main(int argc, char **argv)
{
    char dir[128], sock[192], uri[200];
    hvrpc_server_options opts;
    hvrpc_server *srv = NULL;
    hvrpc_endpoint *ep = NULL;
    hvrpc_status st;
    peer_proc peer = PEER_PROC_INIT;
    char desc[64];

    bool vsock = argc == 3 && strcmp(argv[2], "vsock") == 0;
    if (argc < 2 || argc > 3 ||
        (argc == 3 && !vsock && strcmp(argv[2], "unix"))) {
        fprintf(stderr, "usage: %s PATH/TO/ttrpc-peer [unix|vsock]\n", argv[0]);
        return 2;
    }
    if (peer_tmpdir(dir, sizeof dir) != 0)
        return 1;
    snprintf(sock, sizeof sock, "%s/echo.sock", dir);
    snprintf(uri, sizeof uri, vsock ? "vsock://any:any" : "unix://%s", sock);

    hvrpc_server_options_init(&opts);
    opts.log = log_to_stderr;
    hvrpc_status_clear(&st);
    CHECK_INT(hvrpc_server_create(&opts, &srv, &st), HVRPC_OK);
    if (srv) {
        CHECK_INT(hvrpc_server_listen(srv, uri, &ep, &st), HVRPC_OK);
        if (ep)
            CHECK_INT(hvrpc_echo_service_register(srv, ep, &st), HVRPC_OK);
    }
    if (check_failures == 0)
        CHECK_INT(hvrpc_server_start(srv, &st), HVRPC_OK);
    /* Where the Go client dials: the socket path, or CID 1 and the port
     * the kernel picked for our listener. */
    char target[200];
    snprintf(target, sizeof target, "%s", sock);
    if (check_failures == 0 && vsock) {
        const hvrpc_address *a = hvrpc_endpoint_address(ep);
        CHECK(a && a->kind == HVRPC_ADDR_VSOCK &&
              a->u.vsock.port != HVRPC_VSOCK_PORT_ANY);
        if (a)
            snprintf(target, sizeof target, "vsock://1:%u",
                     (unsigned)a->u.vsock.port);
        fprintf(stderr, "our server listens on vsock://any:%u\n",
                a ? (unsigned)a->u.vsock.port : 0u);
    }
    if (check_failures != 0) {
        fprintf(stderr, "server setup failed: %s: %s\n",
                hvrpc_code_name(st.code), st.message);
    } else {
        char *args[] = {argv[1], "check", target, NULL};

        CHECK_INT(peer_proc_start(&peer, args, false), 0);
        if (peer.pid > 0) {
            bool exited = peer_proc_wait(&peer, CHECK_RUN_TIMEOUT_MS);

            CHECK(exited);
            if (!exited)
                fprintf(stderr, "ttrpc-peer check did not finish in %d ms\n",
                        CHECK_RUN_TIMEOUT_MS);
            /* Kills and reaps it when still running. */
            peer_proc_stop(&peer, 2000);
            if (exited) {
                CHECK_STR(peer_proc_describe(peer.status, desc, sizeof desc),
                          "exit 0");
            }
        }
    }

    peer_proc_stop(&peer, 2000);
    if (srv)
        hvrpc_server_stop(srv);
    hvrpc_server_free(srv);
    unlink(sock);
    CHECK_INT(rmdir(dir), 0);
    return check_done();
}
