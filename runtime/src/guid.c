/*
 * guid.c - GUID text form, the VSOCK template and the well-known VmIds.
 *
 * Character tests are written out by hand rather than taken from <ctype.h>:
 * GUIDs and names are ASCII, and the result must not depend on the locale.
 */
#include "hvrpc/guid.h"

#include <stddef.h>
#include <stdio.h>
#include <string.h>

/* The values of hvsocket.h (HV_GUID_*). */
const hvrpc_guid HVRPC_GUID_ZERO = {0, 0, 0, {0, 0, 0, 0, 0, 0, 0, 0}};
const hvrpc_guid HVRPC_GUID_BROADCAST = {
    0xffffffffu,
    0xffff,
    0xffff,
    {0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff}};
const hvrpc_guid HVRPC_GUID_CHILDREN = {
    0x90db8b89u,
    0x0d35,
    0x4f79,
    {0x8c, 0xe9, 0x49, 0xea, 0x0a, 0xc8, 0xb7, 0xcd}};
const hvrpc_guid HVRPC_GUID_LOOPBACK = {
    0xe0e16197u,
    0xdd56,
    0x4a10,
    {0x91, 0x95, 0x5e, 0xe7, 0xa1, 0x55, 0xa8, 0x38}};
const hvrpc_guid HVRPC_GUID_PARENT = {
    0xa42e7cdau,
    0xd03f,
    0x480c,
    {0x9c, 0xc2, 0xa4, 0xde, 0x20, 0xab, 0xb8, 0x78}};
const hvrpc_guid HVRPC_GUID_SILOHOST = {
    0x36bd0c5cu,
    0x7276,
    0x4223,
    {0x88, 0xba, 0x7d, 0x03, 0xb6, 0x54, 0xc5, 0x68}};

/* Everything of the VSOCK template but data1, which carries the port. */
static const hvrpc_guid vsock_template = {
    0, 0xfacb, 0x11e6, {0xbd, 0x58, 0x64, 0x00, 0x6a, 0x79, 0x86, 0xd3}};

/* Offsets of the dashes in the 36-character form. */
#define IS_DASH_OFFSET(i) ((i) == 8 || (i) == 13 || (i) == 18 || (i) == 23)
#define GUID_TEXT_LEN     36

