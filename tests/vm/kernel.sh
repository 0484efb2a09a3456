# kernel.sh - what the VM suites share (sourced by tests/vm/vm.sh and
# tests/vm-nested/nested.sh, bash): Debian's cloud kernel and the modules
# a guest loads, cached per build directory, and copying programs with
# their libraries into an initramfs tree.
#
# The sourcing script sets vm_name (the prefix of its log lines) and SKIP
# (the exit status of a skipped run) before sourcing, and calls
# vm_need_tools first.
#
#   vm_fetch_kernel CACHE FORMAT SET=MODULE,MODULE... ...
#       The linux-image-*-cloud-amd64 that linux-image-cloud-amd64 depends
#       on (apt-get download, unpacked with dpkg-deb; HVRPC_VM_KERNEL_DEB
#       names a local .deb instead), kept in $kdir = CACHE/kernel/PACKAGE:
#       $kdir/vmlinuz, $kdir/release and, per SET, $kdir/SET/*.ko (plain,
#       unsigned) with $kdir/SET/order, the load order (dependencies
#       first). FORMAT is the caller's cache layout: a change of it or of
#       the module lists rebuilds the cache.
#   vm_copy_in DEST FILE
#       FILE into the tree DEST at the same path: an ELF file without its
#       debug info (when strip is there), with the libraries ldd names and
#       the loader; a directory whole.

# --- reporting and the build machine -----------------------------------

skip() { # REASON: the run cannot happen here
    echo "SKIPPED: $*"
    exit "$SKIP"
}

die() {
    echo "$vm_name: FAILED: $*"
    exit 1
}

log() {
    echo "$vm_name: $*"
}

ms_since() { # START_NS
    echo $((($(date +%s%N) - $1) / 1000000))
}

secs() { # MS -> "1.234"
    printf '%d.%03d' $(($1 / 1000)) $(($1 % 1000))
}

# vm_need_tools TOOL:PACKAGE...: QEMU, busybox and each TOOL on PATH, or
# skip naming the package to install; sets qemu and busybox (their paths).
vm_need_tools() {
    qemu=$(command -v qemu-system-x86_64) ||
        skip "qemu-system-x86_64 not found (apt-get install qemu-system-x86)"
    busybox=$(command -v busybox) ||
        skip "busybox not found (apt-get install busybox-static)"
    local tool
    for tool in "$@"; do
        command -v "${tool%:*}" >/dev/null ||
            skip "${tool%:*} not found (apt-get install ${tool#*:})"
    done
}

# --- the kernel -----------------------------------------------------------

vm_meta_pkg=linux-image-cloud-amd64
vm_strip=$(command -v strip || true)

# The "depends=" field of a module's .modinfo section.
vm_module_depends() { # FILE.ko
    tr '\0' '\n' <"$1" | sed -n 's/^depends=//p' | head -n 1 | tr ',' ' '
}

# Drops the signature Debian appends to a module: checking it (RSA) is
# among the slowest things an emulated kernel does, and an unsigned module
# still loads (the kernel notes a taint) when signatures are not enforced,
# as in Debian without Secure Boot.
vm_strip_signature() { # FILE.ko
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
# Modules may ship compressed.
vm_add_module() { # ROOT RELEASE DIR NAME
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
    vm_strip_signature "$out" || return 1
    for dep in $(vm_module_depends "$out"); do
        vm_add_module "$root" "$release" "$dir" "$dep" || return 1
    done
    echo "$name.ko" >>"$dir/order"
}

vm_fetch_kernel() { # CACHE FORMAT SET=MODULE,MODULE...
    local cache=$1 format=$2 deb pkg dl root release spec sub m key
    shift 2
    key="$format $*"
    if [ -n "${HVRPC_VM_KERNEL_DEB:-}" ]; then
        deb=$HVRPC_VM_KERNEL_DEB
        [ -f "$deb" ] || skip "HVRPC_VM_KERNEL_DEB=$deb does not exist"
        pkg=$(dpkg-deb -f "$deb" Package) || skip "$deb is not a .deb"
    else
        command -v apt-cache >/dev/null && command -v apt-get >/dev/null ||
            skip "apt-get not found: the kernel comes from Debian's $vm_meta_pkg"
        pkg=$(apt-cache depends "$vm_meta_pkg" 2>/dev/null |
            sed -n 's/^ *Depends: \(linux-image-[^ ]*-cloud-amd64\)$/\1/p' | head -n 1)
        [ -n "$pkg" ] ||
            skip "apt-cache does not know $vm_meta_pkg (run apt-get update): no kernel"
    fi
    kdir=$cache/kernel/$pkg
    [ "$(cat "$kdir/ready" 2>/dev/null)" = "$key" ] && return 0

    log "preparing the kernel and modules from $pkg (once; cached in $kdir)"
    rm -rf "$kdir" && mkdir -p "$kdir" || die "cannot create $kdir"
    dl=$cache/download
    rm -rf "$dl" && mkdir -p "$dl" || die "cannot create $dl"
    if [ -z "${HVRPC_VM_KERNEL_DEB:-}" ]; then
        # As root, apt would hand the download to its _apt user, who may
        # not write here: download as root instead.
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
    for spec in "$@"; do
        sub=${spec%%=*}
        mkdir -p "$kdir/$sub" && : >"$kdir/$sub/order" || die "cannot create $kdir/$sub"
        for m in $(echo "${spec#*=}" | tr ',' ' '); do
            vm_add_module "$root" "$release" "$kdir/$sub" "$m" ||
                die "$pkg lacks the module $m"
        done
    done
    echo "$release" >"$kdir/release"
    rm -rf "$dl"
    echo "$key" >"$kdir/ready"
}

vm_is_elf() { # FILE
    [ "$(head -c 4 "$1" | od -An -c | tr -d ' ')" = '177ELF' ]
}

vm_copy_in() { # DEST FILE
    local dest=$1 f=$2 lib
    [ -e "$dest$f" ] && return 0
    if [ -d "$f" ]; then
        mkdir -p "$dest$f" && cp -a "$f/." "$dest$f/"
        return
    fi
    mkdir -p "$dest$(dirname "$f")"
    vm_is_elf "$f" || { cp -L "$f" "$dest$f"; return; }
    if [ -z "$vm_strip" ] || ! "$vm_strip" --strip-debug -o "$dest$f" "$f" 2>/dev/null; then
        cp -L "$f" "$dest$f" || return 1
    fi
    chmod --reference="$f" "$dest$f" 2>/dev/null
    # "not a dynamic executable" lists nothing.
    for lib in $(ldd "$f" 2>/dev/null | sed -n 's/.*=> \(\/[^ ]*\) .*/\1/p; s/^[[:space:]]*\(\/[^ ]*\) (.*/\1/p'); do
        vm_copy_in "$dest" "$lib" || return 1
    done
}
