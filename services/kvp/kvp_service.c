/*
 * kvp_service.c - hvrpc.kvp.v1.Kvp and KvpAdmin handlers over a kvp_store.
 *
 * Unary handlers run on the server's workers and answer at once; the
 * store serializes them. Watch handlers run on their stream's own thread
 * (hvrpc/stream.h) and poll their stream every WATCH_POLL_MS between
 * changes, which is how they notice a cancel or a stopping server.
 */
#include <inttypes.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kvp_service.h"
#include "svc_log.h"

#define WATCH_POLL_MS 100

typedef Hvrpc__Kvp__V1__WatchEvent watch_event;

/* Kvp watches open per VM. */
typedef struct watch_count {
    char *vm;
    unsigned n;
    struct watch_count *next;
} watch_count;

struct hvrpc_kvp {
    hvrpc_kvp_store *store;
    hvrpc_kvp_log_fn log;
    void *log_arg;
    hvrpc_kvp_change_fn on_change;
    void *on_change_arg;
    pthread_mutex_t mu; /* guards below */
    watch_count *watches;
    size_t watching;
};

#define kvp_log(k, ...) hvrpc_svc_logf((k)->log, (k)->log_arg, __VA_ARGS__)

int hvrpc_kvp_vm_of_peer(const hvrpc_peer *p, char *buf, size_t size)
{
    char guid[HVRPC_GUID_STRLEN];
    const char *colon;

    switch (p->kind) {
    case HVRPC_ADDR_VSOCK:
        return snprintf(buf, size, "vsock:%" PRIu32, p->vsock_cid);
    case HVRPC_ADDR_HVSOCK:
        return snprintf(buf, size, "hvsock:%s",
                        hvrpc_guid_format(&p->vm_id, guid));
    case HVRPC_ADDR_UNIX:
        return snprintf(buf, size, "unix:uid=%lld", (long long)p->uid);
    case HVRPC_ADDR_HYBRID_VSOCK:
        return snprintf(buf, size, "hybrid+vsock:uid=%lld", (long long)p->uid);
    case HVRPC_ADDR_MEM:
        return snprintf(buf, size, "mem:uid=%lld", (long long)p->uid);
    case HVRPC_ADDR_TCP:
        /* "127.0.0.1:5555", "[::1]:5555": drop the port. */
        colon = strrchr(p->tcp_addr, ':');
        return snprintf(buf, size, "tcp:%.*s",
                        colon ? (int)(colon - p->tcp_addr)
                              : (int)strlen(p->tcp_addr),
                        p->tcp_addr);
    }
    return snprintf(buf, size, "unknown");
}

static void vm_of_call(hvrpc_call *call, char *vm, size_t size)
{
    hvrpc_kvp_vm_of_peer(hvrpc_call_peer(call), vm, size);
}

/* --- Kvp (guests) ------------------------------------------------------- */

static void report(hvrpc_call *call, const Hvrpc__Kvp__V1__ReportRequest *req,
                   void *user_data)
{
    hvrpc_kvp *k = user_data;
    hvrpc_kvp_item *items = NULL;
    Hvrpc__Kvp__V1__ReportResponse resp = HVRPC__KVP__V1__REPORT_RESPONSE__INIT;
    char vm[HVRPC_KVP_MAX_VM_LENGTH + 1];
    uint32_t keys = 0;
    hvrpc_status st;
    hvrpc_code code;

    vm_of_call(call, vm, sizeof vm);
    if (req->n_set > hvrpc_kvp_store_limits(k->store)->max_keys) {
        hvrpc_call_fail(call, HVRPC_RESOURCE_EXHAUSTED,
                        "a report of %zu keys; a pool holds at most %u",
                        req->n_set, hvrpc_kvp_store_limits(k->store)->max_keys);
        return;
    }
    if (req->n_set > 0) {
        items = calloc(req->n_set, sizeof *items);
        if (!items) {
            hvrpc_call_fail(call, HVRPC_RESOURCE_EXHAUSTED, "out of memory");
            return;
        }
    }
    /* The store only reads them: no copies. */
    for (size_t i = 0; i < req->n_set; i++) {
        items[i].key = req->set[i]->key;
        items[i].value = req->set[i]->value;
    }
    code = hvrpc_kvp_store_write(k->store, HVRPC_KVP_GUEST_TO_HOST, vm, items,
                                 req->n_set, (const char *const *)req->remove,
                                 req->n_remove, req->replace, &keys, NULL, &st);
    free(items);
    if (code != HVRPC_OK) {
        kvp_log(k, "report from %s refused: %s: %s", vm, hvrpc_code_name(code),
                st.message);
        hvrpc_call_fail(call, code, "%s", st.message);
        return;
    }
    kvp_log(k, "report from %s: %zu set, %zu removed%s; %" PRIu32 " keys", vm,
            req->n_set, req->n_remove, req->replace ? " (replace)" : "", keys);
    resp.vm = vm;
    resp.keys = keys;
    hvrpc__kvp__v1__kvp__report_reply(call, &resp);
}

