#!/usr/bin/env python3
"""seeds.py - writes the handcrafted seeds of corpus/<target>/.

The seeds are committed; this script says how they were made. Inputs a
fuzz run found worth keeping (and reproducers of findings) sit beside
them under other names. Run from anywhere: python3 tests/fuzz/seeds.py
"""
import os
import struct

HERE = os.path.dirname(os.path.abspath(__file__))


def varint(v):
    out = b""
    v &= (1 << 64) - 1
    while v >= 0x80:
        out += bytes([(v & 0x7F) | 0x80])
        v >>= 7
    return out + bytes([v])


def field(num, data):  # length-delimited
    return varint(num << 3 | 2) + varint(len(data)) + data


def vfield(num, v):  # varint
    return varint(num << 3) + varint(v)


def request(service=b"hvrpc.echo.v1.Echo", method=b"Echo", payload=b"",
            timeout=0, md=()):
    m = b""
    if service:
        m += field(1, service)
    if method:
        m += field(2, method)
    if payload:
        m += field(3, payload)
    if timeout:
        m += vfield(4, timeout)
    for k, v in md:
        m += field(5, field(1, k) + field(2, v))
    return m


def echo(payload=b"", response_size=0, delay_ms=0, fail_code=0, fail_msg=b""):
    m = b""
    if payload:
        m += field(1, payload)
    if response_size:
        m += vfield(2, response_size)
    if delay_ms:
        m += vfield(3, delay_ms)
    if fail_code:
        m += vfield(4, fail_code)
    if fail_msg:
        m += field(5, fail_msg)
    return m


def response(code=0, message=b"", payload=b""):
    m = b""
    if code:
        st = vfield(1, code) + (field(2, message) if message else b"")
        m += field(1, st)
    if payload:
        m += field(2, payload)
    return m


def frame(stream, body, ftype=1, flags=0, length=None):
    n = len(body) if length is None else length
    return struct.pack(">IIBB", n, stream, ftype, flags) + body


def write(target, name, data):
    d = os.path.join(HERE, "corpus", target)
    os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, name), "wb") as f:
        f.write(data)


def server_seeds():
    call = lambda s, **kw: frame(s, request(payload=echo(**kw)))
    write("server", "echo", call(1, payload=b"hello"))
    write("server", "echo-three", call(1, payload=b"a") + call(3) +
          call(5, payload=b"c" * 40))
    write("server", "echo-metadata", frame(1, request(
        payload=echo(payload=b"x"), md=[(b"k", b"v"), (b"trace", b"1234")])))
    write("server", "echo-timeout", frame(1, request(
        payload=echo(payload=b"t"), timeout=5_000_000_000)))
    write("server", "echo-fail", call(1, fail_code=5, fail_msg=b"nope"))
    write("server", "echo-bad-code", call(1, fail_code=99))
    write("server", "echo-response-size", call(1, response_size=3000))
    write("server", "echo-response-too-big", call(1, response_size=1 << 20))
    write("server", "echo-delay", call(1, delay_ms=20) + call(3))
    write("server", "unknown-service", frame(1, request(service=b"no.Such")))
    write("server", "unknown-method", frame(1, request(method=b"Nope")))
    write("server", "empty-request", frame(1, b""))
    write("server", "even-stream", frame(2, request(payload=echo())))
    write("server", "reused-stream", call(5) + call(5) + call(3))
    write("server", "oversize", frame(1, b"", length=70000) + b"\0" * 64 +
          call(3))
    write("server", "oversize-4g", frame(1, b"", length=0xFFFFFFFF))
    write("server", "garbage-request", frame(1, b"\xff\xff\xff\xff") + call(3))
    write("server", "bad-payload", frame(1, request(payload=b"\x0a\x05ab")))
    write("server", "data-frame", frame(1, b"abc", ftype=3) + call(1))
    write("server", "data-on-unary", call(1, delay_ms=10) +
          frame(1, b"more", ftype=3, flags=1))
    write("server", "response-from-client", frame(1, response(), ftype=2) +
          call(3))
    write("server", "unknown-type", frame(1, b"zz", ftype=7) + call(3))
    write("server", "unknown-flags", frame(1, request(payload=echo()),
                                           flags=0xF8))
    write("server", "remote-open", frame(1, request(payload=echo()), flags=2))
    write("server", "truncated-header", call(1) + b"\0\0\0\x05\0")
    write("server", "truncated-body", call(1) + frame(3, request())[:20])
    write("server", "long-name", frame(1, request(service=b"s" * 300)))
    write("server", "many-metadata", frame(1, request(
        payload=echo(), md=[(b"k", b"v")] * 80)))
    write("server", "deep-nesting", frame(1, request(
        payload=b"\x0a\x7f" * 2000)))
    write("server", "groups", frame(1, b"\x0b\x0c") + call(3))
    write("server", "max-calls", b"".join(call(2 * i + 1, delay_ms=5)
                                          for i in range(20)))


