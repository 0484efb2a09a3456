/*
 * kvp_host.c - hvrpc-kvp-host: the host side of the KVP data exchange
 * (docs/KVP.md).
 *
 *   hvrpc-kvp-host [--db PATH] [--listen URI] [--admin URI]
 *                  [--admin-uid UID]... [--bus URI] [--quiet]
 *
 * Serves hvrpc.kvp.v1.Kvp to guests on its endpoint (vsock://any:5003, or
 * HVRPC_HVRPC_KVP_V1_KVP_ADDR, or --listen) and hvrpc.kvp.v1.KvpAdmin on a
 * unix socket (--admin, HVRPC_HVRPC_KVP_V1_KVP_ADMIN_ADDR, default
 * unix:///run/hvrpc/kvp-admin.sock) that only uid 0, this process's uid
 * and each --admin-uid may connect to. Pools live in SQLite at --db
 * (default /var/lib/hvrpc/kvp.db). With --bus, each host-to-guest change
 * is also published on that bus, on the guest's private topic
 * private.<key>.kvp.set|delete (kvp_bus.h). Runs until SIGINT or SIGTERM.
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "kvp_bus.h"
#include "kvp_service.h"

#define DEFAULT_DB    "/var/lib/hvrpc/kvp.db"
#define DEFAULT_ADMIN "unix:///run/hvrpc/kvp-admin.sock"
#define MAX_UIDS      16
#define KVP_MAX_FRAME (1024u * 1024u)

static const char usage[] =
    "usage: hvrpc-kvp-host [--db PATH] [--listen URI] [--admin URI]\n"
    "                      [--admin-uid UID]... [--bus URI] [--quiet]\n"
    "  --db PATH        the SQLite store (default " DEFAULT_DB ")\n"
    "  --listen URI     the guests' endpoint (default: vsock://any:5003,\n"
    "                   or $HVRPC_HVRPC_KVP_V1_KVP_ADDR)\n"
    "  --admin URI      the admin socket, unix:// only (default:\n"
    "                   $HVRPC_HVRPC_KVP_V1_KVP_ADMIN_ADDR, else\n"
    "                   " DEFAULT_ADMIN ")\n"
    "  --admin-uid UID  also let this uid administer (uid 0 and this\n"
    "                   process's uid always may)\n"
    "  --bus URI        also publish each host-to-guest change on this bus\n"
    "                   (private.<vm>.kvp.set|delete; e.g.\n"
    "                   unix:///run/hvrpc/bus.sock)\n"
    "  --quiet          do not log reports and changes\n";

static void log_line(const char *line, void *arg)
{
    (void)arg;
    printf("hvrpc-kvp-host: %s\n", line);
    fflush(stdout);
}

static void server_log(hvrpc_log_level level, const char *line, void *arg)
{
    (void)arg;
    if (level <= HVRPC_LOG_WARN)
        fprintf(stderr, "hvrpc-kvp-host: %s\n", line);
}

/* Creates the parent directory of path (one level) when it is missing, so
 * the defaults work on a fresh host. */
static void make_parent(const char *path)
{
    char dir[4096];
    char *slash;

    if (strlen(path) >= sizeof dir)
        return;
    strcpy(dir, path);
    slash = strrchr(dir, '/');
    if (!slash || slash == dir)
        return;
    *slash = '\0';
    if (mkdir(dir, 0755) != 0 && errno != EEXIST)
        fprintf(stderr, "hvrpc-kvp-host: mkdir %s: %s\n", dir, strerror(errno));
}

static int fail(const char *what, const hvrpc_status *st)
{
    fprintf(stderr, "hvrpc-kvp-host: %s: %s: %s\n", what,
            hvrpc_code_name(st->code), st->message);
    return 1;
}

