#!/usr/bin/env bash
# vm.sh - boot a throwaway QEMU guest made from Debian's packages and run
# hvrpc's programs inside it, over real AF_VSOCK (vsock_loopback, CID 1).
#
#   tests/vm/vm.sh SUITE CACHE_DIR
#   tests/vm/vm.sh --bench [BUILD_DIR]    hvrpc-bench over vsock in the guest
#
# --bench runs BUILD_DIR/tests/vm/bench-suite.txt (written by
# bench/CMakeLists.txt; BUILD_DIR defaults to build) with the cache of
# BUILD_DIR's vm suite, 2 vCPUs unless HVRPC_VM_SMP says otherwise, and
# keeps hvrpc-bench's report in CACHE_DIR/run/bench.txt. On demand only:
# no ctest runs it.
#
# SUITE (written by tests/vm/CMakeLists.txt) has one step per line:
#   run|NAME|TIMEOUT_S|EXPECT|SHOW|COMMAND   run COMMAND in the guest
#   copy|PATH                                 put PATH (file or directory)
#                                             into the guest too
# Every absolute path in a COMMAND that exists here is copied into the
# guest at the same path; dynamically linked programs bring the libraries
# ldd names and the loader, so the guest runs the very binaries of the
# build (the plain build: ASan's shadow memory does not fit the guest).
#
# The guest: Debian's cloud kernel (the linux-image-*-cloud-amd64 that
# linux-image-cloud-amd64 depends on, fetched with apt-get download and
# unpacked with dpkg -x), its modules vsock, vmw_vsock_virtio_transport_common
# and vsock_loopback, busybox, and tests/vm/guest-init.sh as /init. It
# boots under qemu-system-x86_64 -accel tcg, runs the steps, prints result
# lines on the serial console and powers off; this script checks them.
#
# Cached under CACHE_DIR: the kernel package, kernel and modules, and the
# base initramfs (busybox + modules); only the programs are packed anew
# on each run.
#
# Exit status: 0 all steps passed; 1 a step failed, the guest panicked,
# a result is missing or the guest ran out of time (the console tail is
# printed); 77 SKIPPED (QEMU or busybox missing, the kernel package cannot
# be fetched), with the reason.
#
# Environment: HVRPC_VM_SMP (vCPUs, default 1), HVRPC_VM_MEM (MiB, 512),
# HVRPC_VM_TIMEOUT (seconds for the whole boot; default the sum of the
# steps' limits + 60, at most 900), HVRPC_VM_KERNEL_DEB (a local kernel
# .deb instead of apt-get download), HVRPC_VM_VERBOSE=1 (stream the console).
set -u -o pipefail

SKIP=77
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
bench=0
if [ "${1:-}" = --bench ]; then
    # Client and server of a run each get a vCPU, as on a real guest.
    bench=1
    suite=${2:-build}/tests/vm/bench-suite.txt
    cache=${2:-build}/tests/vm/cache
    : "${HVRPC_VM_SMP:=2}"
    [ -f "$suite" ] || {
        echo "vm: $suite not found: configure and build hvrpc-bench in the plain build (cmake --build ${2:-build} --target hvrpc-bench)" >&2
        exit 2
    }
else
    suite=${1:-}
    cache=${2:-}
fi
if [ -z "$suite" ] || [ -z "$cache" ] || [ ! -f "$suite" ]; then
    echo "usage: $0 SUITE CACHE_DIR | $0 --bench [BUILD_DIR]" >&2
    exit 2
fi
smp=${HVRPC_VM_SMP:-1}
mem=${HVRPC_VM_MEM:-512}
modules=(vsock vmw_vsock_virtio_transport_common vsock_loopback)

work=
qemu_pid=
t_start=$(date +%s%N)

