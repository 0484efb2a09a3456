#!/usr/bin/env bash
# demo.sh - the README's demo: a host and a guest exchanging data (KVP)
# and the guest agent's heartbeat, time and guarded command execution,
# each program a separate process, over the best transport this machine
# offers (AF_VSOCK when a local round trip works, else unix sockets).
#
#   tools/demo.sh [PATH/TO/hvrpc]    (default: build/tools/hvrpc/hvrpc under
#                                     the source tree; the services'
#                                     programs are found in the same build)
#   tools/demo.sh --vm [PATH/TO/hvrpc]
#                                    the same demo inside a QEMU guest, over
#                                    real AF_VSOCK (tests/vm/vm.sh boots it
#                                    from the build next to that binary:
#                                    about 10 s; docs/VM.md)
#
# Host side: `hvrpc serve` (the bus broker), hvrpc-kvp-host (the data
# exchange, SQLite in a temporary directory), hvrpc-agent-monitor (the
# heartbeats, as health statuses). Guest side: hvrpc-kvp-guest (reports
# its facts, follows its host keys on the bus, on its private topic) and
# hvrpc-agent. Shows the guest's
# facts on the host, a host-set key arriving in the guest, heartbeats
# arriving, the guest's clock and skew, an allow-listed command and a
# refused one. Builds nothing; exits 0 only when every one of those
# happened, and always stops what it started.
set -u -o pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
if [ "${1:-}" = --vm ]; then
    # The guest runs this script with the build's programs (tests/vm
    # builds the step list, demo-suite.txt, next to the binaries).
    hvrpc=${2:-$root/build/tools/hvrpc/hvrpc}
    build=$(cd "$(dirname "$hvrpc")/../.." 2>/dev/null && pwd) || build=
    suite=$build/tests/vm/demo-suite.txt
    if [ -z "$build" ] || [ ! -f "$suite" ]; then
        echo "demo: FAILED: no $suite (build $hvrpc with the tests first)" >&2
        exit 1
    fi
    echo "== hvrpc demo inside a QEMU guest (real AF_VSOCK, CID 1) =="
    exec bash "$root/tests/vm/vm.sh" "$suite" "$build/tests/vm/cache"
fi
hvrpc=${1:-$root/build/tools/hvrpc/hvrpc}
build=$(cd "$(dirname "$hvrpc")/../.." 2>/dev/null && pwd) || build=/nonexistent
kvp_host=$build/services/kvp/hvrpc-kvp-host
kvp_guest=$build/services/kvp/hvrpc-kvp-guest
kvp_cli=$build/services/kvp/hvrpc-kvp
agent=$build/services/agent/hvrpc-agent
agentctl=$build/services/agent/hvrpc-agentctl
monitor=$build/services/agent/hvrpc-agent-monitor
# As PATH names it: the allow list matches the path exactly, and a
# busybox guest's /bin/uname is a link whose name picks the applet.
uname_bin=$(command -v uname)

tmp=
pids=()
shown=0

