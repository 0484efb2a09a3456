/*
 * kvp_guest.c - hvrpc-kvp-guest: the guest side of the KVP data exchange
 * (docs/KVP.md).
 *
 *   hvrpc-kvp-guest [--once] [--fact KEY=VALUE]... [--no-facts]
 *                   [--interval SEC] [--get KEY] [--bus URI]
 *
 * Connects to hvrpc.kvp.v1.Kvp on its host (vsock://2:5003 in a Linux
 * guest, or HVRPC_HVRPC_KVP_V1_KVP_ADDR), reports its facts (hostname,
 * /etc/os-release, uname, addresses, /proc/uptime, and each --fact) as its
 * whole guest-to-host pool, then watches its host-to-guest pool and prints
 * every key and change ("set KEY=VALUE", "deleted KEY", "synced" after the
 * first snapshot). With --bus URI it follows that pool on the host's bus
 * instead (its private topic private.self.kvp.>, kvp_guest_bus.c), else
 * through its Kvp.Watch stream. Reports its uptime again every --interval
 * seconds
 * (default 60). When the host goes away it reconnects every second and
 * reports again. --once reports and exits; --get KEY prints one
 * host-to-guest value and exits. Exit status: 0, or the failing call's
 * status code (3 INVALID_ARGUMENT, 5 NOT_FOUND, 8 RESOURCE_EXHAUSTED, 14
 * UNAVAILABLE), 2 for a usage error.
 */
#include <arpa/inet.h>
#include <ifaddrs.h>
#include <net/if.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/utsname.h>
#include <time.h>
#include <unistd.h>

#include "hvrpc/kvp/v1/kvp.hvrpc.h"
#include "kvp_guest_bus.h"

#define MAX_FACTS    512  /* above the host's 256 keys, to show its answer */
#define VALUE_MAX    2048 /* the host's default value limit */
#define EXIT_USAGE   2
#define RECV_POLL    200
#define CALL_TIMEOUT 10000

static const char usage[] =
    "usage: hvrpc-kvp-guest [--once] [--fact KEY=VALUE]... [--no-facts]\n"
    "                       [--interval SEC] [--get KEY] [--bus URI]\n"
    "  --once          report the facts and exit\n"
    "  --fact K=V      report this pair too (repeatable)\n"
    "  --no-facts      report only the --fact pairs\n"
    "  --interval SEC  report uptime.seconds this often (default 60; 0: "
    "never)\n"
    "  --get KEY       print one host-to-guest value and exit\n"
    "  --bus URI       follow the host's keys on this bus (the host's\n"
    "                  hvrpc-kvp-host --bus), not through Kvp.Watch\n"
    "The host: vsock://2:5003, or $HVRPC_HVRPC_KVP_V1_KVP_ADDR.\n";

static volatile sig_atomic_t stopping;

static void on_signal(int sig)
{
    (void)sig;
    stopping = 1;
}

typedef struct facts {
    Hvrpc__Kvp__V1__KeyValue kv[MAX_FACTS];
    Hvrpc__Kvp__V1__KeyValue *ptrs[MAX_FACTS];
    char *owned[MAX_FACTS * 2];
    size_t n, n_owned;
} facts;

static char *own(facts *f, char *s)
{
    if (s && f->n_owned < MAX_FACTS * 2)
        f->owned[f->n_owned++] = s;
    return s;
}

static void add(facts *f, const char *key, const char *value)
{
    Hvrpc__Kvp__V1__KeyValue init = HVRPC__KVP__V1__KEY_VALUE__INIT;
    char *k, *v;

    if (f->n == MAX_FACTS || !value)
        return;
    k = own(f, strdup(key));
    v = own(f, strdup(value));
    if (!k || !v)
        return;
    f->kv[f->n] = init;
    f->kv[f->n].key = k;
    f->kv[f->n].value = v;
    f->ptrs[f->n] = &f->kv[f->n];
    f->n++;
}

static void facts_free(facts *f)
{
    for (size_t i = 0; i < f->n_owned; i++)
        free(f->owned[i]);
    f->n = f->n_owned = 0;
}

