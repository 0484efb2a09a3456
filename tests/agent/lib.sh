# lib.sh - what the agent tests share. Sourced by each test script, run as
#   bash test_X.sh AGENT_BIN_DIR HVRPC SOURCE_DIR [KVP_BIN_DIR]
# where AGENT_BIN_DIR holds hvrpc-agent, hvrpc-agentctl and
# hvrpc-agent-monitor and HVRPC is the hvrpc tool (its `serve` is the
# host's bus broker). Every program is a separate process; they meet over
# unix sockets in a temporary directory.
#
# Checks record a failure and carry on; a script ends with `finish`.

set -u

BIN=${1:?usage: $0 AGENT_BIN_DIR HVRPC SOURCE_DIR}
HVRPC=${2:?usage: $0 AGENT_BIN_DIR HVRPC SOURCE_DIR}
SRC=${3:?usage: $0 AGENT_BIN_DIR HVRPC SOURCE_DIR}
AGENT=$BIN/hvrpc-agent
CTL=$BIN/hvrpc-agentctl
MONITOR=$BIN/hvrpc-agent-monitor
# The KVP programs' directory, for the KVP contract test (optional).
KVP_BIN=${4:-}

TMP=$(mktemp -d "${TMPDIR:-/tmp}/hvrpc-agent.XXXXXX")
chmod 755 "$TMP"
BUS=unix://$TMP/bus.sock
AGENT_ADDR=unix://$TMP/agent.sock
MON_ADDR=unix://$TMP/monitor.sock
# shellcheck source=../common/lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/../common/lib.sh"

# expect_out TEXT WHAT: the last run's stdout has TEXT as a whole line.
expect_out() {
    grep -qxF -- "$1" "$TMP/out" || fail "$2: no line '$1' in: $(head -c 600 "$TMP/out")"
}

# wait_grep FILE REGEX [SECONDS]: waits until a line of FILE matches.
wait_grep() {
    local i
    for ((i = 0; i < ${3:-10} * 20; i++)); do
        grep -qE -- "$2" "$1" 2>/dev/null && return 0
        sleep 0.05
    done
    return 1
}

# start_bus: `hvrpc serve` as the host's bus broker on $BUS.
start_bus() {
    bg bus "$HVRPC" serve --listen "$BUS"
    BUS_PID=$BG_PID
    wait_grep "$TMP/bus.out" '^listening on ' || {
        fail "hvrpc serve did not start: $(cat "$TMP/bus.err")"
        return 1
    }
}

# start_agent NAME ARGS...: hvrpc-agent on $AGENT_ADDR, output in
# $TMP/NAME.out; waits for its endpoint line. Its pid in $AGENT_PID.
start_agent() {
    local name=$1
    shift
    bg "$name" "$AGENT" --listen "$AGENT_ADDR" --bus "$BUS" "$@"
    AGENT_PID=$BG_PID
    wait_grep "$TMP/$name.out" '^hvrpc-agent: hvrpc.agent.v1.Agent on ' || {
        fail "hvrpc-agent did not start: $(cat "$TMP/$name.out" "$TMP/$name.err")"
        return 1
    }
}

# health SERVICE: the monitor's status of SERVICE on stdout ($TMP/out).
health() {
    run "$HVRPC" health "$MON_ADDR" "$1" --timeout 5000
}

# wait_health SERVICE STATUS [SECONDS]: polls until the monitor says it.
wait_health() {
    local i
    for ((i = 0; i < ${3:-20} * 5; i++)); do
        health "$1"
        grep -qxF "$2" "$TMP/out" && return 0
        sleep 0.2
    done
    return 1
}

# public_copy PROGRAM...: copies of the programs and libhvrpc in $TMP/pub,
# which other uids can read (the build tree may be private, as /root);
# sets LD_LIBRARY_PATH for them. Prints nothing; $PUB is the directory.
public_copy() {
    PUB=$TMP/pub
    mkdir -p "$PUB"
    cp "$@" "$PUB/"
    local lib
    lib=$(ldd "$1" | sed -n 's/.*libhvrpc\.so[^ ]* => \([^ ]*\).*/\1/p')
    [ -n "$lib" ] && cp -L "$lib" "$PUB/"
    chmod 755 "$PUB" "$PUB"/*
    export LD_LIBRARY_PATH=$PUB
}
