#!/usr/bin/env bash
# The GPU figures in one go, on a machine with an NVIDIA GPU, its driver, and python3 with torch
# and transformers; no network, no cargo. BIN is a distill-tui built elsewhere with
# `cargo build --release --features cuda` and copied over. Everything it needs is generated here
# (bench/gpu_inputs.py: a random bert-base teacher, an MNLI-shaped task); no weights travel.
#
# In order of importance, each step within what is left of BUDGET seconds (a step that would not
# fit is skipped and says so; every command has its own timeout):
#   1. predict: logits on CUDA against transformers on the GPU and against our CPU (tiny
#      fixture and the bert-base teacher, pairs, a truncated input);
#   2. the step benchmark at 384/12, seq 128, in f32: burn-cuda against PyTorch eager, peak GPU
#      memory of each (nvidia-smi every 100 ms, less the idle baseline); then the bert-base matrix
#      end to end (teacher fine-tune, four 6-layer students, 4,000 MNLI-shaped examples) in
#      distill-tui, and bench/torch_experiment.py notebook-style and --matched on the same data;
#   3. the step in bf16 against PyTorch under torch.autocast(bfloat16); the demo twice on CUDA,
#      with empty kernel caches and with those the first left; the first step with warm caches;
#      the step at 384/12 seq 32 and 768/12 seq 128, f32 and bf16;
#   4. the same matrix in bf16.
# Then bench/gpu_report.py writes $OUT/gpu.json and $OUT/gpu.md (every figure, the goals met or
# not, compiled shapes and their compile times, stalls), with $OUT/log.txt and $OUT/raw.tar.gz.
#
#   BIN=path/to/distill-tui OUT=gpu-out BUDGET=480 COMMIT=$(git rev-parse HEAD) bash bench/gpu.sh
#
# BIN may be gzipped (BIN=distill-tui.gz): the CUDA build is larger than what travels unpacked.
#
# For a dry run of the script's logic without a GPU: BACKEND=cpu TORCH_DEVICE=cpu SMOKE=1.
set -uo pipefail
cd "$(dirname "$0")/.."
OUT=${OUT:-gpu-out}
BUDGET=${BUDGET:-480}
BIN=$(realpath "${BIN:-target/release/distill-tui}")
# A gzipped binary (what fits the 64 MiB a device call carries): unpacked next to the work folder.
case "$BIN" in *.gz)
  gunzip -c "$BIN" > /tmp/distill-tui-gpu && chmod +x /tmp/distill-tui-gpu && BIN=/tmp/distill-tui-gpu ;;
esac
BACKEND=${BACKEND:-cuda}
TORCH_DEVICE=${TORCH_DEVICE:-cuda}
SMOKE=${SMOKE:-0}
W=${WORK:-/tmp/distill-gpu}
rm -rf "$W" && mkdir -p "$W/raw" "$OUT"
export PYTHONUNBUFFERED=1 HF_HUB_OFFLINE=1 TRANSFORMERS_OFFLINE=1
# Kernel caches of the runs (the demo gets its own, to be measured cold and warm).
export XDG_CACHE_HOME="$W/cache"
LOG="$OUT/log.txt"
: > "$LOG"
say() { echo "[$(date -u +%T) +${SECONDS}s] $*" | tee -a "$LOG"; }
# fits SECONDS_NEEDED WHAT: whether that much of the budget is left (else says it is skipped).
fits() {
  if [ $((BUDGET - SECONDS)) -ge "$1" ]; then return 0; fi
  say "skipped (budget, $((BUDGET - SECONDS)) s left): $2"
  echo "{\"step\": \"$2\", \"skipped\": \"budget\"}" >> "$W/raw/skipped.jsonl"
  return 1
}
# Peak GPU memory of what runs between mem_start NAME and mem_stop (MiB, less the idle baseline).
mem_start() {
  MEMFILE="$W/raw/mem-$1.txt"
  nvidia-smi --query-gpu=memory.used --format=csv,noheader,nounits -lms 100 > "$MEMFILE" 2>/dev/null &
  MEMPID=$!
}
mem_stop() { kill "$MEMPID" 2>/dev/null; wait "$MEMPID" 2>/dev/null; }
# timed NAME TIMEOUT CMD...: runs CMD with stdout to raw/NAME.out, stderr to raw/NAME.err, its
# exit code and wall seconds to raw/NAME.time; GPU memory sampled meanwhile.
timed() {
  local name=$1 limit=$2
  shift 2
  mem_start "$name"
  local t0
  t0=$(date +%s.%N)
  timeout "$limit" "$@" > "$W/raw/$name.out" 2> "$W/raw/$name.err"
  local rc=$?
  local t1
  t1=$(date +%s.%N)
  mem_stop
  local wall
  wall=$(awk "BEGIN { printf \"%.2f\", $t1 - $t0 }")
  echo "{\"rc\": $rc, \"wall_s\": $wall}" > "$W/raw/$name.time"
  say "$name: rc $rc, $wall s"
  return $rc
}

