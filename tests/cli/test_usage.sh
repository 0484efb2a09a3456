# Bad arguments exit 64 with one line on stderr; help and version work.
# shellcheck source=tests/cli/lib.sh
source "$(dirname "$0")/lib.sh"

usage_error "no verb"
usage_error "unknown verb" frobnicate
usage_error "unknown top option" --bogus
usage_error "help unknown verb" help frobnicate
usage_error "help two verbs" help call serve

usage_error "serve without --listen" serve
usage_error "serve --listen without value" serve --listen
usage_error "serve bad scheme" serve --listen bogus://x
usage_error "serve vsock without port" serve --listen vsock://3
usage_error "serve positional" serve unix:///tmp/x.sock
usage_error "serve unknown option" serve --listen unix:///tmp/x.sock --bogus
usage_error "serve workers not a number" serve --listen unix:///tmp/x.sock --workers abc
usage_error "serve workers negative" serve --listen unix:///tmp/x.sock --workers -1
usage_error "serve workers zero" serve --listen unix:///tmp/x.sock --workers 0
usage_error "serve too many workers" serve --listen unix:///tmp/x.sock --workers 100000
usage_error "serve max-frame too small" serve --listen unix:///tmp/x.sock --max-frame 10
usage_error "serve max-frame junk" serve --listen unix:///tmp/x.sock --max-frame 4M
usage_error "serve flag with value" serve --listen unix:///tmp/x.sock --verbose=yes

usage_error "call without arguments" call
usage_error "call without method" call unix:///tmp/x.sock
usage_error "call bad uri" call vsock://3 hvrpc.echo.v1.Echo/Echo
usage_error "call method without slash" call unix:///tmp/x.sock Echo
usage_error "call empty method" call unix:///tmp/x.sock hvrpc.echo.v1.Echo/
usage_error "call extra argument" call unix:///tmp/x.sock a.B/C extra
usage_error "call odd hex" call unix:///tmp/x.sock a.B/C --hex abc
usage_error "call bad hex" call unix:///tmp/x.sock a.B/C --hex zz
usage_error "call hex without value" call unix:///tmp/x.sock a.B/C --hex
usage_error "call bad timeout" call unix:///tmp/x.sock a.B/C --timeout 1s
usage_error "call negative timeout" call unix:///tmp/x.sock a.B/C --timeout -1
usage_error "call header without colon" call unix:///tmp/x.sock a.B/C -H novalue
usage_error "call header without key" call unix:///tmp/x.sock a.B/C -H :v
usage_error "call max-frame too large" call unix:///tmp/x.sock a.B/C --max-frame 99999999999

# Help: the overview, and every verb both ways.
run "$HVRPC" help
expect_status 0 "help"
for verb in serve call list describe health pub sub guid register help; do
    grep -q "^  $verb " "$TMP/out" || fail "help: verb $verb not listed"
done
grep -q 'vsock://CID:PORT' "$TMP/out" || fail "help: URI forms missing"
grep -q '^  64 ' "$TMP/out" || fail "help: exit statuses missing"
run "$HVRPC" --help
expect_status 0 "--help"
for verb in serve call list describe health pub sub guid register help; do
    run "$HVRPC" help "$verb"
    expect_status 0 "help $verb"
    cp "$TMP/out" "$TMP/help1"
    grep -q "^Usage: hvrpc $verb" "$TMP/help1" || fail "help $verb: no usage line"
    grep -q "^Exit statuses:" "$TMP/help1" || fail "help $verb: no exit statuses"
    run "$HVRPC" "$verb" --help
    expect_status 0 "$verb --help"
    cmp -s "$TMP/out" "$TMP/help1" || fail "$verb --help differs from help $verb"
    run "$HVRPC" "$verb" -h
    expect_status 0 "$verb -h"
done
# Every verb's help ends its options with examples of that verb.
for verb in serve call list describe health pub sub guid register; do
    run "$HVRPC" help "$verb"
    sed -n '/^Examples:$/,/^$/p' "$TMP/out" >"$TMP/examples"
    grep -q "^  .*hvrpc $verb " "$TMP/examples" || fail "help $verb: no examples"
done
run "$HVRPC" help call
grep -q -- "--format text" "$TMP/out" || fail "help call: no text-format example"
run "$HVRPC" help register
sed -n '/^Examples:$/,/^$/p' "$TMP/out" | grep -q -- '--remove --apply' ||
    fail "help register: no --apply/--remove example"

run "$HVRPC" --version
expect_status 0 "--version"
grep -Eq '^hvrpc [0-9]+\.[0-9]+\.[0-9]+$' "$TMP/out" || fail "--version: $(cat "$TMP/out")"

# A failed write to stdout is not success.
if [ -w /dev/full ]; then
    "$HVRPC" help >/dev/full 2>"$TMP/err"
    STATUS=$?
    expect_status 74 "help >/dev/full"
fi

finish
