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
# Environment: HVRPC_NESTED_TIMEOUT (seconds for the whole run, default
# 340: ctest gives the test 360), HVRPC_NESTED_L1_MEM (MiB, 1536),
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
bound=${HVRPC_NESTED_TIMEOUT:-340}
l1_mem=${HVRPC_NESTED_L1_MEM:-1536}
l2_mem=${HVRPC_NESTED_L2_MEM:-256}
# L2's kernel command line: acpi=off halves its boot (no ACPI tables to
# interpret; virtio-pci works from the MP tables with MSI-X).
l2_append=${HVRPC_NESTED_L2_APPEND:-console=ttyS0 panic=-1 quiet acpi=off mitigations=off tsc=reliable no_timer_check audit=0}
meta_pkg=linux-image-cloud-amd64
l1_modules=(vsock vmw_vsock_virtio_transport_common vhost_iotlb vhost vhost_vsock vsock_loopback)
# virtio-rng: L2 has no RDRAND under TCG, and without a hardware RNG its
# random pool takes a minute or more to be ready (getrandom() blocks).
l2_modules=(virtio virtio_ring virtio_pci_modern_dev virtio_pci_legacy_dev virtio_pci
    virtio-rng vsock vmw_vsock_virtio_transport_common vmw_vsock_virtio_transport)
# The layout of the kernel cache; a new one rebuilds it.
cache_format=2

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

skip() {
    echo "SKIPPED: $*"
    exit $SKIP
}

die() {
    echo "vm-nested: FAILED: $*"
    exit 1
}

log() {
    echo "vm-nested: $*"
}

ms_since() { # START_NS
    echo $((($(date +%s%N) - $1) / 1000000))
}

secs() { # MS -> "1.234"
    printf '%d.%03d' $(($1 / 1000)) $(($1 % 1000))
}

# --- what the build machine needs ---------------------------------------

qemu=$(command -v qemu-system-x86_64) ||
    skip "qemu-system-x86_64 not found (apt-get install qemu-system-x86)"
busybox=$(command -v busybox) ||
    skip "busybox not found (apt-get install busybox-static)"
for tool in cpio:cpio dpkg-deb:dpkg ldd:libc-bin; do
    command -v "${tool%:*}" >/dev/null ||
        skip "${tool%:*} not found (apt-get install ${tool#*:})"
done
strip=$(command -v strip || true)

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

module_depends() { # FILE.ko
    tr '\0' '\n' <"$1" | sed -n 's/^depends=//p' | head -n 1 | tr ',' ' '
}

# Drops the signature Debian appends to a module: checking it (RSA) is
# among the slowest things a doubly emulated kernel does, and an unsigned
# module still loads (the kernel notes a taint) when signatures are not
# enforced, as in Debian without Secure Boot.
strip_signature() { # FILE.ko
    local f=$1 size siglen
    [ "$(tail -c 28 "$f" | head -c 27)" = "~Module signature appended~" ] || return 0
    size=$(stat -c %s "$f")
    # struct module_signature (12 bytes, sig_len big-endian at its end)
    # sits between the signature and the magic.
    siglen=$(tail -c 32 "$f" | head -c 4 | od -An -tu1 |
        awk '{ print $1 * 16777216 + $2 * 65536 + $3 * 256 + $4 }')
    [ "$siglen" -gt 0 ] && [ "$siglen" -lt "$size" ] || return 1
    truncate -s $((size - 28 - 12 - siglen)) "$f"
}

# Puts module NAME (dependencies first) into DIR, appending to DIR/order.
add_module() { # ROOT RELEASE DIR NAME
    local root=$1 release=$2 dir=$3 name=$4 f dep out
    grep -qxF "$name.ko" "$dir/order" 2>/dev/null && return 0
    f=$(find "$root/lib/modules/$release" \( -name "$name.ko" -o -name "$name.ko.xz" \
        -o -name "$name.ko.zst" -o -name "$name.ko.gz" \) | head -n 1)
    [ -n "$f" ] || return 1
    out=$dir/$name.ko
    case $f in
    *.xz) xz -dc "$f" >"$out" 2>/dev/null || "$busybox" xzcat "$f" >"$out" || return 1 ;;
    *.zst) zstd -dcq "$f" >"$out" || return 1 ;;
    *.gz) gzip -dc "$f" >"$out" || return 1 ;;
    *) cp "$f" "$out" || return 1 ;;
    esac
    strip_signature "$out" || return 1
    for dep in $(module_depends "$out"); do
        add_module "$root" "$release" "$dir" "$dep" || return 1
    done
    echo "$name.ko" >>"$dir/order"
}

