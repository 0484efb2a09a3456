/*
 * kvp_store.c - the KVP pools in SQLite.
 *
 * Schema (application_id 'hvkv', user_version 1):
 *   vms(vm PRIMARY KEY, last_report)          every VM the store knows
 *   pairs(pool, vm, key, value), key (pool, vm, key)
 * One connection, used under one mutex; WAL with synchronous=FULL, so a
 * write is on disk when hvrpc_kvp_store_write() returns. Limits are
 * checked before the transaction (sizes, syntax) and inside it (keys per
 * pool, VMs), where a failure rolls the whole write back.
 */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <sqlite3.h>

#include "kvp_store.h"
#include "svc_time.h"

#define KVP_APPLICATION_ID 1752591222 /* 0x68766b76, "hvkv" */
#define KVP_SCHEMA_VERSION 1
#define KVP_BUSY_MS        5000

struct hvrpc_kvp_store {
    pthread_mutex_t mu;
    pthread_cond_t changed;
    sqlite3 *db;
    hvrpc_kvp_limits limits;
    uint64_t generation[3]; /* by hvrpc_kvp_pool */
};

void hvrpc_kvp_limits_init(hvrpc_kvp_limits *l)
{
    memset(l, 0, sizeof *l);
    l->size = sizeof *l;
    l->max_key = HVRPC_KVP_MAX_KEY;
    l->max_value = HVRPC_KVP_MAX_VALUE;
    l->max_keys = HVRPC_KVP_MAX_KEYS;
    l->max_vms = HVRPC_KVP_MAX_VMS;
    l->max_vm_length = HVRPC_KVP_MAX_VM_LENGTH;
}

void hvrpc_kvp_list_free(hvrpc_kvp_list *l)
{
    if (!l)
        return;
    for (size_t i = 0; i < l->n; i++) {
        free(l->items[i].key);
        free(l->items[i].value);
    }
    free(l->items);
    l->items = NULL;
    l->n = 0;
}

void hvrpc_kvp_vm_list_free(hvrpc_kvp_vm_list *l)
{
    if (!l)
        return;
    for (size_t i = 0; i < l->n; i++)
        free(l->vms[i].vm);
    free(l->vms);
    l->vms = NULL;
    l->n = 0;
}

/* The status for a SQLite failure, naming what we were doing. */
static hvrpc_code db_fail(hvrpc_kvp_store *s, int rc, const char *what,
                          hvrpc_status *st)
{
    hvrpc_code code = HVRPC_INTERNAL;
    int prim = rc & 0xff;

    if (prim == SQLITE_FULL || prim == SQLITE_NOMEM)
        code = HVRPC_RESOURCE_EXHAUSTED;
    else if (prim == SQLITE_BUSY || prim == SQLITE_LOCKED ||
             prim == SQLITE_IOERR || prim == SQLITE_CANTOPEN ||
             prim == SQLITE_READONLY)
        code = HVRPC_UNAVAILABLE;
    return hvrpc_status_set(st, code, "kvp store: %s: %s", what,
                            s && s->db ? sqlite3_errmsg(s->db)
                                       : sqlite3_errstr(rc));
}

/* --- validation --------------------------------------------------------- */

/* Length of the valid UTF-8 sequence at p (n bytes left), 0 if invalid. */
static size_t utf8_seq(const unsigned char *p, size_t n)
{
    size_t len;
    uint32_t cp;

    if (p[0] < 0x80)
        return 1;
    if ((p[0] & 0xe0) == 0xc0) {
        len = 2;
        cp = p[0] & 0x1f;
    } else if ((p[0] & 0xf0) == 0xe0) {
        len = 3;
        cp = p[0] & 0x0f;
    } else if ((p[0] & 0xf8) == 0xf0) {
        len = 4;
        cp = p[0] & 0x07;
    } else {
        return 0;
    }
    if (len > n)
        return 0;
    for (size_t i = 1; i < len; i++) {
        if ((p[i] & 0xc0) != 0x80)
            return 0;
        cp = (cp << 6) | (p[i] & 0x3f);
    }
    /* Overlong forms, surrogates, beyond U+10FFFF. */
    if ((len == 2 && cp < 0x80) || (len == 3 && cp < 0x800) ||
        (len == 4 && cp < 0x10000) || cp > 0x10ffff ||
        (cp >= 0xd800 && cp <= 0xdfff))
        return 0;
    return len;
}

