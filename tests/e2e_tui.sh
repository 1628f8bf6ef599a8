#!/usr/bin/env bash
# End-to-end check of the terminal monitor, as a user drives it, in tmux: wait for a running
# run, pause (the step counter stays still, PAUSED shows), resume (it moves), skip (the run
# shows skipped), quit with confirmation; then the process exited 0, the terminal is back in
# cooked mode and the final table was printed.  Usage: tests/e2e_tui.sh BINARY
set -euo pipefail
bin=$(realpath "${1:?usage: e2e_tui.sh BINARY}")
dir=$(mktemp -d)
sess=distill-e2e-$$
trap 'tmux kill-session -t $sess 2>/dev/null || true; rm -rf "$dir"' EXIT
fail() { echo "e2e_tui: FAIL: $*"; tmux capture-pane -p -t $sess || true; exit 1; }
screen() { tmux capture-pane -p -t $sess; }
wait_for() { # pattern, seconds
  for _ in $(seq 1 $(( $2 * 5 ))); do screen | grep -q -- "$1" && return 0; sleep 0.2; done
  fail "timed out waiting for '$1'"
}
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
wait_for 'skipped' 20
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
echo "e2e_tui: 1 passed, 0 failed"
