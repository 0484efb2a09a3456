#!/usr/bin/env python3
"""Fleet tests (docs/FLEET.md): two hosts, each an `hvrpc serve` bus with
an hvrpc-bridge and a guest process, and a 3-node nats-server cluster with
JetStream, all on loopback with free ports and a temporary directory.

Checks, in order, on one cluster:
  a. an event from the guest on host A reaches a subscriber on host B;
  b. a command from a fleet client (NATS subject hvrpc.A.cmd.>) reaches a
     guest on host A;
  c. the NATS node bridge A is connected to is killed mid-stream: the
     bridge fails over and every event is in the stream once, in order;
  d. all three nodes are killed for 10 s while the guest keeps
     publishing: after they return every event is in the stream exactly
     once and in order (read back with sequence numbers), and the bridge
     counted them spooled and replayed;
  e. bridge A is restarted mid-stream (a new instance on the same spool
     takes over, the old one stops, by SIGTERM and by SIGKILL): no loss,
     no duplicate;
  f. two bridges for A on separate spools publish every event twice:
     JetStream's dedup by message id stores each once, in order;
  g. a bridge whose spool is full drops new events and counts them.
Exit 0: all passed; 1: a failure (with the logs' tails); 77: skipped (no
nats-server).
"""
import argparse
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time

ARGS = None
TMP = None
PROCS = []
START = time.monotonic()


def log(msg):
    print("[%5.1fs] %s" % (time.monotonic() - START, msg), flush=True)


class Failure(Exception):
    pass


def check(cond, what):
    if not cond:
        raise Failure(what)


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def spawn(name, argv, **kw):
    out = open(os.path.join(TMP, name + ".log"), "ab")
    p = subprocess.Popen(argv, stdout=kw.pop("stdout", out), stderr=out, **kw)
    p.name = name
    PROCS.append(p)
    return p


def stop(p, sig=signal.SIGTERM, wait=10):
    if p.poll() is None:
        p.send_signal(sig)
        try:
            p.wait(wait)
        except subprocess.TimeoutExpired:
            p.kill()
            p.wait()


def wait_until(what, fn, timeout):
    deadline = time.monotonic() + timeout
    while True:
        v = fn()
        if v:
            return v
        if time.monotonic() > deadline:
            raise Failure("timed out (%d s) waiting for %s" % (timeout, what))
        time.sleep(0.2)


def port_open(port):
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=0.5):
            return True
    except OSError:
        return False


class Node:
    def __init__(self, i, ports):
        self.name = "n%d" % i
        self.port, self.cport = ports[i]
        self.store = os.path.join(TMP, self.name)
        self.conf = os.path.join(TMP, self.name + ".conf")
        routes = ", ".join("nats-route://127.0.0.1:%d" % c for _, c in ports.values())
        with open(self.conf, "w") as f:
            f.write("server_name: %s\nlisten: 127.0.0.1:%d\n"
                    "jetstream { store_dir: \"%s\", max_memory_store: 64MB, "
                    "max_file_store: 512MB }\n"
                    "cluster { name: fleet, listen: 127.0.0.1:%d, routes: [%s] }\n"
                    % (self.name, self.port, self.store, self.cport, routes))
        self.proc = None

    def start(self):
        self.proc = spawn(self.name, [ARGS.nats_server, "-c", self.conf])

    def kill(self):
        stop(self.proc, signal.SIGKILL)

    @property
    def url(self):
        return "nats://127.0.0.1:%d" % self.port


def servers(nodes):
    """nodes: a list of Node, or already a URL list."""
    return nodes if isinstance(nodes, str) else ",".join(n.url for n in nodes)


def js(nodes, *argv, check_rc=True):
    r = subprocess.run([ARGS.js, argv[0], servers(nodes)] + list(argv[1:]),
                       capture_output=True, text=True, timeout=60)
    if check_rc and r.returncode != 0:
        raise Failure("fleet_js %s: %s" % (argv[0], r.stderr.strip()))
    return r


def jetstream_ready(nodes):
    return js(nodes, "count", "no-such-stream", check_rc=False).returncode == 0


def stats(sock):
    r = subprocess.run([ARGS.hvrpc, "call", "unix://" + sock,
                        "hvrpc.bridge.v1.Bridge/Stats", "-d", "{}"],
                       capture_output=True, text=True, timeout=20)
    if r.returncode != 0:
        return None
    return json.loads(r.stdout)