def envelope_seeds():
    lim = bytes([0, 0, 0])
    tight = bytes([8, 2, 1])
    write("envelope", "request", lim + request(payload=b"hi"))
    write("envelope", "request-md", lim + request(
        payload=b"p", timeout=123456789, md=[(b"a", b"b"), (b"", b"x")]))
    write("envelope", "request-limits", tight + request(
        service=b"a.b.C", method=b"Method", md=[(b"k", b"v" * 70)] * 3))
    write("envelope", "request-negative-timeout", lim + request(timeout=-5))
    write("envelope", "response-ok", lim + response(payload=b"out"))
    write("envelope", "response-status", lim + response(5, b"missing"))
    write("envelope", "response-bad-code", lim + response(1000, b"x"))
    write("envelope", "response-details", lim + field(1, vfield(1, 3) + field(
        3, field(1, b"type.googleapis.com/x") + field(2, b"\x01"))))
    write("envelope", "unknown-fields", lim + request() + vfield(99, 1) +
          b"\x0d\x01\x02\x03\x04" + b"\x09" + b"\x00" * 8)
    write("envelope", "truncated", lim + request(payload=b"hello")[:-2])
    write("envelope", "descriptor-nested", lim + field(1, b"M") + field(
        3, field(1, b"N") + field(3, field(1, b"O"))))
    deep = b""
    for _ in range(120):
        deep = field(3, deep)
    write("envelope", "descriptor-deep", lim + deep)


def frame_seeds():
    def prefix(max_frame, seed):
        return struct.pack("<HI", max_frame, seed)
    two = frame(1, b"hello") + frame(3, b"", ftype=2)
    write("frame", "two-frames", prefix(1024, 1) + two)
    write("frame", "byte-chunks", prefix(1024, 4) + two * 3)
    write("frame", "oversize", prefix(16, 7) + frame(1, b"x" * 40) +
          frame(3, b"ok"))
    write("frame", "oversize-partial", prefix(16, 9) + frame(1, b"", length=1000) +
          b"y" * 30)
    write("frame", "partial-header", prefix(100, 3) + frame(1, b"ab")[:7])
    write("frame", "partial-body", prefix(100, 3) + frame(1, b"abcdef")[:13])
    write("frame", "zero-max", prefix(0, 11) + frame(1, b"") + frame(3, b"a"))


def address_seeds():
    for i, uri in enumerate([
            "vsock://2:2761", "vsock://any:any", "vsock://HOST:1", "vsock://3",
            "hvsock://parent/00000ac9-facb-11e6-bd58-64006a7986d3",
            "hvsock://{E0E16197-DD56-4A10-9195-5EE7A155A838}/vsock:5000",
            "hybrid+vsock:///run/v.sock:1024", "hybrid+vsock:///a:b:c:7",
            "unix:///tmp/x.sock", "unix://@abstract", "unix://",
            "tcp://127.0.0.1:80", "tcp://[::1]:0", "tcp://host.example:65535",
            "tcp://[fe80::1%eth0]:1", "TCP://Name:1", "vsock://-1:2",
            "tcp://a:99999", "unix:///" + "p" * 120]):
        write("address", "uri-%02d" % i, uri.encode())