cleanup() {
    local p
    for p in "${pids[@]}"; do
        kill -KILL "$p" 2>/dev/null
        wait "$p" 2>/dev/null
    done
    [ -n "$tmp" ] && rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

die() {
    echo "demo: FAILED: $*" >&2
    exit 1
}

indent() {
    sed 's/^/    /'
}

now_ms() {
    echo $(($(date +%s%N) / 1000000))
}

# start NAME CMD...: CMD in the background, its output in $tmp/NAME.out
# and .err; its pid is added to pids (stopped at the end).
start() {
    local name=$1
    shift
    : >"$tmp/$name.out"
    "$@" </dev/null >>"$tmp/$name.out" 2>"$tmp/$name.err" &
    pids+=($!)
    last_pid=$!
}

# wait_for FILE REGEX WHAT [SECONDS]: until a line of FILE matches (10 s);
# fails the demo otherwise.
wait_for() {
    local i
    for ((i = 0; i < ${4:-10} * 20; i++)); do
        grep -qE -- "$2" "$1" 2>/dev/null && return 0
        sleep 0.05
    done
    die "$3 (no '$2' in $1: $(tail -n 3 "$1" "${1%.out}.err" 2>/dev/null))"
}

# pick_transport: vsock when `hvrpc serve` listening on vsock can be
# reached at CID 1 (VMADDR_CID_LOCAL) within a second, else unix sockets.
# Starts the bus broker either way (on a unix socket for host programs
# too).
pick_transport() {
    local port
    start bus "$hvrpc" serve --listen vsock://any:any --listen "unix://$tmp/bus.sock"
    bus_pid=$last_pid
    for ((i = 0; i < 100; i++)); do
        [ "$(grep -c '^listening on ' "$tmp/bus.out")" -ge 2 ] && break
        kill -0 "$bus_pid" 2>/dev/null || break
        sleep 0.05
    done
    if [ "$(grep -c '^listening on ' "$tmp/bus.out")" -ge 2 ]; then
        port=$(sed -n 's/^listening on vsock:.*:\([0-9]*\)$/\1/p' "$tmp/bus.out")
        if timeout 5 "$hvrpc" health "vsock://local:$port" --connect-timeout 1000 \
            --timeout 1000 >/dev/null 2>"$tmp/probe.err"; then
            transport=vsock
            why="a local AF_VSOCK round trip works (CID 1, vsock_loopback)"
            guest_bus=vsock://local:$port
            return
        fi
        why="AF_VSOCK lets a server listen, but a local connect to CID 1 failed: no vsock_loopback here"
        kill -TERM "$bus_pid"
        wait "$bus_pid"
    else
        why="no usable AF_VSOCK ($(head -n 1 "$tmp/bus.err"))"
        wait "$bus_pid" 2>/dev/null
    fi
    transport=unix
    start bus "$hvrpc" serve --listen "unix://$tmp/bus.sock"
    bus_pid=$last_pid
    wait_for "$tmp/bus.out" '^listening on ' "hvrpc serve on a unix socket"
    guest_bus=unix://$tmp/bus.sock
}

# guest_uri PROGRAM_OUT REGEX: the address a host program printed, as a
# guest reaches it (vsock://any:P -> vsock://local:P).
guest_uri() {
    local a
    a=$(sed -n "s/$2/\1/p" "$1" | head -n 1)
    [ "$transport" = vsock ] && a=vsock://local:${a##*:}
    echo "$a"
}

for p in "$hvrpc" "$kvp_host" "$kvp_guest" "$kvp_cli" "$agent" "$agentctl" "$monitor"; do
    [ -x "$p" ] || die "no program at $p (build first: ./dev.sh build, or pass the hvrpc binary of a build)"
done
tmp=$(mktemp -d "${TMPDIR:-/tmp}/hvrpc-demo.XXXXXX") || die "mktemp"
t0=$(now_ms)

echo "== hvrpc demo: a host and its guest, $("$hvrpc" --version) =="
pick_transport
echo "transport: $transport"
echo "  why:     $why"
if [ "$transport" = vsock ]; then
    listen=vsock://any:any
    echo "  (the guest reaches the host at CID 1 here; in a VM it is CID 2, the default)"
else
    listen=
fi

# --- host side ---------------------------------------------------------------
echo
echo "-- host side"
echo "   hvrpc serve               the bus broker: $(sed -n 's/^listening on //p' "$tmp/bus.out" | tr '\n' ' ')"
start kvp_host "$kvp_host" --db "$tmp/kvp.db" --listen "${listen:-unix://$tmp/kvp.sock}" \
    --admin "unix://$tmp/kvp-admin.sock" --bus "unix://$tmp/bus.sock"
wait_for "$tmp/kvp_host.out" '^hvrpc-kvp-host: store ' "hvrpc-kvp-host start"
kvp_uri=$(guest_uri "$tmp/kvp_host.out" '^hvrpc-kvp-host: hvrpc.kvp.v1.Kvp on \(.*\) (guests)$')
echo "   hvrpc-kvp-host            data exchange on $kvp_uri, SQLite in $tmp/kvp.db,"
echo "                             host-to-guest changes published on the bus (private.<vm>.kvp.set)"
start monitor "$monitor" --bus "unix://$tmp/bus.sock" --listen "unix://$tmp/monitor.sock" \
    --interval 0.5 --misses 3 --verbose
wait_for "$tmp/monitor.out" 'subscribed to agent' "hvrpc-agent-monitor start"
echo "   hvrpc-agent-monitor       heartbeats -> health of hvrpc.agent.<name> on unix://$tmp/monitor.sock"

# --- guest side --------------------------------------------------------------
echo
echo "-- guest side"
start guest_kvp env HVRPC_HVRPC_KVP_V1_KVP_ADDR="$kvp_uri" "$kvp_guest" --interval 0 \
    --fact demo.started="$(date -u +%H:%M:%S)" --bus "$guest_bus"
wait_for "$tmp/guest_kvp.out" '^synced$' "hvrpc-kvp-guest report and subscribe"
grep -q '^hvrpc-kvp-guest: following private.self.kvp.> on ' "$tmp/guest_kvp.out" ||
    die "hvrpc-kvp-guest does not follow its keys on the bus"
vm=$(sed -n 's/^hvrpc-kvp-guest: reported .* as \([^ ]*\) (.*/\1/p' "$tmp/guest_kvp.out")
[ -n "$vm" ] || die "hvrpc-kvp-guest did not say whom the host filed it under"
echo "   hvrpc-kvp-guest           $(sed -n 's/^hvrpc-kvp-guest: //p' "$tmp/guest_kvp.out" | head -n 1)"
echo "                             $(sed -n 's/^hvrpc-kvp-guest: \(following .*\)/\1/p' "$tmp/guest_kvp.out" | head -n 1)"
callers=()
[ "$transport" = vsock ] && callers=(--caller-cid 1)
start agent "$agent" --listen "${listen:-unix://$tmp/agent.sock}" --bus "$guest_bus" \
    --name demo-guest --heartbeat 0.5 --allow "$uname_bin" "${callers[@]}"
wait_for "$tmp/agent.out" '^hvrpc-agent: hvrpc.agent.v1.Agent on ' "hvrpc-agent start"
agent_uri=$(guest_uri "$tmp/agent.out" '^hvrpc-agent: hvrpc.agent.v1.Agent on \(.*\) as .*$')
echo "   hvrpc-agent               on $agent_uri as demo-guest, exec allows only $uname_bin"

# --- 1: the guest's facts on the host -------------------------------------------
echo
echo "-- 1. the guest's facts, as the host keeps them: hvrpc-kvp list $vm"
"$kvp_cli" --admin "unix://$tmp/kvp-admin.sock" list "$vm" >"$tmp/facts" 2>"$tmp/facts.err" ||
    die "hvrpc-kvp list: $(cat "$tmp/facts.err")"
indent <"$tmp/facts"
grep -q '^kernel.release=' "$tmp/facts" || die "the host has no kernel.release from the guest"
grep -q '^demo.started=' "$tmp/facts" || die "the host has not the guest's demo.started fact"
shown=$((shown + 1))

# --- 2: a host-set key arriving in the guest ------------------------------------
echo
echo "-- 2. the host sets a key for the guest: hvrpc-kvp set $vm role web-frontend"
start_ms=$(now_ms)
"$kvp_cli" --admin "unix://$tmp/kvp-admin.sock" set "$vm" role web-frontend >/dev/null 2>"$tmp/set.err" ||
    die "hvrpc-kvp set: $(cat "$tmp/set.err")"
wait_for "$tmp/guest_kvp.out" '^set role=web-frontend$' "the key did not reach the guest"
echo "   the guest printed: set role=web-frontend  ($(($(now_ms) - start_ms)) ms later, through the bus:"
echo "   its private topic, which the broker delivers to no other guest)"
shown=$((shown + 1))

# --- 3: heartbeats --------------------------------------------------------------
echo
echo "-- 3. heartbeats arriving on the host (the guest publishes agent.demo-guest.heartbeat on the bus)"
wait_for "$tmp/monitor.out" 'heartbeat demo-guest #3 ' "three heartbeats"
grep -E 'demo-guest (SERVING|#[123] )|heartbeat demo-guest #[123] ' "$tmp/monitor.out" |
    sed 's/^hvrpc-agent-monitor: //' | indent
"$hvrpc" health "unix://$tmp/monitor.sock" hvrpc.agent.demo-guest >"$tmp/health" 2>&1 ||
    die "the monitor does not report the guest SERVING: $(cat "$tmp/health")"
echo "   hvrpc health unix://$tmp/monitor.sock hvrpc.agent.demo-guest: $(cat "$tmp/health")"
shown=$((shown + 1))

# --- 4: time -----------------------------------------------------------------------
echo
echo "-- 4. the guest's clock: hvrpc-agentctl $agent_uri time"
"$agentctl" "$agent_uri" time >"$tmp/time" 2>"$tmp/time.err" || die "time: $(cat "$tmp/time.err")"
indent <"$tmp/time"
grep -q '^skew: ' "$tmp/time" || die "no skew from the time query"
shown=$((shown + 1))

# --- 5: exec -----------------------------------------------------------------------
echo
echo "-- 5. a command in the guest: hvrpc-agentctl $agent_uri exec $uname_bin -s -r -m"
"$agentctl" "$agent_uri" exec "$uname_bin" -s -r -m >"$tmp/exec" 2>"$tmp/exec.err"
status=$?
indent <"$tmp/exec"
echo "   exit status $status"
if [ "$status" -ne 0 ] || [ "$(cat "$tmp/exec")" != "$("$uname_bin" -s -r -m)" ]; then
    die "exec: status $status: $(cat "$tmp/exec" "$tmp/exec.err")"
fi
echo "   and one not on the allow list: hvrpc-agentctl $agent_uri exec /bin/sh -c id"
"$agentctl" "$agent_uri" exec /bin/sh -c id >/dev/null 2>"$tmp/refused"
status=$?
echo "   exit status $status: $(cat "$tmp/refused")"
if [ "$status" -ne 7 ] || ! grep -q 'PERMISSION_DENIED: command /bin/sh is not on' "$tmp/refused"; then
    die "the refused command was not refused as it should be"
fi
shown=$((shown + 1))

# --- stop -------------------------------------------------------------------------
echo
echo "-- stopping the six programs with SIGTERM"
for p in "${pids[@]}"; do
    kill -TERM "$p" 2>/dev/null
done
bad=0
for p in "${pids[@]}"; do
    wait "$p" || bad=$((bad + 1))
done
pids=()
[ "$bad" -eq 0 ] || die "$bad program(s) did not exit 0 on SIGTERM"
echo "all 6 programs exited 0"
echo
echo "demo OK: $shown of 5 shown over $transport in $(($(now_ms) - t0)) ms"