def num(st, key):
    return int(st.get(key, 0) or 0)


class Host:
    def __init__(self, hid):
        self.id = hid
        self.bus = os.path.join(TMP, hid + ".bus.sock")
        self.spool = os.path.join(TMP, hid + ".spool.db")
        self.serve = spawn(hid + ".serve", [ARGS.hvrpc, "serve", "--listen",
                                            "unix://" + self.bus])
        wait_until("host %s's bus" % hid, lambda: os.path.exists(self.bus), 20)
        self.bridges = 0

    def start_bridge(self, nodes, *extra):
        self.bridges += 1
        name = "%s.bridge%d" % (self.id, self.bridges)
        sock = os.path.join(TMP, name + ".sock")
        p = spawn(name, [ARGS.bridge, "--host-id", self.id,
                         "--bus", "unix://" + self.bus,
                         "--spool", self.spool, "--nats",
                         nodes if isinstance(nodes, str) else servers(nodes),
                         "--listen", "unix://" + sock, "--replicas", "3",
                         "--ack-wait", "1500"] + list(extra))
        p.stats_sock = sock
        wait_until(name + " subscribed",
                   lambda: (stats(sock) or {}).get("subscribed"), 30)
        return p


def guest_publish(host, topic, first, count, interval_ms):
    return spawn("%s.guest.%s" % (host.id, topic),
                 [ARGS.guest, "unix://" + host.bus, topic, str(first),
                  str(count), str(interval_ms)])


def guest_progress(g):
    """Events the guest has published so far (from its log)."""
    done = 0
    with open(os.path.join(TMP, g.name + ".log")) as f:
        for line in f:
            w = line.split()
            if len(w) >= 2 and w[0] in ("published", "done"):
                done = int(w[1])
    return done


def stream_events(nodes, stream, subject, tries=1):
    """The seq headers of the stream's events on subject, in stream order.
    After a restart the stream has no leader for a while: tries > 1
    retries a failing read (None when it still fails)."""
    for i in range(tries):
        r = js(nodes, "dump", stream, check_rc=False)
        if r.returncode == 0:
            break
        time.sleep(1)
    else:
        return None
    seqs = []
    for line in r.stdout.splitlines():
        w = line.split(" ", 3)
        if len(w) >= 3 and w[1] == subject:
            seqs.append(int(w[2]))
    return seqs


def expect_exactly_once(nodes, stream, subject, count, timeout):
    """Waits until the stream holds count events on subject, then checks
    they are 1..count, each once, in publish order."""
    def enough():
        return len(stream_events(nodes, stream, subject) or []) >= count
    try:
        wait_until("%d events on %s" % (count, subject), enough, timeout)
    except Failure:
        pass  # the comparison below says what is missing
    time.sleep(0.5)  # anything late (a duplicate) shows up too
    got = stream_events(nodes, stream, subject, tries=15)
    if got is None:
        raise Failure("stream %s cannot be read back" % stream)
    want = list(range(1, count + 1))
    if got != want:
        missing = sorted(set(want) - set(got))
        dups = sorted({s for s in got if got.count(s) > 1})
        disorder = [(a, b) for a, b in zip(got, got[1:]) if b <= a][:5]
        raise Failure("%s: %d events, expected %d: missing %s, duplicated %s, "
                      "out of order at %s" % (subject, len(got), count,
                                              missing[:20], dups[:20], disorder))
    log("%s: all %d events once, in order" % (subject, count))


def out_lines(p):
    with open(os.path.join(TMP, p.name + ".out")) as f:
        return [x for x in f.read().splitlines() if x.strip()]


def wait_subscribed(p, what):
    path = os.path.join(TMP, p.name + ".log")
    wait_until(what, lambda: "subscribed" in open(path).read(), 20)


def openssl(*argv):
    r = subprocess.run(["openssl"] + list(argv), cwd=TMP, capture_output=True,
                       text=True, timeout=60)
    if r.returncode != 0:
        raise Failure("openssl %s: %s" % (argv[0], r.stderr.strip()))