int main(int argc, char **argv)
{
    const char *db = DEFAULT_DB, *listen_uri = NULL, *admin = NULL;
    const char *bus_uri = NULL;
    hvrpc_kvp_bus *pub = NULL;
    uint32_t uids[MAX_UIDS];
    size_t n_uids = 0;
    bool quiet = false;
    hvrpc_kvp_store *store = NULL;
    hvrpc_kvp *kvp = NULL;
    hvrpc_server *srv = NULL;
    hvrpc_endpoint *ep = NULL, *admin_ep = NULL;
    hvrpc_server_options so;
    hvrpc_status st;
    char where[HVRPC_ADDRESS_STRLEN], admin_where[HVRPC_ADDRESS_STRLEN];
    hvrpc_kvp_vm_list vms;
    sigset_t stop;
    int sig, rc = 1;

    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        const char *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0) {
            fputs(usage, stdout);
            return 0;
        } else if (strcmp(a, "--quiet") == 0) {
            quiet = true;
        } else if (v && strcmp(a, "--db") == 0) {
            db = v;
            i++;
        } else if (v && strcmp(a, "--listen") == 0) {
            listen_uri = v;
            i++;
        } else if (v && strcmp(a, "--bus") == 0) {
            bus_uri = v;
            i++;
        } else if (v && strcmp(a, "--admin") == 0) {
            admin = v;
            i++;
        } else if (v && strcmp(a, "--admin-uid") == 0) {
            char *end;
            unsigned long u = strtoul(v, &end, 10);
            if (*v == '\0' || *end != '\0' || u > UINT32_MAX ||
                n_uids == MAX_UIDS) {
                fprintf(stderr, "hvrpc-kvp-host: bad --admin-uid %s\n", v);
                return 2;
            }
            uids[n_uids++] = (uint32_t)u;
            i++;
        } else {
            fprintf(stderr, "hvrpc-kvp-host: unknown argument %s\n%s", a,
                    usage);
            return 2;
        }
    }
    if (!admin) {
        admin = getenv(hvrpc__kvp__v1__kvp_admin_info.env_var);
        if (!admin || !*admin)
            admin = DEFAULT_ADMIN;
    }
    /* The admin service trusts its callers with every VM's pools: only a
     * unix socket, whose callers the kernel names by uid. */
    if (strncmp(admin, "unix://", 7) != 0) {
        fprintf(stderr,
                "hvrpc-kvp-host: --admin %s: the admin endpoint must be a "
                "unix:// socket\n",
                admin);
        return 2;
    }

    /* Blocked before the server starts its threads, which inherit the
     * mask: only sigwait() below sees these. */
    sigemptyset(&stop);
    sigaddset(&stop, SIGINT);
    sigaddset(&stop, SIGTERM);
    pthread_sigmask(SIG_BLOCK, &stop, NULL);

    if (strcmp(db, DEFAULT_DB) == 0)
        make_parent(db);
    if (strcmp(admin, DEFAULT_ADMIN) == 0)
        make_parent(admin + strlen("unix://"));
    if (hvrpc_kvp_store_open(db, NULL, &store, &st) != HVRPC_OK)
        return fail("store", &st);
    if (hvrpc_kvp_create(store, quiet ? NULL : log_line, NULL, &kvp, &st) !=
        HVRPC_OK) {
        fail("kvp", &st);
        goto out;
    }
    if (bus_uri) {
        if (hvrpc_kvp_bus_start(store, bus_uri, log_line, NULL, &pub, &st) !=
            HVRPC_OK) {
            fail("bus", &st);
            goto out;
        }
        hvrpc_kvp_on_change(kvp, hvrpc_kvp_bus_changed, pub);
    }
    hvrpc_server_options_init(&so);
    so.max_frame = KVP_MAX_FRAME;
    so.log = server_log;
    if (hvrpc_server_create(&so, &srv, &st) != HVRPC_OK) {
        fail("server", &st);
        goto out;
    }
    if ((listen_uri ? hvrpc_server_listen(srv, listen_uri, &ep, &st)
                    : hvrpc__kvp__v1__kvp_listen(srv, &ep, &st)) != HVRPC_OK) {
        fail("listen", &st);
        goto out;
    }
    if (hvrpc_server_listen(srv, admin, &admin_ep, &st) != HVRPC_OK) {
        fail("admin listen", &st);
        goto out;
    }
    if (hvrpc_endpoint_allow_uid(admin_ep, 0, &st) != HVRPC_OK ||
        hvrpc_endpoint_allow_uid(admin_ep, (uint32_t)geteuid(), &st) !=
            HVRPC_OK) {
        fail("admin allow list", &st);
        goto out;
    }
    for (size_t i = 0; i < n_uids; i++) {
        if (hvrpc_endpoint_allow_uid(admin_ep, uids[i], &st) != HVRPC_OK) {
            fail("admin allow list", &st);
            goto out;
        }
    }
    if (hvrpc_kvp_register(srv, ep, kvp, &st) != HVRPC_OK ||
        hvrpc_kvp_register_admin(srv, admin_ep, kvp, &st) != HVRPC_OK) {
        fail("register", &st);
        goto out;
    }
    if (hvrpc_server_start(srv, &st) != HVRPC_OK) {
        fail("start", &st);
        goto out;
    }
    hvrpc_address_format(hvrpc_endpoint_address(ep), where, sizeof where);
    hvrpc_address_format(hvrpc_endpoint_address(admin_ep), admin_where,
                         sizeof admin_where);
    printf("hvrpc-kvp-host: %s on %s (guests)\n", HVRPC__KVP__V1__KVP_NAME,
           where);
    printf("hvrpc-kvp-host: %s on %s (uid 0", HVRPC__KVP__V1__KVP_ADMIN_NAME,
           admin_where);
    if (geteuid() != 0)
        printf(", %u", (unsigned)geteuid());
    for (size_t i = 0; i < n_uids; i++)
        printf(", %u", (unsigned)uids[i]);
    printf(")\n");
    if (bus_uri)
        printf("hvrpc-kvp-host: host-to-guest changes published on %s "
               "(private.<vm>.kvp.set, .delete)\n",
               bus_uri);
    if (hvrpc_kvp_store_vms(store, &vms, &st) == HVRPC_OK) {
        printf("hvrpc-kvp-host: store %s: %zu VMs\n", db, vms.n);
        hvrpc_kvp_vm_list_free(&vms);
    }
    fflush(stdout);

    sigwait(&stop, &sig);
    rc = 0;
out:
    hvrpc_server_free(srv); /* no more changes after this */
    hvrpc_kvp_bus_stop(pub);
    hvrpc_kvp_free(kvp);
    hvrpc_kvp_store_close(store);
    if (rc == 0) {
        printf("hvrpc-kvp-host: stopped\n");
        fflush(stdout);
    }
    return rc;
}
