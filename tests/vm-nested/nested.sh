#!/usr/bin/env bash
# nested.sh - host and guest across real virtio-vsock: boot a QEMU guest
# (L1, "the host") that boots a QEMU guest of its own (L2, "the guest",
# CID 3) through vhost-vsock, and run hvrpc's programs on both sides.
#
#   tests/vm-nested/nested.sh SUITE CACHE_DIR
#
# SUITE (written by tests/vm-nested/CMakeLists.txt; the format is in
# nested-init.sh) has copy|SIDE|PATH, bg|SIDE|..., run|SIDE|... and
# wait|SIDE|... lines, SIDE host (L1) or guest (L2). Every absolute path in
# a command that exists here goes into that side's initramfs at the same
# path; dynamically linked programs bring the libraries ldd names and the
# loader (debug info stripped when strip is there).
#
# Both VMs run Debian's cloud kernel, the same package as the vm suite's
# (fetched with apt-get download, cached under CACHE_DIR with the modules
# each side needs): L1 loads vsock, vhost_vsock (+ vhost, vhost_iotlb) and
# vsock_loopback, and has qemu-system-x86_64, its libraries, the TCG
# accelerator module, SeaBIOS and the option ROMs it needs; L2 loads the
# virtio-pci stack and vmw_vsock_virtio_transport. L1's serial console is
# CACHE_DIR/run/console.log, L2's (relayed by L1 through its second
# serial port) CACHE_DIR/run/l2-console.log.
#
# Exit status: 0 every step on both sides passed; 1 a step failed or has
# no result, a kernel panicked, a VM reported FATAL or the run passed its
# bound (the consoles' tails are printed); 77 SKIPPED (QEMU, busybox or
# the kernel package missing), with the reason.
#
# Environment: HVRPC_NESTED_TIMEOUT (seconds for the run of L1, default
# 225: ctest gives the whole test 240), HVRPC_NESTED_L1_MEM (MiB, 1536),
# HVRPC_NESTED_L2_MEM (MiB, 256), HVRPC_NESTED_L2_APPEND (L2's kernel
# command line), HVRPC_VM_KERNEL_DEB (a local kernel .deb),
# HVRPC_VM_VERBOSE=1 (stream both consoles while running).
set -u -o pipefail

SKIP=77
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
suite=${1:-}
cache=${2:-}
if [ -z "$suite" ] || [ -z "$cache" ] || [ ! -f "$suite" ]; then
    echo "usage: $0 SUITE CACHE_DIR" >&2
    exit 2
fi
bound=${HVRPC_NESTED_TIMEOUT:-225}
l1_mem=${HVRPC_NESTED_L1_MEM:-1536}
l2_mem=${HVRPC_NESTED_L2_MEM:-256}
# L2's kernel command line: acpi=off halves its boot (no ACPI tables to
# interpret; virtio-pci works from the MP tables with MSI-X). The rest
# skips the slowest initcalls that nothing here needs (measured with
# initcall_debug, docs/TESTING.md): the crypto self-tests (~5 s in L2),
# kprobe and trace-eval setup (~2.5 s), parsing the built-in X.509
# certificates (~1.5 s; the modules are unsigned anyway).
l2_append=${HVRPC_NESTED_L2_APPEND:-console=ttyS0 panic=-1 quiet acpi=off mitigations=off tsc=reliable no_timer_check audit=0 cryptomgr.notests initcall_blacklist=crypto_kdf108_init,init_kprobe_trace,trace_eval_init,load_system_certificate_list}
l1_modules=(vsock vmw_vsock_virtio_transport_common vhost_iotlb vhost vhost_vsock vsock_loopback)
# virtio-rng: L2 has no RDRAND under TCG, and without a hardware RNG its
# random pool takes a minute or more to be ready (getrandom() blocks).
l2_modules=(virtio virtio_ring virtio_pci_modern_dev virtio_pci_legacy_dev virtio_pci
    virtio-rng vsock vmw_vsock_virtio_transport_common vmw_vsock_virtio_transport)
# The layout of the kernel cache; a new one rebuilds it.
cache_format=3

work=
qemu_pid=
tails=()
t_start=$(date +%s%N)

