#!/usr/bin/env bash
# dev.sh - the two commands of README.md, and the steps behind them.
#
#   ./dev.sh demo    install what is missing, build, run the demo
#                    (--vm: inside a QEMU guest, over real AF_VSOCK)
#   ./dev.sh test    install what is missing, build (plain and ASan+UBSan),
#                    run the whole test suite in both builds, the
#                    concurrency suites under ThreadSanitizer, then build
#                    the libFuzzer targets (clang) and run each briefly
#   ./dev.sh deps | build | asan | tsan | fuzz    the single steps
#
# Runs on a fresh Debian 12 machine as root; everything comes from Debian's
# packages. Warnings are errors in every build made here.
set -euo pipefail
cd "$(dirname "$0")"

# Build tools, protobuf-c and protoc, and the real peers the tests use:
# containerd's Go ttrpc (GOPATH mode, offline).
PACKAGES=(
  gcc libc6-dev make cmake pkg-config
  libprotobuf-c-dev protobuf-c-compiler protobuf-compiler libprotobuf-dev libprotoc-dev
  golang-go golang-github-containerd-ttrpc-dev golang-github-mdlayher-vsock-dev
  procps clang-format git valgrind
  qemu-system-x86 busybox-static cpio
  g++ libgrpc++-dev protobuf-compiler-grpc gnuplot-nox
  libjansson-dev libsqlite3-dev
  nats-server libnats-dev openssl
  clang libclang-rt-14-dev
  gcc-mingw-w64-x86-64-posix wine wine64 dpkg-dev
)

deps() {
  local missing=()
  for p in "${PACKAGES[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
  done
  [ ${#missing[@]} -eq 0 ] && return 0
  if [ "$(id -u)" -ne 0 ]; then
    echo "dev.sh: missing Debian packages: ${missing[*]} (run as root, or install them)" >&2
    exit 1
  fi
  echo "dev.sh: installing ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
}

JOBS=$(nproc 2>/dev/null || echo 2)

configure_build() { # DIR [cmake args...]
  local dir=$1; shift
  cmake -S . -B "$dir" -DCMAKE_BUILD_TYPE=RelWithDebInfo -DHVRPC_WERROR=ON "$@" >/dev/null
  cmake --build "$dir" -j "$JOBS"
}

build() { configure_build build; }
asan() { configure_build build-asan -DHVRPC_SANITIZE=ON; }
# ThreadSanitizer, for the suites that exercise concurrency.
tsan() {
  configure_build build-tsan -DHVRPC_SANITIZE_THREAD=ON \
    -DHVRPC_INTEROP=OFF -DHVRPC_BUILD_BENCH=OFF
}
# libFuzzer targets (tests/fuzz) with clang, ASan+UBSan; only they build.
fuzz() {
  configure_build build-fuzz -DCMAKE_C_COMPILER=clang -DHVRPC_FUZZ=ON \
    -DHVRPC_INTEROP=OFF -DHVRPC_BUILD_BENCH=OFF
}

run_tests() { # DIR
  # halt_on_error: a sanitizer report fails the test that caused it.
  ASAN_OPTIONS=detect_leaks=1:halt_on_error=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
    ctest --test-dir "$1" --output-on-failure -j "$JOBS"
}

case "${1:-}" in
  deps) deps ;;
  build) deps; build ;;
  asan) deps; asan ;;
  tsan) deps; tsan ;;
  fuzz) deps; fuzz ;;
  demo) deps; build; tools/demo.sh ${2:+"$2"} build/tools/hvrpc/hvrpc ;;
  test)
    deps
    build
    run_tests build
    # The VM suite's tally: how many calls crossed real AF_VSOCK.
    cat build/tests/vm/cache/run/summary.txt 2>/dev/null || true
    cat build/tests/vm-nested/cache/run/summary.txt 2>/dev/null || true
    asan
    run_tests build-asan
    tsan
    TSAN_OPTIONS=halt_on_error=1 ctest --test-dir build-tsan --output-on-failure \
      -j "$JOBS" -L 'integration|streaming|security|fault' -LE 'vm|windows'
    # Each fuzz target for HVRPC_FUZZ_SECONDS (15) on its committed corpus.
    fuzz
    ctest --test-dir build-fuzz -L fuzz --output-on-failure -j "$JOBS"
    echo "dev.sh: all tests passed (plain, ASan+UBSan and TSan builds, fuzz targets)"
    ;;
  *)
    sed -n '2,12p' "$0" | sed 's/^# \{0,1\}//'
    exit 64
    ;;
esac
