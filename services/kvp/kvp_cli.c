/*
 * kvp_cli.c - hvrpc-kvp: the host's command line for the KVP pools of its
 * VMs, through hvrpc-kvp-host's admin socket (docs/KVP.md).
 *
 *   hvrpc-kvp [--admin URI] [--timeout MS] vms
 *   hvrpc-kvp [...] list VM [--pool guest|host]
 *   hvrpc-kvp [...] get VM KEY [--pool guest|host]
 *   hvrpc-kvp [...] set VM KEY VALUE
 *   hvrpc-kvp [...] del VM KEY
 *   hvrpc-kvp [...] watch VM [--pool guest|host]
 *
 * VM is an identity as the host saw the guest ("vsock:3", "unix:uid=0");
 * `vms` lists them. `--pool` defaults to guest (guest-to-host) for list,
 * get and watch; set and del write the host-to-guest pool. The exit status
 * is the call's status code (0 OK, 5 NOT_FOUND, 14 UNAVAILABLE, ...), 2
 * for a usage error.
 */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "hvrpc/kvp/v1/kvp.hvrpc.h"

#define DEFAULT_ADMIN "unix:///run/hvrpc/kvp-admin.sock"
#define EXIT_USAGE    2

static const char usage[] =
    "usage: hvrpc-kvp [--admin URI] [--timeout MS] COMMAND\n"
    "  vms                                the VMs the host knows\n"
    "  list VM [--pool guest|host]        a pool's keys (default guest)\n"
    "  get VM KEY [--pool guest|host]     one value\n"
    "  set VM KEY VALUE                   set a host-to-guest key\n"
    "  del VM KEY                         delete a host-to-guest key\n"
    "  watch VM [--pool guest|host]       a pool's keys, then its changes\n"
    "VM: an identity as the host saw the guest (vsock:3, unix:uid=0).\n"
    "--admin: default $HVRPC_HVRPC_KVP_V1_KVP_ADMIN_ADDR, else\n"
    "  " DEFAULT_ADMIN "\n";

static volatile sig_atomic_t stopping;

static void on_signal(int sig)
{
    (void)sig;
    stopping = 1;
}

static int call_failed(const char *what, hvrpc_code code,
                       const hvrpc_status *st)
{
    fprintf(stderr, "hvrpc-kvp: %s: %s: %s\n", what, hvrpc_code_name(code),
            st->message);
    return (int)code;
}

static int usage_error(const char *msg)
{
    fprintf(stderr, "hvrpc-kvp: %s\n%s", msg, usage);
    return EXIT_USAGE;
}

/* Prints one watch event; false once the stream is over. */
static void print_event(const Hvrpc__Kvp__V1__WatchEvent *ev)
{
    switch (ev->type) {
    case HVRPC__KVP__V1__WATCH_EVENT__TYPE__SET:
        printf("set %s=%s\n", ev->key, ev->value);
        break;
    case HVRPC__KVP__V1__WATCH_EVENT__TYPE__DELETED:
        printf("deleted %s\n", ev->key);
        break;
    case HVRPC__KVP__V1__WATCH_EVENT__TYPE__SYNCED:
        printf("synced\n");
        break;
    default:
        printf("event %d\n", (int)ev->type);
        break;
    }
    fflush(stdout);
}

static int cmd_watch(hvrpc_client *c, const char *vm, int pool)
{
    Hvrpc__Kvp__V1__AdminWatchRequest req =
        HVRPC__KVP__V1__ADMIN_WATCH_REQUEST__INIT;
    hvrpc_stream *s;
    hvrpc_status st;
    hvrpc_code code;
    struct sigaction sa;

    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_signal;
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    req.vm = (char *)vm;
    req.pool = pool;
    code = hvrpc__kvp__v1__kvp_admin__watch_open(c, &req, NULL, &s, &st);
    if (code != HVRPC_OK)
        return call_failed("watch", code, &st);
    for (;;) {
        Hvrpc__Kvp__V1__WatchEvent *ev;
        code = hvrpc__kvp__v1__kvp_admin__watch_recv(s, &ev, 200, &st);
        if (code == HVRPC_OK) {
            print_event(ev);
            protobuf_c_message_free_unpacked(&ev->base, NULL);
            continue;
        }
        if (code == HVRPC_WOULD_BLOCK && !stopping)
            continue;
        break;
    }
    hvrpc_stream_free(s);
    if (stopping || code == HVRPC_END)
        return 0;
    return call_failed("watch", code, &st);
}

static int parse_pool(const char *v, int *pool)
{
    if (strcmp(v, "guest") == 0 || strcmp(v, "guest-to-host") == 0)
        *pool = HVRPC__KVP__V1__POOL__GUEST_TO_HOST;
    else if (strcmp(v, "host") == 0 || strcmp(v, "host-to-guest") == 0)
        *pool = HVRPC__KVP__V1__POOL__HOST_TO_GUEST;
    else
        return -1;
    return 0;
}