/* Answers a list as repeated KeyValue through reply. */
static Hvrpc__Kvp__V1__KeyValue **kv_array(const hvrpc_kvp_list *l,
                                           Hvrpc__Kvp__V1__KeyValue **store)
{
    Hvrpc__Kvp__V1__KeyValue **ptrs;

    *store = calloc(l->n ? l->n : 1, sizeof **store);
    ptrs = calloc(l->n ? l->n : 1, sizeof *ptrs);
    if (!*store || !ptrs) {
        free(*store);
        free(ptrs);
        *store = NULL;
        return NULL;
    }
    for (size_t i = 0; i < l->n; i++) {
        Hvrpc__Kvp__V1__KeyValue init = HVRPC__KVP__V1__KEY_VALUE__INIT;
        (*store)[i] = init;
        (*store)[i].key = l->items[i].key;
        (*store)[i].value = l->items[i].value;
        ptrs[i] = &(*store)[i];
    }
    return ptrs;
}

static void read_(hvrpc_call *call, const Hvrpc__Kvp__V1__ReadRequest *req,
                  void *user_data)
{
    hvrpc_kvp *k = user_data;
    Hvrpc__Kvp__V1__ReadResponse resp = HVRPC__KVP__V1__READ_RESPONSE__INIT;
    Hvrpc__Kvp__V1__KeyValue one = HVRPC__KVP__V1__KEY_VALUE__INIT, *onep;
    Hvrpc__Kvp__V1__KeyValue *kvs = NULL, **ptrs;
    hvrpc_kvp_list l;
    char vm[HVRPC_KVP_MAX_VM_LENGTH + 1];
    char *value = NULL;
    hvrpc_status st;
    hvrpc_code code;

    vm_of_call(call, vm, sizeof vm);
    resp.vm = vm;
    if (req->key && req->key[0]) {
        code = hvrpc_kvp_store_get(k->store, HVRPC_KVP_HOST_TO_GUEST, vm,
                                   req->key, &value, &st);
        if (code != HVRPC_OK) {
            hvrpc_call_fail(call, code, "%s", st.message);
            return;
        }
        one.key = req->key;
        one.value = value;
        onep = &one;
        resp.n_items = 1;
        resp.items = &onep;
        hvrpc__kvp__v1__kvp__read_reply(call, &resp);
        free(value);
        return;
    }
    code = hvrpc_kvp_store_list(k->store, HVRPC_KVP_HOST_TO_GUEST, vm, &l, &st);
    if (code != HVRPC_OK) {
        hvrpc_call_fail(call, code, "%s", st.message);
        return;
    }
    ptrs = kv_array(&l, &kvs);
    if (!ptrs) {
        hvrpc_kvp_list_free(&l);
        hvrpc_call_fail(call, HVRPC_RESOURCE_EXHAUSTED, "out of memory");
        return;
    }
    resp.n_items = l.n;
    resp.items = ptrs;
    hvrpc__kvp__v1__kvp__read_reply(call, &resp);
    free(ptrs);
    free(kvs);
    hvrpc_kvp_list_free(&l);
}

