#!/usr/bin/env bash
# Same-process A/B of the working tree against a base revision: both copies of normkern are
# linked into one binary and timed in alternation, so the drift between processes on a
# shared machine (bimodal on a Zen 3 EPYC) cancels out.
#
#   bash run.sh REV [ROUNDS] [GROUP...]     e.g. bash run.sh HEAD 101 batch_norm_infer/nchw_8x256x14x14
#   ABPROBE_ISA=avx2|avx512|avx512bf16 bash run.sh ...   times that instruction set, not the detected one
set -euo pipefail
cd "$(dirname "$0")"
rev=${1:?base revision}
shift
base="$(cd ../../.. && pwd)/target/ab-base"
rm -rf "$base"
git -C ../../.. worktree prune
git -C ../../.. worktree add -f --detach "$base" "$rev" >/dev/null
# The base copy needs another package name to sit beside the working tree's.
sed -i 's/^name = "normkern"$/name = "normkern_base"/' "$base/Cargo.toml"
cargo build --release -q
taskset -c "${CPU:-1}" target/release/abprobe "$@"
