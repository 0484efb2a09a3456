/*
 * kvp_bus.c - the host's publisher of host-to-guest KVP changes on the
 * bus (kvp_bus.h says what and why).
 *
 * One mutex guards the queue of (VM, key) changes and the stop flag; the
 * thread takes one change at a time, reads the key's value (with no lock
 * of ours held: the store has its own) and publishes it. A change it
 * could not send because the bus is away stays at the head of the queue
 * and is retried once a second.
 */
#include <errno.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "hvrpc/bus/v1/bus.hvrpc.h"
#include "kvp_bus.h"
#include "svc_log.h"
#include "svc_time.h"

#define RETRY_MS        1000
#define CALL_TIMEOUT_MS 5000
#define BUS_KEY_MAX     80 /* HVRPC_BUS_PEER_KEY_MAX */

typedef struct change {
    char *vm, *key;
} change;

struct hvrpc_kvp_bus {
    hvrpc_kvp_store *store;
    char *uri;
    hvrpc_kvp_log_fn log;
    void *log_arg;
    pthread_t thread;
    pthread_mutex_t mu; /* guards below */
    pthread_cond_t cv;
    change q[HVRPC_KVP_BUS_QUEUE]; /* a ring */
    size_t head, n;
    bool stop;
    bool full_logged;
};

#define say(b, ...) hvrpc_svc_logf((b)->log, (b)->log_arg, __VA_ARGS__)

static bool segment_byte(unsigned char c)
{
    return c >= 0x21 && c <= 0x7e && c != '.' && c != '*' && c != '>';
}

int hvrpc_kvp_bus_key(const char *vm, char *buf, size_t size)
{
    /* lower: a GUID in lower case; respell: '.' (or any byte a topic
     * segment cannot hold) becomes '-'; otherwise such a byte fails. */
    static const struct {
        const char *vm, *bus;
        bool lower, respell;
    } map[] = {
        {"vsock:", "vsock:", false, false},
        {"hvsock:", "hvsock:", true, false},
        {"unix:uid=", "uid:", false, false},
        {"mem:uid=", "uid:", false, false},
        {"hybrid+vsock:uid=", "hybrid:uid:", false, false},
        {"tcp:", "tcp:", false, true},
    };

    for (size_t i = 0; i < sizeof map / sizeof map[0]; i++) {
        size_t len = strlen(map[i].vm), n;
        const char *rest = vm + len;

        if (strncmp(vm, map[i].vm, len) != 0 || *rest == '\0')
            continue;
        n = strlen(map[i].bus);
        if (n + strlen(rest) >= size || n + strlen(rest) >= BUS_KEY_MAX)
            return -1;
        memcpy(buf, map[i].bus, n);
        for (; *rest; rest++) {
            unsigned char c = (unsigned char)*rest;
            if (map[i].lower && c >= 'A' && c <= 'F')
                c = (unsigned char)(c - 'A' + 'a');
            if (!segment_byte(c)) {
                if (!map[i].respell)
                    return -1;
                c = '-';
            }
            buf[n++] = (char)c;
        }
        buf[n] = '\0';
        return (int)n;
    }
    return -1;
}

void hvrpc_kvp_bus_changed(const char *vm, const char *key, void *arg)
{
    hvrpc_kvp_bus *b = arg;
    change c = {NULL, NULL};
    bool lost = false;

    pthread_mutex_lock(&b->mu);
    /* Queued already: the thread reads the newest value anyway. */
    for (size_t i = 0; i < b->n; i++) {
        change *q = &b->q[(b->head + i) % HVRPC_KVP_BUS_QUEUE];
        if (strcmp(q->vm, vm) == 0 && strcmp(q->key, key) == 0) {
            pthread_mutex_unlock(&b->mu);
            return;
        }
    }
    if (b->n == HVRPC_KVP_BUS_QUEUE || (c.vm = strdup(vm)) == NULL ||
        (c.key = strdup(key)) == NULL) {
        lost = !b->full_logged;
        b->full_logged = true;
        free(c.vm);
    } else {
        b->q[(b->head + b->n) % HVRPC_KVP_BUS_QUEUE] = c;
        b->n++;
        pthread_cond_signal(&b->cv);
    }
    pthread_mutex_unlock(&b->mu);
    if (lost)
        say(b,
            "bus: %d changes wait already; not publishing %s %s (guests "
            "read their pool again when they resubscribe)",
            HVRPC_KVP_BUS_QUEUE, vm, key);
}

/* Waits up to ms for a change or the stop; true when stopping. */
static bool wait_for(hvrpc_kvp_bus *b, int ms, bool need_change)
{
    struct timespec until = hvrpc_svc_deadline(CLOCK_MONOTONIC, ms);
    bool stop;

    pthread_mutex_lock(&b->mu);
    while (!b->stop && (!need_change || b->n == 0) &&
           pthread_cond_timedwait(&b->cv, &b->mu, &until) != ETIMEDOUT)
        ;
    stop = b->stop;
    pthread_mutex_unlock(&b->mu);
    return stop;
}

/* Publishes one change as the store has it now. HVRPC_UNAVAILABLE: try
 * again later; anything else: done with it. */