cleanup() {
    if [ -n "$qemu_pid" ]; then
        kill -KILL "$qemu_pid" 2>/dev/null
        wait "$qemu_pid" 2>/dev/null
    fi
    [ -n "$work" ] && rm -rf "$work/payload"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

vm_name=vm
# skip, die, log, ms_since, secs, vm_need_tools, vm_fetch_kernel,
# vm_copy_in: shared by both VM suites.
. "$here/kernel.sh"

# --- what the host needs -----------------------------------------------

vm_need_tools cpio:cpio gzip:gzip dpkg-deb:dpkg ldd:libc-bin

mkdir -p "$cache" || die "cannot create $cache"
cache=$(cd "$cache" && pwd)
work=$cache/run
mkdir -p "$work"

# --- the kernel and its vsock modules (cached) --------------------------

# The layout of the kernel cache ($kdir/modules); a new one rebuilds it.
cache_format=2

fetch_kernel() {
    vm_fetch_kernel "$cache" "$cache_format" "modules=$(echo "${modules[@]}" | tr ' ' ',')"
}

copy_in() { # DEST F
    vm_copy_in "$@"
}

# --- initramfs ------------------------------------------------------------

build_base() { # -> $base
    local stamp key applet d
    key="$(cat "$kdir/release") $(cat "$kdir/ready") $(stat -L -c '%s %Y' "$busybox")"
    base=$cache/base.cpio.gz
    stamp=$cache/base.stamp
    [ -f "$base" ] && [ "$(cat "$stamp" 2>/dev/null)" = "$key" ] && return 0
    d=$cache/base
    rm -rf "$d" && mkdir -p "$d"/{bin,sbin,proc,sys,dev,tmp,root,etc,hvrpc/modules} ||
        die "cannot create $d"
    copy_in "$d" "$busybox" || die "cannot copy $busybox"
    [ "$busybox" = /bin/busybox ] || cp -L "$busybox" "$d/bin/busybox"
    for applet in $("$busybox" --list); do
        [ -e "$d/bin/$applet" ] || ln -s busybox "$d/bin/$applet"
    done
    cp "$kdir"/modules/*.ko "$kdir/modules/order" "$d/hvrpc/modules/" ||
        die "cannot copy the modules"
    echo "root:x:0:0:root:/root:/bin/sh" >"$d/etc/passwd"
    echo "root:x:0:" >"$d/etc/group"
    (cd "$d" && find . | LC_ALL=C sort | cpio -o -H newc --quiet -R 0:0 | gzip -1) \
        >"$base.tmp" || die "cannot pack the base initramfs"
    mv "$base.tmp" "$base"
    echo "$key" >"$stamp"
    rm -rf "$d"
}

build_payload() { # -> $payload
    local d=$work/payload kind rest word
    rm -rf "$d" && mkdir -p "$d/hvrpc" || die "cannot create $d"
    cp "$here/guest-init.sh" "$d/init" && chmod 755 "$d/init" || die "no guest init"
    cp "$suite" "$d/hvrpc/suite.txt" || die "cannot copy $suite"
    while IFS='|' read -r kind rest; do
        case $kind in
        copy)
            [ -e "$rest" ] || die "suite: $rest does not exist"
            copy_in "$d" "$rest" || die "cannot copy $rest into the guest"
            ;;
        run)
            # The command is the fifth field after the name.
            for word in $(echo "$rest" | cut -d'|' -f5-); do
                case $word in
                /*) [ -f "$word" ] && { copy_in "$d" "$word" || die "cannot copy $word"; } ;;
                esac
            done
            ;;
        esac
    done <"$suite"
    payload=$work/payload.cpio
    (cd "$d" && find . | LC_ALL=C sort | cpio -o -H newc --quiet -R 0:0) >"$payload" ||
        die "cannot pack the payload"
    rm -rf "$d"
}

# --- run -----------------------------------------------------------------

fetch_kernel
build_base
t_prep=$(date +%s%N)
build_payload
# The kernel unpacks concatenated archives, but an uncompressed one must
# start 4-byte aligned (zero bytes between archives are skipped).
pad=$(((4 - $(stat -c %s "$base") % 4) % 4))
{ cat "$base" && head -c "$pad" /dev/zero && cat "$payload"; } >"$work/initrd" ||
    die "cannot write the initrd"
prep_ms=$((($(date +%s%N) - t_start) / 1000000))

names=()
limit_sum=0
while IFS='|' read -r kind name limit _; do
    [ "$kind" = run ] || continue
    names+=("$name")
    limit_sum=$((limit_sum + limit))
done <"$suite"
[ ${#names[@]} -gt 0 ] || die "the suite $suite has no steps"
bound=${HVRPC_VM_TIMEOUT:-$((limit_sum + 60))}
[ "$bound" -gt 900 ] && bound=900

console=$work/console.log
log "booting $(cat "$kdir/release") under QEMU (TCG, ${smp} vCPU, ${mem} MiB): ${#names[@]} steps, at most ${bound} s"
t_boot=$(date +%s%N)
# -nographic: the serial console is QEMU's stdout. No network, no disk.
"$qemu" -accel tcg -m "$mem" -smp "$smp" -nographic -no-reboot -nic none \
    -kernel "$kdir/vmlinuz" -initrd "$work/initrd" \
    -append "console=ttyS0 panic=-1 quiet" </dev/null >"$console" 2>&1 &
qemu_pid=$!
if [ "${HVRPC_VM_VERBOSE:-0}" = 1 ]; then
    tail -n +1 -f "$console" --pid "$qemu_pid" &
fi
timed_out=0
waited=0
while kill -0 "$qemu_pid" 2>/dev/null; do
    if [ "$(ms_since "$t_boot")" -ge $((bound * 1000)) ]; then
        timed_out=1
        kill -KILL "$qemu_pid" 2>/dev/null
        break
    fi
    sleep 0.2
done
wait "$qemu_pid" 2>/dev/null
qemu_status=$?
qemu_pid=
run_ms=$(ms_since "$t_boot")

# The console, without carriage returns and terminal escapes.
clean=$work/console.txt
# A result line may follow firmware text that ended without a newline.
tr -d '\r' <"$console" | sed 's/\x1b\[[0-9;?]*[a-zA-Z]//g; s/\x1bc//g' |
    sed 's/^.\{1,\}\(HVRPC-VM [A-Z-]* \)/\1/' >"$clean"

field() { # LINE KEY
    echo "$1" | tr ' ' '\n' | sed -n "s/^$2=//p" | head -n 1
}

print_output() { # NAME
    sed -n "/^HVRPC-VM BEGIN-OUTPUT $1\$/,/^HVRPC-VM END-OUTPUT $1\$/p" "$clean" |
        sed '1d;$d' | sed 's/^/    | /'
}

# The verdict, also kept in $work/summary.txt (the table, the calls, the
# timings) for whoever wants it after a passing ctest run.
report() {
    problems=()
    grep -q 'Kernel panic' "$clean" && problems+=("the guest kernel panicked")
    fatal=$(sed -n 's/^HVRPC-VM FATAL //p' "$clean" | head -n 1)
    [ -n "$fatal" ] && problems+=("guest: $fatal")
    [ "$timed_out" = 1 ] && problems+=("the guest did not power off within ${bound} s (killed)")
    booted=$(grep -m1 '^HVRPC-VM BOOTED' "$clean")
    [ -z "$booted" ] && problems+=("the guest never reported BOOTED")

    echo
    printf '%-22s %-8s %8s %7s\n' STEP RESULT SECONDS CALLS
    total_calls=0
    for n in "${names[@]}"; do
        line=$(grep -m1 "^HVRPC-VM RESULT name=$n " "$clean")
        if [ -z "$line" ]; then
            printf '%-22s %-8s\n' "$n" missing
            problems+=("no result for $n")
            continue
        fi
        st=$(field "$line" status)
        c=$(field "$line" calls)
        printf '%-22s %-8s %8s %7s\n' "$n" "$st" "$(field "$line" seconds)" "$c"
        if [ "$st" = pass ]; then
            total_calls=$((total_calls + c))
        else
            problems+=("$n: $st (exit $(field "$line" rc))")
        fi
    done
    done_line=$(grep -m1 '^HVRPC-VM DONE' "$clean")
    [ -z "$done_line" ] && problems+=("the guest never reported DONE")

    # Steps marked show (the demo), and the output of every failed step.
    while IFS='|' read -r kind name _ _ show _; do
        [ "$kind" = run ] || continue
        if [ "$show" = show ] || grep -q "^HVRPC-VM RESULT name=$name status=[^p]" "$clean"; then
            if grep -q "^HVRPC-VM BEGIN-OUTPUT $name\$" "$clean"; then
                echo
                echo "-- output of $name (in the guest):"
                print_output "$name"
            fi
        fi
    done <"$suite"

    echo
    log "boot to first step: $(field "$booted" uptime) s guest time; whole run $(secs "$run_ms") s (QEMU TCG), preparation $(secs "$prep_ms") s"
    if [ ${#problems[@]} -gt 0 ]; then
        echo
        echo "vm: QEMU exit status $qemu_status; last 40 console lines:"
        grep -v '^HVRPC-VM \(BEGIN\|END\)-OUTPUT' "$clean" | tail -n 40 | sed 's/^/    /'
        for p in "${problems[@]}"; do
            echo "vm: FAILED: $p"
        done
        echo "vm: console log: $console"
        return 1
    fi
    log "all ${#names[@]} steps passed; $total_calls calls crossed AF_VSOCK in the guest"
    return 0
}

report >"$work/summary.txt"
status=$?
cat "$work/summary.txt"
if [ "$bench" = 1 ]; then
    print_output bench | sed 's/^    | //' >"$work/bench.txt"
    log "hvrpc-bench's report: $work/bench.txt"
fi
exit $status