/* Offset of the first byte that is not valid UTF-8 (or, with no_controls,
 * a control character), or -1 when the whole text is fine. */
static long bad_byte(const char *text, size_t n, bool no_controls)
{
    const unsigned char *p = (const unsigned char *)text;
    size_t i = 0;

    while (i < n) {
        size_t len = utf8_seq(p + i, n - i);
        if (len == 0 || (no_controls && (p[i] < 0x20 || p[i] == 0x7f)))
            return (long)i;
        i += len;
    }
    return -1;
}

hvrpc_code hvrpc_kvp_check_key(const hvrpc_kvp_store *s, const char *key,
                               hvrpc_status *st)
{
    size_t n = key ? strlen(key) : 0;
    long bad;

    if (n == 0)
        return hvrpc_status_set(st, HVRPC_INVALID_ARGUMENT,
                                "a key must not be empty");
    if (n > s->limits.max_key)
        return hvrpc_status_set(st, HVRPC_INVALID_ARGUMENT,
                                "key \"%.32s...\" is %zu bytes; at most %u",
                                key, n, s->limits.max_key);
    bad = bad_byte(key, n, true);
    if (bad >= 0)
        return hvrpc_status_set(st, HVRPC_INVALID_ARGUMENT,
                                "key has a control character or invalid "
                                "UTF-8 at byte %ld",
                                bad);
    return HVRPC_OK;
}

hvrpc_code hvrpc_kvp_check_value(const hvrpc_kvp_store *s, const char *key,
                                 const char *value, hvrpc_status *st)
{
    size_t n = value ? strlen(value) : 0;
    long bad;

    if (n > s->limits.max_value)
        return hvrpc_status_set(st, HVRPC_INVALID_ARGUMENT,
                                "value of \"%.64s\" is %zu bytes; at most %u",
                                key, n, s->limits.max_value);
    bad = bad_byte(value ? value : "", n, false);
    if (bad >= 0)
        return hvrpc_status_set(st, HVRPC_INVALID_ARGUMENT,
                                "value of \"%.64s\" is not valid UTF-8 at "
                                "byte %ld",
                                key, bad);
    return HVRPC_OK;
}

hvrpc_code hvrpc_kvp_check_vm(const hvrpc_kvp_store *s, const char *vm,
                              hvrpc_status *st)
{
    size_t n = vm ? strlen(vm) : 0;

    if (n == 0)
        return hvrpc_status_set(st, HVRPC_INVALID_ARGUMENT,
                                "a VM identity must not be empty (hvrpc-kvp "
                                "vms lists them)");
    if (n > s->limits.max_vm_length)
        return hvrpc_status_set(st, HVRPC_INVALID_ARGUMENT,
                                "VM identity is %zu bytes; at most %u", n,
                                s->limits.max_vm_length);
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)vm[i];
        if (c <= 0x20 || c >= 0x7f)
            return hvrpc_status_set(st, HVRPC_INVALID_ARGUMENT,
                                    "VM identity has a byte that is not "
                                    "printable ASCII at %zu",
                                    i);
    }
    return HVRPC_OK;
}

/* --- open / close ------------------------------------------------------- */

static int exec_sql(sqlite3 *db, const char *sql)
{
    return sqlite3_exec(db, sql, NULL, NULL, NULL);
}

/* The integer a one-row statement gives (a PRAGMA, a COUNT). */
static int query_int(sqlite3 *db, const char *sql, int64_t *out)
{
    sqlite3_stmt *q;
    int rc = sqlite3_prepare_v2(db, sql, -1, &q, NULL);

    if (rc != SQLITE_OK)
        return rc;
    rc = sqlite3_step(q);
    if (rc == SQLITE_ROW) {
        *out = sqlite3_column_int64(q, 0);
        rc = SQLITE_OK;
    }
    sqlite3_finalize(q);
    return rc;
}

