# The documented limits: key 512 bytes, value 2048 bytes, 256 keys per
# pool; too long or malformed is INVALID_ARGUMENT (3), too many is
# RESOURCE_EXHAUSTED (8), and nothing of a refused write is applied.
. "$(dirname "$0")/lib.sh"

start_host || finish
k512=$(printf 'k%.0s' $(seq 512))
v2048=$(printf 'v%.0s' $(seq 2048))

run "$GUEST" --once --no-facts --fact "$k512=$v2048"
expect_status 0 "key of 512 bytes, value of 2048"
run "$GUEST" --once --no-facts --fact "x$k512=1"
expect_status 3 "key of 513 bytes"
expect_err "is 513 bytes; at most 512" "key of 513 bytes"
run "$GUEST" --once --no-facts --fact "k=x$v2048"
expect_status 3 "value of 2049 bytes"
expect_err "is 2049 bytes; at most 2048" "value of 2049 bytes"
run "$GUEST" --once --no-facts --fact "$(printf 'bad\001key')=1"
expect_status 3 "control character in a key"
run "$GUEST" --once --no-facts --fact "=empty"
expect_status 3 "empty key"
# Nothing of the refused reports was applied.
run "$CLI" list "$ME"
[ "$(wc -l <"$TMP/out")" -eq 1 ] || fail "refused reports left keys: $(cut -c1-40 "$TMP/out")"

args=()
for i in $(seq 256); do args+=(--fact "key$i=$i"); done
run "$GUEST" --once --no-facts "${args[@]}"
expect_status 0 "256 keys"
run "$GUEST" --once --no-facts "${args[@]}" --fact key257=257
expect_status 8 "257 keys"
expect_err "at most 256" "257 keys"
run "$CLI" list "$ME"
[ "$(wc -l <"$TMP/out")" -eq 256 ] || fail "pool after the refused report: $(wc -l <"$TMP/out")"

# The host-to-guest pool too, through the CLI.
run "$CLI" set "$ME" "x$k512" v
expect_status 3 "admin set: long key"
run "$CLI" set "" k v
expect_status 3 "admin set: empty VM"
run "$CLI" set "$ME" k "x$v2048"
expect_status 3 "admin set: long value"
stop_host
finish