def make_certs():
    """A CA, a server certificate for 127.0.0.1/localhost and a client
    certificate signed by it, and a second CA that signed nothing."""
    ec = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"]
    for ca in ("ca", "wrong-ca"):
        openssl("req", "-x509", *ec, "-keyout", ca + ".key", "-out", ca + ".pem",
                "-days", "2", "-subj", "/CN=hvrpc fleet test " + ca)
    for name, ext in (("server", "subjectAltName=IP:127.0.0.1,DNS:localhost\n"
                       "extendedKeyUsage=serverAuth\n"),
                      ("client", "extendedKeyUsage=clientAuth\n")):
        with open(os.path.join(TMP, name + ".ext"), "w") as f:
            f.write(ext)
        openssl("req", *ec, "-keyout", name + ".key", "-out", name + ".csr",
                "-subj", "/CN=hvrpc fleet test " + name)
        openssl("x509", "-req", "-in", name + ".csr", "-CA", "ca.pem", "-CAkey",
                "ca.key", "-CAcreateserial", "-days", "2", "-out", name + ".pem",
                "-extfile", name + ".ext")
    return {n: os.path.join(TMP, n) for n in (
        "ca.pem", "wrong-ca.pem", "server.pem", "server.key", "client.pem",
        "client.key")}


def secret_file(name, text):
    path = os.path.join(TMP, name)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as f:
        f.write(text + "\n")
    return path


def bridge_refused(name, url, *opts):
    """Runs hvrpc-bridge against url with opts: it must exit 1 at once
    with its reason on stderr."""
    bus = os.path.join(TMP, "nobus.sock")
    r = subprocess.run([ARGS.bridge, "--host-id", "X", "--bus", "unix://" + bus,
                        "--spool", os.path.join(TMP, name + ".db"),
                        "--nats", url] + list(opts),
                       capture_output=True, text=True, timeout=30)
    check(r.returncode == 1, "%s: exit %d (%s)" % (name, r.returncode, r.stderr))
    why = [x for x in r.stderr.splitlines() if "refused" in x]
    log("i. %s: %s" % (name, why[0] if why else r.stderr.strip()))
    return r.stderr


def tls_and_serve_bridge():
    """i. A NATS server with TLS (client certificates verified) and a user
    and password; host D is `hvrpc serve --bridge` with the matching
    files. Events and commands flow; wrong files are refused, with a
    reason."""
    if shutil.which("openssl") is None:
        raise Failure("openssl is needed (apt-get install openssl)")
    certs = make_certs()
    password = "pw-%d-%d" % (os.getpid(), int(time.time() * 1000))
    user_file = secret_file("fleet.user", "fleet:" + password)
    port = free_port()
    conf = os.path.join(TMP, "tls1.conf")
    with open(conf, "w") as f:
        f.write('server_name: tls1\nlisten: 127.0.0.1:%d\n'
                'jetstream { store_dir: "%s", max_memory_store: 64MB, '
                'max_file_store: 256MB }\n'
                'tls { cert_file: "%s", key_file: "%s", ca_file: "%s", '
                'verify: true, timeout: 5 }\n'
                'authorization { user: fleet, password: "%s" }\n'
                % (port, os.path.join(TMP, "tls1"), certs["server.pem"],
                   certs["server.key"], certs["ca.pem"], password))
    os.chmod(conf, 0o600)
    spawn("tls1", [ARGS.nats_server, "-c", conf])
    wait_until("TLS NATS listening", lambda: port_open(port), 20)
    url = "nats://127.0.0.1:%d" % port
    os.environ.update(FLEET_TLS_CA=certs["ca.pem"], FLEET_TLS_CERT=certs["client.pem"],
                      FLEET_TLS_KEY=certs["client.key"], FLEET_USER_FILE=user_file)
    try:
        serve_bridge_host(url, certs, user_file)
    finally:
        for k in ("FLEET_TLS_CA", "FLEET_TLS_CERT", "FLEET_TLS_KEY", "FLEET_USER_FILE"):
            os.environ.pop(k, None)

    client = ["--tls-cert", certs["client.pem"], "--tls-key", certs["client.key"]]
    err = bridge_refused("wrongca", url, "--tls-ca", certs["wrong-ca.pem"],
                         "--user-file", user_file, *client)
    check("refused" in err and "--tls-ca" in err, "wrong CA: %r" % err)
    err = bridge_refused("nocert", url, "--tls-ca", certs["ca.pem"],
                         "--user-file", user_file)
    check("refused" in err and "--tls-cert" in err, "no client certificate: %r" % err)
    bad = secret_file("bad.user", "fleet:not-" + password)
    err = bridge_refused("badpw", url, "--tls-ca", certs["ca.pem"],
                         "--user-file", bad, *client)
    check("refused" in err and "--user-file" in err, "wrong password: %r" % err)
    check(password not in err, "the password shows in the log")
    log("i. no client certificate, a wrong password: refused, with reasons")
    # serve --bridge with options the bridge refuses: serve stops (64).
    r = subprocess.run([ARGS.hvrpc, "serve", "--listen",
                        "unix://" + os.path.join(TMP, "E.bus.sock"),
                        "--bridge", url, "--bridge-program", ARGS.bridge,
                        "--bridge-host-id", "E", "--bridge-spool",
                        os.path.join(TMP, "E.db"), "--bridge-replicas", "9"],
                       capture_output=True, text=True, timeout=30)
    check(r.returncode == 64 and "refused its options" in r.stderr,
          "serve --bridge with a bad option: exit %d: %s" % (r.returncode, r.stderr))
    log("i. serve --bridge stops (64) when the bridge refuses its options")


