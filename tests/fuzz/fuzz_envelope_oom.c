/*
 * fuzz_envelope_oom.c - the ttrpc envelope decoded and encoded while the
 * runtime's allocations fail as the input says.
 *
 * Input: FUZZ_FAIL_PATTERN_LEN bytes choosing the failures (fuzz.h), then
 * the message bytes. Each step runs twice, first with the failures paused
 * (the reference), then with them armed. Checks:
 * - protobuf-c's decoding of a Request and of a Response through the
 *   runtime's allocator (hvrpc__pb_allocator), and the server's own
 *   decoder (hvrpc__request_decode) through it and into a call's arena
 *   with a small first block (what the server does): with
 *   failures, either nothing (only when an allocation really failed) or
 *   the same fields as the reference; a message the reference refuses is
 *   refused;
 * - our encoders: RESOURCE_EXHAUSTED (with a message, for requests) or
 *   the reference's bytes exactly;
 * - after every step the runtime's allocator holds nothing: a failure
 *   midway frees what the step had allocated.
 */
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "arena.h"
#include "envelope.h"
#include "fuzz.h"
#include "ttrpc/request.pb-c.h"

#include "alloc.h"

static const char *str_or_empty(const char *s)
{
    return s ? s : "";
}

static bool same_request(const Ttrpc__Request *a, const Ttrpc__Request *b)
{
    if (strcmp(str_or_empty(a->service), str_or_empty(b->service)) ||
        strcmp(str_or_empty(a->method), str_or_empty(b->method)) ||
        a->timeout_nano != b->timeout_nano ||
        a->payload.len != b->payload.len ||
        (a->payload.len &&
         memcmp(a->payload.data, b->payload.data, a->payload.len)) ||
        a->n_metadata != b->n_metadata)
        return false;
    for (size_t i = 0; i < a->n_metadata; i++)
        if (strcmp(str_or_empty(a->metadata[i]->key),
                   str_or_empty(b->metadata[i]->key)) ||
            strcmp(str_or_empty(a->metadata[i]->value),
                   str_or_empty(b->metadata[i]->value)))
            return false;
    return true;
}

/* A decoding under failures against its reference. */
static void check_decoded(const void *ref, const void *got,
                          bool (*same)(const void *, const void *))
{
    if (!ref)
        FUZZ_ASSERT(!got);
    else if (!got)
        FUZZ_ASSERT(fuzz_alloc_failed() > 0);
    else
        FUZZ_ASSERT(same(ref, got));
}

static bool same_req(const void *a, const void *b)
{
    return same_request(a, b);
}

static bool same_resp(const void *a, const void *b)
{
    const Ttrpc__Response *x = a, *y = b;
    if (!x->status != !y->status)
        return false;
    if (x->status && (x->status->code != y->status->code ||
                      strcmp(str_or_empty(x->status->message),
                             str_or_empty(y->status->message))))
        return false;
    return x->payload.len == y->payload.len &&
           (!x->payload.len ||
            !memcmp(x->payload.data, y->payload.data, x->payload.len));
}

/* An encoding under failures against its reference (ref_code, ref). */
static void check_encoded(hvrpc_code ref_code, const hvrpc__frame_buf *ref,
                          hvrpc_code code, const hvrpc__frame_buf *got)
{
    if (code != HVRPC_OK) {
        FUZZ_ASSERT(code == HVRPC_RESOURCE_EXHAUSTED);
        FUZZ_ASSERT(ref_code != HVRPC_OK || fuzz_alloc_failed() > 0);
        return;
    }
    FUZZ_ASSERT(ref_code == HVRPC_OK);
    FUZZ_ASSERT(got->len == ref->len &&
                !memcmp(got->data, ref->data, ref->len));
}

