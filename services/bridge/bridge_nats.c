/*
 * bridge_nats.c - the NATS side of the bridge: the connection (failover
 * and reconnects are nats.c's), the JetStream stream, the publisher
 * thread (spool -> JetStream, in order, with message ids) and the
 * subscriptions that bring imports into the host bus (commands:
 * bridge_cmd.c).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <sys/stat.h>

#include "bridge.h"
#include "bridge_log.h"
#include "bridge_nats.h"
#include "hvrpc/bus/v1/bus.hvrpc.h"

#define PUBLISH_BATCH 64
#define IDLE_WAIT_MS  500
#define RETRY_WAIT_MS 250

static void set_connected(bridge *b, bool on)
{
    pthread_mutex_lock(&b->lock);
    b->stats.nats_connected = on;
    if (!on)
        b->stats.nats_trouble = true;
    pthread_cond_broadcast(&b->wake);
    pthread_mutex_unlock(&b->lock);
}

static void on_connected(natsConnection *nc, void *closure)
{
    char url[256] = "";

    natsConnection_GetConnectedUrl(nc, url, sizeof url);
    set_connected(closure, true);
    bridge_log("connected to NATS at %s", url);
}

static void on_disconnected(natsConnection *nc, void *closure)
{
    const char *why = NULL;

    natsConnection_GetLastError(nc, &why);
    set_connected(closure, false);
    bridge_log("disconnected from NATS%s%s; reconnecting",
               why && *why ? ": " : "", why && *why ? why : "");
}

hvrpc_code bridge_nats_to_bus(bridge *b, natsMsg *msg, const char *topic,
                              const char *const *extra_keys,
                              const char *const *extra_values, size_t n_extra,
                              hvrpc_status *st)
{
    const char *subject = natsMsg_GetSubject(msg);
    const char *keys[16], *values[16];
    const char **hkeys = NULL;
    char host[BRIDGE_HOST_ID_MAX + 1];
    const char *publisher = NULL;
    size_t n = 0, hlen;
    int nkeys = 0;
    hvrpc_code r;

    /* subject is "hvrpc.<host>.<...>": bridge_topic_for_subject said so. */
    hlen = strcspn(subject + 6, ".");
    snprintf(host, sizeof host, "%.*s", (int)hlen, subject + 6);
    for (size_t i = 0; i < n_extra && i < 2; i++) {
        keys[n] = extra_keys[i];
        values[n++] = extra_values[i];
    }
    keys[n] = "fleet-subject";
    values[n++] = subject;
    keys[n] = "fleet-host";
    values[n++] = host;
    if (natsMsgHeader_Get(msg, "Hvrpc-Publisher", &publisher) == NATS_OK) {
        keys[n] = "fleet-publisher";
        values[n++] = publisher;
    }
    /* The sender's own headers, as far as the bus takes them. */
    if (natsMsgHeader_Keys(msg, &hkeys, &nkeys) == NATS_OK) {
        for (int i = 0; i < nkeys && n < 16; i++) {
            const char *v = NULL;
            if (!bridge_header_key_ok(hkeys[i]) ||
                strncasecmp(hkeys[i], "fleet-", 6) == 0 ||
                natsMsgHeader_Get(msg, hkeys[i], &v) != NATS_OK)
                continue;
            keys[n] = hkeys[i];
            values[n++] = v;
        }
    }
    r = bridge_bus_publish(b, topic, (const uint8_t *)natsMsg_GetData(msg),
                           (size_t)natsMsg_GetDataLength(msg), keys, values, n,
                           st);
    free((void *)hkeys);
    return r;
}

/* A NATS message from another host (an import, at most once): into the
 * host bus, with where it came from in headers "fleet-subject",
 * "fleet-host" and "fleet-publisher" (the original publisher's identity
 * on its own host). Commands for this host come through the durable
 * consumer instead (bridge_cmd.c). */
