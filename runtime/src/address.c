/*
 * address.c - the one address URI parser and its inverse (DESIGN.md §2).
 *
 * The parser works on spans of the caller's string rather than on copies,
 * checks every part completely (no sscanf/strtoul: they accept signs,
 * spaces and "0x"), and fills *out only when the whole URI is valid.
 */
#include "hvrpc/address.h"

#include <inttypes.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#define KNOWN_SCHEMES "vsock, hvsock, hybrid+vsock, unix, tcp, mem"
#define VM_ID_NAMES                                                            \
    "wildcard, zero, children, loopback, parent, broadcast, silohost"
#define VSOCK_CID_NAMES "any, hypervisor, local, host"

/* How much of the URI an error message repeats: enough to recognise it,
 * short enough to leave room for what is wrong. */
#define SHOWN_URI_MAX 96
/* Likewise for a part of the URI quoted inside the message. */
#define SHOWN_PART_MAX 64

typedef struct span {
    const char *p;
    size_t n;
} span;

/* printf arguments for "%.*s" showing at most SHOWN_PART_MAX of a span. */
#define SPAN_ARG(s)                                                            \
    (int)((s).n < SHOWN_PART_MAX ? (s).n : SHOWN_PART_MAX), (s).p

static const struct {
    const char *name;
    uint32_t cid;
} vsock_cids[] = {
    {"any", HVRPC_VSOCK_CID_ANY},
    {"hypervisor", HVRPC_VSOCK_CID_HYPERVISOR},
    {"local", HVRPC_VSOCK_CID_LOCAL},
    {"host", HVRPC_VSOCK_CID_HOST},
};

static bool is_control(char c)
{
    return (unsigned char)c < 0x20 || c == 0x7f;
}

static bool is_digit(char c)
{
    return c >= '0' && c <= '9';
}

static bool is_hex(char c)
{
    return is_digit(c) || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
}

