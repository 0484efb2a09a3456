/*
 * kvp_store.h - the KVP pools of every VM, kept in SQLite (docs/KVP.md).
 *
 * A pool is a set of key/value pairs of one VM: its guest-to-host pool
 * (written by the guest) or its host-to-guest pool (written by the host).
 * Every write is one transaction, committed (WAL, synchronous=FULL) before
 * the call returns, so a host killed at any moment loses no acknowledged
 * write. Every size is checked against the store's limits before anything
 * is written: a key or value too long or malformed is INVALID_ARGUMENT, a
 * pool or the store too full is RESOURCE_EXHAUSTED, and in both cases
 * nothing of the write is applied.
 *
 * Threads: every function may be called from any thread (one mutex around
 * the database connection). Watchers learn of changes from a generation
 * counter per pool kind (hvrpc_kvp_store_wait()).
 */
#ifndef HVRPC_KVP_STORE_H
#define HVRPC_KVP_STORE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <hvrpc/hvrpc.h>

/* Pool kinds; the values are kvp.proto's Pool. */
typedef enum hvrpc_kvp_pool {
    HVRPC_KVP_GUEST_TO_HOST = 1,
    HVRPC_KVP_HOST_TO_GUEST = 2,
} hvrpc_kvp_pool;

/* The store's limits. Defaults are Hyper-V's KVP sizes (key 512 bytes,
 * value 2048 bytes) and 256 keys per pool. */
typedef struct hvrpc_kvp_limits {
    size_t size;            /* sizeof(hvrpc_kvp_limits), set by _init */
    uint32_t max_key;       /* bytes of a key (at least 1); 512 */
    uint32_t max_value;     /* bytes of a value; 2048 */
    uint32_t max_keys;      /* keys of one pool of one VM; 256 */
    uint32_t max_vms;       /* VMs the store knows (any pool); 4096 */
    uint32_t max_vm_length; /* bytes of a VM identity; 128 */
} hvrpc_kvp_limits;

#define HVRPC_KVP_MAX_KEY       512u
#define HVRPC_KVP_MAX_VALUE     2048u
#define HVRPC_KVP_MAX_KEYS      256u
#define HVRPC_KVP_MAX_VMS       4096u
#define HVRPC_KVP_MAX_VM_LENGTH 128u

void hvrpc_kvp_limits_init(hvrpc_kvp_limits *l);

typedef struct hvrpc_kvp_store hvrpc_kvp_store;

/* One pair; a list owns its strings. */
typedef struct hvrpc_kvp_item {
    char *key;
    char *value;
} hvrpc_kvp_item;

typedef struct hvrpc_kvp_list {
    hvrpc_kvp_item *items; /* sorted by key (bytewise) */
    size_t n;
} hvrpc_kvp_list;

void hvrpc_kvp_list_free(hvrpc_kvp_list *l);

/* One VM the store knows. */
typedef struct hvrpc_kvp_vm_info {
    char *vm;
    uint32_t guest_keys;
    uint32_t host_keys;
    int64_t last_report_unix; /* 0: never reported */
} hvrpc_kvp_vm_info;

typedef struct hvrpc_kvp_vm_list {
    hvrpc_kvp_vm_info *vms; /* sorted by identity */
    size_t n;
} hvrpc_kvp_vm_list;

void hvrpc_kvp_vm_list_free(hvrpc_kvp_vm_list *l);

/* Opens (creating when needed) the database at path, in WAL mode. limits
 * may be NULL for the defaults; INVALID_ARGUMENT for limits out of range,
 * UNAVAILABLE when the file cannot be opened or is not a KVP store. */
hvrpc_code hvrpc_kvp_store_open(const char *path,
                                const hvrpc_kvp_limits *limits,
                                hvrpc_kvp_store **out, hvrpc_status *st);

/* Closes the database and frees s. s may be NULL. */
void hvrpc_kvp_store_close(hvrpc_kvp_store *s);

const hvrpc_kvp_limits *hvrpc_kvp_store_limits(const hvrpc_kvp_store *s);

/* OK when text is a valid key / value / VM identity under the limits;
 * INVALID_ARGUMENT saying what is wrong otherwise. */
hvrpc_code hvrpc_kvp_check_key(const hvrpc_kvp_store *s, const char *key,
                               hvrpc_status *st);
hvrpc_code hvrpc_kvp_check_value(const hvrpc_kvp_store *s, const char *key,
                                 const char *value, hvrpc_status *st);
hvrpc_code hvrpc_kvp_check_vm(const hvrpc_kvp_store *s, const char *vm,
                              hvrpc_status *st);

/* One write of a pool, in one transaction: with replace, every key not in
 * set is removed first; then the keys in del are removed (absent ones
 * ignored) and the pairs of set stored (the last of a repeated key wins).
 * *keys (may be NULL) receives the pool's size after, *deleted (may be
 * NULL) how many keys del removed. A guest-to-host write also records the
 * time of the VM's last report. All or nothing. */
hvrpc_code hvrpc_kvp_store_write(hvrpc_kvp_store *s, hvrpc_kvp_pool pool,
                                 const char *vm, const hvrpc_kvp_item *set,
                                 size_t n_set, const char *const *del,
                                 size_t n_del, bool replace, uint32_t *keys,
                                 uint32_t *deleted, hvrpc_status *st);

/* The value of key in vm's pool (*value the caller's to free), or
 * NOT_FOUND. */
hvrpc_code hvrpc_kvp_store_get(hvrpc_kvp_store *s, hvrpc_kvp_pool pool,
                               const char *vm, const char *key, char **value,
                               hvrpc_status *st);

/* Every pair of vm's pool (empty when the VM is unknown). */
hvrpc_code hvrpc_kvp_store_list(hvrpc_kvp_store *s, hvrpc_kvp_pool pool,
                                const char *vm, hvrpc_kvp_list *out,
                                hvrpc_status *st);

/* Every VM the store knows. */
hvrpc_code hvrpc_kvp_store_vms(hvrpc_kvp_store *s, hvrpc_kvp_vm_list *out,
                               hvrpc_status *st);

/* The pool kind's generation: it moves with every write of any pool of
 * that kind. */
uint64_t hvrpc_kvp_store_generation(hvrpc_kvp_store *s, hvrpc_kvp_pool pool);

/* Waits up to timeout_ms for the generation of pool to differ from gen.
 * True when it does. */
bool hvrpc_kvp_store_wait(hvrpc_kvp_store *s, hvrpc_kvp_pool pool, uint64_t gen,
                          int timeout_ms);

#endif /* HVRPC_KVP_STORE_H */
