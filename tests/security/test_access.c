/*
 * test_access.c - endpoint allow lists (checked at accept) and per-call
 * authorizers (hvrpc/access.h).
 */
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "check.h"
#include "raw_peer.h"

#define ECHO "hvrpc.echo.v1.Echo"

static void allow_other_uid(hvrpc_endpoint *ep)
{
    hvrpc_status st;
    CHECK_INT(hvrpc_endpoint_allow_uid(ep, (uint32_t)getuid() + 4242, &st),
              HVRPC_OK);
    CHECK_INT(hvrpc_endpoint_allow_vsock_cid(ep, 3, &st), HVRPC_OK);
}

static void allow_my_uid(hvrpc_endpoint *ep)
{
    hvrpc_status st;
    CHECK_INT(hvrpc_endpoint_allow_vsock_cid(ep, 3, &st), HVRPC_OK);
    CHECK_INT(hvrpc_endpoint_allow_uid(ep, (uint32_t)getuid(), &st), HVRPC_OK);
}

/* Counted on the server's loop thread, read by main once the calls are
 * answered: atomics, and no CHECK (not thread-safe) in the callback. */
static atomic_int authorized;
static atomic_int wrong_peer; /* calls whose peer was not this process */

/* Lets only Get* methods through, and says why not. */
static hvrpc_code read_only(const hvrpc_peer *peer, const char *svc,
                            const char *method, void *arg, hvrpc_status *st)
{
    if (peer->kind != HVRPC_ADDR_UNIX || peer->uid != (int64_t)getuid() ||
        arg != &authorized)
        atomic_fetch_add(&wrong_peer, 1);
    atomic_fetch_add(&authorized, 1);
    if (strncmp(method, "Get", 3) == 0)
        return HVRPC_OK;
    return hvrpc_status_set(st, HVRPC_PERMISSION_DENIED,
                            "%s.%s: read-only for guests", svc, method);
}

static void read_only_authorizer(hvrpc_endpoint *ep)
{
    hvrpc_status st;
    CHECK_INT(hvrpc_endpoint_set_authorizer(ep, read_only, &authorized, &st),
              HVRPC_OK);
}

int main(void)
{
    test_server ts;
    hvrpc_status st;

    /* Not on the list: closed at accept, the call fails UNAVAILABLE. */
    CHECK_INT(test_server_start(&ts, NULL, allow_other_uid), 0);
    int fd = raw_connect(&ts);
    CHECK(raw_wait_closed(fd, 2000));
    close(fd);
    CHECK_INT(client_echo(ts.uri, &st), HVRPC_UNAVAILABLE);
    /* Lists are fixed once the server runs. */
    CHECK_INT(hvrpc_endpoint_allow_uid(ts.ep, 0, &st),
              HVRPC_FAILED_PRECONDITION);
    test_server_stop(&ts);

    /* On the list: served. */
    CHECK_INT(test_server_start(&ts, NULL, allow_my_uid), 0);
    CHECK_INT(client_echo(ts.uri, &st), HVRPC_OK);
    test_server_stop(&ts);

    /* The authorizer refuses Echo with its own message, and refuses an
     * unknown service the same way: a refused peer learns nothing. */
    CHECK_INT(test_server_start(&ts, NULL, read_only_authorizer), 0);
    CHECK_INT(client_echo(ts.uri, &st), HVRPC_PERMISSION_DENIED);
    CHECK_STR(st.message, ECHO ".Echo: read-only for guests");
    fd = raw_connect(&ts);
    uint32_t stream;
    int code;
    char msg[256];
    CHECK_INT(raw_send_echo(fd, 1, "no.such.Service", "Echo", 1, 0, 0, 0, ""),
              0);
    CHECK_INT(raw_read_status(fd, 3000, &stream, &code, msg, sizeof msg), 0);
    CHECK_INT(code, HVRPC_PERMISSION_DENIED);
    /* A Get* method passes the authorizer and reaches the router. */
    CHECK_INT(raw_send_echo(fd, 3, ECHO, "GetThing", 1, 0, 0, 0, ""), 0);
    CHECK_INT(raw_read_status(fd, 3000, &stream, &code, msg, sizeof msg), 0);
    CHECK_INT(code, HVRPC_UNIMPLEMENTED);
    CHECK_INT(atomic_load(&authorized), 3);
    CHECK_INT(atomic_load(&wrong_peer), 0);
    close(fd);
    test_server_stop(&ts);
    return check_done();
}
