#!/bin/sh
# nested-init.sh - /init of both VMs of the nested suite (busybox sh, PID 1).
#
# /hvrpc/role says which one this is:
#   host   L1: loads vsock + vhost_vsock (+ vsock_loopback), starts the host
#          servers, boots L2 (the guest, CID 3) under its own QEMU with
#          -device vhost-vsock-pci, runs the host steps, powers off.
#          L2's serial console is relayed, line for line as QEMU writes
#          it, to L1's second serial port (/dev/ttyS1), which the harness
#          keeps in its own file; L1 also keeps a copy in /tmp/l2.log to
#          wait on the guest's progress.
#   guest  L2: loads the virtio-vsock driver, starts the guest servers,
#          runs the guest steps, reports, then idles until the host kills
#          its QEMU (the fault step).
#
# /hvrpc/suite.txt, one step per line (tests/vm-nested/CMakeLists.txt):
#   copy|SIDE|PATH                        (the harness's, ignored here)
#   bg|SIDE|NAME|READY|COMMAND            start COMMAND in the background
#                                         (all of a side's at once), wait for
#                                         READY in its output; on
#                                         the host, SIGTERM at the end and
#                                         exit status 0 expected
#   run|SIDE|NAME|TIMEOUT_S|EXPECT|COMMAND  run COMMAND (EXPECT: text its
#                                         output must contain, or -)
#   wait|SIDE|NAME|TIMEOUT_S|TEXT         (host) wait for TEXT on L2's
#                                         console
# SIDE is host or guest. Commands may use $HVRPC_L2_PID (L1: the guest's
# QEMU) and /tmp/bg-NAME.pid (the pid of background step NAME).
#
# Console lines (each VM on its own console):
#   HVRPC-VM BOOTED role=R uptime=S kernel=RELEASE
#   HVRPC-VM RESULT name=N status=pass|fail|timeout rc=RC seconds=S calls=C events=E
#   HVRPC-VM DONE role=R passed=P failed=F calls=C events=E uptime=S
# C: calls that crossed to the other VM ("calls answered: N over vsock" in
# the step's output), E: bus events received from it ("events received:
# N over vsock").
#   HVRPC-VM FATAL reason
# A failed step's output is printed between "HVRPC-VM BEGIN-OUTPUT name"
# and "HVRPC-VM END-OUTPUT name".

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
    [ "$role" = guest ] && idle
    halt
}

idle() {
    while :; do sleep 3600; done
}

# What runs while a step runs costs it time, most of all in L2, where a
# process start takes a good fraction of a second: polling loops use
# shell builtins only (read, case, and read -t on a FIFO nobody writes
# as the pause), no grep, sleep or cat.
uptime_s() {
    read -r up _ </proc/uptime
    echo "$up"
}

pause_fd=
pause() { # SECONDS
    if [ -n "$pause_fd" ]; then
        read -t "$1" -u 9 _
    else
        sleep "$1"
    fi
}

has_text() { # FILE TEXT: whether a line of FILE contains TEXT
    [ -f "$1" ] || return 1
    while IFS= read -r line; do
        case $line in *"$2"*) return 0 ;; esac
    done <"$1"
    return 1
}

echo # the firmware's last line may lack its newline
mount -t proc proc /proc || fatal "cannot mount /proc"
mount -t sysfs sysfs /sys || fatal "cannot mount /sys"
mount -t devtmpfs devtmpfs /dev 2>/dev/null
mkdir -p /tmp /root /dev/pts /dev/shm
chmod 1777 /tmp
mount -t tmpfs shm /dev/shm 2>/dev/null
ip link set lo up 2>/dev/null
read -r role </hvrpc/role
mkfifo /tmp/pause.fifo && exec 9<>/tmp/pause.fifo && pause_fd=9

while read -r m; do
    [ -n "$m" ] || continue
    insmod "/hvrpc/modules/$m" || fatal "insmod $m failed"
done </hvrpc/modules/order
say BOOTED "role=$role" "uptime=$(uptime_s)" "kernel=$(uname -r)"

passed=0
failed=0
calls=0
events=0

# result NAME STATUS RC SECONDS CALLS LOG [EVENTS]
result() {
    if [ "$2" = pass ]; then
        passed=$((passed + 1))
        calls=$((calls + $5))
        events=$((events + ${7:-0}))
    else
        failed=$((failed + 1))
        say BEGIN-OUTPUT "$1"
        tail -n 60 "$6" 2>/dev/null
        say END-OUTPUT "$1"
    fi
    say RESULT "name=$1" "status=$2" "rc=$3" "seconds=$4" "calls=$5" "events=${7:-0}"
}

count() { # WHAT LOG: the sum of the numbers on its "WHAT: N ..." lines
    c=0
    while IFS= read -r line; do
        case $line in
        "$1: "[0-9]*)
            v=${line#"$1: "}
            c=$((c + ${v%%[!0-9]*}))
            ;;
        esac
    done <"$2"
    echo "$c"
}

