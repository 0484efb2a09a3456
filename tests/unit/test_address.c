/* test_address.c - the address URI parser and formatter (DESIGN.md §2). */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "hvrpc/address.h"

/* Parses uri, which must be valid, into *a. */
static int parse_ok(const char *uri, hvrpc_address *a)
{
    hvrpc_status st;
    memset(a, 0, sizeof *a);
    memset(&st, 0, sizeof st);
    hvrpc_code rc = hvrpc_address_parse(uri, a, &st);
    CHECK_INT(rc, HVRPC_OK);
    if (rc != HVRPC_OK)
        fprintf(stderr, "  parsing \"%s\": %s\n", uri, st.message);
    return rc == HVRPC_OK;
}

/* Parses uri, which must be invalid: the message must be "<uri>: ..." and
 * contain what; *out must be left as it was. */
static void check_bad(const char *uri, const char *what)
{
    hvrpc_address a;
    hvrpc_status st;
    memset(&a, 0x5a, sizeof a);
    memset(&st, 0, sizeof st);
    CHECK_INT(hvrpc_address_parse(uri, &a, &st), HVRPC_INVALID_ARGUMENT);
    CHECK_INT(st.code, HVRPC_INVALID_ARGUMENT);
    CHECK_CONTAINS(st.message, what);
    /* URIs longer than 96 bytes are shortened to 96 and "...". */
    size_t n = strlen(uri);
    if (n <= 96) {
        CHECK(strncmp(st.message, uri, n) == 0 && st.message[n] == ':' &&
              st.message[n + 1] == ' ');
    } else {
        CHECK(strncmp(st.message, uri, 96) == 0 &&
              strncmp(st.message + 96, "...: ", 5) == 0);
    }
    CHECK_INT(a.kind, 0x5a5a5a5a);
    CHECK_INT(a.u.vsock.port, 0x5a5a5a5a);
    /* The status is optional. */
    CHECK_INT(hvrpc_address_parse(uri, &a, NULL), HVRPC_INVALID_ARGUMENT);
}

/* uri parses, formats as canonical, and canonical parses to the same. */
static void check_roundtrip(const char *uri, const char *canonical)
{
    hvrpc_address a, b;
    char buf[512], again[512];

    if (!parse_ok(uri, &a))
        return;
    int n = hvrpc_address_format(&a, buf, sizeof buf);
    CHECK_STR(buf, canonical);
    CHECK_INT(n, strlen(canonical));
    if (!parse_ok(buf, &b))
        return;
    CHECK_INT(b.kind, a.kind);
    hvrpc_address_format(&b, again, sizeof again);
    CHECK_STR(again, canonical);
}

static char *repeat(char c, size_t n)
{
    char *s = malloc(n + 1);
    memset(s, c, n);
    s[n] = '\0';
    return s;
}

