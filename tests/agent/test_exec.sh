# Guarded command execution: off by default; only allow-listed absolute
# paths, matched exactly; argv passed as a list (no shell); output
# streamed as it comes, then the exit status; time and output bounds;
# only the host may call it.
. "$(dirname "$0")/lib.sh"

# --- off by default -----------------------------------------------------
start_agent off --heartbeat 0 || finish
grep -qxF 'hvrpc-agent: exec is off (no --allow)' "$TMP/off.out" || fail "no 'exec is off' line"
run "$CTL" "$AGENT_ADDR" exec /usr/bin/true
expect_status 7 "exec on an agent without an allow list"
expect_err "PERMISSION_DENIED: command /usr/bin/true refused: command execution is off on this agent"
stop_bg "$AGENT_PID" "hvrpc-agent (exec off)"

# --- an allow list: flags and a file -------------------------------------
SH=$(command -v sh)
SH=$(readlink -f "$SH")
printf '# allowed for the test\n\n  /usr/bin/printf  \n%s\n' "$SH" >"$TMP/allow"
start_agent on --heartbeat 0 --allow /usr/bin/echo --exec-allow "$TMP/allow" \
    --exec-max-output 100000 || finish
for p in /usr/bin/echo /usr/bin/printf "$SH"; do
    grep -qxF "hvrpc-agent: exec allows $p" "$TMP/on.out" || fail "not allowed: $p"
done

# argv is a list: nothing is expanded or split.
run "$CTL" "$AGENT_ADDR" exec /usr/bin/printf '%s|' 'two words' '$(id)' '*' ';' ''
expect_status 0 "printf"
[ "$(cat "$TMP/out")" = 'two words|$(id)|*|;||' ] || fail "argv was not passed as is: $(cat "$TMP/out")"

# Not on the list: the command is named; near misses are refused too.
for cmd in /bin/sh /usr/bin/echo/ /usr/bin//echo echo /usr/bin/ech; do
    run "$CTL" "$AGENT_ADDR" exec "$cmd" x
    expect_status 7 "exec $cmd"
    expect_err "PERMISSION_DENIED: command $cmd is not on the agent's allow list"
done
grep -q "exec refused for unix:uid=.*: command /usr/bin/ech is not on the agent's allow list" "$TMP/on.out" ||
    fail "the agent did not log a refusal"

# Exit status and stderr.
run "$CTL" "$AGENT_ADDR" exec "$SH" -c 'echo out; echo err >&2; exit 3'
expect_status 3 "exit 3"
[ "$(cat "$TMP/out")" = out ] || fail "stdout: $(cat "$TMP/out")"
[ "$(cat "$TMP/err")" = err ] || fail "stderr: $(cat "$TMP/err")"
run "$CTL" "$AGENT_ADDR" exec "$SH" -c 'kill -TERM $$'
expect_status 143 "ended by SIGTERM"
expect_err "signal 15"

# Streamed: the first line arrives while the command still runs.
"$CTL" "$AGENT_ADDR" exec "$SH" -c 'echo first; sleep 3; echo second' >"$TMP/stream.out" 2>&1 &
CTL_PID=$!
BG_PIDS+=("$CTL_PID")
wait_grep "$TMP/stream.out" '^first$' 10 || fail "no first line while running"
kill -0 "$CTL_PID" 2>/dev/null || fail "the command ended before its first line was seen: no streaming shown"
grep -q second "$TMP/stream.out" && fail "second line too early"
wait "$CTL_PID"
STATUS=$?
expect_status 0 "streamed command"
[ "$(cat "$TMP/stream.out")" = "$(printf 'first\nsecond')" ] || fail "streamed output: $(cat "$TMP/stream.out")"