static hvrpc_code publish(hvrpc_kvp_bus *b, hvrpc_client *c, const change *ch,
                          hvrpc_status *st)
{
    Hvrpc__Bus__V1__PublishRequest req = HVRPC__BUS__V1__PUBLISH_REQUEST__INIT;
    Hvrpc__Bus__V1__PublishResponse *resp = NULL;
    Hvrpc__Bus__V1__Header h = HVRPC__BUS__V1__HEADER__INIT, *hp = &h;
    hvrpc_call_options co = HVRPC_CALL_OPTIONS_INIT;
    char key[BUS_KEY_MAX], topic[BUS_KEY_MAX + 32];
    char *value = NULL;
    hvrpc_code r;

    if (hvrpc_kvp_bus_key(ch->vm, key, sizeof key) < 0) {
        say(b,
            "bus: %s is not a guest's identity: its change of %s is not "
            "published",
            ch->vm, ch->key);
        return HVRPC_OK;
    }
    r = hvrpc_kvp_store_get(b->store, HVRPC_KVP_HOST_TO_GUEST, ch->vm, ch->key,
                            &value, st);
    if (r != HVRPC_OK && r != HVRPC_NOT_FOUND) {
        /* The store's trouble, not the bus's: not retried. */
        say(b, "bus: reading %s %s: %s: %s", ch->vm, ch->key,
            hvrpc_code_name(r), st->message);
        return HVRPC_OK;
    }
    snprintf(topic, sizeof topic, "private.%s.kvp.%s", key,
             value ? "set" : "delete");
    h.key = "key";
    h.value = ch->key;
    req.topic = topic;
    req.n_headers = 1;
    req.headers = &hp;
    if (value) {
        req.payload.data = (uint8_t *)value;
        req.payload.len = strlen(value);
    }
    co.timeout_ms = CALL_TIMEOUT_MS;
    r = hvrpc__bus__v1__bus__publish_call(c, &req, &resp, &co, st);
    free(value);
    if (r == HVRPC_OK)
        protobuf_c_message_free_unpacked(&resp->base, NULL);
    else if (r != HVRPC_UNAVAILABLE)
        say(b, "bus: publishing %s (%s): %s: %s", topic, ch->key,
            hvrpc_code_name(r), st->message);
    return r;
}

static void *run(void *arg)
{
    hvrpc_kvp_bus *b = arg;
    hvrpc_client *c = NULL;
    bool away = false;

    while (!wait_for(b, 1000, true)) {
        hvrpc_client_options o;
        hvrpc_status st;
        change ch;

        pthread_mutex_lock(&b->mu);
        if (b->n == 0) { /* woken by the timeout */
            pthread_mutex_unlock(&b->mu);
            continue;
        }
        ch = b->q[b->head]; /* stays queued until sent */
        pthread_mutex_unlock(&b->mu);
        hvrpc_client_options_init(&o);
        o.connect_timeout_ms = 2000;
        if (!c && hvrpc_client_connect(b->uri, &o, &c, &st) != HVRPC_OK)
            c = NULL;
        if (c && publish(b, c, &ch, &st) != HVRPC_UNAVAILABLE) {
            if (away)
                say(b, "bus: %s is back", b->uri);
            away = false;
            pthread_mutex_lock(&b->mu);
            b->head = (b->head + 1) % HVRPC_KVP_BUS_QUEUE;
            b->n--;
            b->full_logged = false;
            pthread_mutex_unlock(&b->mu);
            free(ch.vm);
            free(ch.key);
            continue;
        }
        if (!away)
            say(b, "bus: %s: %s (retrying every second)", b->uri, st.message);
        away = true;
        hvrpc_client_free(c);
        c = NULL;
        if (wait_for(b, RETRY_MS, false))
            break;
    }
    hvrpc_client_free(c);
    return NULL;
}

hvrpc_code hvrpc_kvp_bus_start(hvrpc_kvp_store *store, const char *bus_uri,
                               hvrpc_kvp_log_fn log, void *log_arg,
                               hvrpc_kvp_bus **out, hvrpc_status *st)
{
    hvrpc_kvp_bus *b;
    pthread_condattr_t ca;
    hvrpc_address addr;

    *out = NULL;
    /* A typo is said at startup, not once a second forever. */
    if (hvrpc_address_parse(bus_uri, &addr, st) != HVRPC_OK)
        return st->code;
    b = calloc(1, sizeof *b);
    if (!b || !(b->uri = strdup(bus_uri))) {
        free(b);
        return hvrpc_status_set(st, HVRPC_RESOURCE_EXHAUSTED,
                                "out of memory for the bus publisher");
    }
    b->store = store;
    b->log = log;
    b->log_arg = log_arg;
    pthread_mutex_init(&b->mu, NULL);
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&b->cv, &ca);
    pthread_condattr_destroy(&ca);
    if (pthread_create(&b->thread, NULL, run, b) != 0) {
        pthread_cond_destroy(&b->cv);
        pthread_mutex_destroy(&b->mu);
        free(b->uri);
        free(b);
        return hvrpc_status_set(st, HVRPC_RESOURCE_EXHAUSTED,
                                "cannot start the bus publisher's thread");
    }
    *out = b;
    return HVRPC_OK;
}

void hvrpc_kvp_bus_stop(hvrpc_kvp_bus *b)
{
    if (!b)
        return;
    pthread_mutex_lock(&b->mu);
    b->stop = true;
    pthread_cond_signal(&b->cv);
    pthread_mutex_unlock(&b->mu);
    pthread_join(b->thread, NULL);
    for (size_t i = 0; i < b->n; i++) {
        change *q = &b->q[(b->head + i) % HVRPC_KVP_BUS_QUEUE];
        free(q->vm);
        free(q->key);
    }
    pthread_cond_destroy(&b->cv);
    pthread_mutex_destroy(&b->mu);
    free(b->uri);
    free(b);
}
