# hvrpc-kvp as a user runs it: usage, exit statuses, every command.
. "$(dirname "$0")/lib.sh"

run "$CLI"
expect_status 2 "no command"
expect_err "usage:" "no command"
run "$CLI" frob
expect_status 2 "unknown command"
run "$CLI" list
expect_status 2 "list without a VM"
run "$CLI" --help
expect_status 0 "--help"
expect_out "  vms                                the VMs the host knows" "--help"
run "$CLI" vms
expect_status 14 "no host"
expect_err "UNAVAILABLE" "no host"
run "$HOST" --admin tcp://127.0.0.1:0 --db "$DB"
expect_status 2 "host: a tcp admin endpoint"
expect_err "must be a unix:// socket" "host: a tcp admin endpoint"

start_host || finish
run "$CLI" vms
expect_status 0 "vms, empty"
[ ! -s "$TMP/out" ] || fail "vms, empty: $(cat "$TMP/out")"
run "$CLI" set vsock:3 motd "welcome, guest 3"
expect_status 0 "set for a VM not seen yet"
run "$CLI" get vsock:3 motd --pool host
expect_status 0 "get"
expect_out "welcome, guest 3" "get"
run "$CLI" get vsock:3 motd
expect_status 5 "get from the guest pool"
run "$CLI" list vsock:3 --pool host
expect_out "motd=welcome, guest 3" "list --pool host"
run "$CLI" vms
expect_out "vsock:3                  guest_keys=0 host_keys=1 last_report=never" "vms"
run "$CLI" del vsock:3 motd
expect_status 0 "del"
run "$CLI" del vsock:3 motd
expect_status 5 "del again"
run "$CLI" list vsock:3 --pool bogus
expect_status 2 "bad pool"
stop_host
finish