static hvrpc_code check_limits(const hvrpc_kvp_limits *l, hvrpc_status *st)
{
    if (l->size < sizeof *l)
        return hvrpc_status_set(st, HVRPC_INVALID_ARGUMENT,
                                "kvp limits: size %zu is not "
                                "sizeof(hvrpc_kvp_limits)",
                                l->size);
    if (l->max_key < 1 || l->max_keys < 1 || l->max_vms < 1 ||
        l->max_vm_length < 1)
        return hvrpc_status_set(st, HVRPC_INVALID_ARGUMENT,
                                "kvp limits: max_key, max_keys, max_vms and "
                                "max_vm_length must be at least 1");
    return HVRPC_OK;
}

hvrpc_code hvrpc_kvp_store_open(const char *path,
                                const hvrpc_kvp_limits *limits,
                                hvrpc_kvp_store **out, hvrpc_status *st)
{
    static const char schema[] =
        "CREATE TABLE IF NOT EXISTS vms(vm TEXT PRIMARY KEY NOT NULL,"
        " last_report INTEGER NOT NULL DEFAULT 0) WITHOUT ROWID;"
        "CREATE TABLE IF NOT EXISTS pairs(pool INTEGER NOT NULL,"
        " vm TEXT NOT NULL, key TEXT NOT NULL, value TEXT NOT NULL,"
        " PRIMARY KEY(pool, vm, key)) WITHOUT ROWID;";
    hvrpc_kvp_store *s;
    pthread_condattr_t ca;
    int64_t app = 0, version = 0;
    sqlite3_stmt *q;
    int rc;
    hvrpc_code code;

    *out = NULL;
    s = calloc(1, sizeof *s);
    if (!s)
        return hvrpc_status_set(st, HVRPC_RESOURCE_EXHAUSTED,
                                "out of memory for the kvp store");
    hvrpc_kvp_limits_init(&s->limits);
    if (limits) {
        code = check_limits(limits, st);
        if (code != HVRPC_OK) {
            free(s);
            return code;
        }
        s->limits = *limits;
        s->limits.size = sizeof s->limits;
    }
    rc = sqlite3_open_v2(
        path, &s->db,
        SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX, NULL);
    if (rc != SQLITE_OK) {
        code = hvrpc_status_set(st, HVRPC_UNAVAILABLE, "kvp store %s: %s", path,
                                s->db ? sqlite3_errmsg(s->db)
                                      : sqlite3_errstr(rc));
        sqlite3_close(s->db);
        free(s);
        return code;
    }
    sqlite3_busy_timeout(s->db, KVP_BUSY_MS);
    rc = query_int(s->db, "PRAGMA application_id", &app);
    if (rc == SQLITE_OK)
        rc = query_int(s->db, "PRAGMA user_version", &version);
    if (rc != SQLITE_OK) {
        code = hvrpc_status_set(st, HVRPC_UNAVAILABLE, "kvp store %s: %s", path,
                                sqlite3_errmsg(s->db));
        goto fail;
    }
    if ((app != 0 && app != KVP_APPLICATION_ID) ||
        version > KVP_SCHEMA_VERSION) {
        code = hvrpc_status_set(st, HVRPC_FAILED_PRECONDITION,
                                "kvp store %s: not a KVP store of this "
                                "version (application_id %lld, "
                                "user_version %lld)",
                                path, (long long)app, (long long)version);
        goto fail;
    }
    /* journal_mode answers the mode it ended in. */
    rc = sqlite3_prepare_v2(s->db, "PRAGMA journal_mode=WAL", -1, &q, NULL);
    if (rc == SQLITE_OK) {
        rc = sqlite3_step(q);
        if (rc == SQLITE_ROW) {
            const char *mode = (const char *)sqlite3_column_text(q, 0);
            rc = mode && strcmp(mode, "wal") == 0 ? SQLITE_OK : SQLITE_ERROR;
        }
        sqlite3_finalize(q);
    }
    if (rc != SQLITE_OK) {
        code = hvrpc_status_set(st, HVRPC_UNAVAILABLE,
                                "kvp store %s: cannot use WAL mode: %s", path,
                                sqlite3_errmsg(s->db));
        goto fail;
    }
    rc = exec_sql(s->db, "PRAGMA synchronous=FULL");
    if (rc == SQLITE_OK)
        rc = exec_sql(s->db, "BEGIN IMMEDIATE");
    if (rc == SQLITE_OK) {
        rc = exec_sql(s->db, schema);
        if (rc == SQLITE_OK)
            rc = exec_sql(s->db, "PRAGMA application_id=1752591222;"
                                 "PRAGMA user_version=1");
        rc = rc == SQLITE_OK ? exec_sql(s->db, "COMMIT") : rc;
        if (rc != SQLITE_OK)
            exec_sql(s->db, "ROLLBACK");
    }
    if (rc != SQLITE_OK) {
        code = hvrpc_status_set(st, HVRPC_UNAVAILABLE,
                                "kvp store %s: cannot create the tables: %s",
                                path, sqlite3_errmsg(s->db));
        goto fail;
    }
    pthread_mutex_init(&s->mu, NULL);
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&s->changed, &ca);
    pthread_condattr_destroy(&ca);
    *out = s;
    return HVRPC_OK;

