/*
 * tests/integration/integ_util.c - client-side helpers of the integration
 * tests.
 */
#include "integ_util.h"
#include "svc_time.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stddef.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include <linux/vm_sockets.h>

static atomic_int answered_calls;

const char *integ_transport(int argc, char **argv)
{
    if (argc == 2 &&
        (strcmp(argv[1], "unix") == 0 || strcmp(argv[1], "tcp") == 0 ||
         strcmp(argv[1], "vsock") == 0))
        return argv[1];
    fprintf(stderr, "usage: %s unix|tcp|vsock\n", argc > 0 ? argv[0] : "test");
    return NULL;
}

void integ_count_calls(int n)
{
    atomic_fetch_add(&answered_calls, n);
}

int integ_calls(void)
{
    return atomic_load(&answered_calls);
}

void integ_report_calls(const char *transport)
{
    fprintf(stderr, "calls answered: %d over %s\n", integ_calls(), transport);
}

int64_t integ_now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

hvrpc_client *integ_connect(const char *uri, uint32_t max_frame)
{
    hvrpc_client_options o;
    hvrpc_client_options_init(&o);
    if (max_frame)
        o.max_frame = max_frame;
    hvrpc_client *c = NULL;
    hvrpc_status st;
    hvrpc_status_clear(&st);
    hvrpc_code code = hvrpc_client_connect(uri, &o, &c, &st);
    if (code != HVRPC_OK || !c) {
        fprintf(stderr, "hvrpc_client_connect(%s): %s: %s\n", uri,
                hvrpc_code_name(code), st.message);
        hvrpc_client_free(c);
        return NULL;
    }
    return c;
}

uint8_t *echo_req_pack(const echo_req *req, size_t *len)
{
    size_t n = hvrpc__echo__v1__echo_request__get_packed_size(req);
    uint8_t *buf = malloc(n ? n : 1);
    if (!buf)
        return NULL;
    *len = hvrpc__echo__v1__echo_request__pack(req, buf);
    return buf;
}

echo_resp *echo_resp_decode(const uint8_t *data, size_t len)
{
    return hvrpc__echo__v1__echo_response__unpack(NULL, len, data);
}

void echo_resp_free(echo_resp *r)
{
    if (r)
        hvrpc__echo__v1__echo_response__free_unpacked(r, NULL);
}

hvrpc_code integ_echo(hvrpc_client *c, const echo_req *req,
                      const hvrpc_call_options *o, echo_resp **resp,
                      hvrpc_status *st)
{
    hvrpc_status local;
    if (!st)
        st = &local;
    hvrpc_status_clear(st);
    if (resp)
        *resp = NULL;
    hvrpc_buf buf = {NULL, 0};
    hvrpc_code code = hvrpc_client_call_message(c, ECHO_SERVICE, ECHO_METHOD,
                                                &req->base, o, &buf, st);
    if (code == HVRPC_OK) {
        echo_resp *r = echo_resp_decode(buf.data, buf.len);
        if (!r)
            code = hvrpc_status_set(st, HVRPC_DATA_LOSS,
                                    "EchoResponse of %zu bytes does not decode",
                                    buf.len);
        else if (resp)
            *resp = r;
        else
            echo_resp_free(r);
        if (r)
            integ_count_calls(1);
    }
    hvrpc_buf_free(&buf);
    return code;
}

const char *echo_resp_meta(const echo_resp *r, const char *key)
{
    for (size_t i = 0; r && i < r->n_metadata; i++) {
        if (r->metadata[i]->key && strcmp(r->metadata[i]->key, key) == 0)
            return r->metadata[i]->value;
    }
    return NULL;
}

int echo_resp_payload_is(const echo_resp *r, const void *data, size_t len)
{
    if (!r || r->payload.len != len)
        return 0;
    return len == 0 || memcmp(r->payload.data, data, len) == 0;
}

void integ_waiter_init(integ_waiter *w)
{
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_mutex_init(&w->mu, NULL);
    pthread_cond_init(&w->cv, &ca);
    pthread_condattr_destroy(&ca);
    w->count = 0;
}

