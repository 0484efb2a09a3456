/*
 * bridge_cmd.c - commands for this host's guests, durably: the fleet
 * publishes to "hvrpc.<host>.cmd.X", the host's stream stores it (its
 * subjects are "hvrpc.<host>.>"), and this thread takes it from a durable
 * pull consumer into the host bus as topic "cmd.X", acknowledging it only
 * once the broker accepted it. A command sent while the bridge is down
 * or NATS is away waits in the stream (docs/FLEET.md, "Commands").
 *
 * One command at a time (the consumer's MaxAckPending is 1), so they
 * reach the bus in stream order, and only in the instance holding the
 * spool's publisher lock, so two instances during a hand-over do not
 * share (and reorder) them. The stream sequence of the last command
 * published into the bus is kept in the spool: a redelivery of it (the
 * acknowledgement was lost, or the bridge stopped between publishing and
 * acknowledging) is acknowledged without being published again.
 */
#include <stdio.h>
#include <string.h>

#include "bridge.h"
#include "bridge_log.h"
#include "bridge_nats.h"

#define CMD_DURABLE  "hvrpc-bridge-cmd"
#define CMD_META_KEY "cmd_seq"
#define FETCH_MS     1000
#define RETRY_MS     500
/* How long JetStream waits for an acknowledgement before it delivers a
 * command again (to this or the next instance). */
#define CMD_ACK_WAIT_NS (10LL * 1000000000LL)

/* The durable consumer (created when missing; an existing one is used as
 * it is) and a pull subscription bound to it. Creating it explicitly
 * rather than through js_PullSubscribe keeps nats.c from ever deleting it
 * with the subscription. */
static natsSubscription *bind_consumer(bridge *b, bool *logged)
{
    const bridge_config *cfg = b->cfg;
    struct bridge_nats *n = b->nats;
    char filter[BRIDGE_SUBJECT_MAX];
    jsConsumerInfo *ci = NULL;
    jsConsumerConfig cc;
    natsSubscription *sub = NULL;
    jsSubOptions so;
    jsErrCode jerr = 0;
    natsStatus s;

    s = js_GetConsumerInfo(&ci, n->js, cfg->stream, CMD_DURABLE, NULL, &jerr);
    if (s == NATS_NOT_FOUND) {
        snprintf(filter, sizeof filter, "hvrpc.%s.cmd.>", cfg->host_id);
        jsConsumerConfig_Init(&cc);
        cc.Durable = CMD_DURABLE;
        cc.Description = "hvrpc-bridge: commands into the host bus";
        cc.FilterSubject = filter;
        /* Commands stored before the first bridge came up count too. */
        cc.DeliverPolicy = js_DeliverAll;
        cc.AckPolicy = js_AckExplicit;
        cc.AckWait = CMD_ACK_WAIT_NS;
        cc.MaxAckPending = 1;
        cc.MaxDeliver = -1;
        s = js_AddConsumer(&ci, n->js, cfg->stream, &cc, NULL, &jerr);
        if (s == NATS_OK)
            bridge_log("created durable consumer %s on %s (%s)", CMD_DURABLE,
                       cfg->stream, filter);
    }
    jsConsumerInfo_Destroy(ci);
    if (s == NATS_OK) {
        jsSubOptions_Init(&so);
        so.Stream = cfg->stream;
        so.Consumer = CMD_DURABLE;
        so.ManualAck = true;
        s = js_PullSubscribe(&sub, n->js, NULL, CMD_DURABLE, NULL, &so, &jerr);
    }
    if (s != NATS_OK) {
        /* Usually the stream is not there yet (the publisher creates it)
         * or NATS is away: said once, retried quietly. */
        if (!*logged)
            bridge_log("commands: consumer %s on %s: %s (%d: %s); retrying",
                       CMD_DURABLE, cfg->stream, natsStatus_GetText(s),
                       (int)jerr, nats_GetLastError(NULL));
        *logged = true;
        return NULL;
    }
    *logged = false;
    bridge_log("taking commands from %s/%s", cfg->stream, CMD_DURABLE);
    return sub;
}

/* One command: into the bus and acknowledged, or (the bus did not take
 * it) handed back to JetStream for a later try. */