elapsed() { # T0 (an uptime, two decimals)
    read -r up _ </proc/uptime
    # "1" before the hundredths: "08" is not read as octal.
    d=$(((${up%.*} - ${1%.*}) * 100 + 1${up#*.} - 1${1#*.}))
    echo "$((d / 100)).$((d % 100 / 10))"
}

# bg NAME READY COMMAND: starts it (its pid in /tmp/bg-NAME.pid, READY
# remembered); wait_bgs then waits for every one started, so that slow
# process starts (L2) overlap.
bg_names=
start_bg() {
    (eval "exec $3") </dev/null >"/tmp/bg-$1.log" 2>&1 9<&- &
    echo $! >"/tmp/bg-$1.pid"
    printf '%s\n' "$2" >"/tmp/bg-$1.ready"
    uptime_s >"/tmp/bg-$1.t0"
    bg_names="$bg_names $1"
}

wait_bgs() {
    for b in $bg_names; do
        log=/tmp/bg-$b.log
        read -r ready <"/tmp/bg-$b.ready"
        read -r pid <"/tmp/bg-$b.pid"
        read -r t0 <"/tmp/bg-$b.t0"
        i=0
        while ! has_text "$log" "$ready"; do
            i=$((i + 1))
            if [ $i -gt 450 ] || ! kill -0 "$pid" 2>/dev/null; then
                echo "no '$ready' from $b within $((i / 5)) s" >>"$log"
                result "start_$b" fail 1 "$(elapsed "$t0")" 0 "$log"
                continue 2
            fi
            pause 0.2
        done
        result "start_$b" pass 0 "$(elapsed "$t0")" 0 "$log"
    done
}

run_step() { # NAME TIMEOUT EXPECT COMMAND
    log=/tmp/run-$1.log
    t0=$(uptime_s)
    # busybox timeout sends SIGTERM at the limit (exit status 143).
    timeout "$2" sh -c "exec $4" </dev/null >"$log" 2>&1 9<&-
    rc=$?
    n=$(count 'calls answered' "$log")
    ev=$(count 'events received' "$log")
    st=pass
    if [ "$rc" -eq 143 ] || [ "$rc" -eq 124 ]; then
        st=timeout
    elif [ "$rc" -ne 0 ]; then
        st=fail
    elif [ "$3" != - ] && ! has_text "$log" "$3"; then
        st=fail
        echo "expected in the output: $3" >>"$log"
    fi
    result "$1" "$st" "$rc" "$(elapsed "$t0")" "$n" "$log" "$ev"
}

wait_step() { # NAME TIMEOUT TEXT
    log=/tmp/wait-$1.log
    t0=$(uptime_s)
    i=0
    while ! has_text /tmp/l2.log "$3"; do
        i=$((i + 1))
        if [ $i -gt $(($2 * 5)) ]; then
            echo "no '$3' on the guest's console within $2 s" >"$log"
            result "$1" timeout 124 "$(elapsed "$t0")" 0 "$log"
            return
        fi
        pause 0.2
    done
    result "$1" pass 0 "$(elapsed "$t0")" 0 "$log"
}

# steps KIND...: runs this side's steps of the given kinds, in order.
steps() {
    kinds=" $* "
    while IFS='|' read -r kind side name a b c; do
        [ "$side" = "$role" ] || continue
        case $kinds in *" $kind "*) ;; *) continue ;; esac
        case $kind in
        bg) start_bg "$name" "$a" "$b" ;;
        run) run_step "$name" "$a" "$b" "$c" ;;
        wait) wait_step "$name" "$a" "$b" ;;
        esac
    done </hvrpc/suite.txt
}

if [ "$role" = guest ]; then
    steps bg
    wait_bgs
    steps run
    say DONE "role=guest" "passed=$passed" "failed=$failed" "calls=$calls" "events=$events" "uptime=$(uptime_s)"
    # The host kills this VM (the fault step); until then the servers serve.
    idle
fi

[ "$role" = host ] || fatal "no role in /hvrpc/role"
[ -c /dev/vhost-vsock ] || fatal "no /dev/vhost-vsock after loading vhost_vsock"
steps bg
wait_bgs

# L2: its console to /tmp/l2.log and, live, to L1's second serial port.
stty -F /dev/ttyS1 raw -echo 2>/dev/null
mkfifo /tmp/l2.fifo || fatal "mkfifo failed"
tee /tmp/l2.log </tmp/l2.fifo >/dev/ttyS1 &
relay=$!
t_l2=$(uptime_s)
qemu-system-x86_64 -accel tcg -m "$(cat /hvrpc/l2/mem)" -smp 1 \
    -nodefaults -no-reboot -display none -vga none -serial stdio \
    -kernel /hvrpc/l2/vmlinuz -initrd /hvrpc/l2/initrd \
    -append "$(cat /hvrpc/l2/append)" \
    -device virtio-rng-pci -device vhost-vsock-pci,guest-cid=3 \
    </dev/null >/tmp/l2.fifo 2>&1 &
export HVRPC_L2_PID=$!
say L2-STARTED "pid=$HVRPC_L2_PID" "uptime=$t_l2"

steps run wait

# The guest's QEMU should be gone (the fault step); make sure.
if kill -0 "$HVRPC_L2_PID" 2>/dev/null; then
    kill -KILL "$HVRPC_L2_PID" 2>/dev/null
    say NOTE "the guest was still running at the end: killed"
fi
# The host servers end cleanly (SIGTERM -> exit 0), having served guests
# that vanished.
for n in $bg_names; do
    pid=$(cat "/tmp/bg-$n.pid")
    log=/tmp/bg-$n.log
    t0=$(uptime_s)
    kill -TERM "$pid" 2>/dev/null
    i=0
    while kill -0 "$pid" 2>/dev/null && [ $i -lt 100 ]; do
        i=$((i + 1))
        sleep 0.1
    done
    if kill -0 "$pid" 2>/dev/null; then
        kill -KILL "$pid"
        echo "still running 10 s after SIGTERM" >>"$log"
        rc=137
    else
        wait "$pid"
        rc=$?
    fi
    st=pass
    [ "$rc" -eq 0 ] || st=fail
    result "stop_$n" "$st" "$rc" "$(elapsed "$t0")" 0 "$log"
done
sleep 1 # the relay's last lines
kill "$relay" 2>/dev/null
say DONE "role=host" "passed=$passed" "failed=$failed" "calls=$calls" "events=$events" "uptime=$(uptime_s)"
halt