fail:
    sqlite3_close(s->db);
    free(s);
    return code;
}

void hvrpc_kvp_store_close(hvrpc_kvp_store *s)
{
    if (!s)
        return;
    sqlite3_close(s->db);
    pthread_cond_destroy(&s->changed);
    pthread_mutex_destroy(&s->mu);
    free(s);
}

const hvrpc_kvp_limits *hvrpc_kvp_store_limits(const hvrpc_kvp_store *s)
{
    return &s->limits;
}

/* --- writes ------------------------------------------------------------- */

/* Runs sql with (pool, vm[, a[, b]]) bound; *changes (may be NULL) gets
 * the rows it changed. */
static int run(hvrpc_kvp_store *s, const char *sql, int pool, const char *vm,
               const char *a, const char *b, int *changes)
{
    sqlite3_stmt *q;
    int rc = sqlite3_prepare_v2(s->db, sql, -1, &q, NULL);
    int i = 1;

    if (rc != SQLITE_OK)
        return rc;
    if (pool)
        sqlite3_bind_int(q, i++, pool);
    sqlite3_bind_text(q, i++, vm, -1, SQLITE_STATIC);
    if (a)
        sqlite3_bind_text(q, i++, a, -1, SQLITE_STATIC);
    if (b)
        sqlite3_bind_text(q, i++, b, -1, SQLITE_STATIC);
    rc = sqlite3_step(q);
    sqlite3_finalize(q);
    if (rc != SQLITE_DONE)
        return rc == SQLITE_ROW ? SQLITE_MISUSE : rc;
    if (changes)
        *changes = sqlite3_changes(s->db);
    return SQLITE_OK;
}

static int count(hvrpc_kvp_store *s, const char *sql, int pool, const char *vm,
                 int64_t *out)
{
    sqlite3_stmt *q;
    int rc = sqlite3_prepare_v2(s->db, sql, -1, &q, NULL);

    if (rc != SQLITE_OK)
        return rc;
    if (pool)
        sqlite3_bind_int(q, 1, pool);
    if (vm)
        sqlite3_bind_text(q, pool ? 2 : 1, vm, -1, SQLITE_STATIC);
    rc = sqlite3_step(q);
    if (rc == SQLITE_ROW) {
        *out = sqlite3_column_int64(q, 0);
        rc = SQLITE_OK;
    }
    sqlite3_finalize(q);
    return rc;
}

static bool valid_pool(hvrpc_kvp_pool pool)
{
    return pool == HVRPC_KVP_GUEST_TO_HOST || pool == HVRPC_KVP_HOST_TO_GUEST;
}

/* The checks that need no database. */
static hvrpc_code check_write(hvrpc_kvp_store *s, hvrpc_kvp_pool pool,
                              const char *vm, const hvrpc_kvp_item *set,
                              size_t n_set, const char *const *del,
                              size_t n_del, hvrpc_status *st)
{
    hvrpc_code code;

    if (!valid_pool(pool))
        return hvrpc_status_set(st, HVRPC_INVALID_ARGUMENT,
                                "pool must be GUEST_TO_HOST or HOST_TO_GUEST");
    code = hvrpc_kvp_check_vm(s, vm, st);
    if (code != HVRPC_OK)
        return code;
    if (n_set > s->limits.max_keys || n_del > s->limits.max_keys)
        return hvrpc_status_set(st, HVRPC_RESOURCE_EXHAUSTED,
                                "a write of %zu keys and %zu deletions; a "
                                "pool holds at most %u keys",
                                n_set, n_del, s->limits.max_keys);
    for (size_t i = 0; i < n_set; i++) {
        code = hvrpc_kvp_check_key(s, set[i].key, st);
        if (code == HVRPC_OK)
            code = hvrpc_kvp_check_value(s, set[i].key, set[i].value, st);
        if (code != HVRPC_OK)
            return code;
    }
    for (size_t i = 0; i < n_del; i++) {
        code = hvrpc_kvp_check_key(s, del[i], st);
        if (code != HVRPC_OK)
            return code;
    }
    return HVRPC_OK;
}

