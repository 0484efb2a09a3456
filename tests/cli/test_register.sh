#!/usr/bin/env bash
# test_register.sh HVRPC SOURCE_DIR: `hvrpc register` prints the registry
# entry Hyper-V needs: HKLM\SOFTWARE\Microsoft\Windows NT\CurrentVersion\
# Virtualization\GuestCommunicationServices\<GUID> with REG_SZ ElementName.
# shellcheck source=lib.sh
. "$(dirname "$0")/lib.sh"

KEY='SOFTWARE\Microsoft\Windows NT\CurrentVersion\Virtualization\GuestCommunicationServices'

# One service by port: the .reg file.
run "$HVRPC" register --name 'hvrpc echo' --port 5000 --reg
expect_status 0 "register --port --reg"
[ "$(head -1 "$TMP/out")" = "Windows Registry Editor Version 5.00" ] ||
    fail "reg header: $(head -1 "$TMP/out")"
grep -qxF "[HKEY_LOCAL_MACHINE\\$KEY\\00001388-facb-11e6-bd58-64006a7986d3]" "$TMP/out" ||
    fail "reg key: $(cat "$TMP/out")"
grep -qxF '"ElementName"="hvrpc echo"' "$TMP/out" || fail "reg value: $(cat "$TMP/out")"
grep -q 'New-Item' "$TMP/out" && fail "--reg printed PowerShell"

# The PowerShell.
run "$HVRPC" register --name "it's" --guid '{3F0C1A6E-6D2B-4C55-8A5B-0123456789AB}' --powershell
expect_status 0 "register --guid --powershell"
grep -qxF "\$services = 'HKLM:\\$KEY'" "$TMP/out" || fail "ps path: $(cat "$TMP/out")"
grep -qxF "\$service = New-Item -Path \$services -Name '3f0c1a6e-6d2b-4c55-8a5b-0123456789ab' -Force" "$TMP/out" ||
    fail "ps New-Item: $(cat "$TMP/out")"
grep -qxF "\$service.SetValue('ElementName', 'it''s')" "$TMP/out" || fail "ps SetValue: $(cat "$TMP/out")"
grep -q 'Windows Registry Editor' "$TMP/out" && fail "--powershell printed the .reg"

# Both by default; quotes and backslashes escaped in the .reg.
run "$HVRPC" register --name 'a "b" \c' --port 2761
grep -qxF '"ElementName"="a \"b\" \\c"' "$TMP/out" || fail "reg escaping: $(cat "$TMP/out")"
grep -qF '00000ac9-facb-11e6-bd58-64006a7986d3' "$TMP/out" || fail "port 2761 GUID"
grep -q 'New-Item' "$TMP/out" || fail "default: no PowerShell"

# --from: every service of a .proto with an endpoint, from its options.
cat >"$TMP/two.proto" <<'PROTO'
syntax = "proto3";
package reg.v1;
import "hvrpc/options.proto";
message M {}
service A { option (hvrpc.vsock_port) = 6000; option (hvrpc.friendly_name) = "Service A"; rpc X(M) returns (M); }
service B { option (hvrpc.service_guid) = "3f0c1a6e-6d2b-4c55-8a5b-0123456789ab"; rpc X(M) returns (M); }
service C { rpc X(M) returns (M); }
PROTO
run "$HVRPC" register --from "$TMP/two.proto" -I "$SRC/proto" --reg
expect_status 0 "register --from"
grep -qxF "[HKEY_LOCAL_MACHINE\\$KEY\\00001770-facb-11e6-bd58-64006a7986d3]" "$TMP/out" ||
    fail "--from A key: $(cat "$TMP/out")"
grep -qxF '"ElementName"="Service A"' "$TMP/out" || fail "--from A name"
grep -qxF "[HKEY_LOCAL_MACHINE\\$KEY\\3f0c1a6e-6d2b-4c55-8a5b-0123456789ab]" "$TMP/out" ||
    fail "--from B key"
grep -qxF '"ElementName"="reg.v1.B"' "$TMP/out" || fail "--from B: the full name by default"
[ "$(grep -c '^\[HKEY' "$TMP/out")" -eq 2 ] || fail "--from: C has no endpoint and no entry"
run "$HVRPC" register --from "$ECHO_PROTO" -I "$SRC/proto" --powershell
grep -qxF "\$service.SetValue('ElementName', 'hvrpc echo')" "$TMP/out" || fail "--from echo.proto"

# Errors that say what to do.
usage_error "no name" register --port 5000
usage_error "port and guid" register --name x --port 1 --guid 00000001-facb-11e6-bd58-64006a7986d3
usage_error "port 0" register --name x --port 0
usage_error "bad guid" register --name x --guid nope
usage_error "from and name" register --from "$ECHO_PROTO" --name x
run "$HVRPC" register --from "$TMP/missing.proto"
expect_status 64 "--from missing file"
usage_error "apply and reg" register --name x --port 1 --apply --reg
usage_error "remove without a GUID" register --remove
run "$HVRPC" register --name x --port 1 --apply
expect_status 12 "--apply off Windows"
expect_err_line "only on Windows; on the Hyper-V host, as Administrator, run the PowerShell that 'hvrpc register --powershell \\.\\.\\.' prints, or 'reg import'" \
    "--apply off Windows"
[ ! -s "$TMP/out" ] || fail "--apply off Windows printed: $(cat "$TMP/out")"

# --remove: the .reg and PowerShell that delete the key; no name needed.
run "$HVRPC" register --port 5000 --remove
expect_status 0 "--remove"
grep -qxF "[-HKEY_LOCAL_MACHINE\\$KEY\\00001388-facb-11e6-bd58-64006a7986d3]" "$TMP/out" ||
    fail "--remove reg: $(cat "$TMP/out")"
grep -qxF "Remove-Item -Path \"\$services\\00001388-facb-11e6-bd58-64006a7986d3\"" "$TMP/out" ||
    fail "--remove ps: $(cat "$TMP/out")"
grep -q 'ElementName' "$TMP/out" && fail "--remove wrote a value: $(cat "$TMP/out")"
run "$HVRPC" register --from "$TMP/two.proto" -I "$SRC/proto" --remove --reg
[ "$(grep -c '^\[-HKEY' "$TMP/out")" -eq 2 ] || fail "--from --remove: $(cat "$TMP/out")"
run "$HVRPC" register --guid 3f0c1a6e-6d2b-4c55-8a5b-0123456789ab --remove --apply
expect_status 12 "--remove --apply off Windows"
grep -q -- "--powershell --remove" "$TMP/err" || fail "--remove --apply: hint $(cat "$TMP/err")"
finish
