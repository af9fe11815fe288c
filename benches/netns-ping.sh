#!/usr/bin/env bash
# netns-ping.sh: idle-tunnel ping RTT, implementations interleaved, with the knobs that showed
# what the idle-ping gap is made of (benches/README.md, "Session 8"): the ping interval (how
# cold the path is) and CPU pinning (where the scheduler may wake each daemon).
#
# Usage: sudo bash benches/netns-ping.sh [OPTIONS] NAME=PATH [NAME=PATH ...]
#   NAME=PATH        an implementation (repeatable, run in this order each round); PATH IFNAME
#                    must create TUN IFNAME and /var/run/wireguard/IFNAME.sock, then daemonize.
#                    A PATH named boringtun* is started as boringtun-cli wants.
#                    Default: wgrs=<repo>/target/release/wgrs boringtun=$(command -v boringtun-cli)
#   --count N        pings per run (default 200)
#   --interval S     seconds between pings (default 0.1; ping needs root below 0.2)
#   --rounds R       rounds; each runs every implementation once (default 2)
#   --pin A,B,P      CPUs for the client daemon, the server daemon and ping (say 0,0,0 for one
#                    CPU, 0,1,0 for "two hosts"); default: no pinning
#   --oncpu          also print each daemon's on-CPU time per ping (all its threads, user and
#                    system, from /proc/PID/task/*/schedstat): the work a round trip costs it,
#                    which varies far less from run to run than the round-trip time does
#   --steps          also record each daemon's system calls during the pings (perf) and print,
#                    per daemon, the median time of each call and of the user code between two
#                    calls (benches/ping-steps.py); needs perf
#   -h, --help       print this text
# Per run: fresh namespaces (unique names) joined by a veth, the same implementation on both
# sides, one peer each, 3 warm-up pings, then --count pings from the client side. Prints one
# line per run (median, min/avg/max) and the median of the medians per implementation.
# Needs root, iproute2, wg, ping, taskset (with --pin).
set -euo pipefail
me=netns-ping.sh
# shellcheck source=lib.sh
. "$(dirname "$0")/lib.sh"

count=200 interval=0.1 rounds=2 pin="" steps=0 oncpu=0 impls=()
while [ $# -gt 0 ]; do
  case $1 in
    --count) count=${2:?}; shift ;;
    --interval) interval=${2:?}; shift ;;
    --rounds) rounds=${2:?}; shift ;;
    --pin) pin=${2:?}; shift ;;
    --steps) steps=1 ;;
    --oncpu) oncpu=1 ;;
    -h|--help) usage; exit 0 ;;
    *=*) impls+=("$1") ;;
    *) usage >&2; die "unknown argument: $1" ;;
  esac
  shift
done
[[ $count =~ ^[1-9][0-9]*$ && $rounds =~ ^[1-9][0-9]*$ ]] || die "bad --count/--rounds"
[[ $interval =~ ^[0-9]*\.?[0-9]+$ ]] || die "bad --interval: $interval"
if [ -n "$pin" ]; then
  [[ $pin =~ ^[0-9]+,[0-9]+,[0-9]+$ ]] || die "bad --pin (want A,B,P): $pin"
  IFS=, read -r cpu_a cpu_b cpu_p <<<"$pin"
fi
[ "$(id -u)" = 0 ] || die "needs root (network namespaces)"
for tool in ip wg ping; do command -v "$tool" >/dev/null || die "missing $tool"; done
if [ "$steps" = 1 ]; then
  command -v perf >/dev/null || die "--steps needs perf (apt-get install linux-perf)"
