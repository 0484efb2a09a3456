/*
 * bridge_subject.c - topics <-> subjects, message ids (bridge_subject.h).
 */
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "bridge_subject.h"

bool bridge_host_id_valid(const char *id)
{
    size_t n = 0;

    if (id == NULL)
        return false;
    for (; id[n] != '\0'; n++) {
        char c = id[n];
        if (n == BRIDGE_HOST_ID_MAX ||
            !((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
              (c >= '0' && c <= '9') || c == '_' || c == '-'))
            return false;
    }
    return n > 0;
}

/* The length of the first segment of s (up to '.' or the end). */
static size_t first_segment(const char *s)
{
    const char *dot = strchr(s, '.');
    return dot ? (size_t)(dot - s) : strlen(s);
}

static bool segment_is(const char *s, const char *word)
{
    size_t n = first_segment(s);
    return n == strlen(word) && strncmp(s, word, n) == 0;
}

/* Every byte printable ASCII, no wildcard, no empty segment. Checked
 * here even though the broker checks topics too: the bridge is what
 * keeps a guest inside its subject space, and it does not rely on
 * another component for that. */
static hvrpc_code check_tokens(const char *what, const char *s,
                               hvrpc_status *st)
{
    size_t seg = 0;
    size_t i = 0;

    for (; s[i] != '\0'; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c == '.') {
            if (seg == 0)
                return hvrpc_status_set(st, HVRPC_INVALID_ARGUMENT,
                                        "%s has an empty segment at byte %zu",
                                        what, i);
            seg = 0;
            continue;
        }
        if (c < 0x21 || c > 0x7e || c == '*' || c == '>')
            return hvrpc_status_set(st, HVRPC_INVALID_ARGUMENT,
                                    "%s has byte 0x%02x at %zu, which a "
                                    "subject cannot carry",
                                    what, c, i);
        seg++;
    }
    if (seg == 0)
        return hvrpc_status_set(st, HVRPC_INVALID_ARGUMENT,
                                "%s is empty or ends with '.'", what);
    return HVRPC_OK;
}

hvrpc_code bridge_subject_for_topic(const char *host, const char *topic,
                                    char *out, size_t cap, hvrpc_status *st)
{
    hvrpc_code r;
    int n;

    if (!bridge_host_id_valid(host))
        return hvrpc_status_set(st, HVRPC_INVALID_ARGUMENT, "bad host id");
    if (topic == NULL)
        return hvrpc_status_set(st, HVRPC_INVALID_ARGUMENT, "no topic");
    if ((r = check_tokens("topic", topic, st)) != HVRPC_OK)
        return r;
    if (segment_is(topic, "cmd") || segment_is(topic, "fleet"))
        return hvrpc_status_set(st, HVRPC_INVALID_ARGUMENT,
                                "topics under '%.*s.' are reserved (commands "
                                "and imports) and not bridged",
                                (int)first_segment(topic), topic);
    n = snprintf(out, cap, "hvrpc.%s.%s", host, topic);
    if (n < 0 || (size_t)n >= cap)
        return hvrpc_status_set(st, HVRPC_INVALID_ARGUMENT,
                                "subject longer than %zu bytes", cap - 1);
    return HVRPC_OK;
}

hvrpc_code bridge_topic_for_subject(const char *host, const char *subject,
                                    char *out, size_t cap, hvrpc_status *st)
{
    const char *rest;
    hvrpc_code r;
    size_t hlen;
    int n;

    if (subject == NULL || strncmp(subject, "hvrpc.", 6) != 0)
        return hvrpc_status_set(st, HVRPC_INVALID_ARGUMENT,
                                "not an hvrpc subject");
    if ((r = check_tokens("subject", subject, st)) != HVRPC_OK)
        return r;
    subject += 6;
    hlen = first_segment(subject);
    if (subject[hlen] != '.')
        return hvrpc_status_set(st, HVRPC_INVALID_ARGUMENT,
                                "subject has no topic after the host id");
    rest = subject + hlen + 1;
    if (hlen == strlen(host) && strncmp(subject, host, hlen) == 0) {
        if (!segment_is(rest, "cmd") || rest[3] != '.')
            return hvrpc_status_set(st, HVRPC_INVALID_ARGUMENT,
                                    "this host's own event");
        n = snprintf(out, cap, "%s", rest);
    } else {
        if (segment_is(rest, "cmd"))
            return hvrpc_status_set(st, HVRPC_INVALID_ARGUMENT,
                                    "another host's command");
        n = snprintf(out, cap, "fleet.%.*s.%s", (int)hlen, subject, rest);
    }
    if (n < 0 || (size_t)n >= cap)
        return hvrpc_status_set(st, HVRPC_INVALID_ARGUMENT,
                                "topic longer than %zu bytes", cap - 1);
    return HVRPC_OK;
}

static uint64_t fnv(uint64_t h, const void *p, size_t len)
{
    const uint8_t *b = p;

    for (size_t i = 0; i < len; i++) {
        h ^= b[i];
        h *= 0x100000001b3ull;
    }
    return h;
}

/* Each string with its terminating NUL, so "ab"+"c" and "a"+"bc" differ. */
static uint64_t fnv_str(uint64_t h, const char *s)
{
    s = s ? s : "";
    return fnv(h, s, strlen(s) + 1);
}

void bridge_msg_id(const char *host, int64_t time_unix_nano,
                   const char *publisher, const char *topic,
                   const uint8_t *payload, size_t len, const char *const *keys,
                   const char *const *values, size_t n_headers,
                   char out[BRIDGE_MSG_ID_MAX])
{
    uint64_t h = 0xcbf29ce484222325ull;
    uint64_t l = len;

    h = fnv_str(h, publisher);
    h = fnv_str(h, topic);
    for (size_t i = 0; i < n_headers; i++) {
        h = fnv_str(h, keys[i]);
        h = fnv_str(h, values[i]);
    }
    h = fnv(h, &l, sizeof l);
    h = fnv(h, payload, len);
    snprintf(out, BRIDGE_MSG_ID_MAX, "%.64s:%lld:%016llx", host,
             (long long)time_unix_nano, (unsigned long long)h);
}

bool bridge_header_key_ok(const char *key)
{
    if (key == NULL || *key == '\0' || strncasecmp(key, "hvrpc-", 6) == 0 ||
        strncasecmp(key, "nats-", 5) == 0)
        return false;
    for (; *key != '\0'; key++) {
        unsigned char c = (unsigned char)*key;
        if (c < 0x21 || c > 0x7e || c == ':')
            return false;
    }
    return true;
}

bool bridge_header_value_ok(const char *value)
{
    return value != NULL && strpbrk(value, "\r\n") == NULL;
}
