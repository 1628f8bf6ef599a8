#!/usr/bin/env bash
# Where the CPU time goes: runs distill-tui under `perf record` and sums the samples by kind of
# work (matmul, the kernels of src/ops, burn's elementwise work, layout copies, page clearing...).
#   bash bench/profile.sh [bench args...]        the step benchmark (default: --hidden 384 --layers 12 --steps 3)
#   bash bench/profile.sh --run [args...]        a real run: `distill-tui --headless args...`
# Weight initialisation (random sampling) is left out of the shares: it happens once.
# Needs `perf` (Debian: linux-perf) and a release build (BIN=target/release/distill-tui).
set -euo pipefail
cd "$(dirname "$0")/.."
BIN=${BIN:-target/release/distill-tui}
DATA=$(mktemp /tmp/distill-perf.XXXXXX)
trap 'rm -f "$DATA"' EXIT
if [ "${1:-}" = "--run" ]; then
  shift
  perf record -q -F 499 -o "$DATA" "$BIN" --headless "$@" > /dev/null
else
  [ $# -gt 0 ] || set -- --hidden 384 --layers 12 --batch 32 --seq 128 --steps 3
  perf record -q -F 499 -o "$DATA" "$BIN" bench "$@" --json
fi
perf report -i "$DATA" --no-children --sort symbol --stdio 2>/dev/null | python3 -c '
import re, sys
kinds = [
    ("weight init (once)", r"distribution|Distribution|rng::Rng|chacha|Normal|TensorData::random|rand_"),
    ("matmul (gemm)", r"gemm"),
    ("distill-tui kernels (src/ops: attention, GELU, LayerNorm, dropout, Adam)", r"pulp::|distill_tui::ops"),
    ("GELU (burn, erf)", r"erf"),
    ("softmax / exp (burn)", r"expf|\bexp\b"),
    ("layout copies (permute, contiguous)", r"StridedIter|to_contiguous|memmove|memcpy|strided|copy"),
    ("zero fills", r"memset"),
    ("kernel page clearing", r"clear_page|page_fault|\[k\]"),
    ("burn elementwise (add, mul, layer norm, Adam)", r"macerator|binary|unary|scalar_op|broadcast|reduce|sum|mean|var"),
    ("scalar loops (Vec::from_iter)", r"from_iter"),
    ("allocation", r"mi_|malloc|free|alloc::"),
]
tot = {k: 0.0 for k, _ in kinds}; other = 0.0; top_other = []
for line in sys.stdin:
    m = re.match(r"\s*([\d.]+)%\s+(\[.\])\s+(.*)", line)
    if not m:
        continue
    pct, tag, sym = float(m.group(1)), m.group(2), m.group(3).strip()
    name = tag + " " + sym
    for k, rx in kinds:
        if re.search(rx, name):
            tot[k] += pct
            break
    else:
        other += pct
        top_other.append((pct, sym[:80]))
init = tot.pop("weight init (once)")
step = 100.0 - init
print(f"share of the time (weight init, {init:.1f}% of samples, left out):")
for k, v in sorted(tot.items(), key=lambda kv: -kv[1]):
    print(f"  {k:72s} {100 * v / step:5.1f}%")
print("  " + "other".ljust(72) + f" {100 * other / step:5.1f}%")
for p, s in sorted(top_other, reverse=True)[:5]:
    print(f"      {100 * p / step:5.1f}%  {s}")
'