/* NAME="value" or NAME=value from an os-release file. */
static void os_release(facts *f)
{
    static const struct {
        const char *field, *key;
    } want[] = {
        {"PRETTY_NAME", "os.pretty_name"},
        {"ID", "os.id"},
        {"VERSION_ID", "os.version_id"},
    };
    char line[512];
    FILE *fp = fopen("/etc/os-release", "r");

    if (!fp)
        fp = fopen("/usr/lib/os-release", "r");
    if (!fp)
        return;
    while (fgets(line, sizeof line, fp)) {
        char *eq = strchr(line, '='), *val, *end;
        if (!eq)
            continue;
        *eq = '\0';
        val = eq + 1;
        val[strcspn(val, "\r\n")] = '\0';
        if (*val == '"' || *val == '\'') {
            char q = *val++;
            end = strrchr(val, q);
            if (end)
                *end = '\0';
        }
        for (size_t i = 0; i < sizeof want / sizeof want[0]; i++)
            if (strcmp(line, want[i].field) == 0)
                add(f, want[i].key, val);
    }
    fclose(fp);
}

static int prefix_len(const struct sockaddr *mask)
{
    const unsigned char *b;
    size_t n;
    int bits = 0;

    if (!mask)
        return 0;
    if (mask->sa_family == AF_INET) {
        b = (const unsigned char *)&((const struct sockaddr_in *)mask)
                ->sin_addr;
        n = 4;
    } else {
        b = (const unsigned char *)&((const struct sockaddr_in6 *)mask)
                ->sin6_addr;
        n = 16;
    }
    for (size_t i = 0; i < n; i++)
        for (int j = 7; j >= 0; j--)
            bits += (b[i] >> j) & 1;
    return bits;
}

/* "10.0.2.15/24 172.17.0.1/16": every address of an interface that is up
 * and not loopback, as long as it fits a value. */
static void addresses(facts *f)
{
    struct ifaddrs *ifa, *i;
    char v4[VALUE_MAX + 1] = "", v6[VALUE_MAX + 1] = "";

    if (getifaddrs(&ifa) != 0)
        return;
    for (i = ifa; i; i = i->ifa_next) {
        char addr[INET6_ADDRSTRLEN], one[INET6_ADDRSTRLEN + 16];
        char *out;
        int fam;

        if (!i->ifa_addr || (i->ifa_flags & IFF_LOOPBACK) ||
            !(i->ifa_flags & IFF_UP))
            continue;
        fam = i->ifa_addr->sa_family;
        if (fam == AF_INET)
            inet_ntop(fam, &((struct sockaddr_in *)i->ifa_addr)->sin_addr, addr,
                      sizeof addr);
        else if (fam == AF_INET6)
            inet_ntop(fam, &((struct sockaddr_in6 *)i->ifa_addr)->sin6_addr,
                      addr, sizeof addr);
        else
            continue;
        out = fam == AF_INET ? v4 : v6;
        snprintf(one, sizeof one, "%s%s/%d", out[0] ? " " : "", addr,
                 prefix_len(i->ifa_netmask));
        if (strlen(out) + strlen(one) <= VALUE_MAX)
            strcat(out, one);
    }
    freeifaddrs(ifa);
    add(f, "net.ipv4", v4);
    add(f, "net.ipv6", v6);
}

static void uptime(facts *f)
{
    double up = 0;
    char v[32];
    FILE *fp = fopen("/proc/uptime", "r");

    if (!fp)
        return;
    if (fscanf(fp, "%lf", &up) == 1) {
        snprintf(v, sizeof v, "%lld", (long long)up);
        add(f, "uptime.seconds", v);
    }
    fclose(fp);
}

static void collect(facts *f, bool system, char **extra, size_t n_extra)
{
    char host[256];
    struct utsname u;

    if (system) {
        if (gethostname(host, sizeof host) == 0) {
            host[sizeof host - 1] = '\0';
            add(f, "hostname", host);
        }
        os_release(f);
        if (uname(&u) == 0) {
            add(f, "kernel.release", u.release);
            add(f, "kernel.version", u.version);
            add(f, "arch", u.machine);
        }
        addresses(f);
        uptime(f);
        add(f, "agent", "hvrpc-kvp-guest");
    }
    for (size_t i = 0; i < n_extra; i++) {
        char *eq = strchr(extra[i], '=');
        *eq = '\0';
        add(f, extra[i], eq + 1);
        *eq = '=';
    }
}