static void test_general(void)
{
    hvrpc_address a;
    hvrpc_status st;

    CHECK_INT(hvrpc_address_parse(NULL, &a, &st), HVRPC_INVALID_ARGUMENT);
    CHECK_CONTAINS(st.message, "NULL");
    CHECK_INT(hvrpc_address_parse("", &a, &st), HVRPC_INVALID_ARGUMENT);
    CHECK_STR(st.message, "address is empty");
    CHECK_INT(hvrpc_address_parse("vsock://3:5", NULL, &st),
              HVRPC_INVALID_ARGUMENT);
    CHECK_CONTAINS(st.message, "vsock://3:5: ");

    check_bad("/tmp/sock", "missing \"://\"");
    check_bad("/tmp/sock", "vsock, hvsock, hybrid+vsock, unix, tcp");
    check_bad("vsock:/3:5", "missing \"://\"");
    check_bad("http://example.com:80", "unknown scheme \"http\"");
    check_bad("http://example.com:80",
              "vsock, hvsock, hybrid+vsock, unix, tcp");
    check_bad("://x", "unknown scheme \"\"");
    check_bad("vsock+hybrid:///x:1", "unknown scheme");
    check_bad("vsockx://3:5", "unknown scheme \"vsockx\"");
    check_bad(" vsock://3:5", "unknown scheme \" vsock\"");

    /* Schemes are case-insensitive (RFC 3986); the canonical form is not. */
    check_roundtrip("VSOCK://3:5", "vsock://3:5");
    check_roundtrip("Unix:///tmp/s", "unix:///tmp/s");
    check_roundtrip("HYBRID+VSOCK:///v.sock:5", "hybrid+vsock:///v.sock:5");

    /* Control characters anywhere are refused, and kept out of the
     * message. */
    CHECK_INT(hvrpc_address_parse("unix:///tmp/a\tb", &a, &st),
              HVRPC_INVALID_ARGUMENT);
    CHECK_STR(st.message,
              "unix:///tmp/a?b: control character 0x09 at offset 13");
    CHECK_INT(hvrpc_address_parse("tcp://host\n:80", &a, &st),
              HVRPC_INVALID_ARGUMENT);
    CHECK_CONTAINS(st.message, "0x0a at offset 10");
    CHECK(strchr(st.message, '\n') == NULL);
    CHECK_INT(hvrpc_address_parse("vsock://3:5\x7f", &a, &st),
              HVRPC_INVALID_ARGUMENT);
    CHECK_CONTAINS(st.message, "0x7f");

    /* A very long URI is shortened in the message; the reason survives. */
    char long_uri[400];
    char *as = repeat('a', 300);
    snprintf(long_uri, sizeof long_uri, "unix:///%s", as);
    free(as);
    CHECK_INT(hvrpc_address_parse(long_uri, &a, &st), HVRPC_INVALID_ARGUMENT);
    CHECK(strncmp(st.message, long_uri, 96) == 0);
    CHECK_CONTAINS(st.message, "...: path is 301 bytes");
}

static void test_vsock(void)
{
    hvrpc_address a;
    hvrpc_status st;

    if (parse_ok("vsock://3:2761", &a)) {
        CHECK_INT(a.kind, HVRPC_ADDR_VSOCK);
        CHECK_INT(a.u.vsock.cid, 3);
        CHECK_INT(a.u.vsock.port, 2761);
    }
    if (parse_ok("vsock://any:any", &a)) {
        CHECK_INT(a.u.vsock.cid, HVRPC_VSOCK_CID_ANY);
        CHECK_INT(a.u.vsock.port, 0xFFFFFFFFu);
    }
    if (parse_ok("vsock://hypervisor:0", &a)) {
        CHECK_INT(a.u.vsock.cid, 0);
        CHECK_INT(a.u.vsock.port, 0);
    }
    if (parse_ok("vsock://local:1", &a))
        CHECK_INT(a.u.vsock.cid, 1);
    if (parse_ok("vsock://HOST:1", &a))
        CHECK_INT(a.u.vsock.cid, 2);
    if (parse_ok("vsock://4294967294:4294967294", &a)) {
        CHECK_INT(a.u.vsock.cid, 4294967294u);
        CHECK_INT(a.u.vsock.port, 4294967294u);
    }
    if (parse_ok("vsock://4294967295:4294967295", &a)) {
        CHECK_INT(a.u.vsock.cid, 4294967295u);
        CHECK_INT(a.u.vsock.port, 4294967295u);
    }
    /* Leading zeros are still decimal. */
    if (parse_ok("vsock://003:0002761", &a)) {
        CHECK_INT(a.u.vsock.cid, 3);
        CHECK_INT(a.u.vsock.port, 2761);
    }

    /* The example of address.h, word for word. */
    CHECK_INT(hvrpc_address_parse("vsock://3", &a, &st),
              HVRPC_INVALID_ARGUMENT);
    CHECK_STR(st.message, "vsock://3: missing ':PORT'");

    check_bad("vsock://", "missing ':PORT'");
    check_bad("vsock://3/2761", "missing ':PORT'");
    check_bad("vsock://:5", "missing CID");
    check_bad("vsock://3:", "missing port");
    check_bad("vsock://4294967296:5",
              "CID 4294967296 is out of range 0-4294967295");
    check_bad("vsock://99999999999999999999999:5", "out of range");
    check_bad("vsock://3:4294967296",
              "port 4294967296 is out of range 0-4294967295");
    check_bad("vsock://3:18446744073709551616", "out of range");
    check_bad("vsock://foo:5", "CID \"foo\" is neither a decimal number "
                               "nor one of any, hypervisor, local, host");
    check_bad("vsock://+3:5", "CID \"+3\"");
    check_bad("vsock://-1:5", "CID \"-1\"");
    check_bad("vsock:// 3:5", "CID \" 3\"");
    check_bad("vsock://3 :5", "CID \"3 \"");
    check_bad("vsock://0x3:5", "CID \"0x3\"");
    check_bad("vsock://anyx:5", "CID \"anyx\"");
    check_bad("vsock://3:+5", "port \"+5\" is neither a decimal number "
                              "nor one of any");
    check_bad("vsock://3:-5", "port \"-5\"");
    check_bad("vsock://3: 5", "port \" 5\"");
    check_bad("vsock://3:5 ", "port \"5 \"");
    check_bad("vsock://3:5/", "port \"5/\"");
    check_bad("vsock://3:5:6", "port \"5:6\"");
    check_bad("vsock://3:5x", "port \"5x\"");

    check_roundtrip("vsock://3:2761", "vsock://3:2761");
    check_roundtrip("vsock://4294967295:0", "vsock://any:0");
    check_roundtrip("vsock://0:1", "vsock://hypervisor:1");
    check_roundtrip("vsock://1:1", "vsock://local:1");
    check_roundtrip("vsock://2:1", "vsock://host:1");
    check_roundtrip("vsock://Any:ANY", "vsock://any:any");
    check_roundtrip("vsock://4294967294:4294967294",
                    "vsock://4294967294:4294967294");
    check_roundtrip("vsock://3:4294967295", "vsock://3:any");
    check_roundtrip("vsock://003:0002761", "vsock://3:2761");
}

