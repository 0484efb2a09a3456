/* transport_tcp.c - TCP, for development, tests and remote debugging. */
#include <arpa/inet.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "transport.h"

/* Small frames go out at once: RPC latency, not bulk throughput. */
static void set_nodelay(int fd)
{
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
}

static hvrpc_code resolve(const hvrpc_address *a, int passive,
                          struct addrinfo **res, hvrpc_status *st)
{
    struct addrinfo hints;
    char port[8];
    memset(&hints, 0, sizeof hints);
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    hints.ai_flags = passive ? AI_PASSIVE : 0;
    snprintf(port, sizeof port, "%u", a->u.tcp.port);
    int r = getaddrinfo(a->u.tcp.host, port, &hints, res);
    if (r != 0)
        return hvrpc_status_set(st, HVRPC_UNAVAILABLE,
                                "tcp://%s:%u: cannot resolve: %s",
                                a->u.tcp.host, a->u.tcp.port, gai_strerror(r));
    return HVRPC_OK;
}

static uint16_t sockaddr_port(const struct sockaddr *sa)
{
    if (sa->sa_family == AF_INET)
        return ntohs(((const struct sockaddr_in *)(const void *)sa)->sin_port);
    return ntohs(((const struct sockaddr_in6 *)(const void *)sa)->sin6_port);
}

/* "1.2.3.4:80" or "[::1]:80" for a socket address. */
static void format_sockaddr(const struct sockaddr *sa, char *buf, size_t n)
{
    char host[INET6_ADDRSTRLEN] = "?";
    if (sa->sa_family == AF_INET) {
        inet_ntop(AF_INET,
                  &((const struct sockaddr_in *)(const void *)sa)->sin_addr,
                  host, sizeof host);
        snprintf(buf, n, "%s:%u", host, sockaddr_port(sa));
    } else {
        inet_ntop(AF_INET6,
                  &((const struct sockaddr_in6 *)(const void *)sa)->sin6_addr,
                  host, sizeof host);
        snprintf(buf, n, "[%s]:%u", host, sockaddr_port(sa));
    }
}

static hvrpc_code tcp_listen(const hvrpc_address *a, int backlog, int *fd,
                             hvrpc_address *bound, hvrpc_status *st)
{
    struct addrinfo *res;
    char what[HVRPC_HOST_MAX + 16];
    hvrpc_code c = resolve(a, 1, &res, st);
    if (c != HVRPC_OK)
        return c;
    snprintf(what, sizeof what, "tcp://%s:%u", a->u.tcp.host, a->u.tcp.port);
    c = hvrpc__sock_listen(res->ai_family, res->ai_addr, res->ai_addrlen,
                           backlog, fd, what, st);
    freeaddrinfo(res);
    if (c != HVRPC_OK)
        return c;
    struct sockaddr_storage ss;
    socklen_t len = sizeof ss;
    *bound = *a;
    if (getsockname(*fd, (struct sockaddr *)&ss, &len) == 0)
        bound->u.tcp.port = sockaddr_port((struct sockaddr *)&ss);
    return HVRPC_OK;
}

static int tcp_accept(int lfd, const hvrpc_address *bound, int *fd,
                      hvrpc_peer *peer)
{
    struct sockaddr_storage ss;
    socklen_t len = sizeof ss;
    int err = hvrpc__sock_accept(lfd, (struct sockaddr *)&ss, &len, fd);
    if (err)
        return err;
    set_nodelay(*fd);
    memset(peer, 0, sizeof *peer);
    peer->kind = HVRPC_ADDR_TCP;
    peer->uid = peer->gid = peer->pid = -1;
    format_sockaddr((struct sockaddr *)&ss, peer->tcp_addr,
                    sizeof peer->tcp_addr);
    return 0;
}

static hvrpc_code tcp_connect(const hvrpc_address *a, int64_t deadline_ns,
                              int *fd, hvrpc_status *st)
{
    struct addrinfo *res;
    char what[HVRPC_HOST_MAX + 16];
    hvrpc_code c = resolve(a, 0, &res, st);
    if (c != HVRPC_OK)
        return c;
    snprintf(what, sizeof what, "tcp://%s:%u", a->u.tcp.host, a->u.tcp.port);
    /* Try each resolved address in turn, as "localhost" may be ::1 first. */
    for (struct addrinfo *ai = res; ai; ai = ai->ai_next) {
        c = hvrpc__sock_connect(ai->ai_family, ai->ai_addr, ai->ai_addrlen,
                                deadline_ns, NULL, fd, what, st);
        if (c == HVRPC_OK) {
            set_nodelay(*fd);
            break;
        }
    }
    freeaddrinfo(res);
    return c;
}

const hvrpc__transport hvrpc__transport_tcp = {
    .name = "tcp",
    .listen = tcp_listen,
    .accept = tcp_accept,
    .connect = tcp_connect,
    .read = hvrpc__sock_read,
    .write = hvrpc__sock_write,
    .writev = hvrpc__sock_writev,
    .unlisten = hvrpc__sock_unlisten,
};
