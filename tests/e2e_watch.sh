#!/usr/bin/env bash
# End-to-end check of `watch`, in tmux at 80x24: a `--parallel 2` run trains headless in the
# background; `watch` attached to its folder shows two cells running at once; `s` `y` skips the
# selected cell through its control file; `q` leaves at once and the run goes on; attached again,
# it follows the run to its end and prints the final table. Then `try` on the finished experiment:
# a sentence typed, every model's row answers, up recalls it, esc leaves.
# Usage: tests/e2e_watch.sh BINARY
set -euo pipefail
bin=$(realpath "${1:?usage: e2e_watch.sh BINARY}")
dir=$(mktemp -d)
sess=distill-watch-$$
run_pid=""
name=e2e_watch
source "$(dirname "$0")/e2e_lib.sh"
cleanup() {
  tmux kill-server 2>/dev/null || true
  [ -n "$run_pid" ] && kill -9 "$run_pid" 2>/dev/null || true
  rm -rf "$dir"
}
trap cleanup EXIT

# The demo's generated teacher and task (its inputs are written first; the demo itself is stopped).
"$bin" demo --dir "$dir" --headless >"$dir/demo.log" 2>&1 &
demo=$!
for _ in $(seq 1 600); do [ -f "$dir/demo-inputs/demo.toml" ] && break; sleep 0.1; done
kill -TERM $demo 2>/dev/null || true
wait $demo 2>/dev/null || true
[ -f "$dir/demo-inputs/demo.toml" ] || fail "the demo wrote no inputs"

# The matrix, two cells at a time, headless in the background; more epochs so that it lasts.
cd "$dir"
"$bin" --config demo-inputs/demo.toml --set experiment.name=watched --set training.epochs=6 \
  --headless --parallel 2 >"$dir/run.log" 2>&1 &
run_pid=$!
exp="$dir/watched"
for _ in $(seq 1 600); do [ -f "$exp/events.jsonl" ] && break; sleep 0.1; done

tmux new-session -d -s $sess -x 80 -y 24 "cd '$dir' && '$bin' watch '$exp'; echo EXIT=\$? > '$dir/exit1'; sleep 300"
wait_for 'WATCHING' 60
running() { screen | grep -c '▶.*ep [0-9]' || true; }
for _ in $(seq 1 1500); do [ "$(running)" -ge 2 ] && break; sleep 0.2; done
[ "$(running)" -ge 2 ] || fail "never two cells running at once"
# Skip the selected cell: the request goes through its control file to the process running it.
tmux send-keys -t $sess s
wait_for 'Skip .* (seed 42)?' 10
tmux send-keys -t $sess y
wait_for 'skipped ep' 60
tmux send-keys -t $sess q
for _ in $(seq 1 50); do [ -f "$dir/exit1" ] && break; sleep 0.1; done
[ -f "$dir/exit1" ] || fail "watch did not leave at once on q"
grep -q 'EXIT=0' "$dir/exit1" || fail "watch exit status: $(cat "$dir/exit1")"
kill -0 $run_pid 2>/dev/null || fail "leaving watch stopped the run"
[ "$(cat "$exp"/cells/*/control 2>/dev/null | sort | uniq -c | awk '{print $1, $2}')" = "1 skip" ] ||
  fail "control files: $(head "$exp"/cells/*/control 2>/dev/null)"
passed=1

tmux kill-session -t $sess
tmux new-session -d -s $sess -x 80 -y 24 "cd '$dir' && '$bin' watch '$exp'; echo EXIT=\$? > '$dir/exit2'; sleep 300"
wait_for 'FINISHED' 900
wait $run_pid || fail "the --parallel run failed: $(tail -5 "$dir/run.log")"
run_pid=""
tmux send-keys -t $sess q
for _ in $(seq 1 50); do [ -f "$dir/exit2" ] && break; sleep 0.1; done
grep -q 'EXIT=0' "$dir/exit2" || fail "watch exit status at the end"
tmux capture-pane -p -S -200 -t $sess | grep -q 'Student Layer' || fail "no final table after watch"
n=$(grep -c '"status": "done"' "$exp/results.json" || true)
[ "$n" = 4 ] || fail "$n of 5 runs done (one skipped)"
grep -q '"status": "skipped"' "$exp/results.json" || fail "the skipped cell is not in results.json"
passed=$((passed + 1))

# `try` on the finished experiment: type a sentence, every model answers in its row.
tmux kill-session -t $sess
tmux new-session -d -s $sess -x 80 -y 24 "cd '$dir' && '$bin' try '$exp'; echo EXIT=\$? > '$dir/exit3'; sleep 300"
wait_for '4 models' 120   # the teacher and the 3 students that finished (one was skipped)
tmux send-keys -t $sess 'a gorgeous and moving film'
tmux send-keys -t $sess Enter
wait_for 'reference' 60
for _ in $(seq 1 100); do [ "$(screen | grep -c '[=≠] teacher')" -ge 3 ] && break; sleep 0.2; done
n=$(screen | grep -c '[=≠] teacher' || true)
[ "$n" -ge 3 ] || fail "$n students answered (4 expected; one was skipped, so 3)"
screen | grep -q 'Models · "a gorgeous and moving film"' || fail "the models' box does not name the input"
tmux send-keys -t $sess Up
wait_for '│a gorgeous and moving film' 10
tmux send-keys -t $sess Escape
for _ in $(seq 1 50); do [ -f "$dir/exit3" ] && break; sleep 0.1; done
grep -q 'EXIT=0' "$dir/exit3" || fail "try exit status: $(cat "$dir/exit3" 2>/dev/null)"
passed=$((passed + 1))
echo "e2e_watch: $passed passed, 0 failed"
