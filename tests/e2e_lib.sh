# Shared by the end-to-end scripts (sourced, not run): a tmux server of the script's own, the
# test's session on it, its screen, waiting for text, failing with the screen shown.
# Before sourcing, set `name` (for messages and the tmux socket); after, set `sess` and start it.

# A tmux server of its own, kept alive by a session that idles, so that killing a test's session
# never races with a server exiting (another script's, or this one's).
sock=$name-$$
tmux() { command tmux -L "$sock" "$@"; }
tmux new-session -d -s keep "sleep 3600"
fail() { echo "$name: FAIL: $*"; tmux capture-pane -p -t "$sess" 2>/dev/null || true; exit 1; }
screen() { tmux capture-pane -p -t "$sess"; }
wait_for() { # pattern, seconds
  for _ in $(seq 1 $(($2 * 5))); do screen | grep -q -- "$1" && return 0; sleep 0.2; done
  fail "timed out waiting for '$1'"
}
