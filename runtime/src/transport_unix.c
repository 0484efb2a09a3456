/* transport_unix.c - AF_UNIX, filesystem paths and abstract names. */
#include <errno.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "transport.h"
#ifdef _WIN32
#include "win/platform_win.h"
#endif

/* A socket file nobody listens on (left by a crashed server) is replaced;
 * one that accepts connections is in use, and anything that is not a
 * socket is never touched (connect() to a regular file is refused too). */
#ifndef _WIN32
static int stale_socket(const struct sockaddr_un *sun, socklen_t len)
{
    struct stat sb;
    if (lstat(sun->sun_path, &sb) != 0 || !S_ISSOCK(sb.st_mode))
        return 0;
    int s = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (s < 0)
        return 0;
    int refused = connect(s, (const struct sockaddr *)sun, len) != 0 &&
                  errno == ECONNREFUSED;
    close(s);
    return refused;
}
#else
/* Windows: an AF_UNIX socket file is a reparse point; the test is the
 * same (a connect refused), through the Winsock helpers. */
static int stale_socket(const struct sockaddr_un *sun, socklen_t len)
{
    DWORD attr = GetFileAttributesA(sun->sun_path);
    if (attr == INVALID_FILE_ATTRIBUTES ||
        !(attr & FILE_ATTRIBUTE_REPARSE_POINT))
        return 0;
    int s;
    if (hvrpc__sock_socket(AF_UNIX, 0, &s) != 0)
        return 0;
    u_long zero = 0; /* a blocking connect: the answer is immediate */
    ioctlsocket((SOCKET)s, FIONBIO, &zero);
    int refused = connect((SOCKET)s, (const struct sockaddr *)sun, len) != 0 &&
                  hvrpc__wsa_set_errno() == ECONNREFUSED;
    hvrpc__sock_close(s);
    return refused;
}
#endif

hvrpc_code hvrpc__unix_listen_path(const char *path, int abstract, int backlog,
                                   int *fd, const char *what, hvrpc_status *st)
{
    struct sockaddr_un sun;
    socklen_t len;
    hvrpc_code c = hvrpc__unix_sockaddr(path, abstract, &sun, &len, st);
    if (c != HVRPC_OK)
        return c;
    c = hvrpc__sock_listen(AF_UNIX, (struct sockaddr *)&sun, len, backlog, fd,
                           what, st);
    if (c == HVRPC_ALREADY_EXISTS && !abstract && stale_socket(&sun, len)) {
        unlink(path);
        c = hvrpc__sock_listen(AF_UNIX, (struct sockaddr *)&sun, len, backlog,
                               fd, what, st);
    }
    return c;
}

static hvrpc_code unix_listen(const hvrpc_address *a, int backlog, int *fd,
                              hvrpc_address *bound, hvrpc_status *st)
{
    *bound = *a;
    return hvrpc__unix_listen_path(a->u.unix_sock.path, a->u.unix_sock.abstract,
                                   backlog, fd, a->u.unix_sock.path, st);
}

int hvrpc__unix_accept(int lfd, const hvrpc_address *bound, int *fd,
                       hvrpc_peer *peer)
{
    int err = hvrpc__sock_accept(lfd, NULL, NULL, fd);
    if (err)
        return err;
    memset(peer, 0, sizeof *peer);
    peer->kind = bound->kind;
    hvrpc__sock_peer_creds(*fd, peer);
    return 0;
}

static hvrpc_code unix_connect(const hvrpc_address *a, int64_t deadline_ns,
                               int *fd, hvrpc_status *st)
{
    struct sockaddr_un sun;
    socklen_t len;
    hvrpc_code c = hvrpc__unix_sockaddr(
        a->u.unix_sock.path, a->u.unix_sock.abstract, &sun, &len, st);
    if (c != HVRPC_OK)
        return c;
    return hvrpc__sock_connect(AF_UNIX, (struct sockaddr *)&sun, len,
                               deadline_ns, NULL, fd, a->u.unix_sock.path, st);
}

static void unix_unlisten(int lfd, const hvrpc_address *bound)
{
    hvrpc__sock_close(lfd);
    if (!bound->u.unix_sock.abstract)
        unlink(bound->u.unix_sock.path);
}

const hvrpc__transport hvrpc__transport_unix = {
    .name = "unix",
    .listen = unix_listen,
    .accept = hvrpc__unix_accept,
    .connect = unix_connect,
    .read = hvrpc__sock_read,
    .write = hvrpc__sock_write,
    .writev = hvrpc__sock_writev,
    .unlisten = unix_unlisten,
};
