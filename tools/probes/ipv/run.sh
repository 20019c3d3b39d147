#!/bin/bash
# Instructions per value of each benchmark group's call and of the floor over as many values,
# under callgrind (the AVX2 set: valgrind emulates no AVX-512). From this directory:
#   bash run.sh [GROUP...]        (every group where none is named)
set -euo pipefail
cargo build --release -q
bin=target/release/ipv
count() { # ARGS...: the instructions callgrind collected for `ipv ARGS...`
  valgrind --tool=callgrind --callgrind-out-file=/dev/null "$bin" "$@" 2>&1 >/dev/null |
    sed -n 's/.*Collected : \([0-9]*\).*/\1/p'
}
per_value() { # GROUP VALUES: (three calls - one call) / two calls' values
  local three one
  three=$(count "$1" 3 "$2")
  one=$(count "$1" 1 "$2")
  echo "scale=2; ($three - $one) / (2 * $2)" | bc
}
printf '%-38s %9s %12s %12s %8s\n' group values kernel floor ratio
groups=("$@")
if [ ${#groups[@]} -eq 0 ]; then mapfile -t groups < <("$bin" list | grep /); fi
for g in "${groups[@]}"; do
  values=$("$bin" "$g" 0 | awk '{print $2}')
  kernel=$(per_value "$g" "$values")
  floor=$(per_value floor "$values")
  printf '%-38s %9s %12s %12s %8s\n' "$g" "$values" "$kernel" "$floor" "$(echo "scale=2; $kernel / $floor" | bc)"
done
