# The agent's contract (services/agent/contract/agent.contract.json): what
# the host's hvrpc-agentctl relies on. Verified against a live hvrpc-agent,
# then served as a mock to hvrpc-agentctl (no guest at all), and its
# schema checked against agent.proto for wire-breaking changes. A
# misconfigured agent fails verification with the field at fault.
. "$(dirname "$0")/lib.sh"

CONTRACT=$SRC/services/agent/contract/agent.contract.json
MOCK=unix://$TMP/mock.sock

# Verify: the live agent, as the contract says it is started.
start_agent agent --heartbeat 0 --allow /usr/bin/echo || finish
run "$HVRPC" contract verify "$CONTRACT" "$AGENT_ADDR"
expect_status 0 "verify against hvrpc-agent"
expect_out "4 interactions of hvrpc.agent.v1.Agent: 4 ok, 0 failed (0 mismatches)" "verify"
stop_bg "$AGENT_PID" "hvrpc-agent"

# An agent with exec off breaks what the host relies on: caught.
start_agent off --heartbeat 0 || finish
run "$HVRPC" contract verify "$CONTRACT" "$AGENT_ADDR" --quiet
expect_status 1 "verify against an agent with exec off"
grep -q '^FAIL 2 an allow-listed command' "$TMP/out" || fail "verify: $(cat "$TMP/out")"
grep -q '^     status: expected OK, got PERMISSION_DENIED (command /usr/bin/echo refused: command execution is off' "$TMP/out" ||
    fail "verify names no status: $(cat "$TMP/out")"
stop_bg "$AGENT_PID" "hvrpc-agent (exec off)"

# Mock: hvrpc-agentctl against the contract alone.
bg mock "$HVRPC" contract serve "$CONTRACT" --listen "$MOCK"
MOCK_PID=$BG_PID
wait_grep "$TMP/mock.out" '^listening on ' || fail "mock did not start: $(cat "$TMP/mock.err")"
run "$CTL" "$MOCK" time
expect_status 0 "time against the mock"
grep -q '^skew: ' "$TMP/out" || fail "time against the mock: $(cat "$TMP/out")"
run "$CTL" "$MOCK" exec /usr/bin/echo hello
expect_status 0 "exec against the mock"
[ "$(cat "$TMP/out")" = hello ] || fail "exec output from the mock: $(cat "$TMP/out")"
run "$CTL" "$MOCK" exec /bin/sh -c id
expect_status 7 "refused exec against the mock"
expect_err "command /bin/sh is not on the agent's allow list"
run "$CTL" "$MOCK" shutdown contract
expect_status 0 "shutdown against the mock"
expect_out "shutdown: dry run (the agent has no --shutdown-cmd)" "shutdown against the mock"
kill -TERM "$MOCK_PID"
wait "$MOCK_PID"
STATUS=$?
expect_status 0 "the mock saw no unexpected call"
grep -q 'interactions used: 1 1 1 1' "$TMP/mock.err" || fail "mock: $(cat "$TMP/mock.err")"

# The contract's schema against the .proto: no wire-breaking change.
run "$HVRPC" contract check "$CONTRACT" "$SRC/proto/hvrpc/agent/v1/agent.proto" -I "$SRC/proto"
expect_status 0 "contract check against agent.proto"
expect_out "1 service compared: 0 breaking changes" "check"
finish