say "distill-tui GPU check: BIN=$BIN BACKEND=$BACKEND TORCH_DEVICE=$TORCH_DEVICE BUDGET=$BUDGET SMOKE=$SMOKE"
{
  echo "{"
  echo "\"date\": \"$(date -u +%FT%TZ)\","
  echo "\"commit\": \"${COMMIT:-unknown}\","
  echo "\"gpu\": \"$(nvidia-smi --query-gpu=name --format=csv,noheader 2>/dev/null | head -1)\","
  echo "\"driver\": \"$(nvidia-smi --query-gpu=driver_version --format=csv,noheader 2>/dev/null | head -1)\","
  echo "\"gpu_memory_mib\": \"$(nvidia-smi --query-gpu=memory.total --format=csv,noheader,nounits 2>/dev/null | head -1)\","
  echo "\"distill_tui\": \"$("$BIN" --version 2>&1 | head -1)\","
  echo "\"python\": \"$(python3 -c 'import sys, torch, transformers; print(sys.version.split()[0], "torch", torch.__version__, "cuda", torch.version.cuda, "transformers", transformers.__version__)' 2>&1 | tail -1)\","
  echo "\"cpu\": \"$(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs), $(nproc) cores\""
  echo "}"
} > "$W/raw/env.json"
cat "$W/raw/env.json" | tee -a "$LOG"
nvidia-smi --query-gpu=memory.used --format=csv,noheader,nounits 2>/dev/null | head -1 > "$W/raw/mem-baseline.txt"

# Inputs.
if [ "$SMOKE" = 1 ]; then SIZES="--train 96 --dev 32"; else SIZES="--train 4000 --dev 1000"; fi
timed inputs 240 python3 bench/gpu_inputs.py "$W/in" $SIZES || { say "no inputs; stopping"; }
if [ "$SMOKE" = 1 ]; then
  # A small teacher for the dry run: 2 layers of 64.
  python3 - "$W/in/teacher" <<'EOF'
import sys
from transformers import BertForSequenceClassification
m = BertForSequenceClassification.from_pretrained(sys.argv[1])
m.config.update(dict(hidden_size=64, num_hidden_layers=4, num_attention_heads=2, intermediate_size=128))
BertForSequenceClassification(m.config).save_pretrained(sys.argv[1], safe_serialization=True)
EOF
  sed -i 's/num_layers = 6/num_layers = 2/' "$W/in/experiment.toml"
fi

# 1. predict against transformers on the GPU and our CPU.
python3 - tests/fixtures/tiny-bert/expected.json "$W/tiny.jsonl" <<'EOF'
import json, sys
cases = json.load(open(sys.argv[1]))["cases"]
with open(sys.argv[2], "w") as f:
    for c in cases:
        f.write(json.dumps({"text": c["text"], "text_pair": c["text_pair"]}) + "\n")
EOF
for m in tiny teacher; do
  if [ $m = tiny ]; then model=tests/fixtures/tiny-bert input="$W/tiny.jsonl"; else model="$W/in/teacher" input="$W/in/pairs.jsonl"; fi
  fits 60 "predict $m" || continue
  timed "predict-$m-gpu" 240 "$BIN" predict --backend "$BACKEND" --model "$model" --input "$input" --json
  timed "predict-$m-cpu" 120 "$BIN" predict --backend cpu --model "$model" --input "$input" --json
  timed "predict-$m-transformers" 120 python3 - "$model" "$input" "$TORCH_DEVICE" <<'EOF'
import json, sys, torch
from transformers import AutoTokenizer, BertForSequenceClassification
model, inputs, device = sys.argv[1:4]
tok = AutoTokenizer.from_pretrained(model)
m = BertForSequenceClassification.from_pretrained(model).to(device).eval()
limit = m.config.max_position_embeddings
for line in open(inputs):
    c = json.loads(line)
    enc = tok(c["text"], c.get("text_pair"), truncation=True, max_length=limit, return_tensors="pt").to(device)
    with torch.no_grad():
        print(json.dumps({"logits": m(**enc).logits[0].float().cpu().tolist()}))