static void on_message(natsConnection *nc, natsSubscription *sub, natsMsg *msg,
                       void *closure)
{
    bridge *b = closure;
    const char *subject = natsMsg_GetSubject(msg);
    char topic[BRIDGE_SUBJECT_MAX + 8];
    hvrpc_status st;

    (void)nc;
    (void)sub;
    /* This host's own events and commands coming back through an import
     * pattern, other hosts' commands: not for this bus. */
    if (bridge_topic_for_subject(b->cfg->host_id, subject, topic, sizeof topic,
                                 &st) != HVRPC_OK ||
        strncmp(topic, "fleet.", 6) != 0) {
        natsMsg_Destroy(msg);
        return;
    }
    if (bridge_nats_to_bus(b, msg, topic, NULL, NULL, 0, &st) == HVRPC_OK) {
        bridge_count(b, &b->stats.imported, 1);
    } else {
        bridge_count(b, &b->stats.import_failed, 1);
        bridge_log("%s -> bus topic %s: %s: %s", subject, topic,
                   hvrpc_code_name(st.code), st.message);
    }
    natsMsg_Destroy(msg);
}

static hvrpc_code nats_fail(const char *what, natsStatus s, hvrpc_status *st)
{
    return hvrpc_status_set(st, HVRPC_INVALID_ARGUMENT, "%s: %s (%s)", what,
                            natsStatus_GetText(s), nats_GetLastError(NULL));
}

static hvrpc_code subscribe(bridge *b, const char *subject, hvrpc_status *st)
{
    struct bridge_nats *n = b->nats;
    natsStatus s = natsConnection_Subscribe(&n->subs[n->n_subs], n->nc, subject,
                                            on_message, b);
    if (s != NATS_OK)
        return nats_fail(subject, s, st);
    n->n_subs++;
    bridge_log("bringing %s into the host bus", subject);
    return HVRPC_OK;
}

/* --user-file: "USER:PASSWORD" on the first line (the password may hold
 * ':'; a trailing newline is not part of it). A file others may read
 * works, with a warning: the point of the file is that only the bridge's
 * user can read it. */
static hvrpc_code set_user(natsOptions *o, const char *path, hvrpc_status *st)
{
    char line[1024];
    struct stat sb;
    char *colon;
    natsStatus s;
    FILE *f = fopen(path, "r");

    if (f == NULL)
        return hvrpc_status_set(st, HVRPC_INVALID_ARGUMENT,
                                "--user-file %s: %s", path, strerror(errno));
    if (fstat(fileno(f), &sb) == 0 && (sb.st_mode & 077) != 0)
        bridge_log("--user-file %s: readable by group or others (chmod 600)",
                   path);
    if (fgets(line, sizeof line, f) == NULL)
        line[0] = '\0';
    fclose(f);
    line[strcspn(line, "\r\n")] = '\0';
    colon = strchr(line, ':');
    if (colon == NULL || colon == line) {
        memset(line, 0, sizeof line);
        return hvrpc_status_set(st, HVRPC_INVALID_ARGUMENT,
                                "--user-file %s: the first line must be "
                                "USER:PASSWORD",
                                path);
    }
    *colon = '\0';
    s = natsOptions_SetUserInfo(o, line, colon + 1);
    memset(line, 0, sizeof line); /* no copy of the secret left behind */
    if (s != NATS_OK)
        return nats_fail("--user-file", s, st);
    return HVRPC_OK;
}

/* The first connection failed although a server answered: say what to
 * look at. */
static hvrpc_code refused(const bridge_config *cfg, natsStatus s,
                          hvrpc_status *st)
{
    const char *hint = "see the reason";

    if (s == NATS_SSL_ERROR)
        hint = cfg->tls_ca ? "TLS: the server's certificate is not signed by "
                             "a CA in --tls-ca"
                           : "TLS: the server's certificate is not trusted "
                             "by the system; give its CA with --tls-ca";
    else if (s == NATS_SECURE_CONNECTION_REQUIRED)
        hint = "the server wants TLS: --tls-ca FILE";
    else if (s == NATS_SECURE_CONNECTION_WANTED)
        hint = "the server does not speak TLS: drop --tls-*";
    else if (s == NATS_CONNECTION_AUTH_FAILED || s == NATS_NOT_PERMITTED)
        hint = "credentials: --user-file or --creds";
    else if (s == NATS_PROTOCOL_ERROR && cfg->tls_ca && !cfg->tls_cert)
        /* What a server that verifies clients does to one without a
         * certificate: it hangs up after the handshake. */
        hint = "the server hung up: does it want a client certificate, "
               "--tls-cert and --tls-key?";
    /* The hint first: the library's reason can be long. */
    return hvrpc_status_set(st, HVRPC_PERMISSION_DENIED,
                            "the NATS server refused the connection (%s): "
                            "%s: %s",
                            hint, natsStatus_GetText(s),
                            nats_GetLastError(NULL));
}

