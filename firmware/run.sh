#!/usr/bin/env bash
# normkern on emulated microcontrollers: builds the test firmware for a Cortex-M4F
# (qemu-system-arm -M mps2-an386) and an RV32IMAC core (qemu-system-riscv32 -M virt), runs
# every case on both under -icount shift=0, checks every value against normkern-reference's
# float64 answer on the host, and prints the instructions-per-value, stack and code-size /
# soft-float tables. Also builds and runs the copyable Cortex-M example.
#
# Installs what is missing (rustup targets; Debian's qemu-system-arm and qemu-system-misc).
# Exits non-zero on any mismatch, error or hang. The report also goes to target/report.md.
#
#   bash firmware/run.sh            # everything
#   FIRMWARE_STEPS="run check" bash firmware/run.sh   # a subset: install build run check sizes example
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
cd "$here"
steps="${FIRMWARE_STEPS:-install build run check sizes example}"
timeout_s="${FIRMWARE_TIMEOUT:-180}"
out="$here/target"
mkdir -p "$out"
report="$out/report.md"

arm=thumbv7em-none-eabihf
rv=riscv32imac-unknown-none-elf
qemu_arm=(qemu-system-arm -M mps2-an386 -cpu cortex-m4 -icount shift=0 -display none
  -monitor none -serial none -semihosting-config enable=on,target=native)
qemu_rv=(qemu-system-riscv32 -M virt -bios none -icount shift=0 -display none -monitor none
  -serial stdio)

started=$SECONDS
timings=()
want() { [[ " $steps " == *" $1 "* ]]; }
step() {
  local name="$1"
  shift
  local t0=$SECONDS
  echo "== $name"
  "$@"
  timings+=("$name: $((SECONDS - t0)) s")
}

install() {
  if command -v rustup >/dev/null; then
    local have
    have="$(rustup target list --installed)"
    for t in "$arm" "$rv"; do
      grep -qx "$t" <<<"$have" || rustup target add "$t"
    done
  fi
  if ! command -v qemu-system-arm >/dev/null || ! command -v qemu-system-riscv32 >/dev/null; then
    local sudo=()
    [[ "$(id -u)" == 0 ]] || sudo=(sudo)
    local apt=(env DEBIAN_FRONTEND=noninteractive "${sudo[@]}" apt-get install -y --no-install-recommends)
    "${sudo[@]}" apt-get update
    # A machine may carry a newer qemu-utils (a backport) whose Breaks rule out the release's
    # qemu-system-common; then take the release's qemu-utils with it, the versions paired.
    if ! "${apt[@]}" qemu-system-arm qemu-system-misc; then
      local release
      release="$(apt-cache policy qemu-system-common | awk '/Candidate:/ {print $2}')"
      echo "retrying with qemu-utils=$release beside qemu-system-common $release"
      "${apt[@]}" --allow-downgrades qemu-system-arm qemu-system-misc "qemu-utils=$release"
    fi
  fi
  qemu-system-arm --version | head -1
}

# Each workspace builds into its own target directory under firmware/, whatever
# CARGO_TARGET_DIR the caller has, so nothing here waits on another build's lock.
build() {
  (cd device && CARGO_TARGET_DIR="$here/device/target" cargo build --release --target "$arm" --target "$rv")
  CARGO_TARGET_DIR="$here/target" cargo build --release -p normkern-fw-checker
  CARGO_TARGET_DIR="$here/target" cargo test --release --quiet -p normkern-fw-checker -p normkern-fw-cases
}

# Runs one board under a timeout; its output goes to $2. A hang (exit 124) or a failing exit
# status fails the run, after the output is kept for the checker's diagnosis.
run_board() {
  local name="$1" file="$2"
  shift 2
  local status=0
  timeout "$timeout_s" "$@" >"$file" </dev/null || status=$?
  if [[ $status == 124 ]]; then
    echo "FAIL: $name hung (no exit within ${timeout_s} s); last lines:" >&2
    tail -c 600 "$file" >&2
    return 1
  elif [[ $status != 0 ]]; then
    echo "FAIL: $name exited with status $status; last lines:" >&2
    tail -c 600 "$file" >&2
    return 1
  fi
  echo "$name: $(grep -c '^R ' "$file") case runs, $(wc -c <"$file") bytes of output"
}

