/*
 * transport_hvsock.c - AF_HYPERV (Windows hosts and guests), DESIGN.md
 * section 2.
 *
 * socket(AF_HYPERV = 34, SOCK_STREAM, HV_PROTOCOL_RAW = 1) with a
 * SOCKADDR_HV { Family, Reserved, VmId, ServiceId } (36 bytes; the GUIDs in
 * Windows' layout, which is hvrpc_guid's). hvrpc__hvsock_sockaddr() builds
 * it byte by byte on every platform, so the unit tests check it on Linux
 * too; the socket code is Windows only.
 *
 * - listen: bind (VmId, ServiceId): a specific VM, wildcard (zero: every
 *   partition this one may talk to), children, parent, loopback, silohost.
 *   Windows only accepts a ServiceId registered under GuestCommunication-
 *   Services (docs/WINDOWS.md, `hvrpc register`).
 * - accept: the peer's identity is the VmId (and ServiceId) the kernel
 *   reports for the connection (hvrpc_peer.vm_id / service_id).
 * - connect: HVSOCKET_CONNECT_TIMEOUT set from the deadline (at most
 *   300000 ms); a VM that is still booting refuses or times out, so a
 *   refused, unreachable or timed-out attempt is retried with backoff (50 ms
 *   doubling to 1 s) until the deadline. Without a deadline: one attempt.
 * - HVSOCKET_CONNECTED_SUSPEND is set on every socket unless the address
 *   says ?suspend=0: a paused or saved VM keeps its connections.
 *
 * On Linux, listen/connect return UNIMPLEMENTED: a Linux guest reaches a
 * Hyper-V host through vsock://2:PORT (hv_sock), whose port maps to the
 * service GUID.
 */
#include <errno.h>
#include <string.h>

#include "clock.h"
#include "transport.h"

static void put_le16(uint8_t *p, uint16_t v)
{
    p[0] = (uint8_t)v;
    p[1] = (uint8_t)(v >> 8);
}

static void put_le32(uint8_t *p, uint32_t v)
{
    put_le16(p, (uint16_t)v);
    put_le16(p + 2, (uint16_t)(v >> 16));
}

static void put_guid(uint8_t *p, const hvrpc_guid *g)
{
    put_le32(p, g->data1);
    put_le16(p + 4, g->data2);
    put_le16(p + 6, g->data3);
    memcpy(p + 8, g->data4, 8);
}

