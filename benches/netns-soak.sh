#!/usr/bin/env bash
# netns-soak.sh: steady traffic both ways through several rekeys (issue 13 item 4).
#
# Usage: sudo bash benches/netns-soak.sh [OPTIONS] [NAME=A_PATH[,B_PATH] ...]
#   NAME=A_PATH[,B_PATH]  a run: A_PATH on side A (the implementation soaked), B_PATH on side B
#                    (default /usr/bin/wireguard-go); runs go one after the other.
#                    Default: wireguard-go=/usr/bin/wireguard-go wgrs=<repo>/target/release/wgrs
#   --seconds S      length of each run (default 380: 6 minutes and the third rekey, which falls
#                    due 360 s after the first handshake)
#   --rate PPS       datagrams per second in each direction (default 500)
#   --keep DIR       copy each run's data (daemon logs, stream records) to DIR at the end;
#                    with LOG_LEVEL=verbose in the environment the daemons log their events
#   -h, --help       print this text
#
# Per run: namespaces A and B joined by a veth (10.220.0.1/24 <-> .2), tunnel 10.221.0.1 <-> .2
# (MTU 1420), both daemons configured with `wg set` (no persistent keepalive: the data alone
# decides when to rekey). Once a first ping passes, a numbered UDP stream runs A -> B and one
# B -> A for S seconds at PPS each (each datagram: sequence number and send time, 64 bytes).
# Every second the script records both sides' latest handshake. Reported per run:
#   * handshakes seen (the first one, then each rekey: REKEY_AFTER_TIME is 120 s);
#   * sessions lost: silences of more than 1 s in either stream (a stalled handshake shows here),
#     and the longest silence, with when it began (seconds after the first handshake);
#   * datagrams lost in all, and within [-2 s, +3 s] of each rekey (by send time);
#   * side A's daemon RSS (VmRSS) after 60 s and at the end, and its peak (VmHWM).
# Everything is bounded by timeouts and torn down on exit, also on Ctrl-C.
# Needs root, iproute2, wg, ping, python3, timeout.
set -euo pipefail
me=netns-soak
# shellcheck source=lib.sh
. "$(dirname "$0")/lib.sh"

seconds=380 rate=500
runs=()
tag="wgs$$"
tmp=$(mktemp -d "/tmp/$tag.XXXXXX")
ns_a="$tag-a" ns_b="$tag-b" if_a="${tag}a" if_b="${tag}b"
sockdir=/var/run/wireguard