/* --- Watch (both services) ---------------------------------------------- */

/* Sends ev, retrying while the client's window is full and the stream
 * lives. */
static hvrpc_code send_event(hvrpc_stream *stream, const watch_event *ev)
{
    hvrpc_server *srv = hvrpc_stream_server(stream);

    for (;;) {
        hvrpc_code code =
            hvrpc_stream_send_message(stream, &ev->base, WATCH_POLL_MS, NULL);
        if (code != HVRPC_WOULD_BLOCK || hvrpc_stream_done(stream) ||
            hvrpc_server_stopping(srv))
            return code;
    }
}

static hvrpc_code send_change(hvrpc_stream *stream, const char *vm, int type,
                              const char *key, const char *value)
{
    watch_event ev = HVRPC__KVP__V1__WATCH_EVENT__INIT;

    ev.type = type;
    ev.vm = (char *)vm;
    if (key)
        ev.key = (char *)key;
    if (value)
        ev.value = (char *)value;
    return send_event(stream, &ev);
}

/* Sends what turns `sent` into `now` (both sorted by key). */
static hvrpc_code send_diff(hvrpc_stream *stream, const char *vm,
                            const hvrpc_kvp_list *sent,
                            const hvrpc_kvp_list *now)
{
    size_t i = 0, j = 0;
    hvrpc_code code = HVRPC_OK;

    while (code == HVRPC_OK && (i < sent->n || j < now->n)) {
        int c = i == sent->n  ? 1
                : j == now->n ? -1
                              : strcmp(sent->items[i].key, now->items[j].key);
        if (c < 0) {
            code = send_change(stream, vm,
                               HVRPC__KVP__V1__WATCH_EVENT__TYPE__DELETED,
                               sent->items[i].key, NULL);
            i++;
        } else if (c > 0) {
            code =
                send_change(stream, vm, HVRPC__KVP__V1__WATCH_EVENT__TYPE__SET,
                            now->items[j].key, now->items[j].value);
            j++;
        } else {
            if (strcmp(sent->items[i].value, now->items[j].value) != 0)
                code = send_change(stream, vm,
                                   HVRPC__KVP__V1__WATCH_EVENT__TYPE__SET,
                                   now->items[j].key, now->items[j].value);
            i++;
            j++;
        }
    }
    return code;
}

static void watch_pool(hvrpc_kvp *k, hvrpc_stream *stream, hvrpc_kvp_pool pool,
                       const char *vm)
{
    hvrpc_server *srv = hvrpc_stream_server(stream);
    hvrpc_kvp_list sent = {0};
    bool synced = false;
    hvrpc_code code = HVRPC_OK;
    hvrpc_status st;

    hvrpc_status_clear(&st);
    while (!hvrpc_stream_done(stream) && !hvrpc_server_stopping(srv)) {
        uint64_t gen = hvrpc_kvp_store_generation(k->store, pool);
        hvrpc_kvp_list now;

        code = hvrpc_kvp_store_list(k->store, pool, vm, &now, &st);
        if (code != HVRPC_OK)
            break;
        code = send_diff(stream, vm, &sent, &now);
        hvrpc_kvp_list_free(&sent);
        sent = now;
        if (code == HVRPC_OK && !synced) {
            code = send_change(stream, vm,
                               HVRPC__KVP__V1__WATCH_EVENT__TYPE__SYNCED, NULL,
                               NULL);
            synced = true;
        }
        if (code != HVRPC_OK)
            break;
        while (!hvrpc_kvp_store_wait(k->store, pool, gen, WATCH_POLL_MS) &&
               !hvrpc_stream_done(stream) && !hvrpc_server_stopping(srv))
            ;
    }
    hvrpc_kvp_list_free(&sent);
    if (hvrpc_server_stopping(srv))
        hvrpc_stream_finish(stream, HVRPC_UNAVAILABLE,
                            "the server is stopping");
    else if (code != HVRPC_OK && st.code != HVRPC_OK)
        hvrpc_stream_finish(stream, st.code, "%s", st.message);
    else /* over already: this only releases the stream */
        hvrpc_stream_finish(stream, HVRPC_UNAVAILABLE, "the watch is over");
}