hvrpc_code hvrpc_kvp_store_write(hvrpc_kvp_store *s, hvrpc_kvp_pool pool,
                                 const char *vm, const hvrpc_kvp_item *set,
                                 size_t n_set, const char *const *del,
                                 size_t n_del, bool replace, uint32_t *keys,
                                 uint32_t *deleted, hvrpc_status *st)
{
    hvrpc_code code = check_write(s, pool, vm, set, n_set, del, n_del, st);
    int64_t n_keys = 0, n_vms = 0;
    int rc, changes = 0, removed = 0;
    const char *what = "begin";

    if (code != HVRPC_OK)
        return code;
    pthread_mutex_lock(&s->mu);
    rc = exec_sql(s->db, "BEGIN IMMEDIATE");
    if (rc != SQLITE_OK)
        goto db_error;
    what = "add the VM";
    rc = run(s, "INSERT INTO vms(vm) VALUES(?) ON CONFLICT DO NOTHING", 0, vm,
             NULL, NULL, &changes);
    if (rc != SQLITE_OK)
        goto db_error;
    if (changes > 0) {
        rc = count(s, "SELECT COUNT(*) FROM vms", 0, NULL, &n_vms);
        if (rc != SQLITE_OK)
            goto db_error;
        if (n_vms > (int64_t)s->limits.max_vms) {
            code = hvrpc_status_set(st, HVRPC_RESOURCE_EXHAUSTED,
                                    "the kvp store holds %u VMs already, "
                                    "its limit",
                                    s->limits.max_vms);
            goto rollback;
        }
    }
    what = "write the pool";
    if (replace) {
        rc = run(s, "DELETE FROM pairs WHERE pool=? AND vm=?", pool, vm, NULL,
                 NULL, NULL);
        if (rc != SQLITE_OK)
            goto db_error;
    }
    for (size_t i = 0; i < n_del; i++) {
        rc = run(s, "DELETE FROM pairs WHERE pool=? AND vm=? AND key=?", pool,
                 vm, del[i], NULL, &changes);
        if (rc != SQLITE_OK)
            goto db_error;
        removed += changes;
    }
    for (size_t i = 0; i < n_set; i++) {
        rc = run(s,
                 "INSERT INTO pairs(pool, vm, key, value) VALUES(?,?,?,?) "
                 "ON CONFLICT(pool, vm, key) DO UPDATE SET "
                 "value=excluded.value",
                 pool, vm, set[i].key, set[i].value ? set[i].value : "", NULL);
        if (rc != SQLITE_OK)
            goto db_error;
    }
    rc = count(s, "SELECT COUNT(*) FROM pairs WHERE pool=? AND vm=?", pool, vm,
               &n_keys);
    if (rc != SQLITE_OK)
        goto db_error;
    if (n_keys > (int64_t)s->limits.max_keys) {
        code = hvrpc_status_set(
            st, HVRPC_RESOURCE_EXHAUSTED,
            "the %s pool of %s would hold %lld keys; at "
            "most %u (nothing was written)",
            pool == HVRPC_KVP_GUEST_TO_HOST ? "guest-to-host" : "host-to-guest",
            vm, (long long)n_keys, s->limits.max_keys);
        goto rollback;
    }
    if (pool == HVRPC_KVP_GUEST_TO_HOST) {
        char now[32];
        snprintf(now, sizeof now, "%lld", (long long)time(NULL));
        rc =
            run(s, "UPDATE vms SET last_report=CAST(?2 AS INTEGER) WHERE vm=?1",
                0, vm, now, NULL, NULL);
        if (rc != SQLITE_OK)
            goto db_error;
    }
    what = "commit";
    rc = exec_sql(s->db, "COMMIT");
    if (rc != SQLITE_OK)
        goto db_error;
    s->generation[pool]++;
    pthread_cond_broadcast(&s->changed);
    pthread_mutex_unlock(&s->mu);
    if (keys)
        *keys = (uint32_t)n_keys;
    if (deleted)
        *deleted = (uint32_t)removed;
    return HVRPC_OK;

db_error:
    code = db_fail(s, rc, what, st);
rollback:
    exec_sql(s->db, "ROLLBACK");
    pthread_mutex_unlock(&s->mu);
    return code;
}