static int hex_value(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

/* Reports what was expected at offset pos of the text and what was there.
 * A premature end or extra characters get a reminder of the lengths. */
static hvrpc_code bad_char(hvrpc_status *st, size_t pos, const char *expected,
                           char found)
{
    unsigned char c = (unsigned char)found;
    char what[16];

    if (c == '\0')
        snprintf(what, sizeof what, "the end");
    else if (c >= 0x20 && c < 0x7f)
        snprintf(what, sizeof what, "'%c'", c);
    else
        snprintf(what, sizeof what, "byte 0x%02x", c);
    return hvrpc_status_set(
        st, HVRPC_INVALID_ARGUMENT,
        "invalid GUID at offset %zu: expected %s, found %s%s", pos, expected,
        what,
        c == '\0' || strcmp(expected, "the end") == 0
            ? " (a GUID has 36 characters, 38 with braces)"
            : "");
}

hvrpc_code hvrpc_guid_parse(const char *text, hvrpc_guid *out, hvrpc_status *st)
{
    uint8_t bytes[16];
    size_t nibbles = 0;
    size_t base;
    bool braced;

    if (!text || !out)
        return hvrpc_status_set(st, HVRPC_INVALID_ARGUMENT,
                                "invalid GUID: %s is NULL",
                                text ? "the output" : "the text");
    braced = text[0] == '{';
    base = braced ? 1 : 0;

    /* Walk the 36 characters; a NUL stops the walk at its own offset, so
     * a short string is never read past its end. */
    for (size_t i = 0; i < GUID_TEXT_LEN; i++) {
        char c = text[base + i];
        if (IS_DASH_OFFSET(i)) {
            if (c != '-')
                return bad_char(st, base + i, "'-'", c);
            continue;
        }
        int v = hex_value(c);
        if (v < 0)
            return bad_char(st, base + i, "a hex digit", c);
        if (nibbles % 2 == 0)
            bytes[nibbles / 2] = (uint8_t)(v << 4);
        else
            bytes[nibbles / 2] |= (uint8_t)v;
        nibbles++;
    }
    if (braced && text[base + GUID_TEXT_LEN] != '}')
        return bad_char(st, base + GUID_TEXT_LEN, "'}'",
                        text[base + GUID_TEXT_LEN]);
    size_t end = base + GUID_TEXT_LEN + (braced ? 1 : 0);
    if (text[end] != '\0')
        return bad_char(st, end, "the end", text[end]);

    /* The text is big-endian per group; data1..data3 are numbers. */
    out->data1 = (uint32_t)bytes[0] << 24 | (uint32_t)bytes[1] << 16 |
                 (uint32_t)bytes[2] << 8 | bytes[3];
    out->data2 = (uint16_t)(bytes[4] << 8 | bytes[5]);
    out->data3 = (uint16_t)(bytes[6] << 8 | bytes[7]);
    memcpy(out->data4, bytes + 8, 8);
    return HVRPC_OK;
}

static char *put_hex(char *p, uint32_t value, int digits)
{
    static const char hex[] = "0123456789abcdef";
    for (int i = digits - 1; i >= 0; i--)
        *p++ = hex[(value >> (4 * i)) & 0xf];
    return p;
}

char *hvrpc_guid_format(const hvrpc_guid *g, char buf[HVRPC_GUID_STRLEN])
{
    char *p = buf;
    p = put_hex(p, g->data1, 8);
    *p++ = '-';
    p = put_hex(p, g->data2, 4);
    *p++ = '-';
    p = put_hex(p, g->data3, 4);
    *p++ = '-';
    for (int i = 0; i < 8; i++) {
        if (i == 2)
            *p++ = '-';
        p = put_hex(p, g->data4[i], 2);
    }
    *p = '\0';
    return buf;
}

bool hvrpc_guid_equal(const hvrpc_guid *a, const hvrpc_guid *b)
{
    return a->data1 == b->data1 && a->data2 == b->data2 &&
           a->data3 == b->data3 && memcmp(a->data4, b->data4, 8) == 0;
}

hvrpc_guid hvrpc_guid_from_vsock_port(uint32_t port)
{
    hvrpc_guid g = vsock_template;
    g.data1 = port;
    return g;
}

bool hvrpc_guid_to_vsock_port(const hvrpc_guid *g, uint32_t *port)
{
    hvrpc_guid t = *g;
    t.data1 = 0;
    if (!hvrpc_guid_equal(&t, &vsock_template))
        return false;
    if (port)
        *port = g->data1;
    return true;
}

static bool ascii_equal_nocase(const char *a, const char *b)
{
    for (;; a++, b++) {
        char ca = *a, cb = *b;
        if (ca >= 'A' && ca <= 'Z')
            ca = (char)(ca - 'A' + 'a');
        if (cb >= 'A' && cb <= 'Z')
            cb = (char)(cb - 'A' + 'a');
        if (ca != cb)
            return false;
        if (ca == '\0')
            return true;
    }
}

bool hvrpc_guid_from_name(const char *name, hvrpc_guid *out)
{
    static const struct {
        const char *name;
        const hvrpc_guid *guid;
    } names[] = {
        {"wildcard", &HVRPC_GUID_ZERO},
        {"zero", &HVRPC_GUID_ZERO},
        {"children", &HVRPC_GUID_CHILDREN},
        {"loopback", &HVRPC_GUID_LOOPBACK},
        {"parent", &HVRPC_GUID_PARENT},
        {"broadcast", &HVRPC_GUID_BROADCAST},
        {"silohost", &HVRPC_GUID_SILOHOST},
    };

    if (!name)
        return false;
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
        if (ascii_equal_nocase(name, names[i].name)) {
            if (out)
                *out = *names[i].guid;
            return true;
        }
    }
    return false;
}
