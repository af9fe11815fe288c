# shellcheck shell=bash
# benches/lib.sh: what the netns bench scripts share. Source it from a script after setting
# `me` (its name in error messages): `. "$(dirname "$0")/lib.sh"`. Defines `root` (the
# repository), log, die, usage (the script's header comment) and stop_netns.

# shellcheck disable=SC2034  # used by the scripts that source this file
root=$(git -C "$(dirname "$0")" rev-parse --show-toplevel 2>/dev/null) \
  || root=$(cd "$(dirname "$0")/.." && pwd)

log() { echo "[$(date +%T)] $*" >&2; }
die() { echo "${me:?}: $*" >&2; exit 1; }
usage() { awk 'NR > 1 && /^#/ { sub(/^# ?/, ""); print; next } NR > 1 { exit }' "$0"; }

kill_ns() {  # kill_ns NS: stop every process in NS (TERM, then KILL after 3 s)
  local pids
  [ -e "/run/netns/$1" ] || return 0
  pids=$(ip netns pids "$1" 2>/dev/null || true)
  [ -n "$pids" ] || return 0
  # shellcheck disable=SC2086  # word splitting of the pid list is intended
  kill -TERM $pids 2>/dev/null || true
  for _ in $(seq 30); do
    pids=$(ip netns pids "$1" 2>/dev/null || true); [ -z "$pids" ] && return 0; sleep 0.1
  done
  # shellcheck disable=SC2086
  kill -KILL $pids 2>/dev/null || true
}

stop_netns() {  # stop_netns NS...: stop every process in each namespace, then delete it
  local ns
  for ns in "$@"; do
    kill_ns "$ns"; ip netns del "$ns" 2>/dev/null || true
  done
}