# Output bound: the request's lower bound, then the agent's own.
run "$CTL" "$AGENT_ADDR" exec --max-output 1000 "$SH" -c 'while :; do echo yyyyyyyy; done'
expect_status 125 "output over the request's bound"
[ "$(wc -c <"$TMP/out")" -eq 1000 ] || fail "got $(wc -c <"$TMP/out") bytes, want 1000"
expect_err "killed after 1000 bytes of output (output limit)"
run "$CTL" "$AGENT_ADDR" exec --max-output 50000000 "$SH" -c 'while :; do echo yyyyyyyy; done'
expect_status 125 "output over the agent's bound"
[ "$(wc -c <"$TMP/out")" -eq 100000 ] || fail "got $(wc -c <"$TMP/out") bytes, want 100000"

# Time bound: the whole process group goes.
start=$(date +%s)
run "$CTL" "$AGENT_ADDR" exec --exec-timeout 500 "$SH" -c 'sleep 30.4242 & sleep 30.4242'
expect_status 124 "time limit"
expect_err "killed after"
[ $(($(date +%s) - start)) -lt 20 ] || fail "the time limit took $(($(date +%s) - start)) s"
# The background child was in the command's process group: gone too.
for ((i = 0; i < 100; i++)); do
    pgrep -f 'sleep 30.4242' >/dev/null || break
    sleep 0.05
done
pgrep -f 'sleep 30.4242' >/dev/null && fail "a child of the killed command lives on"

# Bad requests.
run "$CTL" "$AGENT_ADDR" exec /usr/bin/echo $(seq 1 70)
expect_status 3 "71 arguments"
expect_err "71 arguments; at most 64"
run "$CTL" "$AGENT_ADDR" exec /usr/bin/echo "$(head -c 5000 /dev/zero | tr '\0' x)"
expect_status 3 "a 5000-byte argument"
expect_err "argv[1] is longer than 4096 bytes"

# Only the host: another uid on the agent's socket may ask the time but
# not run commands or shut down (root only: another uid).
if [ "$(id -u)" -eq 0 ] && command -v setpriv >/dev/null; then
    public_copy "$CTL"
    chmod 666 "$TMP/agent.sock"
    run setpriv --reuid=65534 --regid=65534 --clear-groups "$PUB/hvrpc-agentctl" "$AGENT_ADDR" exec /usr/bin/echo hi
    expect_status 7 "exec by uid 65534"
    expect_err "PERMISSION_DENIED: Exec: only the host may call it; unix:uid=65534"
    run setpriv --reuid=65534 --regid=65534 --clear-groups "$PUB/hvrpc-agentctl" "$AGENT_ADDR" shutdown
    expect_status 7 "shutdown by uid 65534"
    run setpriv --reuid=65534 --regid=65534 --clear-groups "$PUB/hvrpc-agentctl" "$AGENT_ADDR" time
    expect_status 0 "time by uid 65534"
    # --caller-uid makes it the host.
    stop_bg "$AGENT_PID" "hvrpc-agent"
    start_agent callers --heartbeat 0 --allow /usr/bin/echo --caller-uid 65534 || finish
    chmod 666 "$TMP/agent.sock"
    run setpriv --reuid=65534 --regid=65534 --clear-groups "$PUB/hvrpc-agentctl" "$AGENT_ADDR" exec /usr/bin/echo hi
    expect_status 0 "exec by uid 65534 with --caller-uid 65534"
    expect_out hi "exec by --caller-uid"
else
    echo "not root: the other-uid checks are left out"
fi
stop_bg "$AGENT_PID" "hvrpc-agent"

# Bad allow lists are refused at startup.
run "$AGENT" --listen "unix://$TMP/x.sock" --allow echo
expect_status 2 "--allow relative"
expect_err "echo is not an absolute path"
printf '/usr/bin/echo\nrelative/path\n' >"$TMP/bad"
run "$AGENT" --listen "unix://$TMP/x.sock" --exec-allow "$TMP/bad"
expect_status 2 "--exec-allow with a relative line"
expect_err "$TMP/bad:2: not an absolute path"
run "$AGENT" --listen "unix://$TMP/x.sock" --exec-allow "$TMP/none"
expect_status 2 "--exec-allow missing file"
finish