def guid_seeds():
    for i, g in enumerate([
            "00000ac9-facb-11e6-bd58-64006a7986d3",
            "{E0E16197-DD56-4A10-9195-5EE7A155A838}",
            "ffffffff-ffff-ffff-ffff-ffffffffffff",
            "00000000-0000-0000-0000-000000000000", "parent", "Wildcard",
            "00000ac9-facb-11e6-bd58-64006a7986d", "{00000ac9-facb-11e6-bd58-64006a7986d3",
            " 00000ac9-facb-11e6-bd58-64006a7986d3", "g0000ac9-facb-11e6-bd58-64006a7986d3"]):
        write("guid", "guid-%02d" % i, g.encode())


def nth(k):  # fail allocation k + 1 only (fuzz.h, fuzz_alloc_fail)
    return struct.pack(">BBH", 0x80, 0, k)


def one_in(n, seed):  # fail one allocation in n, chosen by seed
    return struct.pack(">B", n - 1) + struct.pack(">I", seed)[1:]


def oom_seeds():
    """The *_oom targets: seeds of the plain targets behind failure
    patterns, each allocation of a simple call failing in turn and a few
    seeded shares."""
    def seed(target, name):
        with open(os.path.join(HERE, "corpus", target, name), "rb") as f:
            return f.read()
    three = seed("server", "echo-three")
    for k in range(0, 16):
        write("server_oom", "echo-three-nth-%02d" % k, nth(k) + three)
    for name in ("echo", "echo-metadata", "max-calls", "oversize",
                 "data-on-unary", "echo-response-size", "reused-stream"):
        for n, sd in ((2, 1), (4, 7), (8, 99)):
            write("server_oom", "%s-1in%d" % (name, n), one_in(n, sd) +
                  seed("server", name))
    req = seed("envelope", "request-md")[3:]
    resp = seed("envelope", "response-status")[3:]
    for k in range(0, 12):
        write("envelope_oom", "request-md-nth-%02d" % k, nth(k) + req)
    for k in range(0, 4):
        write("envelope_oom", "response-nth-%02d" % k, nth(k) + resp)
    for n, sd in ((2, 3), (4, 5)):
        write("envelope_oom", "request-md-1in%d" % n, one_in(n, sd) + req)
        write("envelope_oom", "truncated-1in%d" % n, one_in(n, sd) +
              seed("envelope", "truncated")[3:])


def message_seeds():
    # byte 0: the type (0 Blobs, 1 Blobs2); byte 1: the in-place minimum - 1
    big, small = b"B" * 40, b"s" * 3
    write("message", "blobs-a", b"\x00\x07" + field(1, big))
    write("message", "blobs-all", b"\x00\x03" + field(1, big) +
          field(2, big) + field(3, big) + field(3, small) + field(4, big) +
          field(6, field(1, big)) + field(7, b"name") + field(8, small) +
          vfield(9, 5) + field(99, big))
    write("message", "blobs-twice", b"\x00\x03" + field(1, big) +
          field(1, small) + field(8, small) + field(8, big))
    write("message", "blobs-oneof", b"\x00\x03" + field(4, big) +
          field(5, b"text") + field(4, big))
    write("message", "blobs-wrong-type", b"\x00\x03" + field(1, big) +
          vfield(1, 7))
    write("message", "blobs2-all", b"\x01\x03" + field(1, big) +
          field(2, big) + field(3, small) + field(4, big) +
          field(5, field(1, small)))
    write("message", "blobs2-no-required", b"\x01\x03" + field(2, big))


if __name__ == "__main__":
    server_seeds()
    envelope_seeds()
    oom_seeds()
    frame_seeds()
    address_seeds()
    guid_seeds()
    message_seeds()
