#!/usr/bin/env bash
# Per-instruction execution counts of the benchmark calls on the emulated Cortex-M4F: where
# each operator's instructions per value go (RESULTS.md's per-phase figures come from here).
#
# Builds the firmware with its `profile` feature (the benchmarks alone, each call between two
# marks), runs it under `qemu-system-arm -singlestep -d exec,nochain` (one trace line per
# executed instruction, streamed through a pipe, never stored), counts each address between
# the marks, and writes for each benchmark call:
#   target/profile/NN-<operator>-<who>.txt   total, instructions per function, and every
#                                            instruction that ran, with its count and the
#                                            source line it comes from
# Not part of run.sh or CI (the trace takes about a minute).
#
#   bash firmware/profile.sh
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
cd "$here"
arm=thumbv7em-none-eabihf
out="$here/target/profile"
mkdir -p "$out"
sysroot="$(rustc --print sysroot)"
objdump="$(find "$sysroot" -name llvm-objdump -type f | head -1)"
[[ -x "$objdump" ]] || { echo "llvm-objdump not found: rustup component add llvm-tools" >&2; exit 1; }

(cd device && CARGO_TARGET_DIR="$out/build" cargo build --release --quiet --features profile --target "$arm")
elf="$out/build/$arm/release/normkern-firmware"

fifo="$out/trace.fifo"
rm -f "$fifo"
mkfifo "$fifo"
trap 'rm -f "$fifo"' EXIT
timeout 600 qemu-system-arm -M mps2-an386 -cpu cortex-m4 -display none -monitor none \
  -serial none -semihosting-config enable=on,target=native -singlestep -d exec,nochain \
  -D "$fifo" -kernel "$elf" >"$out/firmware.txt" &
qemu=$!
# Trace lines: `Trace 0: 0x<host> [<flags>/<guest pc>/<..>/<..>] <symbol>`.
awk -v out="$out/counts.txt" '
  $NF == "profile_start" { if (!inside) { seg++; inside = 1 }; next }
  $NF == "profile_end" { inside = 0; next }
  inside && $1 == "Trace" {
    split($4, f, "/")
    n[seg " " f[2]]++
  }
  END { for (k in n) print k, n[k] > out }
' "$fifo"
wait "$qemu"
grep -q '^DONE ok=1' "$out/firmware.txt" || { echo "the profile firmware failed" >&2; exit 1; }

"$objdump" -d -l --no-show-raw-insn "$elf" >"$out/disassembly.txt"
mapfile -t names < <(grep '^B ' "$out/firmware.txt" | awk '{ split($3, a, "/"); print a[1] "-" $4 }')
# Hexadecimal to decimal in any awk (mawk has no strtonum).
hex='function hex(s,  i, v) { s = tolower(s); sub(/^0x/, "", s); v = 0
  for (i = 1; i <= length(s); i++) v = v * 16 + index("0123456789abcdef", substr(s, i, 1)) - 1
  return v }'
for seg in $(seq 1 "${#names[@]}"); do
  file=$(printf '%s/%02d-%s.txt' "$out" "$seg" "${names[$((seg - 1))]}")
  awk -v seg="$seg" "$hex"'
    FNR == NR { if ($1 == seg) { c[$2 + 0] = $3; total += $3 }; next }
    /^[0-9a-f]+ <.*>:$/ { fn = $2; sum = 0; shown = ""; next }
    /^ *[0-9a-f]+:/ {
      addr = hex(substr($1, 1, length($1) - 1))
      if (!(addr in c)) next
      sum += c[addr]
      per[fn] = sum
      # Executed instructions only, each after the source line it comes from.
      if (src != shown) { body[fn] = body[fn] "           " src "\n"; shown = src }
      body[fn] = body[fn] sprintf("%9d  %s\n", c[addr], $0)
      next
    }
    /^; \// { src = $0; next }
    END {
      printf "instructions between the marks: %d\n\nper function:\n", total
      for (f in per) if (per[f] > 0) printf "%9d  %s\n", per[f], f | "sort -rn"
      close("sort -rn")
      for (f in per) if (per[f] > 0) printf "\n%s\n%s", f, body[f]
    }
  ' <(awk "$hex"'{ print $1, hex($2), $3 }' "$out/counts.txt") "$out/disassembly.txt" >"$file"
  printf '%-40s %s\n' "${file##*/}" "$(head -1 "$file")"
done