def serve_bridge_host(url, certs, user_file):
    bus = os.path.join(TMP, "D.bus.sock")
    sock = os.path.join(TMP, "D.bridge.sock")
    serve = spawn("D.serve", [ARGS.hvrpc, "serve", "--listen", "unix://" + bus,
                              "--bridge", url, "--bridge-program", ARGS.bridge,
                              "--bridge-host-id", "D", "--bridge-spool",
                              os.path.join(TMP, "D.spool.db"),
                              "--bridge-pattern", "vm.>",
                              "--bridge-listen", "unix://" + sock,
                              "--bridge-tls-ca", certs["ca.pem"],
                              "--bridge-tls-cert", certs["client.pem"],
                              "--bridge-tls-key", certs["client.key"],
                              "--bridge-user-file", user_file])
    st = wait_until("serve --bridge's bridge connected and subscribed",
                    lambda: (lambda x: x if x.get("subscribed") and
                             x.get("natsConnected") else None)(stats(sock) or {}),
                    30)
    log("i. hvrpc serve --bridge (TLS, client certificate, user file) "
        "connected to %s" % st.get("connectedUrl"))
    g = spawn("D.guest", [ARGS.guest, "unix://" + bus, "vm.g1.tls", "1", "20", "0"])
    check(g.wait(60) == 0, "guest publisher on D failed")
    expect_exactly_once(url, "hvrpc-D", "hvrpc.D.vm.g1.tls", 20, 30)
    sub = spawn("D.cmdsub", [ARGS.hvrpc, "sub", "unix://" + bus, "cmd.>",
                             "--count", "1", "--timeout", "30000"],
                stdout=subprocess.PIPE)
    wait_subscribed(sub, "command subscriber on D")
    js(url, "cmd", "hvrpc.D.cmd.g1.ping", "tls", "cmd-i-1", "1")
    out, _ = sub.communicate(timeout=40)
    check(sub.returncode == 0 and " cmd.g1.ping " in out.decode(),
          "command on D: %r" % out)
    log("i. events and a command through the TLS server")
    # The bridge is serve's child: serve stops it, and it is gone.
    text = open(os.path.join(TMP, "D.serve.log")).read()
    pid = int(text.split("(pid ")[1].split(")")[0])
    stop(serve)
    check(serve.returncode == 0, "serve --bridge exit %s" % serve.returncode)
    check(not os.path.exists("/proc/%d" % pid) or
          open("/proc/%d/stat" % pid).read().split()[2] == "Z",
          "the bridge (pid %d) outlived serve" % pid)


