/*
 * bridge_spool.c - the spool on SQLite (bridge_spool.h).
 *
 * WAL mode with synchronous=NORMAL: a committed row survives the bridge
 * process dying at any point (what a restart needs); a power loss may
 * lose the last commits, as it may lose what the bus had queued anyway.
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <unistd.h>

#include <sqlite3.h>

#include "bridge_spool.h"

struct bridge_spool {
    sqlite3 *db;
    pthread_mutex_t mu; /* one statement at a time on db */
    uint64_t max;
    char *lock_path;
    int lock_fd; /* -1: not held */
};

static hvrpc_code db_error(bridge_spool *sp, const char *what, hvrpc_status *st)
{
    return hvrpc_status_set(st, HVRPC_INTERNAL, "spool %s: %s", what,
                            sqlite3_errmsg(sp->db));
}

hvrpc_code bridge_spool_open(const char *path, uint64_t max, bridge_spool **out,
                             hvrpc_status *st)
{
    static const char schema[] = "PRAGMA journal_mode=WAL;"
                                 "PRAGMA synchronous=NORMAL;"
                                 "CREATE TABLE IF NOT EXISTS spool("
                                 " id INTEGER PRIMARY KEY AUTOINCREMENT,"
                                 " msg_id TEXT NOT NULL UNIQUE,"
                                 " subject TEXT NOT NULL,"
                                 " event BLOB NOT NULL,"
                                 " waited INTEGER NOT NULL DEFAULT 0);"
                                 "CREATE TABLE IF NOT EXISTS meta("
                                 " key TEXT PRIMARY KEY,"
                                 " value INTEGER NOT NULL);";
    bridge_spool *sp = calloc(1, sizeof *sp);
    char *err = NULL;
    size_t n = strlen(path);

    if (sp == NULL || (sp->lock_path = malloc(n + 6)) == NULL) {
        free(sp);
        return hvrpc_status_set(st, HVRPC_RESOURCE_EXHAUSTED,
                                "out of memory opening the spool");
    }
    memcpy(sp->lock_path, path, n);
    memcpy(sp->lock_path + n, ".lock", 6);
    sp->lock_fd = -1;
    sp->max = max;
    pthread_mutex_init(&sp->mu, NULL);
    if (sqlite3_open_v2(path, &sp->db,
                        SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE |
                            SQLITE_OPEN_FULLMUTEX,
                        NULL) != SQLITE_OK) {
        hvrpc_status_set(st, HVRPC_UNAVAILABLE, "spool %s: %s", path,
                         sp->db ? sqlite3_errmsg(sp->db) : "out of memory");
        bridge_spool_close(sp);
        return HVRPC_UNAVAILABLE;
    }
    /* Another instance may be writing the same file (a hand-over). */
    sqlite3_busy_timeout(sp->db, 10000);
    if (sqlite3_exec(sp->db, schema, NULL, NULL, &err) != SQLITE_OK) {
        hvrpc_status_set(st, HVRPC_UNAVAILABLE, "spool %s: %s", path,
                         err ? err : "?");
        sqlite3_free(err);
        bridge_spool_close(sp);
        return HVRPC_UNAVAILABLE;
    }
    *out = sp;
    return HVRPC_OK;
}

/* Rows are removed oldest first, so max(id) - min(id) + 1 is the count
 * (an upper bound when a hand-over removed rows out of order) and costs
 * two index look-ups instead of a scan. Called with sp->mu held. */
static uint64_t depth_locked(bridge_spool *sp)
{
    sqlite3_stmt *s = NULL;
    uint64_t n = 0;

    if (sqlite3_prepare_v2(sp->db,
                           "SELECT (SELECT max(id) FROM spool) - "
                           "(SELECT min(id) FROM spool) + 1",
                           -1, &s, NULL) == SQLITE_OK &&
        sqlite3_step(s) == SQLITE_ROW &&
        sqlite3_column_type(s, 0) != SQLITE_NULL)
        n = (uint64_t)sqlite3_column_int64(s, 0);
    sqlite3_finalize(s);
    return n;
}

uint64_t bridge_spool_depth(bridge_spool *sp)
{
    uint64_t n;

    pthread_mutex_lock(&sp->mu);
    n = depth_locked(sp);
    pthread_mutex_unlock(&sp->mu);
    return n;
}

hvrpc_code bridge_spool_add(bridge_spool *sp, const char *msg_id,
                            const char *subject, const uint8_t *event,
                            size_t len, bool waited, bool *added,
                            hvrpc_status *st)
{
    sqlite3_stmt *s = NULL;
    hvrpc_code r = HVRPC_OK;

    *added = false;
    pthread_mutex_lock(&sp->mu);
    if (depth_locked(sp) >= sp->max) {
        pthread_mutex_unlock(&sp->mu);
        return hvrpc_status_set(st, HVRPC_RESOURCE_EXHAUSTED,
                                "spool full (%llu events)",
                                (unsigned long long)sp->max);
    }
    if (sqlite3_prepare_v2(sp->db,
                           "INSERT OR IGNORE INTO spool(msg_id, subject, "
                           "event, waited) VALUES (?, ?, ?, ?)",
                           -1, &s, NULL) != SQLITE_OK ||
        sqlite3_bind_text(s, 1, msg_id, -1, SQLITE_STATIC) != SQLITE_OK ||
        sqlite3_bind_text(s, 2, subject, -1, SQLITE_STATIC) != SQLITE_OK ||
        sqlite3_bind_blob(s, 3, len ? event : (const void *)"", (int)len,
                          SQLITE_STATIC) != SQLITE_OK ||
        sqlite3_bind_int(s, 4, waited) != SQLITE_OK ||
        sqlite3_step(s) != SQLITE_DONE)
        r = db_error(sp, "insert", st);
    else
        *added = sqlite3_changes(sp->db) > 0;
    sqlite3_finalize(s);
    pthread_mutex_unlock(&sp->mu);
    return r;
}