hvrpc_code bridge_nats_start(bridge *b, hvrpc_status *st)
{
    const bridge_config *cfg = b->cfg;
    struct bridge_nats *n = calloc(1, sizeof *n);
    char subject[BRIDGE_SUBJECT_MAX], name[96];
    jsOptions jo;
    natsStatus s;
    hvrpc_code r;

    if (n == NULL)
        return hvrpc_status_set(st, HVRPC_RESOURCE_EXHAUSTED, "out of memory");
    b->nats = n;
    snprintf(name, sizeof name, "hvrpc-bridge %s", cfg->host_id);
    if ((s = natsOptions_Create(&n->opts)) != NATS_OK ||
        (s = natsOptions_SetServers(n->opts, (const char **)cfg->servers,
                                    cfg->n_servers)) != NATS_OK ||
        (s = natsOptions_SetName(n->opts, name)) != NATS_OK ||
        /* Forever, quickly: failover to another node should take
         * well under a second, and an outage must not end the bridge. */
        (s = natsOptions_SetMaxReconnect(n->opts, -1)) != NATS_OK ||
        (s = natsOptions_SetReconnectWait(n->opts, 200)) != NATS_OK ||
        (s = natsOptions_SetTimeout(n->opts, 2000)) != NATS_OK ||
        (s = natsOptions_SetReconnectedCB(n->opts, on_connected, b)) !=
            NATS_OK ||
        (s = natsOptions_SetDisconnectedCB(n->opts, on_disconnected, b)) !=
            NATS_OK)
        return nats_fail("NATS options", s, st);
    if (cfg->creds && (s = natsOptions_SetUserCredentialsFromFiles(
                           n->opts, cfg->creds, NULL)) != NATS_OK)
        return nats_fail("--creds", s, st);
    if (cfg->tls_ca || cfg->tls_cert) {
        if ((s = natsOptions_SetSecure(n->opts, true)) != NATS_OK)
            return nats_fail("TLS", s, st);
        if (cfg->tls_ca && (s = natsOptions_LoadCATrustedCertificates(
                                n->opts, cfg->tls_ca)) != NATS_OK)
            return nats_fail("--tls-ca", s, st);
        if (cfg->tls_cert &&
            (s = natsOptions_LoadCertificatesChain(n->opts, cfg->tls_cert,
                                                   cfg->tls_key)) != NATS_OK)
            return nats_fail("--tls-cert/--tls-key", s, st);
    }
    if (cfg->user_file &&
        (r = set_user(n->opts, cfg->user_file, st)) != HVRPC_OK)
        return r;
    /* A first attempt that gives up at once: a server that answers but
     * refuses us (TLS, credentials) is a configuration error to report
     * now, not something to retry forever. */
    s = natsConnection_Connect(&n->nc, n->opts);
    if (s == NATS_OK) {
        on_connected(n->nc, b);
    } else if (s == NATS_NO_SERVER || s == NATS_TIMEOUT || s == NATS_IO_ERROR) {
        /* Nobody there (yet): with retry-on-failed-connect,
         * NOT_YET_CONNECTED is a connection that keeps trying, so the
         * bridge starts (and spools) while NATS is away. */
        bridge_log("NATS not reachable (%s); retrying in the background",
                   nats_GetLastError(NULL));
        if ((s = natsOptions_SetRetryOnFailedConnect(
                 n->opts, true, on_connected, b)) != NATS_OK)
            return nats_fail("NATS options", s, st);
        s = natsConnection_Connect(&n->nc, n->opts);
        if (s == NATS_OK)
            on_connected(n->nc, b);
        else if (s != NATS_NOT_YET_CONNECTED)
            return nats_fail("connect", s, st);
    } else {
        return refused(cfg, s, st);
    }
    jsOptions_Init(&jo);
    jo.Wait = cfg->ack_wait_ms;
    if ((s = natsConnection_JetStream(&n->js, n->nc, &jo)) != NATS_OK)
        return nats_fail("JetStream", s, st);
    for (size_t i = 0; i < cfg->n_imports; i++) {
        snprintf(subject, sizeof subject, "hvrpc.%s.>", cfg->imports[i]);
        if (subscribe(b, subject, st) != HVRPC_OK)
            return st->code;
    }
    return HVRPC_OK;
}

void bridge_nats_connected_url(bridge *b, char *buf, size_t cap)
{
    buf[0] = '\0';
    if (b->nats && b->nats->nc &&
        natsConnection_GetConnectedUrl(b->nats->nc, buf, cap) != NATS_OK)
        buf[0] = '\0';
}

