#!/bin/sh
# guest-init.sh - /init of the hvrpc test guest (busybox sh, PID 1).
#
# Loads the vsock modules in the order the harness computed, runs every
# `run` line of /hvrpc/suite.txt with its time limit, prints one
# machine-readable line per step on the serial console and powers off:
#
#   HVRPC-VM BOOTED uptime=S kernel=RELEASE
#   HVRPC-VM RESULT name=N status=pass|fail|timeout rc=RC seconds=S calls=C
#   HVRPC-VM DONE passed=P failed=F calls=C uptime=S
#   HVRPC-VM FATAL reason            (then power off: the harness fails)
#
# A failed step's output, and the output of a step marked `show`, are
# printed between "HVRPC-VM BEGIN-OUTPUT name" and "HVRPC-VM END-OUTPUT
# name". tests/vm/vm.sh builds the initramfs this runs from.

export PATH=/usr/local/bin:/usr/bin:/bin:/usr/sbin:/sbin
export HOME=/root TMPDIR=/tmp

say() {
    echo "HVRPC-VM $*"
}

halt() {
    sync
    poweroff -f
    sleep 10
}

fatal() {
    say FATAL "$*"
    halt
}

uptime_s() {
    cut -d' ' -f1 /proc/uptime
}

echo # the firmware's last line may lack its newline
mount -t proc proc /proc || fatal "cannot mount /proc"
mount -t sysfs sysfs /sys || fatal "cannot mount /sys"
mount -t devtmpfs devtmpfs /dev 2>/dev/null
mkdir -p /tmp /root /dev/pts /dev/shm
chmod 1777 /tmp
mount -t tmpfs shm /dev/shm 2>/dev/null
ip link set lo up 2>/dev/null

# /hvrpc/modules/order: one module file name per line, dependencies first.
while read -r m; do
    [ -n "$m" ] || continue
    insmod "/hvrpc/modules/$m" || fatal "insmod $m failed"
done </hvrpc/modules/order
say BOOTED "uptime=$(uptime_s)" "kernel=$(uname -r)"

passed=0
failed=0
calls=0
# Each line: run|NAME|TIMEOUT_S|EXPECT|SHOW|COMMAND (EXPECT: text the
# output must contain, or -; SHOW: show or -). Other lines are the
# harness's (copy|...).
while IFS='|' read -r kind name limit expect show cmd; do
    [ "$kind" = run ] || continue
    log=/tmp/vm-$name.log
    t0=$(uptime_s)
    # busybox timeout sends SIGTERM at the limit (exit status 143); the
    # harness's bound on the whole boot holds beyond that.
    timeout "$limit" sh -c "$cmd" </dev/null >"$log" 2>&1
    rc=$?
    t1=$(uptime_s)
    secs=$(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.1f", b - a }')
    n=$(sed -n 's/^calls answered: \([0-9][0-9]*\).*/\1/p' "$log" |
        awk '{ s += $1 } END { print s + 0 }')
    status=pass
    if [ "$rc" -eq 143 ] || [ "$rc" -eq 124 ]; then
        status=timeout
    elif [ "$rc" -ne 0 ]; then
        status=fail
    elif [ "$expect" != - ] && ! grep -qF -- "$expect" "$log"; then
        status=fail
        echo "expected in the output: $expect" >>"$log"
    fi
    if [ "$status" = pass ]; then
        passed=$((passed + 1))
        calls=$((calls + n))
    else
        failed=$((failed + 1))
    fi
    if [ "$status" != pass ] || [ "$show" = show ]; then
        say BEGIN-OUTPUT "$name"
        tail -n 200 "$log"
        say END-OUTPUT "$name"
    fi
    say RESULT "name=$name" "status=$status" "rc=$rc" "seconds=$secs" "calls=$n"
done </hvrpc/suite.txt

say DONE "passed=$passed" "failed=$failed" "calls=$calls" "uptime=$(uptime_s)"
halt