static char *dup_text(const unsigned char *t)
{
    return strdup(t ? (const char *)t : "");
}

hvrpc_code bridge_spool_peek(bridge_spool *sp, bridge_spool_entry *out,
                             size_t cap, size_t *n, hvrpc_status *st)
{
    sqlite3_stmt *s = NULL;
    hvrpc_code r = HVRPC_OK;
    int rc;

    *n = 0;
    pthread_mutex_lock(&sp->mu);
    if (sqlite3_prepare_v2(sp->db,
                           "SELECT id, msg_id, subject, event, waited FROM "
                           "spool ORDER BY id LIMIT ?",
                           -1, &s, NULL) != SQLITE_OK ||
        sqlite3_bind_int64(s, 1, (sqlite3_int64)cap) != SQLITE_OK) {
        r = db_error(sp, "select", st);
        goto out;
    }
    while (*n < cap && (rc = sqlite3_step(s)) == SQLITE_ROW) {
        bridge_spool_entry *e = &out[*n];
        int len = sqlite3_column_bytes(s, 3);
        const void *blob = sqlite3_column_blob(s, 3);

        memset(e, 0, sizeof *e);
        e->id = sqlite3_column_int64(s, 0);
        e->msg_id = dup_text(sqlite3_column_text(s, 1));
        e->subject = dup_text(sqlite3_column_text(s, 2));
        e->len = len > 0 ? (size_t)len : 0;
        e->event = malloc(e->len ? e->len : 1);
        e->waited = sqlite3_column_int(s, 4) != 0;
        if (!e->msg_id || !e->subject || !e->event) {
            bridge_spool_entry_clear(e);
            r = hvrpc_status_set(st, HVRPC_RESOURCE_EXHAUSTED,
                                 "out of memory reading the spool");
            break;
        }
        if (e->len)
            memcpy(e->event, blob, e->len);
        (*n)++;
    }
out:
    sqlite3_finalize(s);
    pthread_mutex_unlock(&sp->mu);
    if (r != HVRPC_OK) {
        for (size_t i = 0; i < *n; i++)
            bridge_spool_entry_clear(&out[i]);
        *n = 0;
    }
    return r;
}

void bridge_spool_entry_clear(bridge_spool_entry *e)
{
    free(e->msg_id);
    free(e->subject);
    free(e->event);
    memset(e, 0, sizeof *e);
}

hvrpc_code bridge_spool_remove(bridge_spool *sp, int64_t id, hvrpc_status *st)
{
    sqlite3_stmt *s = NULL;
    hvrpc_code r = HVRPC_OK;

    pthread_mutex_lock(&sp->mu);
    if (sqlite3_prepare_v2(sp->db, "DELETE FROM spool WHERE id = ?", -1, &s,
                           NULL) != SQLITE_OK ||
        sqlite3_bind_int64(s, 1, id) != SQLITE_OK ||
        sqlite3_step(s) != SQLITE_DONE)
        r = db_error(sp, "delete", st);
    sqlite3_finalize(s);
    pthread_mutex_unlock(&sp->mu);
    return r;
}

uint64_t bridge_spool_get_meta(bridge_spool *sp, const char *key)
{
    sqlite3_stmt *s = NULL;
    uint64_t v = 0;

    pthread_mutex_lock(&sp->mu);
    if (sqlite3_prepare_v2(sp->db, "SELECT value FROM meta WHERE key = ?", -1,
                           &s, NULL) == SQLITE_OK &&
        sqlite3_bind_text(s, 1, key, -1, SQLITE_STATIC) == SQLITE_OK &&
        sqlite3_step(s) == SQLITE_ROW)
        v = (uint64_t)sqlite3_column_int64(s, 0);
    sqlite3_finalize(s);
    pthread_mutex_unlock(&sp->mu);
    return v;
}

hvrpc_code bridge_spool_set_meta(bridge_spool *sp, const char *key,
                                 uint64_t value, hvrpc_status *st)
{
    sqlite3_stmt *s = NULL;
    hvrpc_code r = HVRPC_OK;

    pthread_mutex_lock(&sp->mu);
    if (sqlite3_prepare_v2(sp->db,
                           "INSERT OR REPLACE INTO meta(key, value) "
                           "VALUES (?, ?)",
                           -1, &s, NULL) != SQLITE_OK ||
        sqlite3_bind_text(s, 1, key, -1, SQLITE_STATIC) != SQLITE_OK ||
        sqlite3_bind_int64(s, 2, (sqlite3_int64)value) != SQLITE_OK ||
        sqlite3_step(s) != SQLITE_DONE)
        r = db_error(sp, "meta", st);
    sqlite3_finalize(s);
    pthread_mutex_unlock(&sp->mu);
    return r;
}

bool bridge_spool_try_lock(bridge_spool *sp)
{
    if (sp->lock_fd >= 0)
        return true;
    int fd = open(sp->lock_path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
    if (fd < 0)
        return false;
    if (flock(fd, LOCK_EX | LOCK_NB) != 0) {
        close(fd);
        return false;
    }
    sp->lock_fd = fd;
    return true;
}

void bridge_spool_close(bridge_spool *sp)
{
    if (sp == NULL)
        return;
    sqlite3_close(sp->db);
    if (sp->lock_fd >= 0)
        close(sp->lock_fd);
    pthread_mutex_destroy(&sp->mu);
    free(sp->lock_path);
    free(sp);
}