run() {
  local fw=device/target
  local status=0
  run_board "Cortex-M4F (mps2-an386)" "$out/cortex-m4.txt" \
    "${qemu_arm[@]}" -kernel "$fw/$arm/release/normkern-firmware" || status=1
  run_board "RV32IMAC (virt)" "$out/rv32imac.txt" \
    "${qemu_rv[@]}" -kernel "$fw/$rv/release/normkern-firmware" || status=1
  # The checker names what went wrong, if the outputs exist.
  [[ $status == 0 ]] || { check || true; return 1; }
}

check() {
  target/release/normkern-fw-checker check "$out/cortex-m4.txt" "$out/rv32imac.txt" | tee "$out/check.md"
}

sizes_bins=(empty every layer_norm rms_norm batch_norm_inference batch_norm_training
  instance_norm group_norm mvn moments)

build_sizes() {
  (cd sizes && CARGO_TARGET_DIR="$here/sizes/target" cargo build --release --target "$arm" --target "$rv" --bins)
}

sizes() {
  await_build sizes
  build_sizes
  for t in "$arm" "$rv"; do
    local args=()
    for b in "${sizes_bins[@]}"; do args+=("$b=sizes/target/$t/release/$b"); done
    echo "### Code size and soft-float routines, $t (opt-level \"s\", LTO, panic = \"abort\")"
    echo
    if [[ $t == "$arm" ]]; then args+=(--callers); fi
    target/release/normkern-fw-checker sizes "${args[@]}"
  done | tee "$out/sizes.md"
}

build_example() {
  (cd example-cortex-m && CARGO_TARGET_DIR="$here/example-cortex-m/target" cargo build --release)
}

example() {
  local log="$out/example.txt" status=0
  await_build example
  (cd example-cortex-m && CARGO_TARGET_DIR="$here/example-cortex-m/target" timeout "$timeout_s" cargo run --release </dev/null) >"$log" 2>"$out/example.err" || status=$?
  cat "$log"
  if [[ $status != 0 ]] || ! grep -q '^layer_norm ok' "$log"; then
    echo "FAIL: example-cortex-m (status $status)" >&2
    tail -20 "$out/example.err" >&2
    return 1
  fi
}

# The size binaries and the example build in the background while the firmware builds and runs
# (each workspace in its own target directory): a build spends much of its time in one crate
# or one LTO link, with the other core idle. Their steps wait for them, then build again (a
# no-op, or the errors in full).
declare -A bg=()
background() {
  local name="$1"
  shift
  set -m # its own process group, so that it can be stopped whole
  "$@" >"$out/$name-build.log" 2>&1 &
  bg[$name]=$!
  set +m
}
await_build() {
  local pid="${bg[$1]:-}"
  if [[ -n $pid ]]; then
    wait "$pid" || true
    unset "bg[$1]"
  fi
}
stop_background() {
  local pid
  for pid in "${bg[@]}"; do kill -- "-$pid" 2>/dev/null || true; done
}
trap stop_background EXIT

want install && step install install
if want build; then
  want sizes && background sizes build_sizes
  want example && background example build_example
fi
want build && step build build
want run && step run run
want check && step check check
want sizes && step sizes sizes
want example && step example example

{
  echo "# Firmware report ($(git -C "$here" rev-parse --short HEAD 2>/dev/null || echo unknown))"
  echo
  for f in check.md sizes.md; do [[ -f "$out/$f" ]] && cat "$out/$f"; done
} >"$report"
echo "== timings"
printf '%s\n' "${timings[@]}"
echo "total: $((SECONDS - started)) s (report: $report)"
