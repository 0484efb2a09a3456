/*
 * bus_access.c - who may publish and subscribe where (docs/BUS.md,
 * "Access").
 *
 * A host serves many guests that do not trust each other, on one bus.
 * Topics under private.<key>. belong to the peer whose key (the identity
 * the kernel gave its connection, hvrpc_bus_peer_key()) is <key>: only
 * that peer and the host peers receive them, and only they publish there.
 * The rule is applied twice:
 *   - at Publish and Subscribe, to refuse early and clearly
 *     (PERMISSION_DENIED naming the topic or pattern);
 *   - at delivery (hvrpc__bus_may_receive(), in bus_publish.c), which is
 *     what makes it hold: a wildcard pattern (">", "private.>",
 *     "*.*.x") is not refused at Subscribe, and never receives another
 *     peer's private events.
 * "private.self" is rewritten to the caller's own key, so a guest need
 * not know how the host sees it.
 *
 * The user's hook (hvrpc_bus_options.authorize) runs first, on the
 * rewritten topic; it can refuse, never grant.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#ifndef _WIN32
#include <unistd.h>
#endif

#include "bus_internal.h"

#define PRIVATE      "private"
#define PRIVATE_SELF "private.self"
/* At most this much of a topic is quoted in a refusal. */
#define QUOTE_MAX 128

static bool plain_byte(unsigned char c)
{
    return c >= 0x21 && c <= 0x7e && c != '.' && c != '*' && c != '>';
}

int hvrpc_bus_peer_key(const hvrpc_peer *p, char *buf, size_t size)
{
    char guid[HVRPC_GUID_STRLEN];
    char addr[HVRPC_PEER_ADDR_MAX];
    const char *colon;
    size_t n;

    switch (p->kind) {
    case HVRPC_ADDR_VSOCK:
        return snprintf(buf, size, "vsock:%u", p->vsock_cid);
    case HVRPC_ADDR_HVSOCK:
        hvrpc_guid_format(&p->vm_id, guid);
        for (char *c = guid; *c != '\0'; c++) {
            if (*c >= 'A' && *c <= 'F')
                *c = (char)(*c - 'A' + 'a');
        }
        return snprintf(buf, size, "hvsock:%s", guid);
    case HVRPC_ADDR_UNIX:
    case HVRPC_ADDR_MEM:
        return snprintf(buf, size, "uid:%lld", (long long)p->uid);
    case HVRPC_ADDR_HYBRID_VSOCK:
        /* Not "uid:U": a VMM running as the host's own user must not
         * share the private space of that user's local processes. */
        return snprintf(buf, size, "hybrid:uid:%lld", (long long)p->uid);
    case HVRPC_ADDR_TCP:
        /* Without the port ("127.0.0.1:5555", "[::1]:5555"), one segment:
         * '.' (and anything a segment cannot hold) spelled '-'. */
        colon = strrchr(p->tcp_addr, ':');
        n = colon != NULL ? (size_t)(colon - p->tcp_addr)
                          : strnlen(p->tcp_addr, sizeof p->tcp_addr);
        if (n >= sizeof addr)
            n = sizeof addr - 1;
        for (size_t i = 0; i < n; i++)
            addr[i] = plain_byte((unsigned char)p->tcp_addr[i]) ? p->tcp_addr[i]
                                                                : '-';
        addr[n] = '\0';
        return snprintf(buf, size, "tcp:%s", addr);
    }
    return snprintf(buf, size, "unknown");
}

void hvrpc__bus_limit_key(const hvrpc_peer *p, char *buf, size_t size)
{
    const char *colon;

    switch (p->kind) {
    case HVRPC_ADDR_UNIX:
    case HVRPC_ADDR_HYBRID_VSOCK:
    case HVRPC_ADDR_MEM:
        snprintf(buf, size, "uid:%lld", (long long)p->uid);
        return;
    case HVRPC_ADDR_TCP:
        colon = strrchr(p->tcp_addr, ':');
        snprintf(buf, size, "tcp:%.*s",
                 colon != NULL ? (int)(colon - p->tcp_addr)
                               : (int)strlen(p->tcp_addr),
                 p->tcp_addr);
        return;
    case HVRPC_ADDR_VSOCK:
    case HVRPC_ADDR_HVSOCK:
        hvrpc_bus_peer_key(p, buf, size);
        return;
    }
    hvrpc_peer_format(p, buf, size);
}

