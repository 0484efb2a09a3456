# The heartbeat end to end: hvrpc-agent beats on the bus (hvrpc serve),
# hvrpc-agent-monitor turns the beats into hvrpc.agent.<name> health:
# SERVING, NOT_SERVING after the missed beats of a stopped agent, SERVING
# again when it resumes, each change also an agent.<name>.health event on
# the bus; a beat that is not a Heartbeat is ignored, and a name belongs
# to the first guest identity that used it; after a restart of the bus
# both sides find it again.
. "$(dirname "$0")/lib.sh"

start_bus || finish
bg events "$HVRPC" sub "$BUS" 'agent.*.health'
EVENTS_PID=$BG_PID
wait_grep "$TMP/events.err" 'subscribed' || fail "hvrpc sub did not subscribe"
bg monitor "$MONITOR" --bus "$BUS" --listen "$MON_ADDR" --interval 0.5 --misses 3 --verbose
MONITOR_PID=$BG_PID
wait_grep "$TMP/monitor.out" 'subscribed to agent\.\*\.heartbeat' ||
    fail "monitor did not subscribe: $(cat "$TMP/monitor.out" "$TMP/monitor.err")"

# Unknown before the guest's first beat.
health hvrpc.agent.web1
expect_status 5 "health of a guest never seen"

start_agent agent --name web1 --heartbeat 0.5 || finish
wait_health hvrpc.agent.web1 SERVING || fail "web1 not SERVING: $(cat "$TMP/monitor.out")"
wait_grep "$TMP/monitor.out" '^hvrpc-agent-monitor: web1 SERVING: first heartbeat \(#1\) from unix:uid='"$(id -u)"'$' ||
    fail "monitor: no first-heartbeat line: $(cat "$TMP/monitor.out")"
wait_grep "$TMP/monitor.out" '^hvrpc-agent-monitor: heartbeat web1 #2 from unix:uid=' ||
    fail "monitor --verbose: no second beat"
wait_grep "$TMP/agent.out" '^hvrpc-agent: heartbeat on agent.web1.heartbeat every 500 ms' ||
    fail "agent: no heartbeat line: $(cat "$TMP/agent.out")"

# A stopped guest misses its beats: NOT_SERVING (3 x 0.5 s, polled for 20 s).
kill -STOP "$AGENT_PID"
wait_health hvrpc.agent.web1 NOT_SERVING || fail "a stopped agent stays $(cat "$TMP/out")"
expect_status 14 "hvrpc health of an unhealthy guest"
wait_grep "$TMP/monitor.out" '^hvrpc-agent-monitor: web1 NOT_SERVING: no heartbeat for [0-9.]+ s \(3 missed\)$' ||
    fail "monitor: no NOT_SERVING line"
kill -CONT "$AGENT_PID"
wait_health hvrpc.agent.web1 SERVING || fail "a resumed agent stays $(cat "$TMP/out")"
wait_grep "$TMP/monitor.out" '^hvrpc-agent-monitor: web1 SERVING again: heartbeat #[0-9]+ after' ||
    fail "monitor: no SERVING again line"

# The same changes on the bus, in order, stamped by the monitor.
wait_grep "$TMP/events.out" ' agent\.web1\.health unix:.* SERVING$' || fail "no SERVING event"
for ((i = 0; i < 100; i++)); do
    [ "$(grep -c 'agent\.web1\.health' "$TMP/events.out")" -ge 3 ] && break
    sleep 0.05
done
sed 's/^[0-9]* \([^ ]*\) [^ ]* \(.*\)$/\1 \2/' "$TMP/events.out" | head -3 >"$TMP/ev3"
printf 'agent.web1.health SERVING\nagent.web1.health NOT_SERVING\nagent.web1.health SERVING\n' >"$TMP/want3"
cmp -s "$TMP/ev3" "$TMP/want3" || fail "bus events: $(cat "$TMP/events.out")"

# A beat that is not a Heartbeat message: logged, ignored, nothing known.
run "$HVRPC" pub "$BUS" agent.junk.heartbeat -d 'not protobuf at all'
expect_status 0 "publish junk"
wait_grep "$TMP/monitor.out" 'ignored heartbeat for junk from unix:uid=.*: not a Heartbeat message' ||
    fail "monitor took junk: $(tail -3 "$TMP/monitor.out")"
health hvrpc.agent.junk
expect_status 5 "health of junk"

# A name belongs to the first identity (root only: another uid is
# another guest).
if [ "$(id -u)" -eq 0 ] && command -v setpriv >/dev/null; then
    public_copy "$AGENT"
    mkdir "$TMP/nobody" && chown 65534 "$TMP/nobody"
    chmod 666 "$TMP/bus.sock"
    bg spoof setpriv --reuid=65534 --regid=65534 --clear-groups "$PUB/hvrpc-agent" --listen "unix://$TMP/nobody/agent.sock" \
        --bus "$BUS" --name web1 --heartbeat 0.5
    SPOOF_PID=$BG_PID
    wait_grep "$TMP/monitor.out" '^hvrpc-agent-monitor: refused heartbeat for web1 from unix:uid=65534: web1 belongs to unix:uid=0$' ||
        fail "monitor took a beat of another uid: $(tail -3 "$TMP/monitor.out") $(cat "$TMP/spoof.err")"
    # Its beats keep no one alive: stop the real agent, web1 goes down.
    kill -STOP "$AGENT_PID"
    wait_health hvrpc.agent.web1 NOT_SERVING || fail "spoofed beats kept web1 SERVING"
    kill -CONT "$AGENT_PID"
    stop_bg "$SPOOF_PID" "the second agent"
else
    echo "not root: the spoofing check is left out"
fi

# The bus restarts: the monitor resubscribes, the agent reconnects at its
# next beat, and web1 is SERVING (again) through the new broker.
kill -TERM "$EVENTS_PID"
stop_bg "$BUS_PID" "hvrpc serve"
start_bus || finish
wait_grep "$TMP/monitor.out" 'subscribed to agent.*' 10
for ((i = 0; i < 200; i++)); do
    [ "$(grep -c 'subscribed to agent' "$TMP/monitor.out")" -ge 2 ] && break
    sleep 0.05
done
[ "$(grep -c 'subscribed to agent' "$TMP/monitor.out")" -ge 2 ] || fail "the monitor did not resubscribe"
n=$(grep -c 'heartbeat web1 #' "$TMP/monitor.out")
for ((i = 0; i < 200; i++)); do
    [ "$(grep -c 'heartbeat web1 #' "$TMP/monitor.out")" -gt "$n" ] && break
    sleep 0.05
done
[ "$(grep -c 'heartbeat web1 #' "$TMP/monitor.out")" -gt "$n" ] || fail "no beat through the new broker"
wait_health hvrpc.agent.web1 SERVING || fail "web1 after the bus restart: $(cat "$TMP/out")"

stop_bg "$AGENT_PID" "hvrpc-agent"
stop_bg "$MONITOR_PID" "hvrpc-agent-monitor"
stop_bg "$BUS_PID" "hvrpc serve"
finish
