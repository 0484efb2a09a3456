/*
 * bus_publish.c - the Publish handler (bus_internal.h says how the broker
 * is split).
 *
 * A publish is checked (syntax, limits, then access: bus_access.c),
 * packed once, and offered under bus->mu to every subscription whose
 * patterns match and that may receive it (a private topic only reaches
 * its owner and the host peers). It runs on a worker and never waits
 * there: a publish that finds a BLOCK subscription full leaves a waiter
 * in that subscription's FIFO and a timer (hvrpc_server_schedule), and is
 * answered by whoever resolves its last waiter (bus_queue.c): the
 * subscription's sender making room, the timer, or the subscription
 * ending.
 */
#include <stdlib.h>
#include <string.h>

#include "bus_internal.h"

static bool reserved_key(const char *key)
{
    static const char prefix[] = "hvrpc-";

    for (size_t i = 0; i < sizeof prefix - 1; i++) {
        char c = key[i];
        if (c >= 'A' && c <= 'Z')
            c = (char)(c - 'A' + 'a');
        if (c != prefix[i])
            return false;
    }
    return true;
}

static hvrpc_code check_publish(const hvrpc_bus *bus,
                                const publish_request *req, hvrpc_status *st)
{
    size_t header_bytes = 0;

    if (hvrpc_bus_topic_check(req->topic, &bus->o, st) != HVRPC_OK)
        return st->code;
    if (req->payload.len > bus->o.max_payload)
        return hvrpc_status_set(st, HVRPC_RESOURCE_EXHAUSTED,
                                "payload of %zu bytes: the limit is %u",
                                req->payload.len, bus->o.max_payload);
    if (req->n_headers > bus->o.max_headers)
        return hvrpc_status_set(st, HVRPC_INVALID_ARGUMENT,
                                "%zu headers: the limit is %u", req->n_headers,
                                bus->o.max_headers);
    for (size_t i = 0; i < req->n_headers; i++) {
        const char *k = req->headers[i]->key ? req->headers[i]->key : "";
        const char *v = req->headers[i]->value ? req->headers[i]->value : "";

        if (k[0] == '\0')
            return hvrpc_status_set(st, HVRPC_INVALID_ARGUMENT,
                                    "header %zu has an empty key", i);
        if (reserved_key(k))
            return hvrpc_status_set(st, HVRPC_INVALID_ARGUMENT,
                                    "header \"%.40s\": keys starting with "
                                    "\"hvrpc-\" are reserved",
                                    k);
        header_bytes += strlen(k) + strlen(v);
        if (header_bytes > bus->o.max_header_bytes)
            return hvrpc_status_set(st, HVRPC_INVALID_ARGUMENT,
                                    "headers over %u bytes",
                                    bus->o.max_header_bytes);
    }
    return HVRPC_OK;
}

static bool sub_matches(const sub *s, const char *topic)
{
    for (size_t i = 0; i < s->n_patterns; i++) {
        if (hvrpc_bus_topic_matches(s->patterns[i], topic))
            return true;
    }
    return false;
}

/* The timer of a publish that waits: its deadline or the block timeout
 * came (also run at once when the server stops). Each subscription it
 * still waits for loses the event: ended when the block timeout passed,
 * a gap when the publisher's deadline came first. */
static void wait_over(void *arg)
{
    pub_op *op = arg;
    hvrpc_bus *bus = op->bus;
    pub_op *done = NULL;

    pthread_mutex_lock(&bus->mu);
    while (op->waiters != NULL) {
        waiter *w = op->waiters;

        if (op->cut_on_timeout && !w->s->ended)
            hvrpc__bus_end_sub(
                w->s, &done,
                "no room made for %u ms while a publisher waited "
                "(overflow BLOCK)",
                bus->o.block_timeout_ms);
        else
            hvrpc__bus_drop_waiter(w, &done);
    }
    pthread_mutex_unlock(&bus->mu);
    hvrpc__bus_answer_done(done);
    hvrpc__bus_op_unref(op); /* the timer's reference */
}