static bool is_alnum(char c)
{
    return is_digit(c) || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

static char ascii_lower(char c)
{
    return c >= 'A' && c <= 'Z' ? (char)(c - 'A' + 'a') : c;
}

/* Case-insensitive comparison of a span with a NUL-terminated word. */
static bool span_is(span s, const char *word)
{
    size_t i = 0;
    for (; i < s.n; i++) {
        if (word[i] == '\0' || ascii_lower(s.p[i]) != ascii_lower(word[i]))
            return false;
    }
    return word[i] == '\0';
}

static const char *span_find(span s, char c)
{
    return s.n ? memchr(s.p, c, s.n) : NULL;
}

static const char *span_find_last(span s, char c)
{
    for (size_t i = s.n; i > 0; i--) {
        if (s.p[i - 1] == c)
            return s.p + i - 1;
    }
    return NULL;
}

static span span_before(span s, const char *at)
{
    return (span){s.p, (size_t)(at - s.p)};
}

static span span_after(span s, const char *at)
{
    return (span){at + 1, s.n - (size_t)(at - s.p) - 1};
}

/* Fails with INVALID_ARGUMENT and "<uri>: <what>". The URI is shortened
 * and its control characters replaced, so the message stays one readable
 * line with room left for what is wrong. */
#if defined(__GNUC__)
HVRPC_PRINTF(3, 4)
#endif
static hvrpc_code fail(hvrpc_status *st, const char *uri, const char *fmt, ...)
{
    char shown[SHOWN_URI_MAX + sizeof "..."];
    char what[HVRPC_STATUS_MESSAGE_MAX];
    size_t n = 0;
    va_list ap;

    for (; uri[n] != '\0' && n < SHOWN_URI_MAX; n++)
        shown[n] = is_control(uri[n]) ? '?' : uri[n];
    if (uri[n] != '\0') {
        memcpy(shown + n, "...", 3);
        n += 3;
    }
    shown[n] = '\0';
    va_start(ap, fmt);
    vsnprintf(what, sizeof what, fmt, ap);
    va_end(ap);
    return hvrpc_status_set(st, HVRPC_INVALID_ARGUMENT, "%s: %s", shown, what);
}

/* A decimal number 0..max: digits only, so no sign, space or "0x".
 * names, when not NULL, lists the words the caller also accepts. */
static hvrpc_code parse_number(hvrpc_status *st, const char *uri,
                               const char *what, const char *names, span s,
                               uint32_t max, uint32_t *out)
{
    uint64_t v = 0;

    if (s.n == 0)
        return fail(st, uri, "missing %s", what);
    for (size_t i = 0; i < s.n; i++) {
        if (!is_digit(s.p[i])) {
            if (names)
                return fail(st, uri,
                            "%s \"%.*s\" is neither a decimal number nor "
                            "one of %s",
                            what, SPAN_ARG(s), names);
            return fail(st, uri, "%s \"%.*s\" is not a decimal number", what,
                        SPAN_ARG(s));
        }
    }
    for (size_t i = 0; i < s.n; i++) {
        v = v * 10 + (uint64_t)(s.p[i] - '0');
        if (v > max)
            return fail(st, uri, "%s %.*s is out of range 0-%" PRIu32, what,
                        SPAN_ARG(s), max);
    }
    *out = (uint32_t)v;
    return HVRPC_OK;
}

static hvrpc_code parse_vsock(hvrpc_status *st, const char *uri, span rest,
                              hvrpc_address *a)
{
    const char *colon = span_find(rest, ':');
    hvrpc_code rc;

    if (!colon)
        return fail(st, uri, "missing ':PORT'");
    span cid = span_before(rest, colon), port = span_after(rest, colon);
    a->kind = HVRPC_ADDR_VSOCK;

    bool named = false;
    for (size_t i = 0; i < sizeof vsock_cids / sizeof vsock_cids[0]; i++) {
        if (span_is(cid, vsock_cids[i].name)) {
            a->u.vsock.cid = vsock_cids[i].cid;
            named = true;
            break;
        }
    }
    if (!named) {
        rc = parse_number(st, uri, "CID", VSOCK_CID_NAMES, cid, UINT32_MAX,
                          &a->u.vsock.cid);
        if (rc != HVRPC_OK)
            return rc;
    }
    if (span_is(port, "any")) {
        a->u.vsock.port = HVRPC_VSOCK_PORT_ANY;
        return HVRPC_OK;
    }
    return parse_number(st, uri, "port", "any", port, UINT32_MAX,
                        &a->u.vsock.port);
}

/* A GUID field of an hvsock URI. Text with a '-' or '{' was meant as a
 * GUID, so the GUID parser's precise complaint is passed on; anything else
 * is more likely a misspelt alternative, so those are listed. */
static hvrpc_code parse_guid_part(hvrpc_status *st, const char *uri,
                                  const char *what, const char *alternatives,
                                  span s, hvrpc_guid *out)
{
    char text[HVRPC_GUID_STRLEN + 2]; /* room for the braces */
    hvrpc_status gst;

    if (s.n >= sizeof text)
        return fail(st, uri, "%s \"%.*s\" is too long for a GUID", what,
                    SPAN_ARG(s));
    memcpy(text, s.p, s.n);
    text[s.n] = '\0';
    if (hvrpc_guid_parse(text, out, &gst) == HVRPC_OK)
        return HVRPC_OK;
    if (span_find(s, '-') || span_find(s, '{'))
        return fail(st, uri, "%s \"%s\": %s", what, text, gst.message);
    return fail(st, uri, "%s \"%s\" is neither a GUID nor %s", what, text,
                alternatives);
}

static hvrpc_code parse_hvsock(hvrpc_status *st, const char *uri, span rest,
                               hvrpc_address *a)
{
    const char *slash = span_find(rest, '/');
    char name[16];
    hvrpc_code rc;

    if (!slash)
        return fail(st, uri, "missing '/SERVICE'");
    span vm = span_before(rest, slash), svc = span_after(rest, slash);
    /* One option: ?suspend=0 turns HVSOCKET_CONNECTED_SUSPEND off. */
    const char *query = span_find(svc, '?');
    if (query) {
        span q = span_after(svc, query);
        svc = span_before(svc, query);
        if (span_is(q, "suspend=0") || span_is(q, "suspend=off"))
            a->u.hv.no_suspend = 1;
        else if (!span_is(q, "suspend=1") && !span_is(q, "suspend=on"))
            return fail(st, uri,
                        "unknown option \"%.*s\" (the one option is "
                        "?suspend=0 or ?suspend=1)",
                        SPAN_ARG(q));
    }
    if (vm.n == 0)
        return fail(st, uri, "missing VM id before '/'");
    if (svc.n == 0)
        return fail(st, uri, "missing service after '/'");
    a->kind = HVRPC_ADDR_HVSOCK;

    bool named = false;
    if (vm.n < sizeof name) {
        memcpy(name, vm.p, vm.n);
        name[vm.n] = '\0';
        named = hvrpc_guid_from_name(name, &a->u.hv.vm_id);
    }
    if (!named) {
        rc = parse_guid_part(st, uri, "VM id", "one of " VM_ID_NAMES, vm,
                             &a->u.hv.vm_id);
        if (rc != HVRPC_OK)
            return rc;
    }

    if (svc.n >= 6 && span_is((span){svc.p, 6}, "vsock:")) {
        uint32_t port;
        rc = parse_number(st, uri, "service port", NULL,
                          (span){svc.p + 6, svc.n - 6}, UINT32_MAX, &port);
        if (rc == HVRPC_OK)
            a->u.hv.service_id = hvrpc_guid_from_vsock_port(port);
        return rc;
    }
    return parse_guid_part(st, uri, "service", "vsock:PORT", svc,
                           &a->u.hv.service_id);
}

/* Checks an absolute socket path that, with `extra` more bytes appended,
 * must still fit a sockaddr_un, and copies it to dst. */
static hvrpc_code take_path(hvrpc_status *st, const char *uri, span path,
                            size_t extra, const char *extra_what,
                            char dst[HVRPC_UNIX_PATH_MAX + 1])
{
    if (path.p[path.n - 1] == '/')
        return fail(st, uri, "path \"%.*s\" ends with '/' (a directory)",
                    SPAN_ARG(path));
    if (path.n + extra > HVRPC_UNIX_PATH_MAX)
        return fail(st, uri,
                    "path%s is %zu bytes, more than the %d a unix socket "
                    "allows",
                    extra_what, path.n + extra, HVRPC_UNIX_PATH_MAX);
    memcpy(dst, path.p, path.n);
    dst[path.n] = '\0';
    return HVRPC_OK;
}

static hvrpc_code parse_hybrid(hvrpc_status *st, const char *uri, span rest,
                               hvrpc_address *a)
{
    char digits[sizeof "4294967295"];
    hvrpc_code rc;

    if (rest.n == 0 || rest.p[0] != '/')
        return fail(st, uri,
                    "expected an absolute path: "
                    "hybrid+vsock:///path:PORT");
    /* The last ':' separates the port, so the path itself may hold ':'. */
    const char *colon = span_find_last(rest, ':');
    if (!colon)
        return fail(st, uri, "missing ':PORT'");
    span path = span_before(rest, colon);
    a->kind = HVRPC_ADDR_HYBRID_VSOCK;
    rc = parse_number(st, uri, "port", NULL, span_after(rest, colon),
                      UINT32_MAX, &a->u.hybrid.port);
    if (rc != HVRPC_OK)
        return rc;
    /* The listener binds "<path>_<port>", with the port in decimal. */
    int nd = snprintf(digits, sizeof digits, "%" PRIu32, a->u.hybrid.port);
    return take_path(st, uri, path, 1 + (size_t)nd,
                     " plus \"_PORT\" (what the listener binds)",
                     a->u.hybrid.path);
}

static hvrpc_code parse_unix(hvrpc_status *st, const char *uri, span rest,
                             hvrpc_address *a)
{
    a->kind = HVRPC_ADDR_UNIX;
    if (rest.n > 0 && rest.p[0] == '@') {
        span name = {rest.p + 1, rest.n - 1};
        if (name.n == 0)
            return fail(st, uri, "missing abstract socket name after '@'");
        if (name.n > HVRPC_UNIX_PATH_MAX)
            return fail(st, uri,
                        "abstract name is %zu bytes, more than the %d a "
                        "unix socket allows",
                        name.n, HVRPC_UNIX_PATH_MAX);
        memcpy(a->u.unix_sock.path, name.p, name.n);
        a->u.unix_sock.path[name.n] = '\0';
        a->u.unix_sock.abstract = 1;
        return HVRPC_OK;
    }
    if (rest.n == 0 || rest.p[0] != '/')
        return fail(st, uri,
                    "expected an absolute path or @name: unix:///path, "
                    "unix://@name");
    return take_path(st, uri, rest, 0, "", a->u.unix_sock.path);
}

/* Four decimal parts 0-255, at most three digits each, joined by dots. */
static bool is_ipv4(span s)
{
    size_t i = 0;
    for (int part = 0; part < 4; part++) {
        unsigned value = 0, digits = 0;
        if (part > 0) {
            if (i == s.n || s.p[i] != '.')
                return false;
            i++;
        }
        for (; i < s.n && is_digit(s.p[i]) && digits < 3; i++, digits++)
            value = value * 10 + (unsigned)(s.p[i] - '0');
        if (digits == 0 || value > 255)
            return false;
    }
    return i == s.n;
}

/* Host names as DNS has them (letters, digits, '-', '.', and '_', which
 * some local names use). No top-level domain is all digits, so digits and
 * dots alone can only mean an IPv4 address, and must be a valid one. */
static hvrpc_code check_host_name(hvrpc_status *st, const char *uri, span host)
{
    bool numeric = true;
    for (size_t i = 0; i < host.n; i++) {
        char c = host.p[i];
        if (!is_alnum(c) && c != '-' && c != '.' && c != '_')
            return fail(st, uri,
                        "host \"%.*s\": '%c' at offset %zu is not "
                        "allowed in a host name",
                        SPAN_ARG(host), c, i);
        if (!is_digit(c) && c != '.')
            numeric = false;
    }
    if (numeric && !is_ipv4(host))
        return fail(st, uri,
                    "host \"%.*s\" is not an IPv4 address (a.b.c.d, "
                    "each 0-255)",
                    SPAN_ARG(host));
    return HVRPC_OK;
}

/* The text between brackets: hex digits, ':' and '.' (for an embedded
 * IPv4), at least two ':', then optionally a zone ("%eth0"). The resolver
 * does the full check; this keeps out what can never be an address. */
static hvrpc_code check_ipv6(hvrpc_status *st, const char *uri, span host)
{
    size_t i = 0;
    int colons = 0;

    for (; i < host.n && host.p[i] != '%'; i++) {
        char c = host.p[i];
        if (c == ':')
            colons++;
        else if (!is_hex(c) && c != '.')
            return fail(st, uri,
                        "IPv6 host \"%.*s\": '%c' at offset %zu is "
                        "not allowed",
                        SPAN_ARG(host), c, i);
    }
    if (colons < 2)
        return fail(st, uri, "IPv6 host \"%.*s\" is not an IPv6 address",
                    SPAN_ARG(host));
    if (i < host.n) {
        if (i + 1 == host.n)
            return fail(st, uri, "IPv6 host \"%.*s\": empty zone after '%%'",
                        SPAN_ARG(host));
        for (i++; i < host.n; i++) {
            char c = host.p[i];
            if (!is_alnum(c) && c != '-' && c != '.' && c != '_')
                return fail(st, uri,
                            "IPv6 host \"%.*s\": '%c' at offset %zu "
                            "is not allowed in a zone",
                            SPAN_ARG(host), c, i);
        }
    }
    return HVRPC_OK;
}

static hvrpc_code parse_tcp(hvrpc_status *st, const char *uri, span rest,
                            hvrpc_address *a)
{
    span host, port;
    uint32_t p;
    hvrpc_code rc;

    if (rest.n > 0 && rest.p[0] == '[') {
        const char *close = span_find(rest, ']');
        if (!close)
            return fail(st, uri, "missing ']' after the IPv6 host");
        host = (span){rest.p + 1, (size_t)(close - rest.p) - 1};
        span after = span_after(rest, close);
        if (after.n == 0)
            return fail(st, uri, "missing ':PORT'");
        if (after.p[0] != ':')
            return fail(st, uri, "expected ':PORT' after ']'");
        port = (span){after.p + 1, after.n - 1};
        if (host.n == 0)
            return fail(st, uri, "missing host");
        rc = check_ipv6(st, uri, host);
    } else {
        const char *colon = span_find(rest, ':');
        if (!colon)
            return fail(st, uri, "missing ':PORT'");
        host = span_before(rest, colon);
        port = span_after(rest, colon);
        if (span_find(port, ':'))
            return fail(st, uri,
                        "an IPv6 host needs brackets: "
                        "tcp://[ADDRESS]:PORT");
        if (host.n == 0)
            return fail(st, uri, "missing host");
        rc = check_host_name(st, uri, host);
    }
    if (rc != HVRPC_OK)
        return rc;
    if (host.n > HVRPC_HOST_MAX)
        return fail(st, uri, "host is %zu bytes, more than %d", host.n,
                    HVRPC_HOST_MAX);
    rc = parse_number(st, uri, "port", NULL, port, 65535, &p);
    if (rc != HVRPC_OK)
        return rc;
    a->kind = HVRPC_ADDR_TCP;
    memcpy(a->u.tcp.host, host.p, host.n);
    a->u.tcp.host[host.n] = '\0';
    a->u.tcp.port = (uint16_t)p;
    return HVRPC_OK;
}

/* An in-process name: short, and of characters that need no quoting in
 * a shell, a log line or a report. */
static hvrpc_code parse_mem(hvrpc_status *st, const char *uri, span rest,
                            hvrpc_address *a)
{
    if (rest.n == 0)
        return fail(st, uri, "missing NAME: mem://NAME");
    if (rest.n > HVRPC_MEM_NAME_MAX)
        return fail(st, uri, "name is %zu bytes, more than %d", rest.n,
                    HVRPC_MEM_NAME_MAX);
    for (size_t i = 0; i < rest.n; i++) {
        char c = rest.p[i];
        if (!is_alnum(c) && c != '-' && c != '.' && c != '_')
            return fail(st, uri,
                        "name \"%.*s\": '%c' at offset %zu is not allowed "
                        "(letters, digits, '.', '_', '-')",
                        SPAN_ARG(rest), c, i);
    }
    a->kind = HVRPC_ADDR_MEM;
    memcpy(a->u.mem.name, rest.p, rest.n);
    a->u.mem.name[rest.n] = '\0';
    return HVRPC_OK;
}

hvrpc_code hvrpc_address_parse(const char *uri, hvrpc_address *out,
                               hvrpc_status *st)
{
    static const struct {
        const char *name;
        hvrpc_code (*parse)(hvrpc_status *, const char *, span,
                            hvrpc_address *);
    } schemes[] = {
        {"vsock", parse_vsock},
        {"hvsock", parse_hvsock},
        {"hybrid+vsock", parse_hybrid},
        {"unix", parse_unix},
        {"tcp", parse_tcp},
        {"mem", parse_mem},
    };
    hvrpc_address a;

    if (!uri)
        return hvrpc_status_set(st, HVRPC_INVALID_ARGUMENT, "address is NULL");
    if (uri[0] == '\0')
        return hvrpc_status_set(st, HVRPC_INVALID_ARGUMENT, "address is empty");
    if (!out)
        return fail(st, uri, "nowhere to store the address (out is NULL)");
    /* One check covers every path, name and host in the URI. */
    for (size_t i = 0; uri[i] != '\0'; i++) {
        if (is_control(uri[i]))
            return fail(st, uri, "control character 0x%02x at offset %zu",
                        (unsigned)(unsigned char)uri[i], i);
    }
    const char *sep = strstr(uri, "://");
    if (!sep)
        return fail(st, uri,
                    "missing \"://\" (known schemes: " KNOWN_SCHEMES ")");
    span scheme = {uri, (size_t)(sep - uri)};
    span rest = {sep + 3, strlen(sep + 3)};

    memset(&a, 0, sizeof a);
    /* RFC 3986: schemes are case-insensitive. */
    for (size_t i = 0; i < sizeof schemes / sizeof schemes[0]; i++) {
        if (span_is(scheme, schemes[i].name)) {
            hvrpc_code rc = schemes[i].parse(st, uri, rest, &a);
            if (rc == HVRPC_OK)
                *out = a;
            return rc;
        }
    }
    return fail(st, uri,
                "unknown scheme \"%.*s\" (known schemes: " KNOWN_SCHEMES ")",
                SPAN_ARG(scheme));
}

/* A CID by name when it has one, else in decimal. */
static const char *format_cid(uint32_t cid, char buf[sizeof "4294967295"])
{
    for (size_t i = 0; i < sizeof vsock_cids / sizeof vsock_cids[0]; i++) {
        if (vsock_cids[i].cid == cid)
            return vsock_cids[i].name;
    }
    snprintf(buf, sizeof "4294967295", "%" PRIu32, cid);
    return buf;
}

int hvrpc_address_format(const hvrpc_address *a, char *buf, size_t size)
{
    char g1[HVRPC_GUID_STRLEN], g2[HVRPC_GUID_STRLEN];
    char cid[sizeof "4294967295"], port[sizeof "4294967295"];

    if (!buf)
        size = 0;
    if (size > 0)
        buf[0] = '\0';
    if (!a)
        return -1;
    /* %.*s bounds every string field, in case one is not terminated. */
    switch (a->kind) {
    case HVRPC_ADDR_UNIX:
        return snprintf(buf, size, "unix://%s%.*s",
                        a->u.unix_sock.abstract ? "@" : "", HVRPC_UNIX_PATH_MAX,
                        a->u.unix_sock.path);
    case HVRPC_ADDR_TCP: {
        const char *h = a->u.tcp.host;
        bool v6 = memchr(h, ':', strnlen(h, sizeof a->u.tcp.host)) != NULL;
        return snprintf(buf, size, "tcp://%s%.*s%s:%u", v6 ? "[" : "",
                        HVRPC_HOST_MAX, h, v6 ? "]" : "",
                        (unsigned)a->u.tcp.port);
    }
    case HVRPC_ADDR_VSOCK:
        if (a->u.vsock.port == HVRPC_VSOCK_PORT_ANY)
            strcpy(port, "any");
        else
            snprintf(port, sizeof port, "%" PRIu32, a->u.vsock.port);
        return snprintf(buf, size, "vsock://%s:%s",
                        format_cid(a->u.vsock.cid, cid), port);
    case HVRPC_ADDR_HYBRID_VSOCK:
        return snprintf(buf, size, "hybrid+vsock://%.*s:%" PRIu32,
                        HVRPC_UNIX_PATH_MAX, a->u.hybrid.path,
                        a->u.hybrid.port);
    case HVRPC_ADDR_HVSOCK:
        return snprintf(buf, size, "hvsock://%s/%s%s",
                        hvrpc_guid_format(&a->u.hv.vm_id, g1),
                        hvrpc_guid_format(&a->u.hv.service_id, g2),
                        a->u.hv.no_suspend ? "?suspend=0" : "");
    case HVRPC_ADDR_MEM:
        return snprintf(buf, size, "mem://%.*s", HVRPC_MEM_NAME_MAX,
                        a->u.mem.name);
    }
    return -1;
}