/* Counts a Kvp watch of vm; false when it has too many. */
static bool watch_enter(hvrpc_kvp *k, const char *vm, bool limited)
{
    watch_count *w;
    bool ok = true;

    pthread_mutex_lock(&k->mu);
    for (w = k->watches; w && strcmp(w->vm, vm) != 0; w = w->next)
        ;
    if (!w) {
        w = calloc(1, sizeof *w);
        if (w && !(w->vm = strdup(vm))) {
            free(w);
            w = NULL;
        }
        if (w) {
            w->next = k->watches;
            k->watches = w;
        }
    }
    if (!w || (limited && w->n >= HVRPC_KVP_MAX_WATCHES_PER_VM)) {
        ok = false;
    } else {
        w->n++;
        k->watching++;
    }
    pthread_mutex_unlock(&k->mu);
    return ok;
}

static void watch_leave(hvrpc_kvp *k, const char *vm)
{
    watch_count **pw;

    pthread_mutex_lock(&k->mu);
    for (pw = &k->watches; *pw; pw = &(*pw)->next) {
        if (strcmp((*pw)->vm, vm) == 0) {
            watch_count *w = *pw;
            if (--w->n == 0) {
                *pw = w->next;
                free(w->vm);
                free(w);
            }
            break;
        }
    }
    k->watching--;
    pthread_mutex_unlock(&k->mu);
}

static void watch(hvrpc_stream *stream, const Hvrpc__Kvp__V1__WatchRequest *req,
                  void *user_data)
{
    hvrpc_kvp *k = user_data;
    char vm[HVRPC_KVP_MAX_VM_LENGTH + 1];

    (void)req;
    hvrpc_kvp_vm_of_peer(hvrpc_stream_peer(stream), vm, sizeof vm);
    if (!watch_enter(k, vm, true)) {
        hvrpc_stream_finish(stream, HVRPC_RESOURCE_EXHAUSTED,
                            "%s has %u watches open already, the limit", vm,
                            HVRPC_KVP_MAX_WATCHES_PER_VM);
        return;
    }
    kvp_log(k, "watch from %s", vm);
    watch_pool(k, stream, HVRPC_KVP_HOST_TO_GUEST, vm);
    watch_leave(k, vm);
}

/* --- KvpAdmin (the host) ------------------------------------------------ */

static hvrpc_kvp_pool pool_of(int p)
{
    return p == HVRPC__KVP__V1__POOL__HOST_TO_GUEST   ? HVRPC_KVP_HOST_TO_GUEST
           : p == HVRPC__KVP__V1__POOL__GUEST_TO_HOST ? HVRPC_KVP_GUEST_TO_HOST
                                                      : (hvrpc_kvp_pool)0;
}

static void list_vms(hvrpc_call *call,
                     const Hvrpc__Kvp__V1__ListVmsRequest *req, void *user_data)
{
    hvrpc_kvp *k = user_data;
    Hvrpc__Kvp__V1__ListVmsResponse resp =
        HVRPC__KVP__V1__LIST_VMS_RESPONSE__INIT;
    Hvrpc__Kvp__V1__Vm *vms, **ptrs;
    hvrpc_kvp_vm_list l;
    hvrpc_status st;

    (void)req;
    if (hvrpc_kvp_store_vms(k->store, &l, &st) != HVRPC_OK) {
        hvrpc_call_fail(call, st.code, "%s", st.message);
        return;
    }
    vms = calloc(l.n ? l.n : 1, sizeof *vms);
    ptrs = calloc(l.n ? l.n : 1, sizeof *ptrs);
    if (!vms || !ptrs) {
        free(vms);
        free(ptrs);
        hvrpc_kvp_vm_list_free(&l);
        hvrpc_call_fail(call, HVRPC_RESOURCE_EXHAUSTED, "out of memory");
        return;
    }
    for (size_t i = 0; i < l.n; i++) {
        Hvrpc__Kvp__V1__Vm init = HVRPC__KVP__V1__VM__INIT;
        vms[i] = init;
        vms[i].vm = l.vms[i].vm;
        vms[i].guest_keys = l.vms[i].guest_keys;
        vms[i].host_keys = l.vms[i].host_keys;
        vms[i].last_report_unix = l.vms[i].last_report_unix;
        ptrs[i] = &vms[i];
    }
    resp.n_vms = l.n;
    resp.vms = ptrs;
    hvrpc__kvp__v1__kvp_admin__list_vms_reply(call, &resp);
    free(ptrs);
    free(vms);
    hvrpc_kvp_vm_list_free(&l);
}