void hvrpc__bus_publish(hvrpc_call *call, const publish_request *req,
                        void *user_data)
{
    hvrpc_bus *bus = user_data;
    hvrpc_server *srv = hvrpc_call_server(call); /* call may go, below */
    char publisher[HVRPC_PEER_ADDR_MAX + 128];
    hvrpc_status st;
    pub_op *op;
    pub_op *done = NULL;
    bus_event *ev;
    bool timer = false;
    int64_t wait_ms = 0;
    const hvrpc_peer *peer = hvrpc_call_peer(call);
    bus_who who;
    char *rewritten;
    const char *topic, *owner;
    size_t owner_len = 0;

    if (check_publish(bus, req, &st) != HVRPC_OK) {
        hvrpc_call_fail(call, st.code, "%s", st.message);
        return;
    }
    hvrpc__bus_who(bus, peer, &who);
    if (hvrpc__bus_access_publish(bus, peer, &who, req->topic, &rewritten,
                                  &st) != HVRPC_OK) {
        hvrpc_call_fail(call, st.code, "%s", st.message);
        return;
    }
    topic = rewritten != NULL ? rewritten : req->topic;
    owner = hvrpc__bus_private_owner(topic, &owner_len);
    hvrpc_peer_format(peer, publisher, sizeof publisher);
    ev = hvrpc__bus_event_new(req, topic, publisher);
    op = calloc(1, sizeof *op);
    if (ev == NULL || op == NULL) {
        free(rewritten);
        hvrpc__bus_event_unref(ev);
        free(op);
        hvrpc_call_fail(call, HVRPC_RESOURCE_EXHAUSTED,
                        "out of memory for an event");
        return;
    }
    atomic_init(&op->refs, 1);
    op->call = call;
    op->bus = bus;

    pthread_mutex_lock(&bus->mu);
    for (sub *s = bus->subs; s != NULL; s = s->next) {
        /* The access rule at delivery: what makes wildcard patterns safe. */
        if (s->ended || !sub_matches(s, topic) ||
            !hvrpc__bus_may_receive(&s->who, owner, owner_len))
            continue;
        if (hvrpc_stream_done(s->stream)) {
            /* Its client left: not a subscriber any more. Its sender
             * notices within POLL_MS; wake it now. */
            pthread_cond_signal(&s->cv);
            continue;
        }
        hvrpc__bus_offer(bus, s, ev, op, &done);
    }
    if (op->pending == 0) {
        op->answered = true;
        op->done_next = done;
        done = op;
    } else {
        /* Wait for room up to the block timeout or, when it comes first,
         * the call's deadline: a little before it (a tenth of the time
         * left, at most 50 ms), so the answer, with the event counted in
         * `dropped`, can still reach the publisher. */
        int64_t deadline = hvrpc_call_deadline(call);

        wait_ms = bus->o.block_timeout_ms;
        op->cut_on_timeout = true;
        if (deadline != 0) {
            int64_t left = (deadline - hvrpc__bus_mono_ns()) / 1000000;

            left -= left / 10 < 50 ? left / 10 : 50;
            if (left < wait_ms) {
                wait_ms = left < 0 ? 0 : left;
                op->cut_on_timeout = false;
            }
        }
        atomic_fetch_add(&op->refs, 1);
        timer = true;
    }
    pthread_mutex_unlock(&bus->mu);
    free(rewritten);
    hvrpc__bus_event_unref(ev);
    hvrpc__bus_answer_done(done);
    /* From here op may be answered by another thread at any time; the
     * timer's reference keeps it. */
    if (timer &&
        (wait_ms == 0 || hvrpc_server_schedule(srv, (uint32_t)wait_ms,
                                               wait_over, op, &st) != HVRPC_OK))
        wait_over(op); /* no time left, or no timer (the server stops) */
}