static void deliver(bridge *b, natsMsg *msg, uint64_t *last)
{
    const char *subject = natsMsg_GetSubject(msg);
    char topic[BRIDGE_SUBJECT_MAX + 8];
    char seq[24];
    const char *msg_id = "";
    const char *keys[2] = {"fleet-seq", "fleet-msg-id"};
    const char *values[2] = {seq, msg_id};
    jsMsgMetaData *meta = NULL;
    hvrpc_status st;
    uint64_t sseq = 0, delivered = 1;

    if (natsMsg_GetMetaData(&meta, msg) == NATS_OK) {
        sseq = meta->Sequence.Stream;
        delivered = meta->NumDelivered;
        jsMsgMetaData_Destroy(meta);
    }
    /* A redelivery of what this spool already published (sequences
     * only grow while commands go one at a time). A first delivery with
     * a sequence this low means the stream was made anew: publish. */
    if (delivered > 1 && sseq != 0 && sseq <= *last) {
        bridge_count(b, &b->stats.command_redeliveries, 1);
        natsMsg_AckSync(msg, NULL, NULL);
        return;
    }
    bool ok = bridge_topic_for_subject(b->cfg->host_id, subject, topic,
                                       sizeof topic, &st) == HVRPC_OK;
    if (ok && strncmp(topic, "cmd.", 4) != 0)
        ok = hvrpc_status_set(&st, HVRPC_INVALID_ARGUMENT, "not a command") ==
             HVRPC_OK;
    if (!ok) {
        /* Not a command this bus can carry: it would fail forever. */
        bridge_count(b, &b->stats.import_failed, 1);
        bridge_log("command %s: %s: dropped", subject, st.message);
        natsMsg_Term(msg, NULL);
        return;
    }
    snprintf(seq, sizeof seq, "%llu", (unsigned long long)sseq);
    if (natsMsgHeader_Get(msg, "Nats-Msg-Id", &msg_id) == NATS_OK)
        values[1] = msg_id;
    if (bridge_nats_to_bus(b, msg, topic, keys, values,
                           values[1][0] != '\0' ? 2 : 1, &st) != HVRPC_OK) {
        bridge_count(b, &b->stats.import_failed, 1);
        bridge_log("command %s -> bus topic %s: %s: %s (delivered again "
                   "later)",
                   subject, topic, hvrpc_code_name(st.code), st.message);
        natsMsg_NakWithDelay(msg, RETRY_MS, NULL);
        return;
    }
    /* Remembered before the acknowledgement: if that is lost, the
     * redelivery is recognised above. */
    if (sseq != 0) {
        *last = sseq;
        if (bridge_spool_set_meta(b->spool, CMD_META_KEY, sseq, &st) !=
            HVRPC_OK)
            bridge_log("%s", st.message);
    }
    bridge_count(b, &b->stats.commands, 1);
    if (natsMsg_AckSync(msg, NULL, NULL) != NATS_OK)
        bridge_log("command %s (stream sequence %llu): acknowledgement "
                   "failed: it will come again and be recognised",
                   subject, (unsigned long long)sseq);
}

void *bridge_commands_main(void *arg)
{
    bridge *b = arg;
    natsSubscription *sub = NULL;
    uint64_t last = bridge_spool_get_meta(b->spool, CMD_META_KEY);
    bool logged = false, failing = false;

    for (;;) {
        natsMsgList list = {0};
        jsErrCode jerr = 0;
        natsStatus s;
        bool publishing;

        pthread_mutex_lock(&b->lock);
        publishing = b->stats.publishing;
        pthread_mutex_unlock(&b->lock);
        if (!publishing ||
            (sub == NULL && (sub = bind_consumer(b, &logged)) == NULL)) {
            if (bridge_wait(b, RETRY_MS, BRIDGE_WAKE_ANY, 0))
                break;
            continue;
        }
        s = natsSubscription_Fetch(&list, sub, 1, FETCH_MS, &jerr);
        if (s == NATS_OK) {
            failing = false;
            for (int i = 0; i < list.Count; i++)
                deliver(b, list.Msgs[i], &last);
        } else if (s != NATS_TIMEOUT) {
            /* NATS away or failing over: the subscription comes back
             * with the connection. */
            if (!failing)
                bridge_log("commands: fetch: %s (%d: %s); retrying",
                           natsStatus_GetText(s), (int)jerr,
                           nats_GetLastError(NULL));
            failing = true;
            natsMsgList_Destroy(&list);
            if (bridge_wait(b, RETRY_MS, BRIDGE_WAKE_ANY, 0))
                break;
            continue;
        }
        natsMsgList_Destroy(&list);
        pthread_mutex_lock(&b->lock);
        s = b->stop ? NATS_ILLEGAL_STATE : NATS_OK;
        pthread_mutex_unlock(&b->lock);
        if (s != NATS_OK)
            break;
    }
    /* Destroy, not unsubscribe: the durable consumer stays. */
    natsSubscription_Destroy(sub);
    return NULL;
}