static void get(hvrpc_call *call, const Hvrpc__Kvp__V1__GetRequest *req,
                void *user_data)
{
    hvrpc_kvp *k = user_data;
    Hvrpc__Kvp__V1__GetResponse resp = HVRPC__KVP__V1__GET_RESPONSE__INIT;
    char *value;
    hvrpc_status st;

    if (hvrpc_kvp_store_get(k->store, pool_of(req->pool), req->vm, req->key,
                            &value, &st) != HVRPC_OK) {
        hvrpc_call_fail(call, st.code, "%s", st.message);
        return;
    }
    resp.value = value;
    hvrpc__kvp__v1__kvp_admin__get_reply(call, &resp);
    free(value);
}

static void list(hvrpc_call *call, const Hvrpc__Kvp__V1__ListRequest *req,
                 void *user_data)
{
    hvrpc_kvp *k = user_data;
    Hvrpc__Kvp__V1__ListResponse resp = HVRPC__KVP__V1__LIST_RESPONSE__INIT;
    Hvrpc__Kvp__V1__KeyValue *kvs = NULL, **ptrs;
    hvrpc_kvp_list l;
    hvrpc_status st;

    if (hvrpc_kvp_store_list(k->store, pool_of(req->pool), req->vm, &l, &st) !=
        HVRPC_OK) {
        hvrpc_call_fail(call, st.code, "%s", st.message);
        return;
    }
    ptrs = kv_array(&l, &kvs);
    if (!ptrs) {
        hvrpc_kvp_list_free(&l);
        hvrpc_call_fail(call, HVRPC_RESOURCE_EXHAUSTED, "out of memory");
        return;
    }
    resp.n_items = l.n;
    resp.items = ptrs;
    hvrpc__kvp__v1__kvp_admin__list_reply(call, &resp);
    free(ptrs);
    free(kvs);
    hvrpc_kvp_list_free(&l);
}

static void set(hvrpc_call *call, const Hvrpc__Kvp__V1__SetRequest *req,
                void *user_data)
{
    hvrpc_kvp *k = user_data;
    Hvrpc__Kvp__V1__SetResponse resp = HVRPC__KVP__V1__SET_RESPONSE__INIT;
    hvrpc_kvp_item item = {req->key, req->value};
    uint32_t keys = 0;
    hvrpc_status st;

    if (hvrpc_kvp_store_write(k->store, HVRPC_KVP_HOST_TO_GUEST, req->vm, &item,
                              1, NULL, 0, false, &keys, NULL,
                              &st) != HVRPC_OK) {
        hvrpc_call_fail(call, st.code, "%s", st.message);
        return;
    }
    kvp_log(k, "set %s %s (%" PRIu32 " host-to-guest keys)", req->vm, req->key,
            keys);
    if (k->on_change)
        k->on_change(req->vm, req->key, k->on_change_arg);
    resp.keys = keys;
    hvrpc__kvp__v1__kvp_admin__set_reply(call, &resp);
}