void bridge_nats_stop(bridge *b)
{
    struct bridge_nats *n = b->nats;

    if (n == NULL)
        return;
    for (int i = 0; i < n->n_subs; i++) {
        natsSubscription_Unsubscribe(n->subs[i]);
        natsSubscription_Destroy(n->subs[i]);
    }
    jsCtx_Destroy(n->js);
    natsConnection_Destroy(n->nc);
    natsOptions_Destroy(n->opts);
    /* Waits for nats.c's threads (message callbacks use b). */
    nats_CloseAndWait(5000);
    free(n);
    b->nats = NULL;
}

/* The stream that stores this host's subject space: created when it is
 * missing, left alone when it exists (an operator may have tuned it). */
static bool ensure_stream(bridge *b)
{
    const bridge_config *cfg = b->cfg;
    struct bridge_nats *n = b->nats;
    char subject[BRIDGE_SUBJECT_MAX];
    const char *subjects[1] = {subject};
    jsStreamInfo *si = NULL;
    jsStreamConfig sc;
    jsErrCode jerr = 0;
    natsStatus s;

    s = js_GetStreamInfo(&si, n->js, cfg->stream, NULL, &jerr);
    if (s == NATS_OK) {
        jsStreamInfo_Destroy(si);
        return true;
    }
    if (s != NATS_NOT_FOUND)
        return false;
    snprintf(subject, sizeof subject, "hvrpc.%s.>", cfg->host_id);
    jsStreamConfig_Init(&sc);
    sc.Name = cfg->stream;
    sc.Subjects = subjects;
    sc.SubjectsLen = 1;
    sc.Storage = js_FileStorage;
    sc.Replicas = cfg->replicas;
    sc.Duplicates = cfg->dedup_window_ms * 1000000;
    s = js_AddStream(&si, n->js, &sc, NULL, &jerr);
    if (s == NATS_OK) {
        bridge_log("created stream %s (%s, %d replicas)", cfg->stream, subject,
                   cfg->replicas);
        jsStreamInfo_Destroy(si);
        return true;
    }
    if (jerr == JSStreamNameExistErr)
        return true;
    bridge_log("creating stream %s: %s (%d: %s)", cfg->stream,
               natsStatus_GetText(s), (int)jerr, nats_GetLastError(NULL));
    return false;
}

/* Builds the NATS message of a spooled event: its payload, and its
 * identity and application headers. */
static natsStatus make_message(bridge *b, const bridge_spool_entry *e,
                               const Hvrpc__Bus__V1__Event *ev, natsMsg **out)
{
    char when[24];
    natsMsg *m = NULL;
    natsStatus s;
    int skipped = 0;

    snprintf(when, sizeof when, "%lld", (long long)ev->time_unix_nano);
    s = natsMsg_Create(&m, e->subject, NULL, (const char *)ev->payload.data,
                       (int)ev->payload.len);
    if (s == NATS_OK)
        s = natsMsgHeader_Set(m, "Hvrpc-Publisher",
                              ev->publisher ? ev->publisher : "");
    if (s == NATS_OK)
        s = natsMsgHeader_Set(m, "Hvrpc-Host", b->cfg->host_id);
    if (s == NATS_OK)
        s = natsMsgHeader_Set(m, "Hvrpc-Topic", ev->topic ? ev->topic : "");
    if (s == NATS_OK)
        s = natsMsgHeader_Set(m, "Hvrpc-Time", when);
    for (size_t i = 0; s == NATS_OK && i < ev->n_headers; i++) {
        const Hvrpc__Bus__V1__Header *h = ev->headers[i];
        if (!bridge_header_key_ok(h->key) || !bridge_header_value_ok(h->value))
            skipped++;
        else
            s = natsMsgHeader_Add(m, h->key, h->value);
    }
    if (s == NATS_OK && skipped > 0) {
        char k[16];
        snprintf(k, sizeof k, "%d", skipped);
        s = natsMsgHeader_Set(m, "Hvrpc-Headers-Skipped", k);
    }
    if (s != NATS_OK) {
        natsMsg_Destroy(m);
        return s;
    }
    *out = m;
    return NATS_OK;
}

/* Publishes one spooled event and waits for JetStream's acknowledgement;
 * removes it from the spool when acknowledged. False: not acknowledged
 * (retried, the same event first, so order holds). */