static void test_hvsock(void)
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
        {"Parent", &HVRPC_GUID_PARENT},
        {"SILOHOST", &HVRPC_GUID_SILOHOST},
    };
    hvrpc_address a;
    char uri[128], buf[HVRPC_GUID_STRLEN];
    uint32_t port;

    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
        snprintf(uri, sizeof uri, "hvsock://%s/vsock:2761", names[i].name);
        if (parse_ok(uri, &a)) {
            CHECK_INT(a.kind, HVRPC_ADDR_HVSOCK);
            CHECK(hvrpc_guid_equal(&a.u.hv.vm_id, names[i].guid));
            CHECK_STR(hvrpc_guid_format(&a.u.hv.service_id, buf),
                      "00000ac9-facb-11e6-bd58-64006a7986d3");
        }
    }
    if (parse_ok("hvsock://{A42E7CDA-D03F-480C-9CC2-A4DE20ABB878}/"
                 "{00000AC9-FACB-11E6-BD58-64006A7986D3}",
                 &a)) {
        CHECK(hvrpc_guid_equal(&a.u.hv.vm_id, &HVRPC_GUID_PARENT));
        CHECK(hvrpc_guid_to_vsock_port(&a.u.hv.service_id, &port));
        CHECK_INT(port, 2761);
    }
    if (parse_ok("hvsock://12345678-9abc-def0-1234-56789abcdef0/"
                 "0123abcd-0000-1111-2222-333344445555",
                 &a)) {
        CHECK_INT(a.u.hv.vm_id.data1, 0x12345678);
        CHECK_INT(a.u.hv.vm_id.data4[7], 0xf0);
        CHECK_INT(a.u.hv.service_id.data1, 0x0123abcd);
        CHECK(!hvrpc_guid_to_vsock_port(&a.u.hv.service_id, &port));
    }
    if (parse_ok("hvsock://parent/vsock:0", &a)) {
        CHECK(hvrpc_guid_to_vsock_port(&a.u.hv.service_id, &port));
        CHECK_INT(port, 0);
    }
    if (parse_ok("hvsock://parent/VSOCK:4294967295", &a)) {
        CHECK(hvrpc_guid_to_vsock_port(&a.u.hv.service_id, &port));
        CHECK_INT(port, 4294967295u);
    }

    check_bad("hvsock://", "missing '/SERVICE'");
    check_bad("hvsock://parent", "missing '/SERVICE'");
    check_bad("hvsock:///vsock:1", "missing VM id before '/'");
    check_bad("hvsock://parent/", "missing service after '/'");
    check_bad("hvsock://parnet/vsock:1",
              "VM id \"parnet\" is neither a GUID nor one of wildcard, zero, "
              "children, loopback, parent, broadcast, silohost");
    check_bad("hvsock://any/vsock:1", "VM id \"any\" is neither");
    /* Text that is clearly a GUID gets the GUID parser's diagnosis. */
    check_bad("hvsock://a42e7cda-d03f-480c-9cc2-a4de20abb87/vsock:1",
              "VM id \"a42e7cda-d03f-480c-9cc2-a4de20abb87\": invalid GUID "
              "at offset 35");
    check_bad("hvsock://{a42e7cda-d03f-480c-9cc2-a4de20abb878/vsock:1",
              "expected '}'");
    check_bad("hvsock://a42e7cda-d03f-480c-9cc2-a4de20abb878a/vsock:1",
              "offset 36");
    check_bad("hvsock://a42e7cda-d03f-480c-9cc2-a4de20abb878aaaaaaaaaaaa"
              "/vsock:1",
              "VM id \"a42e7cda-d03f-480c-9cc2-a4de20abb878aaaaaaaaaaaa\" "
              "is too long");
    check_bad("hvsock://parent/vsock:", "missing service port");
    check_bad("hvsock://parent/vsock:4294967296",
              "service port 4294967296 is out of range 0-4294967295");
    check_bad("hvsock://parent/vsock:+1", "service port \"+1\" is not a "
                                          "decimal number");
    check_bad("hvsock://parent/vsock:any", "service port \"any\"");
    check_bad("hvsock://parent/vsock:1/x", "service port \"1/x\"");
    check_bad("hvsock://parent/vsock",
              "service \"vsock\" is neither a GUID nor vsock:PORT");
    check_bad("hvsock://parent/2761", "service \"2761\" is neither");
    check_bad("hvsock://parent/00000ac9-facb-11e6-bd58-64006a7986d3/x",
              "invalid GUID at offset 36: expected the end, found '/'");
    check_bad("hvsock://parent/00000ac9-facb-11e6-bd58-64006a7986g3",
              "service \"00000ac9-facb-11e6-bd58-64006a7986g3\": invalid "
              "GUID at offset 34: expected a hex digit, found 'g'");

    /* Both parts format as GUIDs, whatever they were written as. */
    check_roundtrip("hvsock://parent/vsock:2761",
                    "hvsock://a42e7cda-d03f-480c-9cc2-a4de20abb878/"
                    "00000ac9-facb-11e6-bd58-64006a7986d3");
    check_roundtrip("hvsock://wildcard/vsock:4294967295",
                    "hvsock://00000000-0000-0000-0000-000000000000/"
                    "ffffffff-facb-11e6-bd58-64006a7986d3");
    check_roundtrip("hvsock://{E0E16197-DD56-4A10-9195-5EE7A155A838}/"
                    "{0123ABCD-0000-1111-2222-333344445555}",
                    "hvsock://e0e16197-dd56-4a10-9195-5ee7a155a838/"
                    "0123abcd-0000-1111-2222-333344445555");
}