cleanup() {
    if [ -n "$qemu_pid" ]; then
        kill -KILL "$qemu_pid" 2>/dev/null
        wait "$qemu_pid" 2>/dev/null
    fi
    for p in "${tails[@]}"; do kill "$p" 2>/dev/null; done
    [ -n "$work" ] && rm -rf "$work/l1" "$work/l2" "$work/l2.cpio"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

vm_name=vm-nested
# skip, die, log, ms_since, secs, vm_need_tools, vm_fetch_kernel,
# vm_copy_in: shared by both VM suites.
. "$here/../vm/kernel.sh"

# --- what the build machine needs ---------------------------------------

vm_need_tools cpio:cpio dpkg-deb:dpkg ldd:libc-bin

# What L1's QEMU needs besides its libraries: the TCG accelerator (a
# module in Debian's build), the BIOS and the ROMs for -kernel.
qemu_moddir=/usr/lib/x86_64-linux-gnu/qemu
qemu_files=("$qemu" "$qemu_moddir/accel-tcg-x86_64.so")
for rom in bios-256k.bin kvmvapic.bin linuxboot_dma.bin linuxboot.bin multiboot_dma.bin pvh.bin; do
    f=
    for d in /usr/share/qemu /usr/share/seabios; do
        [ -e "$d/$rom" ] && { f=$d/$rom; break; }
    done
    [ -n "$f" ] || skip "QEMU's $rom not found (apt-get install qemu-system-x86 seabios)"
    qemu_files+=("$f")
done
[ -f "$qemu_moddir/accel-tcg-x86_64.so" ] ||
    skip "$qemu_moddir/accel-tcg-x86_64.so not found (qemu-system-x86)"

mkdir -p "$cache" || die "cannot create $cache"
cache=$(cd "$cache" && pwd)
work=$cache/run
mkdir -p "$work"

# --- the kernel and the modules of both sides (cached) -------------------


fetch_kernel() {
    vm_fetch_kernel "$cache" "$cache_format" \
        "l1=$(echo "${l1_modules[@]}" | tr ' ' ',')" "l2=$(echo "${l2_modules[@]}" | tr ' ' ',')"
}

copy_in() { # DEST F
    vm_copy_in "$@"
}

# --- initramfs -------------------------------------------------------------

# A root for SIDE: busybox, the modules, /init, the suite, the side's
# programs and copy paths.
make_tree() { # DIR SIDE
    local d=$1 side=$2 applet kind s rest cmd word
    rm -rf "$d" && mkdir -p "$d"/{bin,sbin,proc,sys,dev,tmp,root,etc,hvrpc/modules} ||
        die "cannot create $d"
    copy_in "$d" "$busybox" || die "cannot copy $busybox"
    [ "$busybox" = /bin/busybox ] || cp -L "$busybox" "$d/bin/busybox"
    for applet in $("$busybox" --list); do
        [ -e "$d/bin/$applet" ] || ln -s busybox "$d/bin/$applet"
    done
    cp "$kdir/$3"/*.ko "$kdir/$3/order" "$d/hvrpc/modules/" || die "cannot copy the modules"
    echo "root:x:0:0:root:/root:/bin/sh" >"$d/etc/passwd"
    echo "root:x:0:" >"$d/etc/group"
    cp "$here/nested-init.sh" "$d/init" && chmod 755 "$d/init" || die "no init"
    cp "$suite" "$d/hvrpc/suite.txt" || die "cannot copy $suite"
    echo "$side" >"$d/hvrpc/role"
    while IFS='|' read -r kind s rest; do
        [ "$s" = "$side" ] || continue
        case $kind in
        copy)
            [ -e "$rest" ] || die "suite: $rest does not exist"
            copy_in "$d" "$rest" || die "cannot copy $rest into $side"
            continue
            ;;
        bg) cmd=$(echo "$rest" | cut -d'|' -f3-) ;;
        run) cmd=$(echo "$rest" | cut -d'|' -f4-) ;;
        *) continue ;;
        esac
        for word in $cmd; do
            case $word in
            /*) [ -f "$word" ] && { copy_in "$d" "$word" || die "cannot copy $word"; } ;;
            esac
        done
    done <"$suite"
}

pack() { # DIR OUT
    (cd "$1" && find . | LC_ALL=C sort | cpio -o -H newc --quiet -R 0:0) >"$2" ||
        die "cannot pack $1"
}

fetch_kernel
t_prep=$(date +%s%N)
# L2 first: its kernel and initramfs travel inside L1's.
make_tree "$work/l2" guest l2
pack "$work/l2" "$work/l2.cpio"
make_tree "$work/l1" host l1
for f in "${qemu_files[@]}"; do
    copy_in "$work/l1" "$f" || die "cannot copy $f into the host"
done
# QEMU looks for its firmware under /usr/share/qemu (and seabios).
mkdir -p "$work/l1/usr/share/qemu" "$work/l1/hvrpc/l2"
for f in "${qemu_files[@]}"; do
    case $f in
    /usr/share/seabios/*) cp -L "$f" "$work/l1/usr/share/qemu/" ;;
    esac
done
cp "$kdir/vmlinuz" "$work/l1/hvrpc/l2/vmlinuz" &&
    mv "$work/l2.cpio" "$work/l1/hvrpc/l2/initrd" &&
    echo "$l2_mem" >"$work/l1/hvrpc/l2/mem" &&
    echo "$l2_append" >"$work/l1/hvrpc/l2/append" || die "cannot put L2 into L1"
pack "$work/l1" "$work/initrd"
rm -rf "$work/l1" "$work/l2"
prep_ms=$((($(date +%s%N) - t_start) / 1000000))

# The step names of each side, in order, as the VMs report them.
host_names=()
guest_names=()
while IFS='|' read -r kind side name _; do
    case $kind in
    bg) n=start_$name ;;
    run | wait) n=$name ;;
    *) continue ;;
    esac
    if [ "$side" = host ]; then host_names+=("$n"); else guest_names+=("$n"); fi
done <"$suite"
while IFS='|' read -r kind side name _; do
    [ "$kind" = bg ] && [ "$side" = host ] && host_names+=("stop_$name")
done <"$suite"

console=$work/console.log
l2_console=$work/l2-console.log
: >"$l2_console"
log "booting L1 (TCG, 2 vCPUs, ${l1_mem} MiB, initrd $(($(stat -c %s "$work/initrd") / 1048576)) MiB) which boots L2 (CID 3, ${l2_mem} MiB): ${#host_names[@]} host and ${#guest_names[@]} guest steps, at most ${bound} s"
t_boot=$(date +%s%N)
# L1's first serial port is its console (QEMU's stdout), the second
# carries L2's console. No network, no disk.
"$qemu" -accel tcg -m "$l1_mem" -smp 2 -display none -vga none -monitor none \
    -no-reboot -nic none -serial stdio -serial "file:$l2_console" \
    -kernel "$kdir/vmlinuz" -initrd "$work/initrd" \
    -append "console=ttyS0 panic=-1 quiet" </dev/null >"$console" 2>&1 &
qemu_pid=$!
if [ "${HVRPC_VM_VERBOSE:-0}" = 1 ]; then
    tail -n +1 -f "$console" --pid "$qemu_pid" | sed -u 's/^/L1| /' &
    tails+=($!)
    tail -n +1 -f "$l2_console" --pid "$qemu_pid" | sed -u 's/^/L2| /' &
    tails+=($!)
fi
timed_out=0
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

# The consoles without carriage returns and terminal escapes; a result
# line may follow firmware text that ended without a newline.
clean_console() { # IN OUT
    tr -d '\r' <"$1" | sed 's/\x1b\[[0-9;?]*[a-zA-Z]//g; s/\x1bc//g' |
        sed 's/^.\{1,\}\(HVRPC-VM [A-Z0-9-]* \)/\1/' >"$2"
}
clean1=$work/console.txt
clean2=$work/l2-console.txt
clean_console "$console" "$clean1"
clean_console "$l2_console" "$clean2"

field() { # LINE KEY
    echo "$1" | tr ' ' '\n' | sed -n "s/^$2=//p" | head -n 1
}

print_output() { # FILE NAME
    sed -n "/^HVRPC-VM BEGIN-OUTPUT $2\$/,/^HVRPC-VM END-OUTPUT $2\$/p" "$1" |
        sed '1d;$d' | sed 's/^/    | /'
}

report() {
    problems=()
    local side file n line st c e label
    grep -aq 'Kernel panic' "$clean1" && problems+=("L1 (host) kernel panicked")
    grep -aq 'Kernel panic' "$clean2" && problems+=("L2 (guest) kernel panicked")
    for side in host guest; do
        if [ $side = host ]; then file=$clean1; label="L1 (host)"; else file=$clean2; label="L2 (guest)"; fi
        line=$(grep -a '^HVRPC-VM FATAL ' "$file" | sed 's/^HVRPC-VM FATAL //'  | head -n 1)
        [ -n "$line" ] && problems+=("$label: $line")
        grep -aq '^HVRPC-VM BOOTED' "$file" || problems+=("$label never reported BOOTED")
        grep -aq "^HVRPC-VM DONE role=$side" "$file" || problems+=("$label never reported DONE")
    done
    [ "$timed_out" = 1 ] && problems+=("the run passed its bound of ${bound} s (L1 killed)")

    echo
    printf '%-6s %-22s %-8s %8s %7s %7s\n' SIDE STEP RESULT SECONDS CALLS EVENTS
    calls_host=0
    calls_guest=0
    events_host=0
    events_guest=0
    for side in guest host; do
        if [ $side = host ]; then
            file=$clean1
            set -- "${host_names[@]}"
        else
            file=$clean2
            set -- "${guest_names[@]}"
        fi
        for n in "$@"; do
            line=$(grep -a -m1 "^HVRPC-VM RESULT name=$n " "$file")
            if [ -z "$line" ]; then
                printf '%-6s %-22s %-8s\n' "$side" "$n" missing
                problems+=("no result for $side step $n")
                continue
            fi
            st=$(field "$line" status)
            c=$(field "$line" calls)
            e=$(field "$line" events)
            printf '%-6s %-22s %-8s %8s %7s %7s\n' "$side" "$n" "$st" "$(field "$line" seconds)" "$c" "${e:-0}"
            if [ "$st" = pass ]; then
                # Calls go from the side that made them; events were
                # received on this side, from the other.
                if [ $side = host ]; then
                    calls_host=$((calls_host + c))
                    events_host=$((events_host + ${e:-0}))
                else
                    calls_guest=$((calls_guest + c))
                    events_guest=$((events_guest + ${e:-0}))
                fi
            else
                problems+=("$side step $n: $st (exit $(field "$line" rc))")
                echo "-- output of $n (in the $side):" >>"$work/failed.txt"
                print_output "$file" "$n" >>"$work/failed.txt"
            fi
        done
    done
    if [ -s "$work/failed.txt" ]; then
        echo
        cat "$work/failed.txt"
    fi

    local booted1 booted2 l2start gdone
    booted1=$(grep -a -m1 '^HVRPC-VM BOOTED' "$clean1")
    booted2=$(grep -a -m1 '^HVRPC-VM BOOTED' "$clean2")
    l2start=$(grep -a -m1 '^HVRPC-VM L2-STARTED' "$clean1")
    gdone=$(grep -a -m1 '^HVRPC-VM DONE role=guest' "$clean2")
    echo
    log "L1 booted at $(field "$booted1" uptime) s (its uptime), started L2 at $(field "$l2start" uptime) s; L2 booted at $(field "$booted2" uptime) s and finished its steps at $(field "$gdone" uptime) s (L2 uptime); whole run $(secs "$run_ms") s, preparation $(secs "$prep_ms") s"
    if [ ${#problems[@]} -gt 0 ]; then
        echo
        echo "vm-nested: L1 QEMU exit status $qemu_status; last 30 lines of L1's console:"
        grep -av '^HVRPC-VM \(BEGIN\|END\)-OUTPUT' "$clean1" | tail -n 30 | sed 's/^/    L1| /'
        echo "vm-nested: last 30 lines of L2's console:"
        grep -av '^HVRPC-VM \(BEGIN\|END\)-OUTPUT' "$clean2" | tail -n 30 | sed 's/^/    L2| /'
        for p in "${problems[@]}"; do
            echo "vm-nested: FAILED: $p"
        done
        echo "vm-nested: consoles: $console $l2_console"
        return 1
    fi
    log "all $((${#host_names[@]} + ${#guest_names[@]})) steps passed over virtio-vsock (vhost-vsock, host CID 2, guest CID 3)"
    log "calls that crossed the host/guest boundary: guest -> host $calls_guest, host -> guest $calls_host"
    log "bus events that crossed it (broker on the host): guest -> host $events_host, host -> guest $events_guest"
    return 0
}

rm -f "$work/failed.txt"
report >"$work/summary.txt"
status=$?
cat "$work/summary.txt"
exit $status