EOF
done

# The step, burn against PyTorch: bench_pair HIDDEN/LAYERS/SEQ PRECISION.
if [ "$SMOKE" = 1 ]; then SHAPES="64/4/32 64/4/64"; STEPS=3; else SHAPES="384/12/128 384/12/32 768/12/128"; STEPS=10; fi
bench_pair() {
  local h l seq tag
  IFS=/ read -r h l seq <<< "$1"
  tag="$h-$l-$seq-$2"
  fits 100 "bench burn $tag" && timed "bench-burn-$tag" 300 "$BIN" bench --backend "$BACKEND" --hidden "$h" --layers "$l" \
    --batch 32 --seq "$seq" --steps "$STEPS" --precision "$2" --json
  fits 40 "bench torch $tag" && timed "bench-torch-$tag" 120 python3 bench/torch_step.py --hidden "$h" --layers "$l" \
    --batch 32 --seq "$seq" --steps "$STEPS" --device "$TORCH_DEVICE" --precision "$2"
}
FIRST=${SHAPES%% *}

# 2. The first shape in f32 (the comparison of record), then the bert-base matrix end to end in
#    distill-tui and in PyTorch on the same data.
bench_pair "$FIRST" f32
TORCH_ARGS=(--model "$W/in/teacher" --train "$W/in/data/train.tsv" --validation "$W/in/data/dev.tsv"
  --train-examples 100000 --finetune-epochs 1 --epochs 1 --batch 32 --lr 5e-5 --max-length 128
  --device "$TORCH_DEVICE" --text-columns premise,hypothesis --labels entailment,neutral,contradiction --num-labels 3)
fits 120 "matrix distill-tui" && (cd "$W/in" && timed matrix-burn 420 "$BIN" --headless --backend "$BACKEND" --config experiment.toml)
fits 60 "matrix torch notebook" && timed matrix-torch-notebook 240 python3 bench/torch_experiment.py "${TORCH_ARGS[@]}"
fits 60 "matrix torch matched" && timed matrix-torch-matched 240 python3 bench/torch_experiment.py "${TORCH_ARGS[@]}" --matched

# 3. bf16 at the first shape; the demo cold and warm (kernel caches of its own); the first step
#    again with the caches the first bench left; the other shapes.
bench_pair "$FIRST" bf16
for run in cold warm; do
  fits 150 "demo $run" || continue
  XDG_CACHE_HOME="$W/cache-demo" timed "demo-$run" 300 "$BIN" demo --backend "$BACKEND" --headless --dir "$W/demo-$run"
done
IFS=/ read -r h l seq <<< "$FIRST"
fits 60 "bench burn warm" && timed "bench-burn-$h-$l-$seq-f32-warm" 120 "$BIN" bench --backend "$BACKEND" \
  --hidden "$h" --layers "$l" --batch 32 --seq "$seq" --steps 2 --json
for shape in ${SHAPES#* }; do
  for precision in f32 bf16; do bench_pair "$shape" "$precision"; done
done

# 4. The matrix in bf16.
fits 150 "matrix distill-tui bf16" && (cd "$W/in" && timed matrix-burn-bf16 300 "$BIN" --headless --backend "$BACKEND" \
  --config experiment.toml --set experiment.name=\"gpu-matrix-bf16\" --set training.precision=\"bf16\")

# What the runs left, then the report.
for d in "$W/in/out/gpu-matrix" "$W/in/out/gpu-matrix-bf16" "$W/demo-cold/demo-synthetic" "$W/demo-warm/demo-synthetic"; do
  [ -d "$d" ] || continue
  name=$(basename "$(dirname "$d")")-$(basename "$d")
  mkdir -p "$W/raw/$name"
  cp "$d"/results.json "$d"/events.jsonl "$W/raw/$name/" 2>/dev/null
  for c in "$d"/cells/*/; do [ -f "$c/events.jsonl" ] && cp "$c/events.jsonl" "$W/raw/$name/cell-$(basename "$c").jsonl"; done
done
python3 bench/gpu_report.py "$W/raw" "$OUT" 2>&1 | tee -a "$LOG"
tar -czf "$OUT/raw.tar.gz" -C "$W" raw 2>/dev/null
say "done: $OUT/gpu.json, $OUT/gpu.md, $OUT/log.txt, $OUT/raw.tar.gz"