def run():
    nodes_ports = {i: (free_port(), free_port()) for i in (1, 2, 3)}
    nodes = [Node(i, nodes_ports) for i in (1, 2, 3)]
    for n in nodes:
        n.start()
    for n in nodes:
        wait_until(n.name + " listening", lambda: port_open(n.port), 20)
    wait_until("JetStream cluster", lambda: jetstream_ready(nodes), 30)
    log("3-node JetStream cluster up: %s" % servers(nodes))

    a, b = Host("A"), Host("B")
    bridge_a = a.start_bridge(nodes, "--pattern", "vm.>")
    b.start_bridge(nodes, "--import", "A")
    log("hosts A and B with their bridges up")

    # a. guest on A -> NATS -> subscriber on B. Core NATS interest for the
    # import travels the cluster's routes asynchronously, so the guest
    # publishes until one arrives.
    sub_b = spawn("B.sub", [ARGS.hvrpc, "sub", "unix://" + b.bus, "fleet.A.>",
                            "--count", "1", "--format", "json",
                            "--timeout", "30000"],
                  stdout=subprocess.PIPE)
    wait_subscribed(sub_b, "subscriber on B")
    g = guest_publish(a, "vm.g1.hello", 1, 60, 500)
    out, _ = sub_b.communicate(timeout=40)
    stop(g)
    check(sub_b.returncode == 0, "subscriber on B got nothing (exit %d)" % sub_b.returncode)
    ev = json.loads(out.decode().splitlines()[0])
    hdr = {h["key"]: h["value"] for h in ev.get("headers", [])}
    check(ev["topic"] == "fleet.A.vm.g1.hello", "topic on B: %s" % ev["topic"])
    check(hdr.get("fleet-host") == "A", "fleet-host: %s" % hdr)
    check(hdr.get("fleet-publisher", "").startswith("unix:uid="),
          "the guest's identity did not travel: %s" % hdr)
    check(hdr.get("seq") == "1" or hdr.get("seq", "").isdigit(), "headers: %s" % hdr)
    log("a. event from the guest on A reached B as %s, publisher %s"
        % (ev["topic"], hdr["fleet-publisher"]))

    # b. fleet client -> hvrpc.A.cmd.g1.reboot -> guest on A.
    sub_a = spawn("A.cmdsub", [ARGS.hvrpc, "sub", "unix://" + a.bus, "cmd.>",
                               "--count", "1", "--timeout", "30000"],
                  stdout=subprocess.PIPE)
    wait_subscribed(sub_a, "command subscriber on A")
    ctl = spawn("controller", [ARGS.js, "cmd", servers(nodes), "hvrpc.A.cmd.g1.reboot",
                               "now", "cmd-b-1", "1"])
    out, _ = sub_a.communicate(timeout=40)
    check(ctl.wait(30) == 0, "the controller's command was not stored")
    line = out.decode().strip()
    check(sub_a.returncode == 0 and " cmd.g1.reboot " in line and line.endswith(" now"),
          "command on A: exit %d, %r" % (sub_a.returncode, line))
    # B must not get A's commands.
    st_b = stats(os.path.join(TMP, "B.bridge1.sock"))
    log("b. command from the fleet client reached the guest on A: %r" % line)

    stream = "hvrpc-A"

    # c. failover: kill the node bridge A is connected to.
    st = stats(bridge_a.stats_sock)
    url = st.get("connectedUrl", "")
    victim = [n for n in nodes if url.endswith(":%d" % n.port)]
    check(len(victim) == 1, "bridge A's connected URL %r is not a node" % url)
    victim = victim[0]
    g = guest_publish(a, "vm.g1.failover", 1, 200, 10)
    wait_until("50 events published", lambda: guest_progress(g) >= 50, 30)
    victim.kill()
    log("c. killed %s (bridge A's node) mid-stream" % victim.name)
    check(g.wait(90) == 0, "guest publisher failed")
    expect_exactly_once(nodes, stream, "hvrpc.A.vm.g1.failover", 200, 45)
    st = stats(bridge_a.stats_sock)
    check(st.get("natsConnected") and not st.get("connectedUrl", "").endswith(":%d" % victim.port),
          "bridge A did not fail over: %s" % st)
    log("c. bridge A failed over to %s" % st.get("connectedUrl"))
    victim.start()
    wait_until(victim.name + " back", lambda: port_open(victim.port), 20)
    wait_until("JetStream cluster", lambda: jetstream_ready(nodes), 30)

    # d. all nodes down for 10 s while the guest publishes.
    before = stats(bridge_a.stats_sock)
    g = guest_publish(a, "vm.g1.outage", 1, 300, 40)
    wait_until("40 events published", lambda: guest_progress(g) >= 40, 30)
    for n in nodes:
        n.kill()
    log("d. all NATS nodes killed")
    time.sleep(10)
    during = stats(bridge_a.stats_sock)
    for n in nodes:
        n.start()
    log("d. cluster restarted")
    check(g.wait(90) == 0, "guest publisher failed")
    expect_exactly_once(nodes, stream, "hvrpc.A.vm.g1.outage", 300, 60)
    after = stats(bridge_a.stats_sock)
    spooled = num(after, "spooled") - num(before, "spooled")
    replayed = num(after, "replayed") - num(before, "replayed")
    check(num(during, "spoolDepth") > 0 and not during.get("natsConnected"),
          "during the outage: %s" % during)
    check(spooled >= 100 and replayed >= spooled - 5,
          "spooled %d replayed %d over the outage" % (spooled, replayed))
    check(num(after, "dropped") == 0, "dropped: %s" % after)
    log("d. outage: %d events spooled (depth %d at 10 s), %d replayed"
        % (spooled, num(during, "spoolDepth"), replayed))

    # e. restart the bridge mid-stream: a new instance on the same spool
    # subscribes, then the old one stops; the new one publishes.
    g = guest_publish(a, "vm.g1.restart", 1, 300, 10)
    wait_until("60 events published", lambda: guest_progress(g) >= 60, 30)
    bridge_a2 = a.start_bridge(nodes, "--pattern", "vm.>")
    stop(bridge_a)
    check(bridge_a.returncode == 0, "old bridge exit %s" % bridge_a.returncode)
    log("e. bridge A restarted (instance 2 took over)")
    check(g.wait(90) == 0, "guest publisher failed")
    expect_exactly_once(nodes, stream, "hvrpc.A.vm.g1.restart", 300, 45)
    st = stats(bridge_a2.stats_sock)
    check(st.get("publishing"), "the new bridge does not publish: %s" % st)

    # And a crash: SIGKILL, start again; the spool replays what it held.
    g = guest_publish(a, "vm.g1.crash", 1, 200, 10)
    wait_until("60 events published", lambda: guest_progress(g) >= 60, 30)
    bridge_a3 = a.start_bridge(nodes, "--pattern", "vm.>")
    stop(bridge_a2, signal.SIGKILL)
    log("e. bridge A instance 2 killed (SIGKILL) after instance 3 subscribed")
    check(g.wait(90) == 0, "guest publisher failed")
    expect_exactly_once(nodes, stream, "hvrpc.A.vm.g1.crash", 200, 45)
    st = stats(bridge_a3.stats_sock)
    check(st.get("publishing"), "instance 3 does not publish: %s" % st)

    # h. durable commands: bridge A stopped, a command sent (twice, as a
    # controller retrying: JetStream stores it once by its message id),
    # bridge A started again: the guest gets it exactly once.
    stop(bridge_a3)
    check(bridge_a3.returncode == 0, "bridge A exit %s" % bridge_a3.returncode)
    sub_a = spawn("A.cmdsub2", [ARGS.hvrpc, "sub", "unix://" + a.bus, "cmd.>",
                                "--format", "json"],
                  stdout=open(os.path.join(TMP, "A.cmdsub2.out"), "wb"))
    wait_subscribed(sub_a, "command subscriber on A")
    r = js(nodes, "cmd", "hvrpc.A.cmd.g1.rotate-keys", "k42", "cmd-h-1", "2")
    acks = r.stdout.split()
    check(acks[0::2] == ["stored", "duplicate"] and acks[1] == acks[3],
          "the same command twice: %r" % r.stdout)
    log("h. bridge A down; command stored once (%s)" % r.stdout.strip().replace("\n", ", "))
    time.sleep(1)
    bridge_a3 = a.start_bridge(nodes, "--pattern", "vm.>")
    got = wait_until("the command on A", lambda: out_lines(sub_a), 30)
    time.sleep(2)  # a duplicate would come right behind it
    stop(sub_a)
    got = [json.loads(x) for x in out_lines(sub_a)]
    check(len(got) == 1 and got[0]["topic"] == "cmd.g1.rotate-keys",
          "durable command: the guest got %d (%s), expected exactly 1" %
          (len(got), [x.get("topic") for x in got]))
    hdr = {h["key"]: h["value"] for h in got[0].get("headers", [])}
    check(hdr.get("fleet-msg-id") == "cmd-h-1" and hdr.get("fleet-seq") == acks[1],
          "command headers: %s" % hdr)
    st = stats(bridge_a3.stats_sock)
    check(num(st, "commands") == 1, "bridge A counted commands: %s" % st)
    log("h. bridge A back: the guest got the command once (stream seq %s)"
        % hdr["fleet-seq"])

    # f. two bridges for A on separate spools (a duplicated deployment):
    # both publish every event; JetStream's dedup by message id stores
    # each once, and in order (each bridge publishes in order).
    a.spool = os.path.join(TMP, "A.spool2.db")
    bridge_a4 = a.start_bridge(nodes, "--pattern", "vm.>")
    d0 = num(stats(bridge_a3.stats_sock), "duplicates")
    g = guest_publish(a, "vm.g1.twice", 1, 200, 5)
    check(g.wait(90) == 0, "guest publisher failed")
    expect_exactly_once(nodes, stream, "hvrpc.A.vm.g1.twice", 200, 45)
    wait_until("both bridges' spools empty", lambda: all(
        num(stats(x.stats_sock) or {"spoolDepth": 1}, "spoolDepth") == 0
        for x in (bridge_a3, bridge_a4)), 30)
    dups = (num(stats(bridge_a3.stats_sock), "duplicates") - d0 +
            num(stats(bridge_a4.stats_sock), "duplicates"))
    check(dups == 200, "JetStream marked %d duplicates, expected 200" % dups)
    expect_exactly_once(nodes, stream, "hvrpc.A.vm.g1.twice", 200, 5)
    log("f. two bridges published every event; JetStream stored each once")

    # g. a full spool: a bridge whose NATS is unreachable keeps 20 events
    # and counts the next 10 dropped.
    b.spool = os.path.join(TMP, "C.spool.db")
    b.id = "C"
    dead = free_port()
    bridge_c = b.start_bridge("nats://127.0.0.1:%d" % dead, "--pattern",
                              "full.>", "--spool-max", "20")
    g = guest_publish(b, "full.x", 1, 30, 0)
    check(g.wait(30) == 0, "guest publisher failed")
    def counted():
        x = stats(bridge_c.stats_sock) or {}
        return x if num(x, "received") + num(x, "dropped") >= 30 else None
    st = wait_until("30 events counted", counted, 20)
    check(num(st, "received") == 20 and num(st, "dropped") == 10 and
          num(st, "spoolDepth") == 20 and num(st, "spooled") == 20 and
          num(st, "bridged") == 0, "full spool: %s" % st)
    log("g. full spool: 20 events kept, 10 dropped and counted")

    tls_and_serve_bridge()

    # Every process stops cleanly (SIGTERM) and, in the sanitizer build,
    # reported nothing.
    for p in [q for q in PROCS if ".bridge" in q.name or ".serve" in q.name]:
        if p.poll() is None:
            stop(p)
            check(p.returncode == 0, "%s exited %d" % (p.name, p.returncode))
    for name in os.listdir(TMP):
        if name.endswith(".log"):
            text = open(os.path.join(TMP, name), errors="replace").read()
            for bad in ("AddressSanitizer", "LeakSanitizer", "runtime error:"):
                check(bad not in text, "%s: %s" % (name, bad))
    log("all fleet checks passed in %.0f s" % (time.monotonic() - START))