void integ_waiter_destroy(integ_waiter *w)
{
    pthread_cond_destroy(&w->cv);
    pthread_mutex_destroy(&w->mu);
}

void integ_waiter_add(integ_waiter *w, int n)
{
    pthread_mutex_lock(&w->mu);
    w->count += n;
    pthread_cond_broadcast(&w->cv);
    pthread_mutex_unlock(&w->mu);
}

int integ_waiter_wait(integ_waiter *w, int target, int timeout_ms)
{
    struct timespec until = hvrpc_svc_deadline(CLOCK_MONOTONIC, timeout_ms);
    pthread_mutex_lock(&w->mu);
    while (w->count < target) {
        if (pthread_cond_timedwait(&w->cv, &w->mu, &until) == ETIMEDOUT)
            break;
    }
    int n = w->count;
    pthread_mutex_unlock(&w->mu);
    return n;
}

int integ_waiter_count(integ_waiter *w)
{
    pthread_mutex_lock(&w->mu);
    int n = w->count;
    pthread_mutex_unlock(&w->mu);
    return n;
}

int integ_raw_connect(const char *uri)
{
    hvrpc_address a;
    hvrpc_status st;
    if (hvrpc_address_parse(uri, &a, &st) != HVRPC_OK) {
        fprintf(stderr, "parse %s: %s\n", uri, st.message);
        return -1;
    }
    int fd = -1;
    if (a.kind == HVRPC_ADDR_UNIX) {
        struct sockaddr_un sun;
        memset(&sun, 0, sizeof sun);
        sun.sun_family = AF_UNIX;
        size_t plen = strlen(a.u.unix_sock.path);
        size_t off = a.u.unix_sock.abstract ? 1 : 0;
        if (plen + off >= sizeof sun.sun_path)
            return -1;
        memcpy(sun.sun_path + off, a.u.unix_sock.path, plen);
        socklen_t slen = (socklen_t)(offsetof(struct sockaddr_un, sun_path) +
                                     off + plen + (off ? 0 : 1));
        fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
        if (fd >= 0 && connect(fd, (struct sockaddr *)&sun, slen) != 0) {
            fprintf(stderr, "connect %s: %s\n", uri, strerror(errno));
            close(fd);
            return -1;
        }
    } else if (a.kind == HVRPC_ADDR_TCP) {
        struct sockaddr_in sin;
        memset(&sin, 0, sizeof sin);
        sin.sin_family = AF_INET;
        sin.sin_port = htons(a.u.tcp.port);
        if (inet_pton(AF_INET, a.u.tcp.host, &sin.sin_addr) != 1)
            return -1;
        fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
        if (fd >= 0 && connect(fd, (struct sockaddr *)&sin, sizeof sin) != 0) {
            fprintf(stderr, "connect %s: %s\n", uri, strerror(errno));
            close(fd);
            return -1;
        }
        int one = 1;
        if (fd >= 0)
            setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    } else if (a.kind == HVRPC_ADDR_VSOCK) {
        struct sockaddr_vm svm;
        memset(&svm, 0, sizeof svm);
        svm.svm_family = AF_VSOCK;
        svm.svm_cid = a.u.vsock.cid;
        svm.svm_port = a.u.vsock.port;
        fd = socket(AF_VSOCK, SOCK_STREAM | SOCK_CLOEXEC, 0);
        if (fd >= 0 && connect(fd, (struct sockaddr *)&svm, sizeof svm) != 0) {
            fprintf(stderr, "connect %s: %s\n", uri, strerror(errno));
            close(fd);
            return -1;
        }
    }
    if (fd >= 0)
        fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK);
    return fd;
}

