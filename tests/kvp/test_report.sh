# A guest reports its facts; the host lists them under the guest's
# identity as the kernel reported it (unix:uid=U here), never a name the
# guest sends.
. "$(dirname "$0")/lib.sh"

start_host || finish

run "$GUEST" --once --fact role=web --fact vm=pretend-to-be-someone-else
expect_status 0 "guest report"
grep -q "reported .* facts to the host as $ME " "$TMP/out" ||
    fail "guest report: not filed as $ME: $(cat "$TMP/out")"

run "$CLI" list "$ME"
expect_status 0 "list"
expect_out "role=web" "list"
expect_out "hostname=$(hostname)" "list: hostname"
expect_out "kernel.release=$(uname -r)" "list: kernel"
expect_out "arch=$(uname -m)" "list: arch"
expect_out "vm=pretend-to-be-someone-else" "list: a fact named vm is just a fact"
grep -q '^uptime.seconds=[0-9][0-9]*$' "$TMP/out" || fail "list: uptime.seconds"
grep -q '^os.id=' "$TMP/out" || fail "list: os.id"
grep -q '^net.ipv4=' "$TMP/out" || fail "list: net.ipv4"

run "$CLI" vms
expect_status 0 "vms"
grep -q "^$ME .*guest_keys=[0-9]* host_keys=0 last_report=20" "$TMP/out" ||
    fail "vms: $(cat "$TMP/out")"
[ "$(wc -l <"$TMP/out")" -eq 1 ] || fail "vms: one VM only: $(cat "$TMP/out")"

run "$CLI" get "$ME" role
expect_status 0 "get"
expect_out "web" "get"

# A second report replaces the whole pool (the guest reports all its
# facts each time): a fact no longer reported is gone.
run "$GUEST" --once --no-facts --fact role=db
expect_status 0 "second report"
run "$CLI" list "$ME"
[ "$(cat "$TMP/out")" = "role=db" ] || fail "replace: $(cat "$TMP/out")"

grep -q "report from $ME: 1 set, 0 removed (replace); 1 keys" "$TMP/host.log" ||
    fail "host log: $(cat "$TMP/host.log")"
stop_host
finish