def main():
    global ARGS, TMP
    ap = argparse.ArgumentParser()
    for opt in ("--nats-server", "--hvrpc", "--bridge", "--guest", "--js"):
        ap.add_argument(opt, required=True)
    ap.add_argument("--keep", action="store_true")
    ARGS = ap.parse_args()
    if shutil.which(ARGS.nats_server) is None:
        print("fleet: skipped: no nats-server (apt-get install nats-server)")
        return 77
    TMP = tempfile.mkdtemp(prefix="hvrpc-fleet-")
    rc = 1
    try:
        run()
        rc = 0
    except (Failure, subprocess.TimeoutExpired, OSError, ValueError, KeyError) as e:
        log("FAIL: %s: %s" % (type(e).__name__, e))
    finally:
        for p in reversed(PROCS):
            stop(p, wait=5)
        if rc != 0:
            for name in sorted(os.listdir(TMP)):
                if name.endswith(".log"):
                    with open(os.path.join(TMP, name), errors="replace") as f:
                        lines = f.readlines()[-15:]
                    print("---- %s (last %d lines)" % (name, len(lines)))
                    sys.stdout.write("".join(lines))
        if ARGS.keep or rc != 0 and os.environ.get("HVRPC_FLEET_KEEP"):
            print("kept", TMP)
        else:
            shutil.rmtree(TMP, ignore_errors=True)
    return rc


if __name__ == "__main__":
    sys.exit(main())