static void delete_(hvrpc_call *call, const Hvrpc__Kvp__V1__DeleteRequest *req,
                    void *user_data)
{
    hvrpc_kvp *k = user_data;
    Hvrpc__Kvp__V1__DeleteResponse resp = HVRPC__KVP__V1__DELETE_RESPONSE__INIT;
    const char *key = req->key;
    uint32_t deleted = 0;
    hvrpc_status st;

    if (hvrpc_kvp_store_write(k->store, HVRPC_KVP_HOST_TO_GUEST, req->vm, NULL,
                              0, &key, 1, false, NULL, &deleted,
                              &st) != HVRPC_OK) {
        hvrpc_call_fail(call, st.code, "%s", st.message);
        return;
    }
    if (deleted == 0) {
        hvrpc_call_fail(call, HVRPC_NOT_FOUND, "%s has no key %s", req->vm,
                        req->key);
        return;
    }
    kvp_log(k, "deleted %s %s", req->vm, req->key);
    if (k->on_change)
        k->on_change(req->vm, req->key, k->on_change_arg);
    hvrpc__kvp__v1__kvp_admin__delete_reply(call, &resp);
}

static void admin_watch(hvrpc_stream *stream,
                        const Hvrpc__Kvp__V1__AdminWatchRequest *req,
                        void *user_data)
{
    hvrpc_kvp *k = user_data;
    hvrpc_kvp_pool pool = pool_of(req->pool);
    hvrpc_status st;

    if (!pool)
        pool = HVRPC_KVP_GUEST_TO_HOST;
    if (hvrpc_kvp_check_vm(k->store, req->vm, &st) != HVRPC_OK) {
        hvrpc_stream_finish(stream, st.code, "%s", st.message);
        return;
    }
    if (!watch_enter(k, req->vm, false)) {
        hvrpc_stream_finish(stream, HVRPC_RESOURCE_EXHAUSTED, "out of memory");
        return;
    }
    watch_pool(k, stream, pool, req->vm);
    watch_leave(k, req->vm);
}

/* --- life --------------------------------------------------------------- */

hvrpc_code hvrpc_kvp_create(hvrpc_kvp_store *store, hvrpc_kvp_log_fn log,
                            void *log_arg, hvrpc_kvp **out, hvrpc_status *st)
{
    hvrpc_kvp *k = calloc(1, sizeof *k);

    *out = NULL;
    if (!k)
        return hvrpc_status_set(st, HVRPC_RESOURCE_EXHAUSTED,
                                "out of memory for the kvp service");
    k->store = store;
    k->log = log;
    k->log_arg = log_arg;
    pthread_mutex_init(&k->mu, NULL);
    *out = k;
    return HVRPC_OK;
}

hvrpc_code hvrpc_kvp_register(hvrpc_server *srv, hvrpc_endpoint *ep,
                              hvrpc_kvp *k, hvrpc_status *st)
{
    static const hvrpc__kvp__v1__kvp_handlers handlers = {
        .report = report,
        .read = read_,
        .watch = watch,
    };
    return hvrpc__kvp__v1__kvp_register(srv, ep, &handlers, k, st);
}

hvrpc_code hvrpc_kvp_register_admin(hvrpc_server *srv, hvrpc_endpoint *ep,
                                    hvrpc_kvp *k, hvrpc_status *st)
{
    static const hvrpc__kvp__v1__kvp_admin_handlers handlers = {
        .list_vms = list_vms,
        .get = get,
        .list = list,
        .set = set,
        .delete = delete_,
        .watch = admin_watch,
    };
    return hvrpc__kvp__v1__kvp_admin_register(srv, ep, &handlers, k, st);
}

void hvrpc_kvp_on_change(hvrpc_kvp *k, hvrpc_kvp_change_fn fn, void *arg)
{
    k->on_change = fn;
    k->on_change_arg = arg;
}

size_t hvrpc_kvp_watching(hvrpc_kvp *k)
{
    size_t n;

    pthread_mutex_lock(&k->mu);
    n = k->watching;
    pthread_mutex_unlock(&k->mu);
    return n;
}

void hvrpc_kvp_free(hvrpc_kvp *k)
{
    if (!k)
        return;
    while (k->watches) {
        watch_count *w = k->watches;
        k->watches = w->next;
        free(w->vm);
        free(w);
    }
    pthread_mutex_destroy(&k->mu);
    free(k);
}