int integ_send_all(int fd, const void *buf, size_t len, int timeout_ms)
{
    const uint8_t *p = buf;
    while (len > 0) {
        ssize_t k = send(fd, p, len, MSG_NOSIGNAL);
        if (k > 0) {
            p += k;
            len -= (size_t)k;
            continue;
        }
        if (k < 0 && errno == EINTR)
            continue;
        if (k < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
            struct pollfd pfd = {.fd = fd, .events = POLLOUT};
            int r = poll(&pfd, 1, timeout_ms);
            if (r < 0 && errno == EINTR)
                continue;
            if (r == 0) {
                fprintf(stderr, "send: the peer took nothing for %d ms\n",
                        timeout_ms);
                return -1;
            }
            continue;
        }
        fprintf(stderr, "send: %s\n", k < 0 ? strerror(errno) : "0 bytes");
        return -1;
    }
    return 0;
}

int integ_recv_all(int fd, void *buf, size_t len, int timeout_ms)
{
    uint8_t *p = buf;
    while (len > 0) {
        ssize_t k = recv(fd, p, len, 0);
        if (k > 0) {
            p += k;
            len -= (size_t)k;
            continue;
        }
        if (k == 0) {
            fprintf(stderr, "recv: the peer closed the connection\n");
            return -1;
        }
        if (errno == EINTR)
            continue;
        if (errno == EAGAIN || errno == EWOULDBLOCK) {
            struct pollfd pfd = {.fd = fd, .events = POLLIN};
            int r = poll(&pfd, 1, timeout_ms);
            if (r < 0 && errno == EINTR)
                continue;
            if (r == 0) {
                fprintf(stderr, "recv: nothing for %d ms\n", timeout_ms);
                return -1;
            }
            continue;
        }
        fprintf(stderr, "recv: %s\n", strerror(errno));
        return -1;
    }
    return 0;
}

void integ_frame_header(uint8_t h[10], uint32_t len, uint32_t id, uint8_t type,
                        uint8_t flags)
{
    h[0] = (uint8_t)(len >> 24);
    h[1] = (uint8_t)(len >> 16);
    h[2] = (uint8_t)(len >> 8);
    h[3] = (uint8_t)len;
    h[4] = (uint8_t)(id >> 24);
    h[5] = (uint8_t)(id >> 16);
    h[6] = (uint8_t)(id >> 8);
    h[7] = (uint8_t)id;
    h[8] = type;
    h[9] = flags;
}

int integ_listen(integ_listener *l, const char *transport)
{
    memset(l, 0, sizeof *l);
    l->fd = -1;
    if (strcmp(transport, "unix") == 0) {
        snprintf(l->dir, sizeof l->dir, "/tmp/hvrpc-listen-XXXXXX");
        if (!mkdtemp(l->dir)) {
            l->dir[0] = '\0';
            return -1;
        }
        struct sockaddr_un sun = {.sun_family = AF_UNIX};
        snprintf(sun.sun_path, sizeof sun.sun_path, "%s/s", l->dir);
        snprintf(l->uri, sizeof l->uri, "unix://%s", sun.sun_path);
        l->fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
        if (l->fd >= 0 &&
            (bind(l->fd, (struct sockaddr *)&sun, sizeof sun) != 0 ||
             listen(l->fd, 4) != 0)) {
            integ_listener_close(l);
            return -1;
        }
    } else if (strcmp(transport, "tcp") == 0) {
        struct sockaddr_in sin = {.sin_family = AF_INET};
        sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        socklen_t len = sizeof sin;
        l->fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
        if (l->fd >= 0 &&
            (bind(l->fd, (struct sockaddr *)&sin, sizeof sin) != 0 ||
             listen(l->fd, 4) != 0 ||
             getsockname(l->fd, (struct sockaddr *)&sin, &len) != 0)) {
            integ_listener_close(l);
            return -1;
        }
        snprintf(l->uri, sizeof l->uri, "tcp://127.0.0.1:%u",
                 ntohs(sin.sin_port));
    }
    return l->fd >= 0 ? 0 : -1;
}

void integ_listener_close(integ_listener *l)
{
    if (l->fd >= 0)
        close(l->fd);
    l->fd = -1;
    if (l->dir[0]) {
        char path[64];
        snprintf(path, sizeof path, "%s/s", l->dir);
        unlink(path);
        rmdir(l->dir);
        l->dir[0] = '\0';
    }
}