parse_args() {
  while [ $# -gt 0 ]; do
    case $1 in
      --seconds) seconds=${2:?}; shift ;;
      --rate) rate=${2:?}; shift ;;
      --keep) keep=${2:?}; shift ;;
      -h|--help) usage; exit 0 ;;
      *=*) runs+=("$1") ;;
      *) usage >&2; die "unknown argument: $1" ;;
    esac
    shift
  done
  [[ $seconds =~ ^[1-9][0-9]*$ && $rate =~ ^[1-9][0-9]*$ ]] || die "bad --seconds/--rate"
  [ ${#runs[@]} -gt 0 ] || runs=("wireguard-go=/usr/bin/wireguard-go" "wgrs=$root/target/release/wgrs")
}

teardown() {
  stop_netns "$ns_a" "$ns_b"
  rm -f "$sockdir/$if_a.sock" "$sockdir/$if_b.sock"
}
cleanup() {
  teardown
  if [ -n "${keep:-}" ]; then mkdir -p "$keep" && cp -r "$tmp"/. "$keep"/; fi
  rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

start_daemon() {  # start_daemon NS BIN IFNAME
  timeout 15 ip netns exec "$1" "$2" "$3" >>"$dir/$3.log" 2>&1 \
    || die "$2 $3 did not start: $(tail -n2 "$dir/$3.log")"
  for _ in $(seq 50); do [ -S "$sockdir/$3.sock" ] && return 0; sleep 0.1; done
  die "$2 created no $sockdir/$3.sock"
}

setup() {
  ip netns add "$ns_a"; ip netns add "$ns_b"
  ip -n "$ns_a" link add eth0 type veth peer name eth0 netns "$ns_b"
  ip -n "$ns_a" addr add 10.220.0.1/24 dev eth0; ip -n "$ns_b" addr add 10.220.0.2/24 dev eth0
  for ns in "$ns_a" "$ns_b"; do ip -n "$ns" link set eth0 up; ip -n "$ns" link set lo up; done
  umask 077
  wg genkey >"$dir/key.a"; wg genkey >"$dir/key.b"
  start_daemon "$ns_a" "$bin_a" "$if_a"
  ip netns pids "$ns_a" >"$dir/pids.a"   # the daemon alone: the streams run there later
  start_daemon "$ns_b" "$bin_b" "$if_b"
  timeout 10 ip netns exec "$ns_a" wg set "$if_a" private-key "$dir/key.a" listen-port 51820 \
    peer "$(wg pubkey <"$dir/key.b")" allowed-ips 10.221.0.2/32 endpoint 10.220.0.2:51820
  timeout 10 ip netns exec "$ns_b" wg set "$if_b" private-key "$dir/key.b" listen-port 51820 \
    peer "$(wg pubkey <"$dir/key.a")" allowed-ips 10.221.0.1/32 endpoint 10.220.0.1:51820
  ip -n "$ns_a" addr add 10.221.0.1/24 dev "$if_a"; ip -n "$ns_a" link set "$if_a" mtu 1420 up
  ip -n "$ns_b" addr add 10.221.0.2/24 dev "$if_b"; ip -n "$ns_b" link set "$if_b" mtu 1420 up
  for _ in $(seq 10); do
    ip netns exec "$ns_a" ping -c 1 -W 1 10.221.0.2 >/dev/null 2>&1 && return 0
  done
  die "no ping through the tunnel within 10 s"
}

# The numbered stream: `send DST PORT RATE SECONDS` writes the count it sent to stdout;
# `recv PORT SECONDS` writes "seq send_time recv_time" lines. Paced by absolute schedule.
write_stream_py() {
  cat >"$tmp/stream.py" <<'EOF'
import socket, struct, sys, time
mode = sys.argv[1]
if mode == "send":
    dst, port, rate, secs = sys.argv[2], int(sys.argv[3]), int(sys.argv[4]), float(sys.argv[5])
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    start, n = time.time(), 0
    while n < rate * secs:
        due = start + n / rate
        now = time.time()
        if due > now:
            time.sleep(due - now)
        try:
            s.sendto(struct.pack("!Qd", n, time.time()).ljust(64, b"\0"), (dst, port))
        except OSError:
            pass  # counted as lost by the receiver
        n += 1
    print(n)
else:
    port, secs = int(sys.argv[2]), float(sys.argv[3])
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 1 << 22)
    s.bind(("0.0.0.0", port))
    end = time.time() + secs
    out = sys.stdout
    while True:
        left = end - time.time()
        if left <= 0:
            break
        s.settimeout(left)
        try:
            d = s.recv(2048)
        except socket.timeout:
            break
        if len(d) >= 16:
            seq, sent = struct.unpack("!Qd", d[:16])
            out.write(f"{seq} {sent:.4f} {time.time():.4f}\n")
EOF
}
stream() {  # stream NS TIMEOUT ARGS...
  local ns=$1 secs=$2; shift 2
  ip netns exec "$ns" timeout "$secs" python3 "$tmp/stream.py" "$@"
}

rss_kib() {  # rss_kib FIELD: summed over side A's daemon processes
  local pid kb=0
  for pid in $(cat "$dir/pids.a"); do
    kb=$((kb + $(awk -v f="$1:" '$1 == f { print $2 }' "/proc/$pid/status" 2>/dev/null || echo 0)))
  done
  echo "$kb"
}

run_one() {
  setup
  local t0 end pa pb ra rb sa sb i
  log "  $name: streams for $seconds s at $rate/s each way"
  stream "$ns_b" $((seconds + 20)) recv 6000 $((seconds + 8)) >"$dir/recv.b" &
  rb=$!
  stream "$ns_a" $((seconds + 20)) recv 6001 $((seconds + 8)) >"$dir/recv.a" &
  ra=$!
  sleep 1
  t0=$(date +%s)
  stream "$ns_a" $((seconds + 15)) send 10.221.0.2 6000 "$rate" "$seconds" >"$dir/sent.ab" &
  sa=$!
  stream "$ns_b" $((seconds + 15)) send 10.221.0.1 6001 "$rate" "$seconds" >"$dir/sent.ba" &
  sb=$!
  end=$((t0 + seconds))
  i=0
  while [ "$(date +%s)" -lt "$end" ]; do
    pa=$(timeout 5 ip netns exec "$ns_a" wg show "$if_a" latest-handshakes | awk '{ print $2 }')
    pb=$(timeout 5 ip netns exec "$ns_b" wg show "$if_b" latest-handshakes | awk '{ print $2 }')
    echo "$(date +%s) ${pa:-0} ${pb:-0}" >>"$dir/handshakes"
    i=$((i + 1))
    [ "$i" -ne 60 ] || echo "rss60=$(rss_kib VmRSS)" >>"$dir/metrics"
    sleep 1
  done
  wait "$sa" "$sb" || true
  wait "$ra" "$rb" || true
  echo "rss_end=$(rss_kib VmRSS)" >>"$dir/metrics"
  echo "hwm_end=$(rss_kib VmHWM)" >>"$dir/metrics"
}

report() {
  python3 - "$tmp" "$rate" "${runs[@]}" <<'EOF'
import os, sys
tmp, rate, runs = sys.argv[1], int(sys.argv[2]), sys.argv[3:]
print("| run (A / B) | handshakes | silences > 1 s (longest) | lost A->B | lost B->A | lost near each rekey (A->B + B->A) | A RSS at 60 s -> end (peak), MiB |")
print("|---|---:|---|---:|---:|---|---|")
for spec in runs:
    name, bins = spec.split("=", 1)
    d = os.path.join(tmp, name)
    m = {}
    if os.path.exists(f"{d}/metrics"):
        m = dict(l.strip().split("=", 1) for l in open(f"{d}/metrics") if "=" in l)
    if "status" in m:
        print(f"| {name} | FAILED: {m['status']} |||||"); continue
    hs = set()
    for l in open(f"{d}/handshakes") if os.path.exists(f"{d}/handshakes") else []:
        _, a, b = l.split()
        hs.update(int(x) for x in (a, b) if int(x) > 0)
    # Handshakes seen from both sides within 2 s are the same one.
    events = []
    for t in sorted(hs):
        if not events or t - events[-1] > 2: events.append(t)
    def load(direction, recv):
        sent = int(open(f"{d}/sent.{direction}").read().split()[0] or 0) if os.path.exists(f"{d}/sent.{direction}") else 0
        got = {}
        for l in open(f"{d}/recv.{recv}") if os.path.exists(f"{d}/recv.{recv}") else []:
            s, ts, tr = l.split(); got[int(s)] = (float(ts), float(tr))
        return sent, got
    lost_near = [0] * len(events)
    silences, longest, longest_at, lost = 0, 0.0, None, {}
    for direction, recv in (("ab", "b"), ("ba", "a")):
        sent, got = load(direction, recv)
        missing = [s for s in range(sent) if s not in got]
        lost[direction] = len(missing)
        if got:
            start = min(v[0] - s / rate for s, v in got.items())
            for s in missing:
                t = start + s / rate
                for i, e in enumerate(events):
                    if e - 2 <= t <= e + 3: lost_near[i] += 1
            arrivals = sorted(v[1] for v in got.values())
            for x, y in zip(arrivals, arrivals[1:]):
                if y - x > 1: silences += 1
                if y - x > longest: longest, longest_at = y - x, x
    t0 = events[0] if events else 0
    at = f" at +{longest_at - t0:.0f} s" if longest_at is not None and events else ""
    near = ", ".join(f"+{e - t0} s: {n}" for e, n in zip(events[1:], lost_near[1:])) or "no rekey seen"
    kib = lambda k: f"{int(m[k]) / 1024:.1f}" if k in m else "n/a"
    print(f"| {name} ({bins}) | {len(events)} | {silences} ({longest:.2f} s{at}) | {lost['ab']} | {lost['ba']} | {near} | {kib('rss60')} -> {kib('rss_end')} ({kib('hwm_end')}) |")
EOF
}

main() {
  parse_args "$@"
  [ "$(id -u)" -eq 0 ] || die "must run as root (namespaces, TUN)"
  for t in ip wg ping python3 timeout; do command -v "$t" >/dev/null || die "$t not found"; done
  mkdir -p "$sockdir"
  write_stream_py
  local spec rc
  for spec in "${runs[@]}"; do
    name=${spec%%=*} bins=${spec#*=} dir="$tmp/$name"
    bin_a=${bins%%,*} bin_b=/usr/bin/wireguard-go
    [[ $bins == *,* ]] && bin_b=${bins#*,}
    mkdir -p "$dir"
    if [ ! -x "$bin_a" ] || [ ! -x "$bin_b" ]; then
      log "skipping $name: $bin_a or $bin_b not found"; echo "status=missing binary" >"$dir/metrics"; continue
    fi
    log "$name: A=$bin_a B=$bin_b, load average $(cut -d' ' -f1 /proc/loadavg)"
    set +e; ( set -e; run_one ); rc=$?; set -e
    [ "$rc" -eq 0 ] || { log "  $name FAILED (exit $rc)"; echo "status=failed (exit $rc)" >>"$dir/metrics"; }
    teardown
  done
  report
}

main "$@"
