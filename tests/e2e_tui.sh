#!/usr/bin/env bash
# End-to-end check of the terminal monitor, as a user drives it, in tmux: wait for a running
# run, pause (the step counter stays still, PAUSED shows), resume (it moves), skip (asks first:
# `n` keeps the run going, `s` `y` skips it), quit mid-run with confirmation; then the process
# exited 0, the terminal is back in cooked mode, the final table was printed with the stopped
# run and the hint to resume, and results.json says skipped and stopped.
# Then SIGTERM (clean stop: exit 143, terminal restored, results written) and SIGHUP (the
# terminal goes away: training carries on to the end and writes every result).  Usage: tests/e2e_tui.sh BINARY
set -euo pipefail
bin=$(realpath "${1:?usage: e2e_tui.sh BINARY}")
dir=$(mktemp -d)
sess=distill-e2e-$$
name=e2e_tui
source "$(dirname "$0")/e2e_lib.sh"
cleanup() {
  tmux kill-server 2>/dev/null || true
  [ -f "$dir/hup/pid" ] && kill -9 "$(cat "$dir/hup/pid")" 2>/dev/null || true
  rm -rf "$dir"
}
trap cleanup EXIT
step() { screen | grep -o 'step [0-9]*/[0-9]*' | head -1; }

tmux new-session -d -s $sess -x 120 -y 40 "cd '$dir' && '$bin' demo --dir '$dir/out'; echo EXIT=\$? > '$dir/exit'; sleep 300"
wait_for '▶ Top-K Layer' 240
wait_for 'step [1-9][0-9]*/' 60
tmux send-keys -t $sess p
wait_for 'PAUSED' 10
sleep 1; a=$(step); sleep 3; b=$(step)
[ "$a" = "$b" ] || fail "step moved while paused: $a -> $b"
tmux send-keys -t $sess p
for _ in $(seq 1 100); do [ "$(step)" != "$b" ] && break; sleep 0.2; done
[ "$(step)" != "$b" ] || fail "step did not move after resume"
tmux send-keys -t $sess s
wait_for 'Skip Top-K Layer (seed 42)?' 10
tmux send-keys -t $sess n
sleep 1
screen | grep -q 'skipped' && fail "the run was skipped although the user said n"
tmux send-keys -t $sess s
wait_for 'Skip Top-K Layer (seed 42)?' 10
tmux send-keys -t $sess y
wait_for 'skipped' 20
# Quit while the next run trains: it is stopped, to be resumed by the same command.
wait_for '▶ Bottom-K Layer' 120
wait_for 'Bottom-K Layer  step [1-9]' 60
tmux send-keys -t $sess q
wait_for 'Stop after the current step' 10
tmux send-keys -t $sess y
for _ in $(seq 1 300); do [ -f "$dir/exit" ] && break; sleep 0.2; done
[ -f "$dir/exit" ] || fail "the program did not exit after q, y"
grep -q 'EXIT=0' "$dir/exit" || fail "exit status: $(cat "$dir/exit")"
screen | grep -q 'Student Layer' || fail "no final table on the normal screen"
screen | grep -q 'results.md' || fail "no results path"
tty=$(tmux display -p -t $sess '#{pane_tty}')
stty -a -F "$tty" | grep -qw -- 'icanon' || fail "terminal left in raw mode"
grep -q '"status": "skipped"' "$dir/out/demo-synthetic/results.json" || fail "skipped run not in results.json"
grep -q '"status": "stopped"' "$dir/out/demo-synthetic/results.json" || fail "stopped run not in results.json"
screen | grep -q 'Bottom-K Layer (stopped)' || fail "the final table does not show the stopped run"
screen | grep -q 'rerun the same command to resume' || fail "no hint to resume"
passed=1

# SIGTERM: stop after the current step, restore the terminal, write results, exit 128+15.
tmux kill-session -t $sess
mkdir "$dir/term"
tmux new-session -d -s $sess -x 120 -y 40 "cd '$dir/term' && sh -c 'echo \$\$ > pid; exec \"$bin\" demo --dir out'; echo EXIT=\$? > exit; sleep 300"
wait_for '▶ Top-K Layer' 240
wait_for 'step [1-9][0-9]*/' 60
kill -TERM "$(cat "$dir/term/pid")"
for _ in $(seq 1 300); do [ -f "$dir/term/exit" ] && break; sleep 0.2; done
[ -f "$dir/term/exit" ] || fail "the program did not exit after SIGTERM"
grep -q 'EXIT=143' "$dir/term/exit" || fail "exit status after SIGTERM: $(cat "$dir/term/exit")"
tty=$(tmux display -p -t $sess '#{pane_tty}')
stty -a -F "$tty" | grep -qw -- 'icanon' || fail "terminal left in raw mode after SIGTERM"
screen | grep -q 'Student Layer' || fail "no final table after SIGTERM"
grep -q '"status": "done"' "$dir/term/out/demo-synthetic/results.json" || fail "teacher result not written after SIGTERM"
passed=$((passed + 1))

# SIGHUP: the terminal disappears (as when SSH drops); training goes on to the end headless.
tmux kill-session -t $sess
mkdir "$dir/hup"
tmux new-session -d -s $sess -x 120 -y 40 "cd '$dir/hup' && sh -c 'echo \$\$ > pid; exec \"$bin\" demo --dir out'; sleep 300"
wait_for 'step [1-9][0-9]*/' 240
pid=$(cat "$dir/hup/pid")
tmux kill-session -t $sess   # closes the pty: SIGHUP
sleep 1
kill -0 "$pid" 2>/dev/null || fail "the program died with its terminal"
for _ in $(seq 1 1500); do kill -0 "$pid" 2>/dev/null || break; sleep 0.2; done
kill -0 "$pid" 2>/dev/null && fail "the program did not finish after SIGHUP"
n=$(grep -c '"status": "done"' "$dir/hup/out/demo-synthetic/results.json" || true)
[ "$n" = 5 ] || { cat "$dir/hup/out/demo-synthetic/results.md"; fail "after SIGHUP, $n of 5 runs done"; }
[ -f "$dir/hup/out/demo-synthetic/even-layer/model.safetensors" ] || fail "no student checkpoint after SIGHUP"
passed=$((passed + 1))
echo "e2e_tui: $passed passed, 0 failed"