static hvrpc_code report(hvrpc_client *c, facts *f, bool replace, bool announce,
                         hvrpc_status *st)
{
    Hvrpc__Kvp__V1__ReportRequest req = HVRPC__KVP__V1__REPORT_REQUEST__INIT;
    Hvrpc__Kvp__V1__ReportResponse *resp;
    hvrpc_call_options co = HVRPC_CALL_OPTIONS_INIT;
    hvrpc_code code;

    co.timeout_ms = CALL_TIMEOUT;
    req.n_set = f->n;
    req.set = f->ptrs;
    req.replace = replace;
    code = hvrpc__kvp__v1__kvp__report_call(c, &req, &resp, &co, st);
    if (code != HVRPC_OK)
        return code;
    if (announce) {
        printf("hvrpc-kvp-guest: reported %zu facts to the host as %s (%u "
               "keys)\n",
               f->n, resp->vm, resp->keys);
        fflush(stdout);
    }
    protobuf_c_message_free_unpacked(&resp->base, NULL);
    return HVRPC_OK;
}

static int failed(const char *what, hvrpc_code code, const hvrpc_status *st)
{
    fprintf(stderr, "hvrpc-kvp-guest: %s: %s: %s\n", what,
            hvrpc_code_name(code), st->message);
    return (int)code;
}

static void nap(int ms)
{
    for (int t = 0; t < ms && !stopping; t += 100) {
        struct timespec ts = {0, 100 * 1000000L};
        nanosleep(&ts, NULL);
    }
}

static int64_t now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec;
}

static int get_one(hvrpc_client *c, const char *key)
{
    Hvrpc__Kvp__V1__ReadRequest req = HVRPC__KVP__V1__READ_REQUEST__INIT;
    Hvrpc__Kvp__V1__ReadResponse *resp;
    hvrpc_call_options co = HVRPC_CALL_OPTIONS_INIT;
    hvrpc_status st;
    hvrpc_code code;

    co.timeout_ms = CALL_TIMEOUT;
    req.key = (char *)key;
    code = hvrpc__kvp__v1__kvp__read_call(c, &req, &resp, &co, &st);
    if (code != HVRPC_OK)
        return failed("get", code, &st);
    if (resp->n_items == 1)
        printf("%s\n", resp->items[0]->value);
    protobuf_c_message_free_unpacked(&resp->base, NULL);
    return 0;
}

/* Reports uptime every interval seconds (0: never): the tick of watch()
 * and of the bus path. */
typedef struct ticker {
    hvrpc_client *c;
    unsigned interval;
    int64_t next;
} ticker;

static hvrpc_code tick(void *arg, hvrpc_status *st)
{
    ticker *t = arg;
    facts f = {0};
    hvrpc_code code;

    (void)st;
    if (!t->interval || now_s() < t->next)
        return HVRPC_OK;
    uptime(&f);
    code = report(t->c, &f, false, false, st);
    if (code != HVRPC_OK)
        fprintf(stderr, "hvrpc-kvp-guest: uptime report: %s\n", st->message);
    facts_free(&f);
    t->next = now_s() + t->interval;
    /* A host that is gone ends the bus path too (the watch notices by
     * its stream); a refused report does not. */
    return code == HVRPC_UNAVAILABLE ? code : HVRPC_OK;
}

/* Watches the host-to-guest pool until the stream ends or a signal;
 * reports uptime every interval seconds meanwhile. */