static void test_hybrid(void)
{
    hvrpc_address a;
    char uri[256];

    if (parse_ok("hybrid+vsock:///tmp/v.sock:1024", &a)) {
        CHECK_INT(a.kind, HVRPC_ADDR_HYBRID_VSOCK);
        CHECK_STR(a.u.hybrid.path, "/tmp/v.sock");
        CHECK_INT(a.u.hybrid.port, 1024);
    }
    /* The last ':' separates the port. */
    if (parse_ok("hybrid+vsock:///run/a:b/v.sock:52", &a)) {
        CHECK_STR(a.u.hybrid.path, "/run/a:b/v.sock");
        CHECK_INT(a.u.hybrid.port, 52);
    }
    if (parse_ok("hybrid+vsock:///v:0", &a)) {
        CHECK_STR(a.u.hybrid.path, "/v");
        CHECK_INT(a.u.hybrid.port, 0);
    }
    if (parse_ok("hybrid+vsock:///v:4294967295", &a))
        CHECK_INT(a.u.hybrid.port, 4294967295u);

    /* "<path>_<port>" must fit 107 bytes: with port 5 the path may have
     * 105 bytes, with port 4294967295 only 96. */
    char *p = repeat('p', 104);
    snprintf(uri, sizeof uri, "hybrid+vsock:///%s:5", p);
    if (parse_ok(uri, &a))
        CHECK_INT(strlen(a.u.hybrid.path), 105);
    snprintf(uri, sizeof uri, "hybrid+vsock:///%sq:5", p);
    check_bad(uri, "binds) is 108 bytes, more than the 107");
    free(p);
    p = repeat('p', 95);
    snprintf(uri, sizeof uri, "hybrid+vsock:///%s:4294967295", p);
    if (parse_ok(uri, &a))
        CHECK_INT(strlen(a.u.hybrid.path), 96);
    snprintf(uri, sizeof uri, "hybrid+vsock:///%sq:4294967295", p);
    check_bad(uri, "bytes, more than the 107 a unix socket allows");
    /* The same path fits with a shorter port: the number counts, not the
     * text (leading zeros are not bound). */
    snprintf(uri, sizeof uri, "hybrid+vsock:///%sq:000000001", p);
    if (parse_ok(uri, &a))
        CHECK_INT(a.u.hybrid.port, 1);
    free(p);

    check_bad("hybrid+vsock://", "expected an absolute path");
    check_bad("hybrid+vsock://tmp/v.sock:5", "expected an absolute path");
    check_bad("hybrid+vsock:///tmp/v.sock", "missing ':PORT'");
    check_bad("hybrid+vsock:///tmp/v.sock:", "missing port");
    check_bad("hybrid+vsock:///tmp/v.sock:+5", "port \"+5\" is not a "
                                               "decimal number");
    check_bad("hybrid+vsock:///tmp/v.sock:5 ", "port \"5 \"");
    check_bad("hybrid+vsock:///tmp/v.sock:any", "port \"any\"");
    check_bad("hybrid+vsock:///tmp/v.sock:4294967296",
              "port 4294967296 is out of range 0-4294967295");
    check_bad("hybrid+vsock:///tmp/:5", "path \"/tmp/\" ends with '/'");
    check_bad("hybrid+vsock:///:5", "path \"/\" ends with '/'");

    check_roundtrip("hybrid+vsock:///tmp/v.sock:1024",
                    "hybrid+vsock:///tmp/v.sock:1024");
    check_roundtrip("hybrid+vsock:///run/a:b/v.sock:007",
                    "hybrid+vsock:///run/a:b/v.sock:7");
}

