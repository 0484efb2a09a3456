#!/usr/bin/env bash
# expect_error.sh PROTOC PLUGIN DIR FILE [IMPORT_DIR...]
# Runs protoc with protoc-gen-hvrpc on DIR/FILE, which must fail with the
# text of the file's "// expect: " line on stderr. A "// parameter: " line
# is passed to the plugin.
set -u
protoc=$1 plugin=$2 dir=$3 file=$4
shift 4
want=$(sed -n 's#^// expect: ##p' "$dir/$file")
param=$(sed -n 's#^// parameter: ##p' "$dir/$file")
[ -n "$want" ] || { echo "$file has no '// expect: ' line"; exit 2; }
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
includes=(-I"$dir")
for d in "$@"; do includes+=(-I"$d"); done
if "$protoc" --plugin=protoc-gen-hvrpc="$plugin" \
    --hvrpc_out="${param:+$param:}$out" "${includes[@]}" "$file" 2>"$out/stderr"; then
    echo "protoc succeeded on $file; expected it to fail with: $want"
    exit 1
fi
if ! grep -qF -- "$want" "$out/stderr"; then
    echo "expected: $want"
    echo "got:"
    cat "$out/stderr"
    exit 1
fi
cat "$out/stderr"