static hvrpc_code add_host_key(hvrpc_bus *bus, const char *key,
                               hvrpc_status *st)
{
    size_t len;

    if (key == NULL || key[0] == '\0')
        return hvrpc_status_set(st, HVRPC_INVALID_ARGUMENT,
                                "hvrpc_bus_options.host_peers[%zu] is empty",
                                bus->n_host_keys);
    len = strnlen(key, PEER_KEY_MAX);
    if (len == PEER_KEY_MAX)
        return hvrpc_status_set(st, HVRPC_INVALID_ARGUMENT,
                                "hvrpc_bus_options.host_peers[%zu] is longer "
                                "than %d bytes",
                                bus->n_host_keys, PEER_KEY_MAX - 1);
    for (size_t i = 0; i < len; i++) {
        if (!plain_byte((unsigned char)key[i]))
            return hvrpc_status_set(st, HVRPC_INVALID_ARGUMENT,
                                    "hvrpc_bus_options.host_peers[%zu] "
                                    "\"%s\" is not a peer key (one topic "
                                    "segment: \"uid:0\", \"vsock:2\")",
                                    bus->n_host_keys, key);
    }
    memcpy(bus->host_keys[bus->n_host_keys], key, len + 1);
    bus->n_host_keys++;
    return HVRPC_OK;
}

hvrpc_code hvrpc__bus_access_init(hvrpc_bus *bus, hvrpc_status *st)
{
    const hvrpc_bus_options *o = &bus->o;
    size_t n = o->host_peers != NULL ? o->n_host_peers : 2;

    if (n > MAX_HOST_PEERS)
        return hvrpc_status_set(st, HVRPC_INVALID_ARGUMENT,
                                "hvrpc_bus_options.n_host_peers is %zu: at "
                                "most %d",
                                n, MAX_HOST_PEERS);
    bus->host_keys = calloc(n > 0 ? n : 1, sizeof *bus->host_keys);
    if (bus->host_keys == NULL)
        return hvrpc_status_set(st, HVRPC_RESOURCE_EXHAUSTED,
                                "out of memory for the bus");
    if (o->host_peers == NULL) {
        snprintf(bus->host_keys[0], PEER_KEY_MAX, "uid:0");
        bus->n_host_keys = 1;
#ifndef _WIN32
        if (geteuid() != 0)
            snprintf(bus->host_keys[bus->n_host_keys++], PEER_KEY_MAX,
                     "uid:%lld", (long long)geteuid());
#endif
    } else {
        for (size_t i = 0; i < n; i++) {
            if (add_host_key(bus, o->host_peers[i], st) != HVRPC_OK)
                return st->code;
        }
    }
    /* The caller's list is not kept: it need not outlive the call. */
    bus->o.host_peers = NULL;
    bus->o.n_host_peers = 0;
    return HVRPC_OK;
}

void hvrpc__bus_who(const hvrpc_bus *bus, const hvrpc_peer *p, bus_who *who)
{
    hvrpc_bus_peer_key(p, who->key, sizeof who->key);
    who->host = false;
    for (size_t i = 0; i < bus->n_host_keys; i++) {
        if (strcmp(bus->host_keys[i], who->key) == 0)
            who->host = true;
    }
}

const char *hvrpc__bus_private_owner(const char *topic, size_t *len)
{
    const size_t n = sizeof PRIVATE - 1;
    const char *owner, *end;

    if (strncmp(topic, PRIVATE, n) != 0 ||
        (topic[n] != '.' && topic[n] != '\0'))
        return NULL;
    if (topic[n] == '\0') {
        *len = 0;
        return topic + n;
    }
    owner = topic + n + 1;
    end = strchr(owner, '.');
    *len = end != NULL ? (size_t)(end - owner) : strlen(owner);
    return owner;
}

bool hvrpc__bus_may_receive(const bus_who *who, const char *owner,
                            size_t owner_len)
{
    if (owner == NULL || who->host)
        return true;
    return owner_len > 0 && strlen(who->key) == owner_len &&
           memcmp(who->key, owner, owner_len) == 0;
}

/* "private.self" or "private.self.REST" -> "private.KEY[.REST]"
 * (malloc'd), else NULL (also *oom when out of memory). */
static char *rewrite_self(const char *text, const char *key, bool *oom)
{
    const size_t n = sizeof PRIVATE_SELF - 1;
    const char *rest;
    size_t size;
    char *out;

    *oom = false;
    if (strncmp(text, PRIVATE_SELF, n) != 0 ||
        (text[n] != '.' && text[n] != '\0'))
        return NULL;
    rest = text + n;
    size = sizeof PRIVATE + 1 + strlen(key) + strlen(rest);
    out = malloc(size);
    if (out == NULL) {
        *oom = true;
        return NULL;
    }
    snprintf(out, size, "%s.%s%s", PRIVATE, key, rest);
    return out;
}