/* --- reads -------------------------------------------------------------- */

static char *column_dup(sqlite3_stmt *q, int col)
{
    const unsigned char *t = sqlite3_column_text(q, col);
    return strdup(t ? (const char *)t : "");
}

hvrpc_code hvrpc_kvp_store_get(hvrpc_kvp_store *s, hvrpc_kvp_pool pool,
                               const char *vm, const char *key, char **value,
                               hvrpc_status *st)
{
    sqlite3_stmt *q;
    hvrpc_code code;
    int rc;

    *value = NULL;
    if (!valid_pool(pool))
        return hvrpc_status_set(st, HVRPC_INVALID_ARGUMENT,
                                "pool must be GUEST_TO_HOST or HOST_TO_GUEST");
    code = hvrpc_kvp_check_vm(s, vm, st);
    if (code == HVRPC_OK)
        code = hvrpc_kvp_check_key(s, key, st);
    if (code != HVRPC_OK)
        return code;
    pthread_mutex_lock(&s->mu);
    rc = sqlite3_prepare_v2(
        s->db, "SELECT value FROM pairs WHERE pool=? AND vm=? AND key=?", -1,
        &q, NULL);
    if (rc == SQLITE_OK) {
        sqlite3_bind_int(q, 1, pool);
        sqlite3_bind_text(q, 2, vm, -1, SQLITE_STATIC);
        sqlite3_bind_text(q, 3, key, -1, SQLITE_STATIC);
        rc = sqlite3_step(q);
        if (rc == SQLITE_ROW) {
            *value = column_dup(q, 0);
            code = *value ? HVRPC_OK
                          : hvrpc_status_set(st, HVRPC_RESOURCE_EXHAUSTED,
                                             "out of memory");
        } else if (rc == SQLITE_DONE) {
            code = hvrpc_status_set(st, HVRPC_NOT_FOUND, "%s has no key %s", vm,
                                    key);
        } else {
            code = db_fail(s, rc, "get", st);
        }
        sqlite3_finalize(q);
    } else {
        code = db_fail(s, rc, "get", st);
    }
    pthread_mutex_unlock(&s->mu);
    return code;
}

hvrpc_code hvrpc_kvp_store_list(hvrpc_kvp_store *s, hvrpc_kvp_pool pool,
                                const char *vm, hvrpc_kvp_list *out,
                                hvrpc_status *st)
{
    sqlite3_stmt *q;
    hvrpc_code code = HVRPC_OK;
    size_t cap = 0;
    int rc;

    out->items = NULL;
    out->n = 0;
    if (!valid_pool(pool))
        return hvrpc_status_set(st, HVRPC_INVALID_ARGUMENT,
                                "pool must be GUEST_TO_HOST or HOST_TO_GUEST");
    code = hvrpc_kvp_check_vm(s, vm, st);
    if (code != HVRPC_OK)
        return code;
    pthread_mutex_lock(&s->mu);
    rc = sqlite3_prepare_v2(s->db,
                            "SELECT key, value FROM pairs WHERE pool=? AND "
                            "vm=? ORDER BY key",
                            -1, &q, NULL);
    if (rc != SQLITE_OK) {
        code = db_fail(s, rc, "list", st);
        pthread_mutex_unlock(&s->mu);
        return code;
    }
    sqlite3_bind_int(q, 1, pool);
    sqlite3_bind_text(q, 2, vm, -1, SQLITE_STATIC);
    while ((rc = sqlite3_step(q)) == SQLITE_ROW) {
        if (out->n == cap) {
            size_t ncap = cap ? cap * 2 : 16;
            hvrpc_kvp_item *n = realloc(out->items, ncap * sizeof *n);
            if (!n)
                break;
            out->items = n;
            cap = ncap;
        }
        out->items[out->n].key = column_dup(q, 0);
        out->items[out->n].value = column_dup(q, 1);
        out->n++;
        if (!out->items[out->n - 1].key || !out->items[out->n - 1].value)
            break;
    }
    if (rc == SQLITE_ROW)
        code = hvrpc_status_set(st, HVRPC_RESOURCE_EXHAUSTED,
                                "out of memory listing a pool");
    else if (rc != SQLITE_DONE)
        code = db_fail(s, rc, "list", st);
    sqlite3_finalize(q);
    pthread_mutex_unlock(&s->mu);
    if (code != HVRPC_OK)
        hvrpc_kvp_list_free(out);
    return code;
}