fi
if [ ${#impls[@]} -eq 0 ]; then
  impls=("wgrs=$root/target/release/wgrs")
  if bt=$(command -v boringtun-cli); then impls+=("boringtun=$bt"); fi
fi

umask 077  # the keys
tag=png$$
ns_a=$tag-a ns_b=$tag-b
tmp=$(mktemp -d)
cleanup() {
  stop_netns "$ns_a" "$ns_b"
  rm -f "/var/run/wireguard/${tag}a.sock" "/var/run/wireguard/${tag}b.sock"
  rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

pinned() {  # pinned CPU: the command prefix that pins to CPU when --pin was given, else nothing
  if [ -n "$pin" ]; then echo "taskset -c $1"; fi
}

start() {  # start NS CPU BIN IFNAME
  local args=("$3" "$4")
  case $(basename "$3") in
    boringtun*) args=(env WG_SUDO=1 "$3" --disable-drop-privileges "$4") ;;
  esac
  # shellcheck disable=SC2046  # the prefix is one word per argument
  ip netns exec "$1" $(pinned "$2") "${args[@]}" >>"$tmp/$4.log" 2>&1 \
    || die "$3 $4 did not start: $(tail -n2 "$tmp/$4.log")"
  for _ in $(seq 50); do [ -S "/var/run/wireguard/$4.sock" ] && return 0; sleep 0.1; done
  die "$3 created no /var/run/wireguard/$4.sock"
}

cpu_ns() {  # cpu_ns PID: on-CPU nanoseconds of all of PID's threads so far
  cat /proc/"$1"/task/*/schedstat 2>/dev/null | awk '{ s += $1 } END { printf "%d\n", s }'
}

one_run() {  # one_run NAME BIN: prints "median min avg max" in ms
  local bin=$2 if_a=${tag}a if_b=${tag}b
  ip netns add "$ns_a"; ip netns add "$ns_b"
  ip -n "$ns_a" link add veth0 type veth peer name veth0 netns "$ns_b"
  ip -n "$ns_a" addr add 10.200.0.1/24 dev veth0
  ip -n "$ns_b" addr add 10.200.0.2/24 dev veth0
  for ns in "$ns_a" "$ns_b"; do ip -n "$ns" link set veth0 up; ip -n "$ns" link set lo up; done
  start "$ns_a" "${cpu_a:-0}" "$bin" "$if_a"
  start "$ns_b" "${cpu_b:-0}" "$bin" "$if_b"
  wg genkey >"$tmp/ka"; wg genkey >"$tmp/kb"
  ip netns exec "$ns_a" wg set "$if_a" private-key "$tmp/ka" listen-port 51820 \
    peer "$(wg pubkey <"$tmp/kb")" allowed-ips 10.201.0.2/32 endpoint 10.200.0.2:51820
  ip netns exec "$ns_b" wg set "$if_b" private-key "$tmp/kb" listen-port 51820 \
    peer "$(wg pubkey <"$tmp/ka")" allowed-ips 10.201.0.1/32 endpoint 10.200.0.1:51820
  ip -n "$ns_a" addr add 10.201.0.1/24 dev "$if_a"; ip -n "$ns_a" link set "$if_a" mtu 1420 up
  ip -n "$ns_b" addr add 10.201.0.2/24 dev "$if_b"; ip -n "$ns_b" link set "$if_b" mtu 1420 up
  ip netns exec "$ns_a" ping -q -c 3 -W 2 10.201.0.2 >/dev/null \
    || die "$1: no handshake through the tunnel"
  local perf_pid="" pid_a pid_b cpu_a0 cpu_b0
  pid_a=$(ip netns pids "$ns_a" | head -n1) pid_b=$(ip netns pids "$ns_b" | head -n1)
  cpu_a0=$(cpu_ns "$pid_a") cpu_b0=$(cpu_ns "$pid_b")
  if [ "$steps" = 1 ]; then
    perf record -q -o "$tmp/steps.data" -p "$pid_a,$pid_b" \
      -e raw_syscalls:sys_enter,raw_syscalls:sys_exit,sched:sched_switch >/dev/null 2>&1 &
    perf_pid=$!
    sleep 0.5  # perf attaches
  fi
  # -W bounds each reply's wait; -c bounds the run.
  # shellcheck disable=SC2046  # the prefix is one word per argument
  ip netns exec "$ns_a" $(pinned "${cpu_p:-0}") ping -c "$count" -i "$interval" -W 1 10.201.0.2 \
    >"$tmp/ping.txt" || true
  if [ "$oncpu" = 1 ]; then
    local replies
    replies=$(grep -c 'time=' "$tmp/ping.txt" || true)
    echo "  on-CPU per ping (us): client $(( ($(cpu_ns "$pid_a") - cpu_a0) / 1000 / (replies > 0 ? replies : 1) ))," \
      "server $(( ($(cpu_ns "$pid_b") - cpu_b0) / 1000 / (replies > 0 ? replies : 1) ))" >"$tmp/oncpu.$1.$round"
  fi
  if [ -n "$perf_pid" ]; then
    kill -INT "$perf_pid"; wait "$perf_pid" || true
    perf script -i "$tmp/steps.data" -F pid,tid,time,event,trace >"$tmp/steps.txt" 2>/dev/null
    python3 "$root/benches/ping-steps.py" "$tmp/steps.txt" "client=$pid_a" "server=$pid_b" \
      >"$tmp/steps.$1.$round" || true
  fi
  stop_netns "$ns_a" "$ns_b"
  grep -o 'time=[0-9.]*' "$tmp/ping.txt" | cut -d= -f2 | sort -n | awk '
    { v[NR] = $1; s += $1 }
    END { if (NR == 0) { print "- - - -"; exit }
          printf "%.3f %.3f %.3f %.3f\n", v[int((NR + 1) / 2)], v[1], s / NR, v[NR] }'
}

declare -A medians
for r in $(seq "$rounds"); do
  for spec in "${impls[@]}"; do
    name=${spec%%=*} bin=${spec#*=}
    [ -x "$bin" ] || die "$name: $bin is not executable"
    round=$r
    read -r med min avg max < <(one_run "$name" "$bin")
    echo "round $r $name: median $med ms (min $min, avg $avg, max $max; $count pings every ${interval}s${pin:+, pinned $pin})"
    if [ "$oncpu" = 1 ]; then cat "$tmp/oncpu.$name.$r" 2>/dev/null || true; fi
    if [ "$steps" = 1 ]; then cat "$tmp/steps.$name.$r" 2>/dev/null || echo "  (no steps recorded)"; fi
    medians[$name]+="$med "
  done
done
for spec in "${impls[@]}"; do
  name=${spec%%=*}
  # shellcheck disable=SC2086  # one word per round
  echo "$name: median of round medians $(printf '%s\n' ${medians[$name]} | sort -n \
    | awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] }') ms"
done
