#!/usr/bin/env bash
# distill-tui against PyTorch + transformers on this machine's CPU, side by side in one go:
#   1. the distillation step (`distill-tui bench` vs bench/torch_step.py) at 384/12 and 768/12;
#   2. with EXPERIMENT=1, the whole examples/minilm-sst2.toml protocol: distill-tui --headless,
#      bench/torch_experiment.py as the course notebook runs it, and with --matched (distill-tui's
#      tricks in PyTorch): wall time, peak memory and the validation accuracies.
# Needs python3 with torch and transformers (PYTHON=...), and for 2. MODEL (a MiniLM folder from
# ../shared/tools/fetch-minilm.sh) and DATA (a folder with GLUE SST-2 train.tsv and dev.tsv).
# BACKENDS="cpu ndarray" also runs the step on burn-ndarray (build with `--features ndarray`).
# Output: one line per measurement and the ratios, also in $OUT (default bench-out/).
set -uo pipefail
cd "$(dirname "$0")/.."
OUT=${OUT:-bench-out}
PYTHON=${PYTHON:-python3}
BIN=${BIN:-target/release/distill-tui}
STEPS=${STEPS:-5}
# BACKENDS="cpu ndarray" adds burn-ndarray (needs a build with `--features ndarray`).
BACKENDS=${BACKENDS:-cpu}
# The whole experiment's training subset (the example file's 2,000 unless set).
TRAIN_EXAMPLES=${TRAIN_EXAMPLES:-2000}
mkdir -p "$OUT"
[ -x "$BIN" ] || cargo build --release --features ndarray || exit 1
ratio() { "$PYTHON" -c "import json,sys; a=json.load(open(sys.argv[1])); b=json.load(open(sys.argv[2])); print(f\"{sys.argv[3]}: distill-tui {a['examples_per_s']:.2f} ex/s ({a['peak_rss_mb']:.0f} MB), PyTorch {b['examples_per_s']:.2f} ex/s ({b['peak_rss_mb']:.0f} MB), ratio {a['examples_per_s']/b['examples_per_s']:.2f}\")" "$@"; }
# STEP=0 skips the step benchmark (to run only the whole experiment). SHAPES: hidden/seq pairs.
SHAPES=${SHAPES:-"384/128 384/32 768/128"}
[ "${STEP:-1}" = 1 ] && for shape in $SHAPES; do
  h=${shape%/*}; seq=${shape#*/}
  "$PYTHON" bench/torch_step.py --hidden $h --layers 12 --batch 32 --seq $seq --steps "$STEPS" --device cpu > "$OUT/step-torch-$h-$seq.json" || exit 1
  for b in $BACKENDS; do
    "$BIN" bench --backend "$b" --hidden $h --layers 12 --batch 32 --seq $seq --steps "$STEPS" --json > "$OUT/step-$b-$h-$seq.json" || exit 1
    ratio "$OUT/step-$b-$h-$seq.json" "$OUT/step-torch-$h-$seq.json" "step $h/12 seq $seq, --backend $b" | tee -a "$OUT/summary.txt"
  done
done
if [ "${EXPERIMENT:-0}" = 1 ]; then
  : "${MODEL:?set MODEL to a MiniLM folder}" "${DATA:?set DATA to the folder of train.tsv and dev.tsv}"
  rm -rf "$OUT/exp"
  /usr/bin/time -v "$BIN" --headless --config examples/minilm-sst2.toml --set teacher.model="$MODEL" \
    --set data.train="$DATA/train.tsv" --set data.validation="$DATA/dev.tsv" --set experiment.output_dir="$(realpath "$OUT")/exp" \
    --set data.train_examples="$TRAIN_EXAMPLES" \
    > "$OUT/exp-burn.log" 2> "$OUT/exp-burn.time" || exit 1
  for mode in notebook matched; do
    flag=$([ $mode = matched ] && echo --matched || true)
    /usr/bin/time -v "$PYTHON" bench/torch_experiment.py --model "$MODEL" --train "$DATA/train.tsv" --validation "$DATA/dev.tsv" \
      --train-examples "$TRAIN_EXAMPLES" $flag \
      > "$OUT/exp-torch-$mode.log" 2> "$OUT/exp-torch-$mode.time" || exit 1
  done
  for x in burn torch-notebook torch-matched; do
    wall=$(grep 'Elapsed (wall' "$OUT/exp-$x.time" | awk '{print $NF}')
    rss=$(grep 'Maximum resident' "$OUT/exp-$x.time" | awk '{print $NF}')
    cpu=$(grep 'Percent of CPU' "$OUT/exp-$x.time" | awk '{print $NF}')
    echo "experiment $x: wall $wall, peak RSS $((rss / 1024)) MB, CPU $cpu" | tee -a "$OUT/summary.txt"
  done
  grep -A7 '^Student Layer' "$OUT/exp-burn.log" | tee -a "$OUT/summary.txt"
  tail -1 "$OUT/exp-torch-notebook.log" "$OUT/exp-torch-matched.log" | tee -a "$OUT/summary.txt"
fi