static hvrpc_code watch(hvrpc_client *c, unsigned interval, hvrpc_status *st)
{
    Hvrpc__Kvp__V1__WatchRequest req = HVRPC__KVP__V1__WATCH_REQUEST__INIT;
    hvrpc_stream *s;
    hvrpc_code code;
    ticker t = {c, interval, now_s() + interval};
    hvrpc_status tst;

    code = hvrpc__kvp__v1__kvp__watch_open(c, &req, NULL, &s, st);
    if (code != HVRPC_OK)
        return code;
    while (!stopping) {
        Hvrpc__Kvp__V1__WatchEvent *ev;
        code = hvrpc__kvp__v1__kvp__watch_recv(s, &ev, RECV_POLL, st);
        if (code == HVRPC_OK) {
            if (ev->type == HVRPC__KVP__V1__WATCH_EVENT__TYPE__SET)
                printf("set %s=%s\n", ev->key, ev->value);
            else if (ev->type == HVRPC__KVP__V1__WATCH_EVENT__TYPE__DELETED)
                printf("deleted %s\n", ev->key);
            else if (ev->type == HVRPC__KVP__V1__WATCH_EVENT__TYPE__SYNCED)
                printf("synced\n");
            fflush(stdout);
            protobuf_c_message_free_unpacked(&ev->base, NULL);
        } else if (code != HVRPC_WOULD_BLOCK) {
            break;
        }
        tick(&t, &tst);
    }
    hvrpc_stream_free(s);
    return stopping ? HVRPC_OK : code;
}

int main(int argc, char **argv)
{
    char *extra[MAX_FACTS];
    size_t n_extra = 0;
    bool once = false, system = true, waiting = false;
    unsigned long interval = 60;
    const char *get = NULL, *bus_uri = NULL;
    struct sigaction sa;
    int rc = 0;

    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        char *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0) {
            fputs(usage, stdout);
            return 0;
        } else if (strcmp(a, "--once") == 0) {
            once = true;
        } else if (strcmp(a, "--no-facts") == 0) {
            system = false;
        } else if (strcmp(a, "--fact") == 0 && v && strchr(v, '=') &&
                   n_extra < MAX_FACTS) {
            extra[n_extra++] = v;
            i++;
        } else if (strcmp(a, "--interval") == 0 && v) {
            interval = strtoul(v, NULL, 10);
            i++;
        } else if (strcmp(a, "--bus") == 0 && v) {
            bus_uri = v;
            i++;
        } else if (strcmp(a, "--get") == 0 && v) {
            get = v;
            i++;
        } else {
            fprintf(stderr, "hvrpc-kvp-guest: bad argument %s\n%s", a, usage);
            return EXIT_USAGE;
        }
    }
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_signal;
    sa.sa_flags = SA_RESTART;
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);

    while (!stopping) {
        hvrpc_client *c;
        hvrpc_status st;
        hvrpc_code code = hvrpc__kvp__v1__kvp_connect_host(NULL, &c, &st);
        facts f = {0};

        if (code != HVRPC_OK) {
            if (once || get)
                return failed("connect", code, &st);
            if (!waiting)
                fprintf(stderr, "hvrpc-kvp-guest: waiting for the host (%s)\n",
                        st.message);
            waiting = true;
            nap(1000);
            continue;
        }
        waiting = false;
        if (get) {
            rc = get_one(c, get);
            hvrpc_client_free(c);
            return rc;
        }
        collect(&f, system, extra, n_extra);
        code = report(c, &f, true, true, &st);
        facts_free(&f);
        if (code == HVRPC_OK && !once && bus_uri) {
            ticker t = {c, (unsigned)interval, now_s() + (int64_t)interval};
            code = kvp_guest_follow_bus(c, bus_uri, tick, &t, &stopping, &st);
        } else if (code == HVRPC_OK && !once) {
            code = watch(c, (unsigned)interval, &st);
        }
        hvrpc_client_free(c);
        if (once)
            return code == HVRPC_OK ? 0 : failed("report", code, &st);
        if (code == HVRPC_INVALID_ARGUMENT ||
            code == HVRPC_RESOURCE_EXHAUSTED || code == HVRPC_PERMISSION_DENIED)
            return failed("report", code, &st);
        if (!stopping) {
            fprintf(stderr,
                    "hvrpc-kvp-guest: lost the host (%s: %s); "
                    "reconnecting\n",
                    hvrpc_code_name(code), st.message);
            nap(1000);
        }
    }
    return rc;
}