static void request(const uint8_t *msg, size_t len)
{
    fuzz_alloc_fail_pause(1);
    Ttrpc__Request *ref =
        ttrpc__request__unpack(&hvrpc__pb_allocator, len, msg);
    fuzz_alloc_fail_pause(0);
    Ttrpc__Request *got =
        ttrpc__request__unpack(&hvrpc__pb_allocator, len, msg);
    fuzz_alloc_fail_pause(1);
    check_decoded(ref, got, same_req);
    if (got)
        ttrpc__request__free_unpacked(got, &hvrpc__pb_allocator);

    /* The server's own decoder (hvrpc__request_decode), payload in place
     * and copied: through the runtime's allocator (streams), and into an
     * arena whose first block is the call's (calls). A refusal for want
     * of memory only when an allocation really failed. */
    for (int in_place = 0; in_place < 2; in_place++) {
        Ttrpc__Request *hand = NULL;
        fuzz_alloc_fail_pause(0);
        hvrpc_code hc = hvrpc__request_decode(msg, len, &hvrpc__pb_allocator,
                                              in_place, &hand);
        fuzz_alloc_fail_pause(1);
        FUZZ_ASSERT(hc != HVRPC_RESOURCE_EXHAUSTED || fuzz_alloc_failed() > 0);
        check_decoded(ref, hc == HVRPC_OK ? hand : NULL, same_req);
        hvrpc__request_free(hand, &hvrpc__pb_allocator);

        uint8_t base[256] __attribute__((aligned(16)));
        size_t before = fuzz_alloc_live_blocks();
        hvrpc__arena ar;
        hvrpc__arena_init(&ar, base, sizeof base);
        hand = NULL;
        fuzz_alloc_fail_pause(0);
        hc = hvrpc__request_decode(msg, len, &ar.pb, in_place, &hand);
        fuzz_alloc_fail_pause(1);
        FUZZ_ASSERT(hc != HVRPC_RESOURCE_EXHAUSTED || fuzz_alloc_failed() > 0);
        check_decoded(ref, hc == HVRPC_OK ? hand : NULL, same_req);
        hvrpc__arena_release(&ar);
        FUZZ_ASSERT(fuzz_alloc_live_blocks() == before);
    }

    if (ref) {
        size_t n_md = ref->n_metadata;
        hvrpc_metadata *md = calloc(n_md ? n_md : 1, sizeof *md);
        FUZZ_ASSERT(md);
        for (size_t i = 0; i < n_md; i++) {
            md[i].key = str_or_empty(ref->metadata[i]->key);
            md[i].value = str_or_empty(ref->metadata[i]->value);
        }
        int64_t timeout = ref->timeout_nano > 0 ? ref->timeout_nano : 0;
        hvrpc__payload pl = {.data = ref->payload.data,
                             .len = ref->payload.len};
        hvrpc__frame_buf rf = {0}, gf = {0};
        hvrpc_status st;
        hvrpc_code rc = hvrpc__encode_request(
            3, str_or_empty(ref->service), str_or_empty(ref->method), &pl,
            timeout, md, n_md, HVRPC_MAX_MAX_FRAME, &rf, &st);
        fuzz_alloc_fail_pause(0);
        hvrpc_code gc = hvrpc__encode_request(
            3, str_or_empty(ref->service), str_or_empty(ref->method), &pl,
            timeout, md, n_md, HVRPC_MAX_MAX_FRAME, &gf, &st);
        fuzz_alloc_fail_pause(1);
        check_encoded(rc, &rf, gc, &gf);
        if (gc != HVRPC_OK)
            FUZZ_ASSERT(st.message[0] != '\0');
        if (rc == HVRPC_OK)
            hvrpc__free(rf.data);
        if (gc == HVRPC_OK)
            hvrpc__free(gf.data);
        free(md);
        ttrpc__request__free_unpacked(ref, &hvrpc__pb_allocator);
    }
    FUZZ_ASSERT(fuzz_alloc_live_blocks() == 0);
}

static void response(const uint8_t *msg, size_t len)
{
    fuzz_alloc_fail_pause(1);
    Ttrpc__Response *ref =
        ttrpc__response__unpack(&hvrpc__pb_allocator, len, msg);
    fuzz_alloc_fail_pause(0);
    Ttrpc__Response *got =
        ttrpc__response__unpack(&hvrpc__pb_allocator, len, msg);
    fuzz_alloc_fail_pause(1);
    check_decoded(ref, got, same_resp);
    if (got)
        ttrpc__response__free_unpacked(got, &hvrpc__pb_allocator);
    if (ref) {
        hvrpc_code code = HVRPC_OK;
        const char *m = "";
        if (ref->status && ref->status->code != 0) {
            code = hvrpc_code_from_wire(ref->status->code);
            m = str_or_empty(ref->status->message);
        }
        hvrpc__payload pl = {.data = ref->payload.data,
                             .len = ref->payload.len};
        hvrpc__frame_buf rf = {0}, gf = {0};
        hvrpc_code rc =
            hvrpc__encode_response(5, code, m, &pl, HVRPC_MAX_MAX_FRAME, &rf);
        fuzz_alloc_fail_pause(0);
        hvrpc_code gc =
            hvrpc__encode_response(5, code, m, &pl, HVRPC_MAX_MAX_FRAME, &gf);
        fuzz_alloc_fail_pause(1);
        check_encoded(rc, &rf, gc, &gf);
        if (rc == HVRPC_OK)
            hvrpc__free(rf.data);
        if (gc == HVRPC_OK)
            hvrpc__free(gf.data);
        ttrpc__response__free_unpacked(ref, &hvrpc__pb_allocator);
    }
    FUZZ_ASSERT(fuzz_alloc_live_blocks() == 0);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    fuzz_alloc_install();
    FUZZ_ASSERT(fuzz_alloc_live_blocks() == 0);
    const uint8_t *msg = fuzz_alloc_fail(data, &size);
    if (!msg)
        return 0;
    request(msg, size);
    response(msg, size);
    fuzz_alloc_fail_off();
    return 0;
}
