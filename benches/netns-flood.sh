#!/usr/bin/env bash
# netns-flood.sh: how a WireGuard server holds up under hostile traffic (issue 13 item 2).
#
# Usage: sudo bash benches/netns-flood.sh [OPTIONS] [NAME=PATH ...]
#   NAME=PATH        a server implementation (wireguard-go contract: PATH IFNAME creates the TUN
#                    and /var/run/wireguard/IFNAME.sock, then daemonizes); measured in order.
#                    Default: wgrs=<repo>/target/release/wgrs wireguard-go=/usr/bin/wireguard-go
#   --client PATH    the clients' implementation (default /usr/bin/wireguard-go), the same for
#                    every server, so that only the server side changes
#   --duration S     seconds of each iperf3 test (default 10); each flood lasts S + 3 s
#   --flood PATH     the generator (default <repo>/target/release/examples/flood, built with
#                    `cargo build --release --example flood` when missing)
#   -h, --help       print this text
#
# Four namespaces per server: S (the server under test), C (a client with an established
# tunnel), N (a new client) and F (the flooder, with 257 addresses), each of C, N, F joined to S
# by its own veth. Tunnel 10.201.0.0/24: S .1, C .2, N .3. For each server:
#   1. baseline: one iperf3 TCP stream C -> S through the tunnel, unflooded;
#   2. for each flood case, F floods S's WireGuard port for S+3 s (and at most 30 M packets)
#      while the same iperf3 stream runs; during the valid-mac1 floods a NEW client in N also
#      starts (fresh daemon) and pings S: the seconds to its first handshake are recorded
#      (">12" when none within 12 s);
#        valid1    initiations with a valid mac1 from unknown static keys, one source address
#        valid256  the same from 256 source addresses
#        junk148   148 bytes of type 1 (01 00 00 00, then random: mac1 fails)
#        junk1400  1,400 bytes starting with 0x01
#        control   the valid1 packet rate, paced, aimed at a UDP socket in S that never reads
#                  (the generator shares the 2 cores: this is its cost alone)
#   3. server RSS (VmRSS) after each case and its high-water mark (VmHWM) at the end.
# Prints a Markdown table: per case the flood's packets/s, the stream's Gbit/s and its share of
# the baseline, the new client's handshake time, and the server's RSS. Everything is bounded
# (timeouts, packet counts) and torn down on exit, also on Ctrl-C.
# Needs root, iproute2, wg, iperf3, ping, python3, timeout, cargo (to build the generator).
set -euo pipefail
me=netns-flood
# shellcheck source=lib.sh
. "$(dirname "$0")/lib.sh"

duration=10 client_bin=/usr/bin/wireguard-go flood_bin=""
impls=()
tag="wgf$$"
tmp=$(mktemp -d "/tmp/$tag.XXXXXX")
ns_s="$tag-s" ns_c="$tag-c" ns_n="$tag-n" ns_f="$tag-f"
if_s="${tag}s" if_c="${tag}c" if_n="${tag}n"
sockdir=/var/run/wireguard
port=51820
max_packets=30000000