/* The message hybrid path errors use, checked in full once. */
static void test_hybrid_message(void)
{
    hvrpc_address a;
    hvrpc_status st;
    char uri[256];
    char *p = repeat('p', 105);

    snprintf(uri, sizeof uri, "hybrid+vsock:///%s:10", p);
    free(p);
    CHECK_INT(hvrpc_address_parse(uri, &a, &st), HVRPC_INVALID_ARGUMENT);
    CHECK_CONTAINS(st.message, "path plus \"_PORT\" (what the listener "
                               "binds) is 109 bytes, more than the 107");
}

static void test_unix(void)
{
    hvrpc_address a;
    char uri[256];

    if (parse_ok("unix:///tmp/hvrpc.sock", &a)) {
        CHECK_INT(a.kind, HVRPC_ADDR_UNIX);
        CHECK_STR(a.u.unix_sock.path, "/tmp/hvrpc.sock");
        CHECK_INT(a.u.unix_sock.abstract, 0);
    }
    if (parse_ok("unix://@hvrpc-test", &a)) {
        CHECK_INT(a.kind, HVRPC_ADDR_UNIX);
        CHECK_STR(a.u.unix_sock.path, "hvrpc-test");
        CHECK_INT(a.u.unix_sock.abstract, 1);
    }
    if (parse_ok("unix://@a/b:c", &a))
        CHECK_STR(a.u.unix_sock.path, "a/b:c");

    /* 107 bytes fit, 108 do not: paths and abstract names alike. */
    char *p = repeat('p', 106);
    snprintf(uri, sizeof uri, "unix:///%s", p);
    if (parse_ok(uri, &a))
        CHECK_INT(strlen(a.u.unix_sock.path), 107);
    snprintf(uri, sizeof uri, "unix:///%sq", p);
    check_bad(uri, "path is 108 bytes, more than the 107 a unix socket "
                   "allows");
    snprintf(uri, sizeof uri, "unix://@%sq", p);
    if (parse_ok(uri, &a)) {
        CHECK_INT(strlen(a.u.unix_sock.path), 107);
        CHECK_INT(a.u.unix_sock.abstract, 1);
    }
    snprintf(uri, sizeof uri, "unix://@%sqq", p);
    check_bad(uri, "abstract name is 108 bytes");
    free(p);

    check_bad("unix://", "expected an absolute path or @name");
    check_bad("unix://tmp/s", "expected an absolute path or @name");
    check_bad("unix://./s", "expected an absolute path");
    check_bad("unix://@", "missing abstract socket name after '@'");
    check_bad("unix:///", "path \"/\" ends with '/'");
    check_bad("unix:///tmp/", "ends with '/'");

    check_roundtrip("unix:///tmp/hvrpc.sock", "unix:///tmp/hvrpc.sock");
    check_roundtrip("unix://@hvrpc-test", "unix://@hvrpc-test");
    check_roundtrip("unix:///run/x:1", "unix:///run/x:1");
}