# The vm suite's kernel package, downloaded once per build directory: when
# the vm suite has kept it (tests/vm/cache), that copy is used.
fetch_kernel() {
    local deb pkg dl root release m
    if [ -n "${HVRPC_VM_KERNEL_DEB:-}" ]; then
        deb=$HVRPC_VM_KERNEL_DEB
        [ -f "$deb" ] || skip "HVRPC_VM_KERNEL_DEB=$deb does not exist"
        pkg=$(dpkg-deb -f "$deb" Package) || skip "$deb is not a .deb"
    else
        command -v apt-cache >/dev/null && command -v apt-get >/dev/null ||
            skip "apt-get not found: the kernel comes from Debian's $meta_pkg"
        pkg=$(apt-cache depends "$meta_pkg" 2>/dev/null |
            sed -n 's/^ *Depends: \(linux-image-[^ ]*-cloud-amd64\)$/\1/p' | head -n 1)
        [ -n "$pkg" ] ||
            skip "apt-cache does not know $meta_pkg (run apt-get update): no kernel"
    fi
    kdir=$cache/kernel/$pkg
    [ "$(cat "$kdir/ready" 2>/dev/null)" = "$cache_format" ] && return 0

    log "preparing the kernel and modules from $pkg (once; cached in $kdir)"
    rm -rf "$kdir" && mkdir -p "$kdir/l1" "$kdir/l2" || die "cannot create $kdir"
    dl=$cache/download
    rm -rf "$dl" && mkdir -p "$dl" || die "cannot create $dl"
    if [ -z "${HVRPC_VM_KERNEL_DEB:-}" ]; then
        local sandbox=()
        [ "$(id -u)" -eq 0 ] && sandbox=(-o APT::Sandbox::User=root)
        if ! (cd "$dl" && apt-get download -q "${sandbox[@]}" "$pkg") \
            >"$dl/apt.log" 2>&1; then
            sed 's/^/    /' "$dl/apt.log" | tail -n 5
            rm -rf "$kdir"
            skip "apt-get download $pkg failed: no kernel"
        fi
        deb=$(ls "$dl"/*.deb 2>/dev/null | head -n 1)
        [ -n "$deb" ] || skip "apt-get download $pkg left no .deb"
    fi
    root=$dl/root
    dpkg-deb -x "$deb" "$root" || die "dpkg-deb -x $deb failed"
    release=$(ls "$root/lib/modules" 2>/dev/null | head -n 1)
    [ -n "$release" ] || die "$pkg holds no /lib/modules"
    cp "$root/boot/vmlinuz-$release" "$kdir/vmlinuz" || die "$pkg holds no vmlinuz"
    : >"$kdir/l1/order"
    : >"$kdir/l2/order"
    for m in "${l1_modules[@]}"; do
        add_module "$root" "$release" "$kdir/l1" "$m" || die "$pkg lacks the module $m"
    done
    for m in "${l2_modules[@]}"; do
        add_module "$root" "$release" "$kdir/l2" "$m" || die "$pkg lacks the module $m"
    done
    echo "$release" >"$kdir/release"
    rm -rf "$dl"
    echo "$cache_format" >"$kdir/ready"
}

# --- initramfs -------------------------------------------------------------

is_elf() {
    [ "$(head -c 4 "$1" | od -An -c | tr -d ' ')" = '177ELF' ]
}

# Copies F into the tree DEST at the same path; an ELF file without its
# debug info, and with the libraries ldd names and the loader.
copy_in() { # DEST F
    local dest=$1 f=$2 lib
    [ -e "$dest$f" ] && return 0
    if [ -d "$f" ]; then
        mkdir -p "$dest$f" && cp -a "$f/." "$dest$f/"
        return
    fi
    mkdir -p "$dest$(dirname "$f")"
    is_elf "$f" || { cp -L "$f" "$dest$f"; return; }
    if [ -z "$strip" ] || ! "$strip" --strip-debug -o "$dest$f" "$f" 2>/dev/null; then
        cp -L "$f" "$dest$f" || return 1
    fi
    chmod --reference="$f" "$dest$f" 2>/dev/null
    for lib in $(ldd "$f" 2>/dev/null | sed -n 's/.*=> \(\/[^ ]*\) .*/\1/p; s/^[[:space:]]*\(\/[^ ]*\) (.*/\1/p'); do
        copy_in "$dest" "$lib" || return 1
    done
}

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
    local side file n line st c label
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
    printf '%-6s %-22s %-8s %8s %7s\n' SIDE STEP RESULT SECONDS CALLS
    calls_host=0
    calls_guest=0
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
            printf '%-6s %-22s %-8s %8s %7s\n' "$side" "$n" "$st" "$(field "$line" seconds)" "$c"
            if [ "$st" = pass ]; then
                if [ $side = host ]; then
                    calls_host=$((calls_host + c))
                else
                    calls_guest=$((calls_guest + c))
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
    return 0
}

rm -f "$work/failed.txt"
report >"$work/summary.txt"
status=$?
cat "$work/summary.txt"
exit $status