static bool publish_one(bridge *b, const bridge_spool_entry *e)
{
    struct bridge_nats *n = b->nats;
    Hvrpc__Bus__V1__Event *ev;
    jsPubOptions po;
    jsPubAck *ack = NULL;
    jsErrCode jerr = 0;
    natsMsg *m = NULL;
    hvrpc_status st;
    natsStatus s;

    ev = hvrpc__bus__v1__event__unpack(NULL, e->len, e->event);
    if (ev == NULL) {
        /* Not what this program wrote: nothing to publish. */
        bridge_log("spool row %lld does not decode: dropped", (long long)e->id);
        bridge_count(b, &b->stats.dropped, 1);
        bridge_spool_remove(b->spool, e->id, &st);
        return true;
    }
    s = make_message(b, e, ev, &m);
    protobuf_c_message_free_unpacked(&ev->base, NULL);
    if (s != NATS_OK)
        return false;
    jsPubOptions_Init(&po);
    po.MsgId = e->msg_id;
    po.MaxWait = b->cfg->ack_wait_ms;
    po.ExpectStream = b->cfg->stream;
    s = js_PublishMsg(&ack, n->js, m, &po, &jerr);
    natsMsg_Destroy(m);
    if (s != NATS_OK) {
        if (!n->failing)
            bridge_log("publish %s: %s (%d: %s); retrying", e->subject,
                       natsStatus_GetText(s), (int)jerr,
                       nats_GetLastError(NULL));
        n->failing = true;
        n->stream_ready = false;
        pthread_mutex_lock(&b->lock);
        b->stats.publish_errors++;
        b->stats.nats_trouble = true;
        pthread_mutex_unlock(&b->lock);
        return false;
    }
    if (bridge_spool_remove(b->spool, e->id, &st) != HVRPC_OK)
        bridge_log("%s (the event may be sent again: JetStream drops it)",
                   st.message);
    if (n->failing)
        bridge_log("publishing again");
    n->failing = false;
    pthread_mutex_lock(&b->lock);
    b->stats.bridged++;
    if (ack->Duplicate)
        b->stats.duplicates++;
    if (e->waited)
        b->stats.replayed++;
    b->stats.nats_trouble = false;
    pthread_mutex_unlock(&b->lock);
    jsPubAck_Destroy(ack);
    return true;
}

void *bridge_publisher_main(void *arg)
{
    bridge *b = arg;
    struct bridge_nats *n = b->nats;
    bridge_spool_entry batch[PUBLISH_BATCH];
    hvrpc_status st;
    uint64_t gen;
    size_t count;

    for (;;) {
        pthread_mutex_lock(&b->lock);
        gen = b->gen;
        if (b->stop) {
            pthread_mutex_unlock(&b->lock);
            break;
        }
        pthread_mutex_unlock(&b->lock);
        /* One publisher per spool, or two would race each other's order. */
        if (!b->stats.publishing) {
            if (!bridge_spool_try_lock(b->spool)) {
                if (bridge_wait(b, IDLE_WAIT_MS, BRIDGE_WAKE_STOP, 0))
                    break;
                continue;
            }
            pthread_mutex_lock(&b->lock);
            b->stats.publishing = true;
            pthread_mutex_unlock(&b->lock);
            bridge_log("publisher lock taken: publishing the spool");
        }
        if (!n->stream_ready && !(n->stream_ready = ensure_stream(b))) {
            if (bridge_wait(b, IDLE_WAIT_MS, BRIDGE_WAKE_STOP, 0))
                break;
            continue;
        }
        if (bridge_spool_peek(b->spool, batch, PUBLISH_BATCH, &count, &st) !=
            HVRPC_OK) {
            bridge_log("%s", st.message);
            if (bridge_wait(b, IDLE_WAIT_MS, BRIDGE_WAKE_STOP, 0))
                break;
            continue;
        }
        if (count == 0) {
            if (bridge_wait(b, IDLE_WAIT_MS, BRIDGE_WAKE_ROWS, gen))
                break;
            continue;
        }
        bool ok = true;
        for (size_t i = 0; i < count && ok; i++)
            ok = publish_one(b, &batch[i]);
        for (size_t i = 0; i < count; i++)
            bridge_spool_entry_clear(&batch[i]);
        if (!ok && bridge_wait(b, RETRY_WAIT_MS, BRIDGE_WAKE_STOP, 0))
            break;
    }
    return NULL;
}