static void test_tcp(void)
{
    hvrpc_address a;
    char uri[400];

    if (parse_ok("tcp://localhost:8080", &a)) {
        CHECK_INT(a.kind, HVRPC_ADDR_TCP);
        CHECK_STR(a.u.tcp.host, "localhost");
        CHECK_INT(a.u.tcp.port, 8080);
    }
    if (parse_ok("tcp://127.0.0.1:0", &a)) {
        CHECK_STR(a.u.tcp.host, "127.0.0.1");
        CHECK_INT(a.u.tcp.port, 0);
    }
    if (parse_ok("tcp://255.255.255.255:65535", &a))
        CHECK_INT(a.u.tcp.port, 65535);
    if (parse_ok("tcp://[::1]:65535", &a)) {
        CHECK_STR(a.u.tcp.host, "::1");
        CHECK_INT(a.u.tcp.port, 65535);
    }
    if (parse_ok("tcp://[fe80::1%eth0]:22", &a))
        CHECK_STR(a.u.tcp.host, "fe80::1%eth0");
    if (parse_ok("tcp://[::ffff:192.0.2.1]:1", &a))
        CHECK_STR(a.u.tcp.host, "::ffff:192.0.2.1");
    if (parse_ok("tcp://my_host.example-1.com:1", &a))
        CHECK_STR(a.u.tcp.host, "my_host.example-1.com");
    if (parse_ok("tcp://1.2.3.4a:1", &a)) /* a name, not an address */
        CHECK_STR(a.u.tcp.host, "1.2.3.4a");

    /* Host names up to 255 bytes. */
    char *h = repeat('h', 255);
    snprintf(uri, sizeof uri, "tcp://%s:1", h);
    if (parse_ok(uri, &a))
        CHECK_INT(strlen(a.u.tcp.host), 255);
    snprintf(uri, sizeof uri, "tcp://%sh:1", h);
    check_bad(uri, "host is 256 bytes, more than 255");
    free(h);

    check_bad("tcp://localhost:65536", "port 65536 is out of range 0-65535");
    check_bad("tcp://localhost:4294967296", "out of range 0-65535");
    check_bad("tcp://localhost", "missing ':PORT'");
    check_bad("tcp://", "missing ':PORT'");
    check_bad("tcp://:80", "missing host");
    check_bad("tcp://localhost:", "missing port");
    check_bad("tcp://localhost:+80", "port \"+80\" is not a decimal number");
    check_bad("tcp://localhost:-1", "port \"-1\"");
    check_bad("tcp://localhost: 80", "port \" 80\"");
    check_bad("tcp://localhost:80/", "port \"80/\"");
    check_bad("tcp://localhost:0x50", "port \"0x50\"");
    check_bad("tcp://::1:80", "an IPv6 host needs brackets");
    check_bad("tcp://[::1", "missing ']'");
    check_bad("tcp://[::1]", "missing ':PORT'");
    check_bad("tcp://[::1]80", "expected ':PORT' after ']'");
    check_bad("tcp://[::1]:", "missing port");
    check_bad("tcp://[::1]:65536", "out of range");
    check_bad("tcp://[]:80", "missing host");
    check_bad("tcp://[1.2.3.4]:80", "IPv6 host \"1.2.3.4\" is not an IPv6");
    check_bad("tcp://[12:34]:80", "IPv6 host \"12:34\" is not an IPv6");
    check_bad("tcp://[::g]:80", "IPv6 host \"::g\": 'g' at offset 2");
    check_bad("tcp://[fe80::1%]:80", "empty zone");
    check_bad("tcp://[fe80::1%a/b]:80", "'/' at offset 9");
    check_bad("tcp://host/path:80", "host \"host/path\": '/' at offset 4");
    check_bad("tcp://a b:80", "' ' at offset 1");
    check_bad("tcp://user@host:80", "'@' at offset 4");
    check_bad("tcp://256.1.1.1:80", "host \"256.1.1.1\" is not an IPv4");
    check_bad("tcp://1.2.3:80", "not an IPv4");
    check_bad("tcp://1.2.3.4.5:80", "not an IPv4");
    check_bad("tcp://1..3.4:80", "not an IPv4");
    check_bad("tcp://1.2.3.0004:80", "not an IPv4");
    check_bad("tcp://1.2.3.4.:80", "not an IPv4");

    check_roundtrip("tcp://localhost:8080", "tcp://localhost:8080");
    check_roundtrip("tcp://127.0.0.1:0", "tcp://127.0.0.1:0");
    check_roundtrip("tcp://[::1]:65535", "tcp://[::1]:65535");
    check_roundtrip("tcp://[fe80::1%eth0]:00022", "tcp://[fe80::1%eth0]:22");
}

