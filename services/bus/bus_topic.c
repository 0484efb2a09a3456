/*
 * bus_topic.c - topic and pattern syntax of the bus (docs/BUS.md).
 *
 * A topic is 1 or more segments joined by '.'; a segment is 1 or more
 * bytes of printable ASCII (0x21-0x7e) other than '.', '*' and '>'. A
 * pattern is the same, except that a segment may be "*" (any one
 * segment) and the last one may be ">" (one or more segments).
 */
#include <string.h>

#include "bus_service.h"

/* At most this much of a bad topic is quoted in an error message. */
#define QUOTE_MAX 48

static bool plain_byte(unsigned char c)
{
    return c >= 0x21 && c <= 0x7e && c != '.' && c != '*' && c != '>';
}

static hvrpc_code check(const char *what, const char *text,
                        const hvrpc_bus_options *limits, bool pattern,
                        hvrpc_status *st)
{
    hvrpc_bus_options defaults;
    size_t len;
    uint32_t segments = 1;
    const char *seg;

    if (limits == NULL) {
        hvrpc_bus_options_init(&defaults);
        limits = &defaults;
    }
    if (text == NULL || text[0] == '\0')
        return hvrpc_status_set(st, HVRPC_INVALID_ARGUMENT, "%s is empty",
                                what);
    /* Bounded scan: a huge text is refused without reading all of it. */
    len = strnlen(text, (size_t)limits->max_topic_length + 1);
    if (len > limits->max_topic_length)
        return hvrpc_status_set(st, HVRPC_INVALID_ARGUMENT,
                                "%s \"%.*s...\" is longer than %u bytes", what,
                                QUOTE_MAX, text, limits->max_topic_length);
    seg = text;
    for (size_t i = 0; i <= len; i++) {
        unsigned char c = (unsigned char)text[i];
        size_t seg_len;

        if (c != '.' && c != '\0') {
            if (plain_byte(c) || (pattern && (c == '*' || c == '>')))
                continue;
            return hvrpc_status_set(
                st, HVRPC_INVALID_ARGUMENT,
                "%s \"%.*s\": byte 0x%02x at offset %zu is not allowed "
                "(printable ASCII other than '.', '*' and '>'%s)",
                what, QUOTE_MAX, text, c, i,
                pattern ? ", which only stand alone as segments" : "");
        }
        seg_len = (size_t)(text + i - seg);
        if (seg_len == 0)
            return hvrpc_status_set(st, HVRPC_INVALID_ARGUMENT,
                                    "%s \"%.*s\": segment %u is empty", what,
                                    QUOTE_MAX, text, segments);
        if (pattern && seg_len > 1 &&
            (memchr(seg, '*', seg_len) || memchr(seg, '>', seg_len)))
            return hvrpc_status_set(
                st, HVRPC_INVALID_ARGUMENT,
                "%s \"%.*s\": segment %u mixes a wildcard with other "
                "bytes ('*' and '>' stand alone)",
                what, QUOTE_MAX, text, segments);
        if (pattern && seg_len == 1 && seg[0] == '>' && c != '\0')
            return hvrpc_status_set(st, HVRPC_INVALID_ARGUMENT,
                                    "%s \"%.*s\": '>' may only be the last "
                                    "segment",
                                    what, QUOTE_MAX, text);
        if (c == '\0')
            break;
        if (++segments > limits->max_topic_segments)
            return hvrpc_status_set(st, HVRPC_INVALID_ARGUMENT,
                                    "%s \"%.*s\" has more than %u segments",
                                    what, QUOTE_MAX, text,
                                    limits->max_topic_segments);
        seg = text + i + 1;
    }
    return HVRPC_OK;
}

hvrpc_code hvrpc_bus_topic_check(const char *topic,
                                 const hvrpc_bus_options *limits,
                                 hvrpc_status *st)
{
    return check("topic", topic, limits, false, st);
}

hvrpc_code hvrpc_bus_pattern_check(const char *pattern,
                                   const hvrpc_bus_options *limits,
                                   hvrpc_status *st)
{
    return check("pattern", pattern, limits, true, st);
}

bool hvrpc_bus_topic_matches(const char *pattern, const char *topic)
{
    const char *p = pattern;
    const char *t = topic;

    for (;;) {
        size_t pl = strcspn(p, ".");
        size_t tl = strcspn(t, ".");

        if (pl == 1 && p[0] == '>')
            return true; /* t is at a segment: one or more remain */
        if (!(pl == 1 && p[0] == '*') && (pl != tl || memcmp(p, t, pl) != 0))
            return false;
        p += pl;
        t += tl;
        if (*p == '\0' || *t == '\0')
            return *p == '\0' && *t == '\0';
        p++;
        t++;
    }
}