int main(int argc, char **argv)
{
    const char *admin = NULL, *pos[4] = {NULL};
    size_t n_pos = 0;
    int pool = HVRPC__KVP__V1__POOL__GUEST_TO_HOST, rc = 0;
    unsigned long timeout_ms = 10000;
    hvrpc_call_options co = HVRPC_CALL_OPTIONS_INIT;
    hvrpc_client *c;
    hvrpc_status st;
    hvrpc_code code;
    const char *cmd;

    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        const char *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0) {
            fputs(usage, stdout);
            return 0;
        } else if (strcmp(a, "--admin") == 0 && v) {
            admin = v;
            i++;
        } else if (strcmp(a, "--timeout") == 0 && v) {
            timeout_ms = strtoul(v, NULL, 10);
            i++;
        } else if (strcmp(a, "--pool") == 0 && v) {
            if (parse_pool(v, &pool) != 0)
                return usage_error("--pool is guest or host");
            i++;
        } else if (a[0] == '-' && a[1] == '-') {
            return usage_error("unknown option");
        } else if (n_pos < 4) {
            pos[n_pos++] = a;
        } else {
            return usage_error("too many arguments");
        }
    }
    if (n_pos == 0)
        return usage_error("no command");
    cmd = pos[0];
    if (!((strcmp(cmd, "vms") == 0 && n_pos == 1) ||
          ((strcmp(cmd, "list") == 0 || strcmp(cmd, "watch") == 0) &&
           n_pos == 2) ||
          ((strcmp(cmd, "get") == 0 || strcmp(cmd, "del") == 0) &&
           n_pos == 3) ||
          (strcmp(cmd, "set") == 0 && n_pos == 4)))
        return usage_error("unknown command or wrong number of arguments");
    if (!admin) {
        admin = getenv(hvrpc__kvp__v1__kvp_admin_info.env_var);
        if (!admin || !*admin)
            admin = DEFAULT_ADMIN;
    }
    code = hvrpc_client_connect(admin, NULL, &c, &st);
    if (code != HVRPC_OK)
        return call_failed(admin, code, &st);
    co.timeout_ms = (uint32_t)timeout_ms;

    if (strcmp(cmd, "vms") == 0) {
        Hvrpc__Kvp__V1__ListVmsRequest req =
            HVRPC__KVP__V1__LIST_VMS_REQUEST__INIT;
        Hvrpc__Kvp__V1__ListVmsResponse *resp;
        code =
            hvrpc__kvp__v1__kvp_admin__list_vms_call(c, &req, &resp, &co, &st);
        if (code != HVRPC_OK) {
            rc = call_failed("vms", code, &st);
        } else {
            for (size_t i = 0; i < resp->n_vms; i++) {
                const Hvrpc__Kvp__V1__Vm *v = resp->vms[i];
                char when[32] = "never";
                time_t t = (time_t)v->last_report_unix;
                struct tm tm;
                if (t && gmtime_r(&t, &tm))
                    strftime(when, sizeof when, "%Y-%m-%dT%H:%M:%SZ", &tm);
                printf("%-24s guest_keys=%u host_keys=%u last_report=%s\n",
                       v->vm, v->guest_keys, v->host_keys, when);
            }
            protobuf_c_message_free_unpacked(&resp->base, NULL);
        }
    } else if (strcmp(cmd, "list") == 0) {
        Hvrpc__Kvp__V1__ListRequest req = HVRPC__KVP__V1__LIST_REQUEST__INIT;
        Hvrpc__Kvp__V1__ListResponse *resp;
        req.vm = (char *)pos[1];
        req.pool = pool;
        code = hvrpc__kvp__v1__kvp_admin__list_call(c, &req, &resp, &co, &st);
        if (code != HVRPC_OK) {
            rc = call_failed("list", code, &st);
        } else {
            for (size_t i = 0; i < resp->n_items; i++)
                printf("%s=%s\n", resp->items[i]->key, resp->items[i]->value);
            protobuf_c_message_free_unpacked(&resp->base, NULL);
        }
    } else if (strcmp(cmd, "get") == 0) {
        Hvrpc__Kvp__V1__GetRequest req = HVRPC__KVP__V1__GET_REQUEST__INIT;
        Hvrpc__Kvp__V1__GetResponse *resp;
        req.vm = (char *)pos[1];
        req.key = (char *)pos[2];
        req.pool = pool;
        code = hvrpc__kvp__v1__kvp_admin__get_call(c, &req, &resp, &co, &st);
        if (code != HVRPC_OK) {
            rc = call_failed("get", code, &st);
        } else {
            printf("%s\n", resp->value);
            protobuf_c_message_free_unpacked(&resp->base, NULL);
        }
    } else if (strcmp(cmd, "set") == 0) {
        Hvrpc__Kvp__V1__SetRequest req = HVRPC__KVP__V1__SET_REQUEST__INIT;
        Hvrpc__Kvp__V1__SetResponse *resp;
        req.vm = (char *)pos[1];
        req.key = (char *)pos[2];
        req.value = (char *)pos[3];
        code = hvrpc__kvp__v1__kvp_admin__set_call(c, &req, &resp, &co, &st);
        if (code != HVRPC_OK)
            rc = call_failed("set", code, &st);
        else
            protobuf_c_message_free_unpacked(&resp->base, NULL);
    } else if (strcmp(cmd, "del") == 0) {
        Hvrpc__Kvp__V1__DeleteRequest req =
            HVRPC__KVP__V1__DELETE_REQUEST__INIT;
        Hvrpc__Kvp__V1__DeleteResponse *resp;
        req.vm = (char *)pos[1];
        req.key = (char *)pos[2];
        code = hvrpc__kvp__v1__kvp_admin__delete_call(c, &req, &resp, &co, &st);
        if (code != HVRPC_OK)
            rc = call_failed("del", code, &st);
        else
            protobuf_c_message_free_unpacked(&resp->base, NULL);
    } else {
        rc = cmd_watch(c, pos[1], pool);
    }
    fflush(stdout);
    hvrpc_client_free(c);
    return rc;
}