static void test_format(void)
{
    hvrpc_address a;
    char buf[128];

    /* Like snprintf: the needed length, a truncated terminated string. */
    if (!parse_ok("vsock://3:2761", &a))
        return;
    CHECK_INT(hvrpc_address_format(&a, NULL, 0), 14);
    memset(buf, 'x', sizeof buf);
    CHECK_INT(hvrpc_address_format(&a, buf, 5), 14);
    CHECK_STR(buf, "vsoc");
    CHECK_INT(hvrpc_address_format(&a, buf, 1), 14);
    CHECK_STR(buf, "");
    CHECK_INT(hvrpc_address_format(&a, buf, 15), 14);
    CHECK_STR(buf, "vsock://3:2761");

    /* Built by hand rather than parsed. */
    memset(&a, 0, sizeof a);
    a.kind = HVRPC_ADDR_TCP;
    strcpy(a.u.tcp.host, "2001:db8::2");
    a.u.tcp.port = 443;
    hvrpc_address_format(&a, buf, sizeof buf);
    CHECK_STR(buf, "tcp://[2001:db8::2]:443");

    memset(&a, 0, sizeof a);
    a.kind = HVRPC_ADDR_HVSOCK;
    a.u.hv.vm_id = HVRPC_GUID_CHILDREN;
    a.u.hv.service_id = hvrpc_guid_from_vsock_port(1);
    hvrpc_address_format(&a, buf, sizeof buf);
    CHECK_STR(buf, "hvsock://90db8b89-0d35-4f79-8ce9-49ea0ac8b7cd/"
                   "00000001-facb-11e6-bd58-64006a7986d3");

    /* No valid kind, no address. */
    memset(&a, 0, sizeof a);
    strcpy(buf, "junk");
    CHECK(hvrpc_address_format(&a, buf, sizeof buf) < 0);
    CHECK_STR(buf, "");
    strcpy(buf, "junk");
    CHECK(hvrpc_address_format(NULL, buf, sizeof buf) < 0);
    CHECK_STR(buf, "");
}

int main(void)
{
    test_general();
    test_vsock();
    test_hvsock();
    test_hybrid();
    test_hybrid_message();
    test_unix();
    test_tcp();
    test_format();
    return check_done();
}
