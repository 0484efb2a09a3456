#!/bin/bash
# test_cli.sh - `hvrpc contract record / verify / serve` as people run
# them: record what a guest did through the recording proxy in front of
# the real echo service, verify the service against it (passing, then a
# deliberately broken expectation caught with the field at fault), and
# serve it as a mock that answers a guest and names the closest
# interaction for an unexpected call.
#
# Usage: bash test_cli.sh HVRPC_BINARY SOURCE_DIR
source "$(dirname "$0")/../cli/lib.sh"

ECHO=unix://$TMP/echo.sock
REC=unix://$TMP/rec.sock
MOCK=unix://$TMP/mock.sock
CONTRACT=$TMP/echo.contract.json

# The real service (reflection on, so record needs no --proto).
start_server --listen "$ECHO" --no-health || finish

# record: a proxy in front of it; the guest calls the proxy.
: >"$TMP/rec.out"
"$HVRPC" contract record --listen "$REC" --upstream "$ECHO" \
    --service hvrpc.echo.v1.Echo -o "$CONTRACT" >"$TMP/rec.out" 2>"$TMP/rec.err" &
REC_PID=$!
for ((i = 0; i < 200; i++)); do
    grep -q '^listening on ' "$TMP/rec.out" && break
    sleep 0.05
done
grep -q '^listening on ' "$TMP/rec.out" || fail "record did not start: $(cat "$TMP/rec.err")"

run "$HVRPC" call "$REC" hvrpc.echo.v1.Echo/Echo -d '{"payload": "aGk="}' -H trace:42
expect_status 0 "call through the recording proxy"
grep -q '"trace": "42"' "$TMP/out" || fail "the proxy lost the metadata: $(cat "$TMP/out")"
run "$HVRPC" call "$REC" hvrpc.echo.v1.Echo/Echo -d '{"failCode": 5, "failMessage": "gone"}'
expect_status 5 "a failing call through the proxy"
kill -TERM "$REC_PID"
wait "$REC_PID"
STATUS=$?
expect_status 0 "record stops on SIGTERM"
grep -q '^info: 2 interactions written' "$TMP/rec.err" || fail "record: $(cat "$TMP/rec.err")"
[ -s "$CONTRACT" ] || fail "no contract written"
grep -q '"hvrpcContract": 1' "$CONTRACT" || fail "not a contract"
grep -q '"code": "NOT_FOUND"' "$CONTRACT" || fail "the failure was not recorded"

# verify as recorded: the peer differs per connection: the one mismatch.
run "$HVRPC" contract verify "$CONTRACT" "$ECHO"
expect_status 1 "verify a raw recording"
grep -q '^     \$.peer: expected "unix:uid=.*", got "unix:uid=' "$TMP/out" ||
    fail "verify: no peer diff: $(cat "$TMP/out")"

# The peer made a matcher (what docs/CONTRACTS.md tells to do): passes.
python3 - "$CONTRACT" <<'PY'
import json, sys
path = sys.argv[1]
d = json.load(open(path))
d["interactions"][0]["name"] = "greet"
d["interactions"][0]["response"]["peer"] = {"$regex": "^unix:"}
json.dump(d, open(path, "w"), indent=2)
PY
run "$HVRPC" contract verify "$CONTRACT" "$ECHO"
expect_status 0 "verify after the peer matcher"
expect_out "ok   1 greet (Echo)
ok   2 Echo #2 (Echo)
2 interactions of hvrpc.echo.v1.Echo: 2 ok, 0 failed (0 mismatches)" "verify report"

# A deliberately broken expectation: the diff shows the field at fault.
python3 - "$CONTRACT" "$TMP/broken.json" <<'PY'
import json, sys
d = json.load(open(sys.argv[1]))
d["interactions"][0]["response"]["payload"] = "aGVsbG8="
json.dump(d, open(sys.argv[2], "w"), indent=2)
PY
run "$HVRPC" contract verify "$TMP/broken.json" "$ECHO" --quiet
expect_status 1 "verify a broken contract"
expect_out 'FAIL 1 greet (Echo)
     $.payload: expected "aGVsbG8=", got "aGk="
2 interactions of hvrpc.echo.v1.Echo: 1 ok, 1 failed (1 mismatch)' "verify --quiet diff"
expect_err_line '1 of 2 interactions do not match the contract' "verify stderr"

# Nothing to verify against: the status of the connection.
run "$HVRPC" contract verify "$CONTRACT" "unix://$TMP/nobody.sock"
expect_status 14 "verify with no service"
run "$HVRPC" contract verify "$TMP/missing.json" "$ECHO"
expect_status 5 "verify a missing contract"
usage_error "verify without URI" contract verify "$CONTRACT"
usage_error "unknown contract verb" contract frobnicate
stop_server

# serve: the mock answers the guest from the contract; no echo server.
: >"$TMP/mock.out"
"$HVRPC" contract serve "$CONTRACT" --listen "$MOCK" >"$TMP/mock.out" 2>"$TMP/mock.err" &
MOCK_PID=$!
for ((i = 0; i < 200; i++)); do
    grep -q '^listening on ' "$TMP/mock.out" && break
    sleep 0.05
done
run "$HVRPC" call "$MOCK" hvrpc.echo.v1.Echo/Echo -d '{"payload": "aGk="}' -H trace:42
expect_status 0 "a call the mock knows"
grep -q '"payload": "aGk="' "$TMP/out" || fail "mock reply: $(cat "$TMP/out")"
run "$HVRPC" call "$MOCK" hvrpc.echo.v1.Echo/Echo -d '{"failCode": 5, "failMessage": "gone"}'
expect_status 5 "a failure the mock knows"
expect_err_line '^NOT_FOUND: gone$' "the recorded failure"
run "$HVRPC" call "$MOCK" hvrpc.echo.v1.Echo/Echo -d '{"payload": "aGk="}'
expect_status 12 "an unexpected call"
expect_err_line '^UNIMPLEMENTED: contract: unexpected call hvrpc.echo.v1.Echo/Echo with \{"payload":"aGk="\}: no interaction matches; closest is 1 "greet", which differs: metadata\["trace"\]: expected "42", got nothing$' \
    "the unexpected call's error"
kill -TERM "$MOCK_PID"
wait "$MOCK_PID"
STATUS=$?
expect_status 1 "serve exits 1 after an unexpected call"
grep -q 'contract: unexpected call' "$TMP/mock.err" || fail "serve did not print the unexpected call"
grep -q 'interactions used: 1 1' "$TMP/mock.err" || fail "serve: $(cat "$TMP/mock.err")"
finish
