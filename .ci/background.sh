# Sourced by .ci/run and .ci/hardening: background jobs each in a process group of its own, so
# that a failing step (or the end of the script) stops each one whole, builds and all.

BACKGROUND_PIDS=()

# start_group VAR COMMAND...: runs COMMAND in the background, in its own process group, and
# stores its PID in VAR. Redirections on the call apply to the job.
start_group() {
  local var=$1
  shift
  set -m
  "$@" &
  set +m
  printf -v "$var" '%s' "$!"
  BACKGROUND_PIDS+=("$!")
}

# low_priority COMMAND...: COMMAND at the lowest CPU priority (for a job started by
# start_group: a shell function cannot be run through `nice`).
low_priority() {
  renice -n 19 "$BASHPID" >/dev/null 2>&1 || true
  "$@"
}

# Stops every group still running; the EXIT trap of both scripts.
stop_background() {
  local pid
  for pid in "${BACKGROUND_PIDS[@]}"; do
    if kill -0 "$pid" 2>/dev/null; then
      kill -- "-$pid" 2>/dev/null || true
      wait "$pid" 2>/dev/null || true
    fi
  done
}
trap stop_background EXIT