parse_args() {
  while [ $# -gt 0 ]; do
    case $1 in
      --client) client_bin=${2:?}; shift ;;
      --duration) duration=${2:?}; shift ;;
      --flood) flood_bin=${2:?}; shift ;;
      -h|--help) usage; exit 0 ;;
      *=*) impls+=("$1") ;;
      *) usage >&2; die "unknown argument: $1" ;;
    esac
    shift
  done
  [[ $duration =~ ^[1-9][0-9]*$ ]] || die "bad --duration"
  if [ ${#impls[@]} -eq 0 ]; then
    impls=("wgrs=$root/target/release/wgrs" "wireguard-go=/usr/bin/wireguard-go")
  fi
  if [ -z "$flood_bin" ]; then
    flood_bin=$root/target/release/examples/flood
    if [ ! -x "$flood_bin" ]; then
      log "building the generator: cargo build --release --example flood"
      (cd "$root" && cargo build --release --example flood >&2)
    fi
  fi
  [ -x "$flood_bin" ] || die "generator not found: $flood_bin"
  [ -x "$client_bin" ] || die "client implementation not found: $client_bin"
}

# --- namespaces -------------------------------------------------------------------------------
teardown() {
  stop_netns "$ns_s" "$ns_c" "$ns_n" "$ns_f"
  rm -f "$sockdir/$if_s.sock" "$sockdir/$if_c.sock" "$sockdir/$if_n.sock"
}
cleanup() { teardown; rm -rf "$tmp"; }
trap cleanup EXIT
trap 'exit 130' INT TERM

link() {  # link NS DEV-IN-S ADDR-S ADDR-NS: a veth from S to NS
  ip -n "$ns_s" link add "$2" type veth peer name eth0 netns "$1"
  ip -n "$ns_s" addr add "$3" dev "$2"; ip -n "$ns_s" link set "$2" up
  ip -n "$1" addr add "$4" dev eth0; ip -n "$1" link set eth0 up; ip -n "$1" link set lo up
}

start_daemon() {  # start_daemon NS BIN IFNAME: start it and wait for its UAPI socket
  timeout 15 ip netns exec "$1" "$2" "$3" >>"$dir/$3.log" 2>&1 \
    || die "$2 $3 did not start: $(tail -n2 "$dir/$3.log")"
  for _ in $(seq 50); do [ -S "$sockdir/$3.sock" ] && return 0; sleep 0.1; done
  die "$2 created no $sockdir/$3.sock"
}

setup() {  # the four namespaces, the server and the established client
  local ns i
  for ns in "$ns_s" "$ns_c" "$ns_n" "$ns_f"; do ip netns add "$ns"; done
  ip -n "$ns_s" link set lo up
  link "$ns_c" to-cli 10.210.0.1/24 10.210.0.2/24
  link "$ns_n" to-new 10.212.0.1/24 10.212.0.2/24
  link "$ns_f" to-flood 10.211.0.1/16 10.211.0.2/16
  for i in $(seq 0 255); do echo "addr add 10.211.1.$i/16 dev eth0"; done | ip -n "$ns_f" -b -
  umask 077
  for k in s c n; do wg genkey >"$dir/key.$k"; wg pubkey <"$dir/key.$k" >"$dir/pub.$k"; done
  start_daemon "$ns_s" "$bin" "$if_s"
  ip netns pids "$ns_s" >"$dir/pids.s"
  timeout 10 ip netns exec "$ns_s" wg set "$if_s" private-key "$dir/key.s" listen-port "$port" \
    peer "$(cat "$dir/pub.c")" allowed-ips 10.201.0.2/32 \
    peer "$(cat "$dir/pub.n")" allowed-ips 10.201.0.3/32
  ip -n "$ns_s" addr add 10.201.0.1/24 dev "$if_s"; ip -n "$ns_s" link set "$if_s" mtu 1420 up
  client "$ns_c" "$if_c" c 10.201.0.2 10.210.0.1
  for _ in $(seq 10); do
    ip netns exec "$ns_c" ping -c 1 -W 1 10.201.0.1 >/dev/null 2>&1 && return 0
  done
  die "$name: no ping through the tunnel within 10 s"
}

client() {  # client NS IFNAME KEY INNER SERVER-UNDERLAY: a client daemon with S as its peer
  start_daemon "$1" "$client_bin" "$2"
  timeout 10 ip netns exec "$1" wg set "$2" private-key "$dir/key.$3" \
    peer "$(cat "$dir/pub.s")" allowed-ips 10.201.0.1/32 endpoint "$5:$port"
  ip -n "$1" addr add "$4/24" dev "$2"; ip -n "$1" link set "$2" mtu 1420 up
}

# --- measurements -----------------------------------------------------------------------------
put() { echo "$case.$1=$2" >>"$dir/metrics"; }

server_kib() {  # server_kib FIELD: VmRSS/VmHWM summed over the server daemon's processes, in KiB
  local pid kb=0
  for pid in $(cat "$dir/pids.s"); do
    kb=$((kb + $(awk -v f="$1:" '$1 == f { print $2 }' "/proc/$pid/status" 2>/dev/null || echo 0)))
  done
  echo "$kb"
}

iperf() {  # one TCP stream C -> S for $duration s; prints Gbit/s
  ip netns exec "$ns_s" timeout $((duration + 30)) iperf3 -s -1 -J -B 10.201.0.1 \
    >"$dir/$case.server.json" 2>&1 &
  local spid=$!
  for _ in $(seq 50); do
    ip netns exec "$ns_s" ss -Hltn 'sport = :5201' | grep -q . && break; sleep 0.1
  done
  if ip netns exec "$ns_c" timeout $((duration + 20)) iperf3 -c 10.201.0.1 -t "$duration" -J \
       >"$dir/$case.client.json" 2>&1; then
    wait "$spid" || true
    python3 -c 'import json,sys; d=json.load(open(sys.argv[1]))
print(round(d["end"]["sum_received"]["bits_per_second"] / 1e9, 3))' "$dir/$case.client.json"
  else
    kill "$spid" 2>/dev/null || true; wait "$spid" 2>/dev/null || true; echo 0
  fi
}

new_client() {  # a fresh client daemon in N pings S; prints seconds to its first handshake
  local t0 hs elapsed=">12" ppid
  client "$ns_n" "$if_n" n 10.201.0.3 10.212.0.1
  t0=$(date +%s.%N)
  ip netns exec "$ns_n" timeout 13 ping -q -i 0.2 -W 1 10.201.0.1 >/dev/null 2>&1 &
  ppid=$!
  for _ in $(seq 120); do
    hs=$(timeout 5 ip netns exec "$ns_n" wg show "$if_n" latest-handshakes | awk '{ print $2 }')
    if [ -n "$hs" ] && [ "$hs" != 0 ]; then
      elapsed=$(python3 -c "import time; print(round(time.time() - $t0, 2))"); break
    fi
    sleep 0.1
  done
  kill "$ppid" 2>/dev/null || true; wait "$ppid" 2>/dev/null || true
  kill_ns "$ns_n"
  for _ in $(seq 30); do [ -S "$sockdir/$if_n.sock" ] || break; sleep 0.1; done
  rm -f "$sockdir/$if_n.sock"
  echo "$elapsed"
}

flood_case() {  # flood_case CASE FLOOD-ARGS...: flood, measure the stream (and a new client)
  case=$1; shift
  log "  $name: $case"
  ip netns exec "$ns_f" timeout $((duration + 15)) "$flood_bin" --seconds $((duration + 3)) \
    --count "$max_packets" "$@" >"$dir/$case.flood" 2>&1 &
  local fpid=$! gbps hs=""
  sleep 1
  if [[ $case == valid* ]]; then
    new_client >"$dir/$case.hs" &
    local npid=$!
  fi
  gbps=$(iperf)
  [ -z "${npid:-}" ] || { wait "$npid" || true; hs=$(cat "$dir/$case.hs"); }
  wait "$fpid" || true
  put gbps "$gbps"
  put pps "$(sed -n 's/.*pps=\([0-9]*\).*/\1/p' "$dir/$case.flood")"
  put handshake_s "$hs"
  put rss_kib "$(server_kib VmRSS)"
}

run_one() {
  local pub
  setup
  pub=$(cat "$dir/pub.s")
  case=baseline; log "  $name: baseline"
  put gbps "$(iperf)"; put rss_kib "$(server_kib VmRSS)"
  local to=10.211.0.1:$port
  flood_case valid1 --target "$to" --kind valid --server-pub "$pub" --src 10.211.0.2
  flood_case valid256 --target "$to" --kind valid --server-pub "$pub" --src 10.211.1.0 \
    --src-count 256
  flood_case junk148 --target "$to" --kind junk148 --src 10.211.0.2
  flood_case junk1400 --target "$to" --kind junk1400 --src 10.211.0.2
  local rate
  rate=$(sed -n 's/^valid1.pps=//p' "$dir/metrics"); rate=${rate:-0}
  ip netns exec "$ns_s" timeout $((duration + 15)) "$flood_bin" sink --bind 10.211.0.1:40000 \
    --seconds $((duration + 8)) &
  local sink=$!
  sleep 0.5
  flood_case control --target 10.211.0.1:40000 --kind valid --server-pub "$pub" \
    --src 10.211.0.2 --rate "$rate"
  kill "$sink" 2>/dev/null || true; wait "$sink" 2>/dev/null || true
  case=end; put hwm_kib "$(server_kib VmHWM)"
}

report() {
  python3 - "$tmp" "${impls[@]}" <<'EOF'
import os, sys
tmp, impls = sys.argv[1], [i.split("=", 1)[0] for i in sys.argv[2:]]
cases = ["valid1", "valid256", "junk148", "junk1400", "control"]
label = {"valid1": "initiations, valid mac1, unknown keys, 1 source",
         "valid256": "the same from 256 sources", "junk148": "148-byte junk, type 1",
         "junk1400": "1,400-byte junk starting 0x01",
         "control": "valid1's rate at a socket that never reads"}
m = {}
for n in impls:
    f = os.path.join(tmp, n, "metrics")
    m[n] = dict(l.rstrip("\n").split("=", 1) for l in open(f)) if os.path.exists(f) else {}
def num(v):
    try: return float(v)
    except (TypeError, ValueError): return None
print("| flood | " + " | ".join(f"{n}: pps / Gbit/s / share / new client s / RSS MiB" for n in impls) + " |")
print("|---|" + "---|" * len(impls))
base = {n: num(m[n].get("baseline.gbps")) for n in impls}
print("| none (baseline) | " + " | ".join(
    f"— / {m[n].get('baseline.gbps', 'n/a')} / 100% / — / {num(m[n].get('baseline.rss_kib')) and round(num(m[n]['baseline.rss_kib']) / 1024, 1)}"
    for n in impls) + " |")
for c in cases:
    row = []
    for n in impls:
        g, b = num(m[n].get(f"{c}.gbps")), base[n]
        share = f"{100 * g / b:.0f}%" if g is not None and b else "n/a"
        rss = num(m[n].get(f"{c}.rss_kib"))
        hs = m[n].get(f"{c}.handshake_s") or "—"
        row.append(f"{m[n].get(f'{c}.pps', 'n/a')} / {m[n].get(f'{c}.gbps', 'n/a')} / {share} / {hs} / "
                   + (f"{rss / 1024:.1f}" if rss else "n/a"))
    print(f"| {label[c]} | " + " | ".join(row) + " |")
print()
for n in impls:
    hwm = num(m[n].get("end.hwm_kib"))
    status = m[n].get("status", "ok")
    print(f"- {n}: server peak RSS (VmHWM) " + (f"{hwm / 1024:.1f} MiB" if hwm else "n/a")
          + ("" if status == "ok" else f"; FAILED: {status}"))
EOF
}

main() {
  parse_args "$@"
  [ "$(id -u)" -eq 0 ] || die "must run as root (namespaces, TUN)"
  for t in ip wg iperf3 ping python3 timeout ss; do command -v "$t" >/dev/null || die "$t not found"; done
  mkdir -p "$sockdir"
  local spec rc
  for spec in "${impls[@]}"; do
    name=${spec%%=*} bin=${spec#*=} dir="$tmp/$name"
    mkdir -p "$dir"
    [ -x "$bin" ] || { log "skipping $name: $bin not found"; echo "status=missing" >"$dir/metrics"; continue; }
    log "$name ($bin), clients: $client_bin, load average $(cut -d' ' -f1 /proc/loadavg)"
    set +e; ( set -e; run_one ); rc=$?; set -e
    [ "$rc" -eq 0 ] || { log "  $name FAILED (exit $rc)"; echo "status=failed (exit $rc)" >>"$dir/metrics"; }
    teardown
  done
  report
}

main "$@"