static void get_guid(const uint8_t *p, hvrpc_guid *g)
{
    g->data1 = (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 |
               (uint32_t)p[3] << 24;
    g->data2 = (uint16_t)(p[4] | p[5] << 8);
    g->data3 = (uint16_t)(p[6] | p[7] << 8);
    memcpy(g->data4, p + 8, 8);
}

void hvrpc__hvsock_sockaddr(const hvrpc_address *a,
                            uint8_t out[HVRPC__SOCKADDR_HV_LEN])
{
    put_le16(out, HVRPC__AF_HYPERV);
    put_le16(out + 2, 0);
    put_guid(out + 4, &a->u.hv.vm_id);
    put_guid(out + 20, &a->u.hv.service_id);
}

void hvrpc__hvsock_peer(const uint8_t sa[HVRPC__SOCKADDR_HV_LEN],
                        hvrpc_peer *peer)
{
    memset(peer, 0, sizeof *peer);
    peer->kind = HVRPC_ADDR_HVSOCK;
    peer->uid = peer->gid = peer->pid = -1;
    get_guid(sa + 4, &peer->vm_id);
    get_guid(sa + 20, &peer->service_id);
}

uint32_t hvrpc__hvsock_connect_timeout_ms(int64_t deadline_ns)
{
    if (deadline_ns == 0)
        return HVRPC__HVSOCKET_CONNECT_TIMEOUT_MAX;
    int ms = hvrpc__poll_timeout_ms(deadline_ns);
    if (ms <= 0)
        return 1;
    if ((uint32_t)ms > HVRPC__HVSOCKET_CONNECT_TIMEOUT_MAX)
        return HVRPC__HVSOCKET_CONNECT_TIMEOUT_MAX;
    return (uint32_t)ms;
}

#ifdef _WIN32
/* ------------------------------------------------------------------------ */
#include <stdio.h>

#include "win/platform_win.h"

#include <hvsocket.h>

/* mingw-w64 10's hvsocket.h lacks these; the values are Windows'. */
#ifndef AF_HYPERV
#define AF_HYPERV 34
#endif
#ifndef HVSOCKET_CONNECTED_SUSPEND
#define HVSOCKET_CONNECTED_SUSPEND 4
#endif

_Static_assert(sizeof(SOCKADDR_HV) == HVRPC__SOCKADDR_HV_LEN,
               "SOCKADDR_HV is 36 bytes");
_Static_assert(AF_HYPERV == HVRPC__AF_HYPERV, "AF_HYPERV is 34");
_Static_assert(HV_PROTOCOL_RAW == HVRPC__HV_PROTOCOL_RAW, "HV_PROTOCOL_RAW");
_Static_assert(HVSOCKET_CONNECT_TIMEOUT == HVRPC__HVSOCKET_CONNECT_TIMEOUT,
               "HVSOCKET_CONNECT_TIMEOUT");
_Static_assert(HVSOCKET_CONNECT_TIMEOUT_MAX ==
                   HVRPC__HVSOCKET_CONNECT_TIMEOUT_MAX,
               "HVSOCKET_CONNECT_TIMEOUT_MAX");

/* First and longest pause between connect attempts to a booting VM. */
#define RETRY_FIRST_MS 50
#define RETRY_MAX_MS   1000

static void name_addr(const hvrpc_address *a, char *buf, size_t n)
{
    if (hvrpc_address_format(a, buf, n) < 0)
        snprintf(buf, n, "hvsock://?");
}

static void set_suspend(int fd, const hvrpc_address *a)
{
    ULONG on = a->u.hv.no_suspend ? 0 : 1;
    setsockopt((SOCKET)fd, HV_PROTOCOL_RAW, HVSOCKET_CONNECTED_SUSPEND, &on,
               sizeof on);
}

/* Windows without Hyper-V sockets (or Wine) has no AF_HYPERV. */
static hvrpc_code explain_missing(hvrpc_code c, const char *what,
                                  hvrpc_status *st)
{
    if (c != HVRPC_OK && errno == EAFNOSUPPORT)
        return hvrpc_status_set(st, HVRPC_UNAVAILABLE,
                                "%s: AF_HYPERV is not available on this "
                                "system (Windows 10 / Server 2016 or later "
                                "with Hyper-V sockets)",
                                what);
    return c;
}

static hvrpc_code hvsock_listen(const hvrpc_address *a, int backlog, int *fd,
                                hvrpc_address *bound, hvrpc_status *st)
{
    uint8_t sa[HVRPC__SOCKADDR_HV_LEN];
    char what[HVRPC_ADDRESS_STRLEN];
    name_addr(a, what, sizeof what);
    hvrpc__hvsock_sockaddr(a, sa);
    hvrpc_code c = hvrpc__sock_listen_proto(
        AF_HYPERV, HV_PROTOCOL_RAW, (const struct sockaddr *)(void *)sa,
        (socklen_t)sizeof sa, backlog, fd, what, st);
    c = explain_missing(c, what, st);
    if (c != HVRPC_OK)
        return c;
    /* Accepted sockets inherit it from the listener. */
    set_suspend(*fd, a);
    *bound = *a;
    return HVRPC_OK;
}

static int hvsock_accept(int lfd, const hvrpc_address *bound, int *fd,
                         hvrpc_peer *peer)
{
    SOCKADDR_HV sa;
    socklen_t len = sizeof sa;
    memset(&sa, 0, sizeof sa);
    int err = hvrpc__sock_accept(lfd, (struct sockaddr *)&sa, &len, fd);
    if (err)
        return err;
    set_suspend(*fd, bound);
    hvrpc__hvsock_peer((const uint8_t *)&sa, peer);
    return 0;
}

/* The address of the connect being set up (one per thread). */
static _Thread_local const hvrpc_address *connecting;

static void setup_connect(int fd, int64_t deadline_ns)
{
    ULONG ms = hvrpc__hvsock_connect_timeout_ms(deadline_ns);
    setsockopt((SOCKET)fd, HV_PROTOCOL_RAW, HVSOCKET_CONNECT_TIMEOUT, &ms,
               sizeof ms);
    set_suspend(fd, connecting);
}

/* Errors a VM that is not up yet gives. */
static bool retryable(int err)
{
    return err == ECONNREFUSED || err == ENETUNREACH || err == EHOSTUNREACH ||
           err == ETIMEDOUT || err == ENETDOWN;
}

static hvrpc_code hvsock_connect(const hvrpc_address *a, int64_t deadline_ns,
                                 int *fd, hvrpc_status *st)
{
    uint8_t sa[HVRPC__SOCKADDR_HV_LEN];
    char what[HVRPC_ADDRESS_STRLEN];
    name_addr(a, what, sizeof what);
    hvrpc__hvsock_sockaddr(a, sa);
    int pause_ms = RETRY_FIRST_MS;
    for (;;) {
        connecting = a;
        hvrpc_code c = hvrpc__sock_connect_proto(
            AF_HYPERV, HV_PROTOCOL_RAW, (const struct sockaddr *)(void *)sa,
            (socklen_t)sizeof sa, deadline_ns, setup_connect, fd, what, st);
        connecting = NULL;
        int err = errno;
        if (c == HVRPC_OK)
            return c;
        if (c == HVRPC_DEADLINE_EXCEEDED || deadline_ns == 0 || !retryable(err))
            return explain_missing(c, what, st);
        int left = hvrpc__poll_timeout_ms(deadline_ns);
        if (left <= 0)
            return hvrpc_status_set(st, HVRPC_DEADLINE_EXCEEDED,
                                    "%s: connect timed out (last: %s)", what,
                                    hvrpc__sock_strerror(err));
        Sleep((DWORD)(left < pause_ms ? left : pause_ms));
        pause_ms = pause_ms * 2 > RETRY_MAX_MS ? RETRY_MAX_MS : pause_ms * 2;
    }
}

#else
/* ------------------------------------------------------------------------ */

static hvrpc_code not_here(hvrpc_status *st)
{
    return hvrpc_status_set(st, HVRPC_UNIMPLEMENTED,
                            "hvsock:// (AF_HYPERV) needs Windows; from a "
                            "Linux guest use vsock://2:PORT, whose port maps "
                            "to the service GUID");
}

static hvrpc_code hvsock_listen(const hvrpc_address *a, int backlog, int *fd,
                                hvrpc_address *bound, hvrpc_status *st)
{
    (void)a, (void)backlog, (void)fd, (void)bound;
    return not_here(st);
}

static int hvsock_accept(int lfd, const hvrpc_address *bound, int *fd,
                         hvrpc_peer *peer)
{
    (void)lfd, (void)bound, (void)fd, (void)peer;
    return EOPNOTSUPP;
}

static hvrpc_code hvsock_connect(const hvrpc_address *a, int64_t deadline_ns,
                                 int *fd, hvrpc_status *st)
{
    (void)a, (void)deadline_ns, (void)fd;
    return not_here(st);
}
#endif

const hvrpc__transport hvrpc__transport_hvsock = {
    .name = "hvsock",
    .listen = hvsock_listen,
    .accept = hvsock_accept,
    .connect = hvsock_connect,
    .read = hvrpc__sock_read,
    .write = hvrpc__sock_write,
    .writev = hvrpc__sock_writev,
    .unlisten = hvrpc__sock_unlisten,
};