/* The user's hook, its answer made a refusal the caller can return. */
static hvrpc_code ask_hook(const hvrpc_bus *bus, const hvrpc_peer *peer,
                           const bus_who *who, hvrpc_bus_action action,
                           const char *topic, hvrpc_status *st)
{
    hvrpc_status hs;
    hvrpc_code r;

    if (bus->o.authorize == NULL)
        return HVRPC_OK;
    hvrpc_status_clear(&hs);
    r = bus->o.authorize(peer, action, topic, bus->o.authorize_arg, &hs);
    if (r == HVRPC_OK)
        return HVRPC_OK;
    if ((int)r < 1 || (int)r > HVRPC_CODE_MAX)
        r = HVRPC_PERMISSION_DENIED;
    if (hs.message[0] != '\0')
        return hvrpc_status_set(st, r, "%s", hs.message);
    return hvrpc_status_set(st, r,
                            "%s \"%.*s\" refused for %s by the bus's "
                            "access hook",
                            action == HVRPC_BUS_PUBLISH ? "topic" : "pattern",
                            QUOTE_MAX, topic, who->key);
}

hvrpc_code hvrpc__bus_access_publish(const hvrpc_bus *bus,
                                     const hvrpc_peer *peer, const bus_who *who,
                                     const char *topic, char **rewritten,
                                     hvrpc_status *st)
{
    const char *owner;
    size_t len;
    bool oom;

    *rewritten = rewrite_self(topic, who->key, &oom);
    if (oom)
        return hvrpc_status_set(st, HVRPC_RESOURCE_EXHAUSTED,
                                "out of memory for a topic");
    if (*rewritten != NULL) {
        topic = *rewritten;
        /* The key may have made it too long. */
        if (hvrpc_bus_topic_check(topic, &bus->o, st) != HVRPC_OK)
            goto refused;
    }
    if (ask_hook(bus, peer, who, HVRPC_BUS_PUBLISH, topic, st) != HVRPC_OK)
        goto refused;
    owner = hvrpc__bus_private_owner(topic, &len);
    if (!hvrpc__bus_may_receive(who, owner, len)) {
        hvrpc_status_set(st, HVRPC_PERMISSION_DENIED,
                         "topic \"%.*s\" is in the private space of %.*s: "
                         "only that peer and the host publish there (you are "
                         "%s; your own space is private.self)",
                         QUOTE_MAX, topic, (int)len, owner, who->key);
        goto refused;
    }
    return HVRPC_OK;
refused:
    free(*rewritten);
    *rewritten = NULL;
    return st->code;
}

hvrpc_code hvrpc__bus_access_subscribe(const hvrpc_bus *bus,
                                       const hvrpc_peer *peer,
                                       const bus_who *who, const char *pattern,
                                       char **out, hvrpc_status *st)
{
    const char *owner;
    size_t len;
    bool oom;

    *out = rewrite_self(pattern, who->key, &oom);
    if (oom)
        return hvrpc_status_set(st, HVRPC_RESOURCE_EXHAUSTED,
                                "out of memory for a pattern");
    if (*out != NULL) {
        if (hvrpc_bus_pattern_check(*out, &bus->o, st) != HVRPC_OK)
            goto refused;
    } else if ((*out = strdup(pattern)) == NULL) {
        return hvrpc_status_set(st, HVRPC_RESOURCE_EXHAUSTED,
                                "out of memory for a pattern");
    }
    if (ask_hook(bus, peer, who, HVRPC_BUS_SUBSCRIBE, *out, st) != HVRPC_OK)
        goto refused;
    /* A pattern naming another peer's space could never match anything
     * it may receive: say so, rather than deliver nothing. Wildcards in
     * the owner's place are let through (and filtered at delivery). */
    owner = hvrpc__bus_private_owner(*out, &len);
    if (owner != NULL && len > 0 && !(len == 1 && (*owner == '*')) &&
        !(len == 1 && *owner == '>') &&
        !hvrpc__bus_may_receive(who, owner, len)) {
        hvrpc_status_set(st, HVRPC_PERMISSION_DENIED,
                         "pattern \"%.*s\" names the private space of %.*s: "
                         "only that peer and the host receive it (you are %s; "
                         "your own space is private.self)",
                         QUOTE_MAX, *out, (int)len, owner, who->key);
        goto refused;
    }
    return HVRPC_OK;
refused:
    free(*out);
    *out = NULL;
    return st->code;
}