hvrpc_code hvrpc_kvp_store_vms(hvrpc_kvp_store *s, hvrpc_kvp_vm_list *out,
                               hvrpc_status *st)
{
    sqlite3_stmt *q;
    hvrpc_code code = HVRPC_OK;
    size_t cap = 0;
    int rc;

    out->vms = NULL;
    out->n = 0;
    pthread_mutex_lock(&s->mu);
    rc = sqlite3_prepare_v2(
        s->db,
        "SELECT v.vm, v.last_report,"
        " (SELECT COUNT(*) FROM pairs p WHERE p.pool=1 AND p.vm=v.vm),"
        " (SELECT COUNT(*) FROM pairs p WHERE p.pool=2 AND p.vm=v.vm)"
        " FROM vms v ORDER BY v.vm",
        -1, &q, NULL);
    if (rc != SQLITE_OK) {
        code = db_fail(s, rc, "list VMs", st);
        pthread_mutex_unlock(&s->mu);
        return code;
    }
    while ((rc = sqlite3_step(q)) == SQLITE_ROW) {
        hvrpc_kvp_vm_info *v;
        if (out->n == cap) {
            size_t ncap = cap ? cap * 2 : 16;
            hvrpc_kvp_vm_info *n = realloc(out->vms, ncap * sizeof *n);
            if (!n)
                break;
            out->vms = n;
            cap = ncap;
        }
        v = &out->vms[out->n++];
        v->vm = column_dup(q, 0);
        v->last_report_unix = sqlite3_column_int64(q, 1);
        v->guest_keys = (uint32_t)sqlite3_column_int64(q, 2);
        v->host_keys = (uint32_t)sqlite3_column_int64(q, 3);
        if (!v->vm)
            break;
    }
    if (rc == SQLITE_ROW)
        code = hvrpc_status_set(st, HVRPC_RESOURCE_EXHAUSTED,
                                "out of memory listing VMs");
    else if (rc != SQLITE_DONE)
        code = db_fail(s, rc, "list VMs", st);
    sqlite3_finalize(q);
    pthread_mutex_unlock(&s->mu);
    if (code != HVRPC_OK)
        hvrpc_kvp_vm_list_free(out);
    return code;
}

/* --- change notification ------------------------------------------------ */

uint64_t hvrpc_kvp_store_generation(hvrpc_kvp_store *s, hvrpc_kvp_pool pool)
{
    uint64_t g;

    pthread_mutex_lock(&s->mu);
    g = valid_pool(pool) ? s->generation[pool] : 0;
    pthread_mutex_unlock(&s->mu);
    return g;
}

bool hvrpc_kvp_store_wait(hvrpc_kvp_store *s, hvrpc_kvp_pool pool, uint64_t gen,
                          int timeout_ms)
{
    struct timespec until;
    bool moved;

    if (!valid_pool(pool))
        return false;
    until = hvrpc_svc_deadline(CLOCK_MONOTONIC, timeout_ms);
    pthread_mutex_lock(&s->mu);
    while (s->generation[pool] == gen &&
           pthread_cond_timedwait(&s->changed, &s->mu, &until) != ETIMEDOUT)
        ;
    moved = s->generation[pool] != gen;
    pthread_mutex_unlock(&s->mu);
    return moved;
}
