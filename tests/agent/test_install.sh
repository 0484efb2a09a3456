# Packaging: `cmake --install BUILD --component hvrpc-services` into a
# temporary prefix puts the agent's programs, the systemd units of the
# guest and host services and the man pages where they belong; the
# programs run from there, the pages render without warnings, the units
# start the installed programs; and `hvrpc register --from` gives the
# Windows registry entry of the agent's and the KVP service's ports.
#   bash test_install.sh BUILD_DIR SOURCE_DIR HVRPC CMAKE
set -u
BUILD=${1:?}
SRC=${2:?}
HVRPC=${3:?}
CMAKE=${4:-cmake}
TMP=$(mktemp -d "${TMPDIR:-/tmp}/hvrpc-install.XXXXXX")
trap 'rm -rf "$TMP"' EXIT
FAILURES=0
fail() {
    echo "FAIL: $*" >&2
    FAILURES=$((FAILURES + 1))
}

P=$TMP/prefix
"$CMAKE" --install "$BUILD" --component hvrpc-services --prefix "$P" >"$TMP/log" 2>&1 ||
    fail "cmake --install: $(tail -5 "$TMP/log")"
# libhvrpc is the default component's (a full install has it): the
# build's copy serves the installed programs here.
lib=$(ldd "$BUILD/services/agent/hvrpc-agent" | sed -n 's/.*libhvrpc\.so[^ ]* => \([^ ]*\).*/\1/p')
[ -n "$lib" ] && export LD_LIBRARY_PATH=$(dirname "$lib")
for prog in hvrpc-agent hvrpc-agentctl hvrpc-agent-monitor; do
    [ -x "$P/bin/$prog" ] || fail "no $P/bin/$prog"
    "$P/bin/$prog" --help >"$TMP/help" 2>&1 || fail "$prog --help from the prefix: $(cat "$TMP/help")"
    grep -q "^usage: $prog" "$TMP/help" || fail "$prog --help: $(head -2 "$TMP/help")"
done
for unit in hvrpc-agent hvrpc-kvp-guest hvrpc-bus hvrpc-agent-monitor hvrpc-kvp-host; do
    f=$P/lib/systemd/system/$unit.service
    [ -f "$f" ] || { fail "no $f"; continue; }
    grep -q '@' "$f" && fail "$unit.service has an unconfigured @VAR@"
    grep -Eq '^ExecStart=/[^ ]*/(hvrpc|hvrpc-[a-z-]+)( |$)' "$f" || fail "$unit.service: $(grep ExecStart "$f")"
    grep -q '^\[Install\]' "$f" || fail "$unit.service has no [Install]"
done
grep -q -- '--shutdown-cmd "/usr/bin/systemctl poweroff"' "$P/lib/systemd/system/hvrpc-agent.service" ||
    fail "the guest unit does not power off on shutdown"
grep -v '^#' "$P/lib/systemd/system/hvrpc-agent.service" | grep -q -- '--exec-allow\|--allow' &&
    fail "the guest unit turns exec on by default"
for page in hvrpc-agent hvrpc-agentctl hvrpc-agent-monitor hvrpc-kvp-host hvrpc-kvp-guest hvrpc-kvp; do
    f=$P/share/man/man1/$page.1
    [ -f "$f" ] || { fail "no $f"; continue; }
    if command -v groff >/dev/null; then
        groff -man -ww -z "$f" 2>"$TMP/warn" || fail "groff $page.1"
        [ -s "$TMP/warn" ] && fail "$page.1: $(head -3 "$TMP/warn")"
    fi
    grep -q "^\.SH NAME" "$f" || fail "$page.1 has no NAME"
done

# hvrpc register --from the services' protos.
"$HVRPC" register --from "$SRC/proto/hvrpc/agent/v1/agent.proto" -I "$SRC/proto" >"$TMP/reg" 2>&1 ||
    fail "register --from agent.proto: $(cat "$TMP/reg")"
grep -qF 'GuestCommunicationServices\0000138c-facb-11e6-bd58-64006a7986d3]' "$TMP/reg" ||
    fail "register: no agent GUID: $(cat "$TMP/reg")"
grep -qF '"ElementName"="hvrpc guest agent"' "$TMP/reg" || fail "register: no agent name"
"$HVRPC" register --from "$SRC/proto/hvrpc/kvp/v1/kvp.proto" -I "$SRC/proto" >"$TMP/reg" 2>&1 ||
    fail "register --from kvp.proto: $(cat "$TMP/reg")"
grep -qF '0000138b-facb-11e6-bd58-64006a7986d3' "$TMP/reg" || fail "register: no KVP GUID"

if [ "$FAILURES" -ne 0 ]; then
    echo "$FAILURES check(s) failed" >&2
    exit 1
fi
echo "all checks passed"
