#!/usr/bin/env bash
# What each CPU lever brings to the distillation step, measured in one go: the step benchmark
# with burn's own operations everywhere and mimalloc's default purging (about what distill-tui
# ran before the kernels), then the levers switched on one at a time, cumulatively:
# no purging, Linear as one product, fused Adam, fused attention, LayerNorm, GELU, dropout,
# embedding.
#   bash bench/ops_ablation.sh [bench args...]   (default: --hidden 384 --layers 12 --seq 128 --steps 3)
# BIN=target/release/distill-tui; prints one line per configuration (median s/step, examples/s).
set -uo pipefail
cd "$(dirname "$0")/.."
BIN=${BIN:-target/release/distill-tui}
[ -x "$BIN" ] || cargo build --release || exit 1
[ $# -gt 0 ] || set -- --hidden 384 --layers 12 --batch 32 --seq 128 --steps 3
run() {
  local label=$1 purge=$2 defaults=$3
  shift 3
  MIMALLOC_PURGE_DELAY=$purge DISTILL_TUI_DEFAULT_OPS=$defaults "$BIN" bench "$@" --json 2>/dev/null | python3 -c "
import json, sys
r = json.load(sys.stdin)
print(f'{sys.argv[1]:44s} {r[\"step_s_median\"]:7.3f} s/step  {r[\"examples_per_s\"]:6.2f} ex/s  {r[\"peak_rss_mb\"]:6.0f} MB')" "$label"
}
args=("$@")
run "burn's ops, mimalloc purging after 1 s" 1000 all "${args[@]}"
run "+ no purging" -1 all "${args[@]}"
run "+ Linear as one product" -1 attention,layer_norm,gelu,dropout,embedding,adam "${args[@]}"
run "+ fused Adam" -1 attention,layer_norm,gelu,dropout,embedding "${args[@]}"
run "+ fused attention" -1 layer_norm,gelu,dropout,embedding "${args[@]}"
run "+ fused add + LayerNorm" -1 gelu,dropout,embedding "${args[@]}"
run "+ vectorized GELU" -1 dropout,embedding "${args[@]}"
run "+ hashed dropout" -1 embedding "${args[@]}"
run "+ embedding gradient (everything on)" -1 none "${args[@]}"
