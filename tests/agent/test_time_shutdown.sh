# Time: the guest's clocks and the skew the host computes from them (the
# same machine here: a skew within the round trip, give or take a lot
# for a loaded machine). Shutdown: a dry run without --shutdown-cmd; the
# configured command (a harmless touch) run after the answer; refused
# shutdown commands. And the programs' usage errors and exit statuses.
. "$(dirname "$0")/lib.sh"

start_agent agent --heartbeat 0 || finish
run "$CTL" "$AGENT_ADDR" time
expect_status 0 "time"
for label in 'guest clock:' 'host clock:' 'guest uptime:' 'round trip:' 'skew:'; do
    grep -q "^$label " "$TMP/out" || fail "time: no '$label' line: $(cat "$TMP/out")"
done
skew=$(sed -n 's/^skew: *\([-+][0-9.]*\) ms.*/\1/p' "$TMP/out")
[ -n "$skew" ] || fail "time: no skew figure"
# One clock on both sides: the skew is within the round trip's error,
# which a loaded machine may stretch; a second is far beyond either.
awk -v s="$skew" 'BEGIN { exit !(s > -1000 && s < 1000) }' || fail "skew $skew ms on one machine"
up=$(sed -n 's/^guest uptime: \([0-9.]*\) s.*/\1/p' "$TMP/out")
real_up=$(cut -d' ' -f1 /proc/uptime)
awk -v a="$up" -v b="$real_up" 'BEGIN { d = a - b; exit !(d > -5 && d < 5) }' ||
    fail "guest uptime $up s, /proc/uptime $real_up s"

# No agent there: UNAVAILABLE.
run "$CTL" --timeout 1000 "unix://$TMP/nobody.sock" time
expect_status 14 "time with no agent"

# Dry run.
run "$CTL" "$AGENT_ADDR" shutdown "test run"
expect_status 0 "shutdown, dry run"
expect_out "shutdown: dry run (the agent has no --shutdown-cmd)" "dry run"
wait_grep "$TMP/agent.out" '^hvrpc-agent: shutdown requested by unix:uid=[0-9]+.* \(reason: test run\): dry run, no --shutdown-cmd$' ||
    fail "agent log: $(cat "$TMP/agent.out")"
run "$CTL" "$AGENT_ADDR" shutdown "$(head -c 300 /dev/zero | tr '\0' r)"
expect_status 3 "a 300-byte reason"
stop_bg "$AGENT_PID" "hvrpc-agent"

# A configured command: the answer names it, then it runs.
start_agent agent2 --heartbeat 0 --shutdown-cmd "/usr/bin/touch $TMP/powered-off" || finish
grep -qxF "hvrpc-agent: shutdown: /usr/bin/touch $TMP/powered-off" "$TMP/agent2.out" || fail "startup line"
[ -e "$TMP/powered-off" ] && fail "the command ran before any request"
run "$CTL" "$AGENT_ADDR" shutdown maintenance
expect_status 0 "shutdown"
expect_out "shutdown: the guest runs /usr/bin/touch $TMP/powered-off" "shutdown answer"
for ((i = 0; i < 200; i++)); do
    [ -e "$TMP/powered-off" ] && break
    sleep 0.05
done
[ -e "$TMP/powered-off" ] || fail "the shutdown command did not run"
wait_grep "$TMP/agent2.out" '^hvrpc-agent: shutdown command /usr/bin/touch exited 0$' || fail "no exit line"
stop_bg "$AGENT_PID" "hvrpc-agent"

# Refused configurations and usage errors.
run "$AGENT" --shutdown-cmd "touch /tmp/x"
expect_status 2 "relative shutdown command"
expect_err "the command must be an absolute path"
run "$AGENT" --heartbeat -1
expect_status 2 "negative heartbeat"
run "$AGENT" --bogus
expect_status 2 "unknown agent argument"
run "$AGENT" --help
expect_status 0 "agent --help"
grep -q -- '--exec-allow FILE' "$TMP/out" || fail "agent --help lacks --exec-allow"
run "$CTL"
expect_status 2 "agentctl without arguments"
run "$CTL" "$AGENT_ADDR" reboot
expect_status 2 "agentctl unknown verb"
expect_err "unknown command reboot"
run "$CTL" "$AGENT_ADDR" exec
expect_status 2 "agentctl exec without a command"
run "$CTL" --help
expect_status 0 "agentctl --help"
run "$MONITOR" --misses 0
expect_status 2 "monitor --misses 0"
run "$MONITOR" --interval x
expect_status 2 "monitor --interval x"
run "$MONITOR" --help
expect_status 0 "monitor --help"
finish
