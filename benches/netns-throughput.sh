#!/usr/bin/env bash
# netns-throughput.sh: side-by-side throughput, latency, CPU and memory of userspace WireGuard
# implementations that follow the wireguard-go contract, each run between two network namespaces.
#
# Usage: sudo bash benches/netns-throughput.sh [OPTIONS] [NAME=PATH ...]
#   NAME=PATH        an implementation to measure (repeatable, measured in this order). PATH IFNAME
#                    must create TUN IFNAME and /var/run/wireguard/IFNAME.sock, then daemonize.
#                    Default: wgrs=<repo>/target/release/wgrs (if built), wireguard-go=<Debian 13's
#                    build, from $WG_TRIXIE_INSTALLER>, boringtun=$(command -v boringtun-cli) (if
#                    installed); a default whose binary is missing is skipped with a message.
#   --rounds N       rounds; every round runs each implementation once, in order (default 3)
#   --duration S     seconds per iperf3 test (default 10)
#   --quick          smoke run: 1 round, 3 s tests, 10 pings
#   --baseline NAME  implementation the ratio table divides by (default wireguard-go)
#   --json FILE      also write the raw per-round data and the medians to FILE
#   --server-cpus LIST  run the receiving (server-side) daemon under `taskset -c LIST`, e.g. 0 or
#                    0,1, to measure how one build scales from one core to two
#   --no-peers4      skip the 4-peer case (it adds 5 namespaces and 5 daemons per run)
#   -h, --help       print this text
# Environment: WG_TRIXIE_INSTALLER  installer printing wireguard-go's path
#                (default <repo>/../shared/tools/install-wireguard-go-trixie.sh)
# Per run: fresh namespaces wgb$$-a/-b joined by a veth (10.200.0.1/24 <-> .2, MTU 1500), one
# daemon per side, tunnel 10.201.0.1/24 <-> .2, MTU 1420. Measured A->B: iperf3 TCP 1 and 4
# streams, UDP 64-byte packets delivered per second (server side), ping RTT on the idle tunnel,
# daemon CPU seconds per GB in the 1-stream test, daemon RSS idle and peak. Then the 4-peer case:
# a server namespace wgb$$-s with 4 peers, each a client namespace wgb$$-p0..p3 on its own veth
# (10.210.I.2 -> .1) with its own daemon of the same implementation, tunnel 10.202.0.1 <-> .1I;
# 4 iperf3 clients, one per peer, send at once, and the aggregate Gbit/s is reported.
# Prints Markdown medians and ratios to stdout. Needs root, iproute2, wg, iperf3, ping, python3,
# timeout (and taskset for --server-cpus).
set -euo pipefail
me=netns-throughput
# shellcheck source=lib.sh
. "$(dirname "$0")/lib.sh"

rounds=3 duration=10 pings=20 baseline=wireguard-go json_out="" server_cpus="" peers4=1
impls=()
tag="wgb$$"                          # prefix of every namespace, interface and socket we create
tmp=$(mktemp -d "/tmp/$tag.XXXXXX")
ns_a="$tag-a" ns_b="$tag-b" if_a="${tag}a" if_b="${tag}b"
ns_s="$tag-s" if_s="${tag}s"          # the 4-peer case: server, and clients $tag-p0..p3
sockdir=/var/run/wireguard
clk=$(getconf CLK_TCK)


# --- arguments and implementations ------------------------------------------------------------
parse_args() {
  while [ $# -gt 0 ]; do
    case $1 in
      --rounds) rounds=${2:?}; shift ;;
      --duration) duration=${2:?}; shift ;;
      --quick) rounds=1 duration=3 pings=10 ;;
      --baseline) baseline=${2:?}; shift ;;
      --json) json_out=${2:?}; shift ;;
      --server-cpus) server_cpus=${2:?}; shift ;;
      --no-peers4) peers4=0 ;;
      -h|--help) usage; exit 0 ;;
      *=*) impls+=("$1") ;;
      *) usage >&2; die "unknown argument: $1" ;;
    esac
    shift
  done
  [[ $rounds =~ ^[1-9][0-9]*$ && $duration =~ ^[1-9][0-9]*$ ]] || die "bad --rounds/--duration"
  [[ -z $server_cpus || $server_cpus =~ ^[0-9]+([,-][0-9]+)*$ ]] || die "bad --server-cpus: $server_cpus"
}

default_impls() {
  local installer bin
  if [ -x "$root/target/release/wgrs" ]; then impls+=("wgrs=$root/target/release/wgrs")
  else log "skipping wgrs: $root/target/release/wgrs not built (cargo build --release)"; fi
  installer=${WG_TRIXIE_INSTALLER:-$root/../shared/tools/install-wireguard-go-trixie.sh}
  if [ -f "$installer" ] && bin=$(bash "$installer" 2>"$tmp/installer.log") && [ -x "$bin" ]; then
    impls+=("wireguard-go=$bin")
  else log "skipping wireguard-go: installer $installer failed or missing (see below)"
    tail -3 "$tmp/installer.log" >&2 || true; fi
  if bin=$(command -v boringtun-cli); then impls+=("boringtun=$bin")
  else log "skipping boringtun: boringtun-cli not on PATH (cargo install boringtun-cli)"; fi
}

# --- per-run setup and teardown ---------------------------------------------------------------
teardown() {   # stop every process in this run's namespaces, delete them and the sockets
  stop_netns "$ns_a" "$ns_b" "$ns_s" "$tag-p0" "$tag-p1" "$tag-p2" "$tag-p3"
  rm -f "$sockdir/$tag"*.sock
  [ -z "${dir:-}" ] || rm -f "$dir"/pids.*
}
cleanup() { teardown; rm -rf "$tmp"; }
trap cleanup EXIT
trap 'exit 130' INT TERM

step() { echo "$*" >"$dir/step"; }

daemon_cmd() {  # the argv (after env) that starts $bin on interface $1
  case $(basename "$bin") in
    boringtun*) echo "WG_SUDO=1 $bin --disable-drop-privileges --log $dir/$1.log $1" ;;
    *) echo "$bin $1" ;;
  esac
}

start_daemon() {  # start_daemon NS IFNAME [server]: start the daemon, wait for its UAPI socket
  local ns=$1 ifname=$2 cmd
  read -r -a cmd <<<"$(daemon_cmd "$ifname")"
  if [ "${3:-}" = server ] && [ -n "$server_cpus" ]; then cmd=(taskset -c "$server_cpus" "${cmd[@]}"); fi
  step "starting daemon in $ns"
  if ! timeout 15 ip netns exec "$ns" env "${cmd[@]}" >>"$dir/$ifname.log" 2>&1; then
    step "daemon start failed: $(tail -qn1 "$dir/$ifname.log" 2>/dev/null)"; return 1
  fi
  step "daemon did not create $sockdir/$ifname.sock within 5 s"
  for _ in $(seq 50); do [ -S "$sockdir/$ifname.sock" ] && break; sleep 0.1; done
  [ -S "$sockdir/$ifname.sock" ]
  ip netns pids "$ns" >"$dir/pids.$ns"
  [ -s "$dir/pids.$ns" ]
}

wg_set() {  # wg_set NS IFNAME OWN-KEY PEER-KEY PEER-INNER PEER-UNDERLAY (bounded: wg has no timeout)
  if ! timeout 10 ip netns exec "$1" wg set "$2" private-key "$3" listen-port 51820 \
       peer "$(wg pubkey <"$4")" allowed-ips "$5/32" endpoint "$6:51820" 2>"$dir/wg.err"; then
    step "wg set $2 failed: $(tail -qn1 "$dir/wg.err")"; [ -s "$dir/wg.err" ] || step "wg set $2 timed out"
    return 1
  fi
}

setup_tunnel() {
  step "creating namespaces and veth"
  ip netns add "$ns_a"; ip netns add "$ns_b"
  ip -n "$ns_a" link add veth0 type veth peer name veth0 netns "$ns_b"
  ip -n "$ns_a" addr add 10.200.0.1/24 dev veth0
  ip -n "$ns_b" addr add 10.200.0.2/24 dev veth0
  for ns in "$ns_a" "$ns_b"; do
    ip -n "$ns" link set veth0 mtu 1500 up; ip -n "$ns" link set lo up
  done
  start_daemon "$ns_a" "$if_a"
  start_daemon "$ns_b" "$if_b" server
  step "configuring with wg"
  umask 077; wg genkey >"$dir/key.a"; wg genkey >"$dir/key.b"
  wg_set "$ns_a" "$if_a" "$dir/key.a" "$dir/key.b" 10.201.0.2 10.200.0.2
  wg_set "$ns_b" "$if_b" "$dir/key.b" "$dir/key.a" 10.201.0.1 10.200.0.1
  ip -n "$ns_a" addr add 10.201.0.1/24 dev "$if_a"; ip -n "$ns_a" link set "$if_a" mtu 1420 up
  ip -n "$ns_b" addr add 10.201.0.2/24 dev "$if_b"; ip -n "$ns_b" link set "$if_b" mtu 1420 up
  step "tunnel did not pass a ping within 10 s"
  for _ in $(seq 10); do
    ip netns exec "$ns_a" ping -c 1 -W 1 10.201.0.2 >/dev/null 2>&1 && return 0
  done
  false
}

# --- measurement helpers ----------------------------------------------------------------------
put() { echo "$1=$2" >>"$dir/metrics"; }
jget() { python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); print(eval(sys.argv[2]))' "$@"; }
daemon_pids() { cat "$dir"/pids.*; }

alive() {  # fail unless every daemon process still runs
  local pid
  for pid in $(daemon_pids); do
    if [ ! -d "/proc/$pid" ] || grep -q '^State:.*Z' "/proc/$pid/status"; then
      step "daemon $pid exited ($(tail -qn1 "$dir"/*.log 2>/dev/null | tr '\n' ' '))"; return 1
    fi
  done
}

cpu_ticks() {  # utime+stime (fields 14, 15) of every daemon, all threads, in clock ticks
  local pid sum=0 rest fld
  for pid in $(daemon_pids); do
    rest=$(sed 's/.*) //' "/proc/$pid/stat")          # drop "pid (comm) " whatever comm holds
    read -r -a fld <<<"$rest"                         # fld[0] is field 3
    sum=$((sum + fld[11] + fld[12]))
  done
  echo "$sum"
}

rss() {  # rss KEY FIELD: per side, FIELD (VmRSS/VmHWM) summed over its processes, in MiB
  local side ns kb pid pids
  for side in a b; do
    if [ $side = a ]; then ns=$ns_a; else ns=$ns_b; fi
    kb=0
    mapfile -t pids <"$dir/pids.$ns"
    for pid in "${pids[@]}"; do
      kb=$((kb + $(awk -v f="$2:" '$1 == f { print $2 }' "/proc/$pid/status")))
    done
    put "$1_$side" "$(python3 -c "print(round($kb / 1024, 1))")"
  done
}

iperf() {  # iperf NAME CLIENT-ARGS...: one iperf3 test A->B; JSON in $dir/NAME.{client,server}.json
  local name=$1 spid; shift
  step "iperf3 $name"
  ip netns exec "$ns_b" timeout $((duration + 30)) iperf3 -s -1 -J -B 10.201.0.2 \
    >"$dir/$name.server.json" 2>&1 &
  spid=$!
  for _ in $(seq 50); do
    ip netns exec "$ns_b" ss -Hltn 'sport = :5201' | grep -q . && break; sleep 0.1
  done
  ip netns exec "$ns_a" timeout $((duration + 20)) iperf3 -c 10.201.0.2 -t "$duration" -J "$@" \
    >"$dir/$name.client.json" || { kill "$spid" 2>/dev/null || true; wait "$spid" || true
      step "iperf3 $name: $(jget "$dir/$name.client.json" 'd.get("error")' 2>/dev/null || echo timeout)"
      return 1; }
  wait "$spid"
}

measure_ping() {
  step "ping"
  ip netns exec "$ns_a" ping -c "$pings" -i 0.2 -W 1 10.201.0.2 >"$dir/ping.txt" || true
  read -r med avg n < <(python3 - "$dir/ping.txt" <<'EOF'
import re, statistics, sys
t = [float(x) for x in re.findall(r"time=([0-9.]+)", open(sys.argv[1]).read())]
print(round(statistics.median(t), 3), round(statistics.mean(t), 3), len(t)) if t else print("x x 0")
EOF
)
  [ "$n" -gt 0 ]
  put ping_median_ms "$med"; put ping_avg_ms "$avg"; put ping_replies "$n/$pings"
}

measure_tcp1() {
  local c0 c1 f=$dir/tcp1.client.json
  c0=$(cpu_ticks); iperf tcp1; c1=$(cpu_ticks)
  put tcp1_gbps "$(jget "$f" 'round(d["end"]["sum_received"]["bits_per_second"] / 1e9, 3)')"
  put tcp1_bytes "$(jget "$f" 'd["end"]["sum_received"]["bytes"]')"
  put tcp1_cpu_s "$(python3 -c "print(round(($c1 - $c0) / $clk, 2))")"
  put cpu_s_per_gb "$(jget "$f" "round(($c1 - $c0) / $clk / (d['end']['sum_received']['bytes'] / 1e9), 3)")"
}

measure_tcp4() {
  iperf tcp4 -P 4
  put tcp4_gbps "$(jget "$dir/tcp4.client.json" 'round(d["end"]["sum_received"]["bits_per_second"] / 1e9, 3)')"
}

measure_udp64() {
  local f=$dir/udp64.server.json
  iperf udp64 -u -l 64 -b 0
  put udp64_kpps "$(jget "$f" 'round((d["end"]["sum"]["packets"] - d["end"]["sum"]["lost_packets"]) / d["end"]["sum"]["seconds"] / 1e3, 1)')"
  put udp64_sent_kpps "$(jget "$dir/udp64.client.json" 'round(d["end"]["sum"]["packets"] / d["end"]["sum"]["seconds"] / 1e3, 1)' 2>/dev/null || echo null)"
}

# --- the 4-peer case -------------------------------------------------------------------------
setup_peers4() {  # server $ns_s with 4 peers, each client $tag-pI behind its own veth
  local i ns ifname
  step "creating the 4-peer namespaces"
  ip netns add "$ns_s"; ip -n "$ns_s" link set lo up
  start_daemon "$ns_s" "$if_s" server
  umask 077; wg genkey >"$dir/key.s"
  for i in 0 1 2 3; do
    ns="$tag-p$i" ifname="${tag}p$i"
    step "creating peer $i"
    ip netns add "$ns"; ip -n "$ns" link set lo up
    ip -n "$ns_s" link add "veth$i" type veth peer name veth0 netns "$ns"
    ip -n "$ns_s" addr add "10.210.$i.1/24" dev "veth$i"; ip -n "$ns_s" link set "veth$i" mtu 1500 up
    ip -n "$ns" addr add "10.210.$i.2/24" dev veth0; ip -n "$ns" link set veth0 mtu 1500 up
    start_daemon "$ns" "$ifname"
    wg genkey >"$dir/key.p$i"
    wg_set "$ns" "$ifname" "$dir/key.p$i" "$dir/key.s" 10.202.0.1 "10.210.$i.1"
    wg_set "$ns_s" "$if_s" "$dir/key.s" "$dir/key.p$i" "10.202.0.1$i" "10.210.$i.2"
    ip -n "$ns" addr add "10.202.0.1$i/24" dev "$ifname"; ip -n "$ns" link set "$ifname" mtu 1420 up
  done
  ip -n "$ns_s" addr add 10.202.0.1/24 dev "$if_s"; ip -n "$ns_s" link set "$if_s" mtu 1420 up
  for i in 0 1 2 3; do
    step "peer $i: tunnel did not pass a ping within 10 s"
    for _ in $(seq 10); do
      ip netns exec "$tag-p$i" ping -c 1 -W 1 10.202.0.1 >/dev/null 2>&1 && continue 2
    done
    return 1
  done
}

peers4_sum() {  # peers4_sum FIELD: FIELD of the 4 clients' sum_received, added up
  python3 -c 'import json,sys; print(sum(json.load(open(f"{sys.argv[1]}/peers4.{i}.client.json"))["end"]["sum_received"][sys.argv[2]] for i in range(4)))' "$dir" "$1"
}

measure_peers4() {  # 4 peers, one TCP stream each, all at once, into the server
  local i c0 c1 failed=0 spids=() cpids=()
  setup_peers4
  step "iperf3 4 peers"
  for i in 0 1 2 3; do
    ip netns exec "$ns_s" timeout $((duration + 30)) iperf3 -s -1 -J -B 10.202.0.1 -p $((5201 + i)) \
      >"$dir/peers4.$i.server.json" 2>&1 &
    spids+=($!)
  done
  for _ in $(seq 50); do
    [ "$(ip netns exec "$ns_s" ss -Hltn 'sport >= :5201 and sport <= :5204' | wc -l)" -ge 4 ] && break
    sleep 0.1
  done
  c0=$(cpu_ticks)
  for i in 0 1 2 3; do
    ip netns exec "$tag-p$i" timeout $((duration + 20)) iperf3 -c 10.202.0.1 -p $((5201 + i)) \
      -t "$duration" -J >"$dir/peers4.$i.client.json" &
    cpids+=($!)
  done
  for i in "${cpids[@]}"; do wait "$i" || failed=1; done
  c1=$(cpu_ticks)
  [ "$failed" = 0 ] || kill "${spids[@]}" 2>/dev/null || true
  for i in "${spids[@]}"; do wait "$i" || true; done
  [ "$failed" = 0 ] || { step "iperf3 4 peers: a client failed"; return 1; }
  local bits bytes
  bits=$(peers4_sum bits_per_second); bytes=$(peers4_sum bytes)
  put peers4_gbps "$(python3 -c "print(round($bits / 1e9, 3))")"
  put peers4_cpu_s_per_gb "$(python3 -c "print(round(($c1 - $c0) / $clk / ($bytes / 1e9), 3))")"
}

soft() {  # soft FUNC: run a measurement with errexit; on failure note it and carry on
  local rc
  set +e; ( set -e; "$1" ); rc=$?; set -e
  [ "$rc" -eq 0 ] || put "error_${1#measure_}" "$(cat "$dir/step")"
  alive   # a dead daemon, though, ends the run
}

run_one() {  # run_one: one round of $name ($bin); metrics to $dir/metrics
  [ -x "$bin" ] || { step "binary not found: $bin"; return 1; }
  put version "$(timeout 5 "$bin" --version 2>&1 | grep -m1 . || echo unknown)"
  put loadavg_1m "$(cut -d' ' -f1 /proc/loadavg)"   # other load on the host skews every number
  setup_tunnel
  rss rss_idle_mib VmRSS
  soft measure_ping
  soft measure_tcp1
  soft measure_tcp4
  soft measure_udp64
  rss rss_peak_mib VmHWM
  if [ "$peers4" = 1 ]; then teardown; soft measure_peers4; fi
}

record() {  # record ROUND STATUS: append this run as one JSON line to $tmp/runs.jsonl
  python3 - "$name" "$bin" "$1" "$2" "$dir" >>"$tmp/runs.jsonl" <<'EOF'
import json, os, sys
name, binary, rnd, status, d = sys.argv[1:]
r = {"impl": name, "bin": binary, "round": int(rnd), "status": "ok" if status == "0" else "failed"}
if status != "0":
    r["reason"] = open(f"{d}/step").read().strip() if os.path.exists(f"{d}/step") else "unknown"
if os.path.exists(f"{d}/metrics"):
    for line in open(f"{d}/metrics"):
        k, v = line.rstrip("\n").split("=", 1)
        try: r[k] = json.loads(v)
        except ValueError: r[k] = v
print(json.dumps(r))
EOF
}

# --- report -----------------------------------------------------------------------------------
report() {
  python3 - "$tmp/runs.jsonl" "$baseline" "$json_out" "$rounds" "$duration" "$server_cpus" "${impls[@]}" <<'EOF'
import json, statistics, sys
path, base, out, rounds, duration, cpus, *impls = sys.argv[1:]
runs = [json.loads(l) for l in open(path)]
names = [i.split("=", 1)[0] for i in impls]
cols = [("tcp1_gbps", "TCP 1-stream Gbit/s"), ("tcp4_gbps", "TCP 4-stream Gbit/s"),
        ("peers4_gbps", "4 peers Gbit/s"),
        ("udp64_kpps", "UDP 64B kpps"), ("ping_median_ms", "ping ms (median)"),
        ("cpu_s_per_gb", "CPU s/GB"), ("rss_idle_mib", "RSS idle MiB"), ("rss_peak_mib", "RSS peak MiB")]
def val(r, k):  # RSS: the larger of the two daemons
    v = [r.get(k + "_a"), r.get(k + "_b")] if k.startswith("rss") else [r.get(k)]
    v = [x for x in v if isinstance(x, (int, float))]
    return max(v) if v else None
med, notes = {}, []
for n in names:
    ok = [r for r in runs if r["impl"] == n and r["status"] == "ok"]
    bad = [r for r in runs if r["impl"] == n and r["status"] != "ok"]
    for r in bad: notes.append(f"{n} round {r['round']}: FAILED: {r['reason']}")
    for r in ok:
        notes += [f"{n} round {r['round']}: {k[6:]} failed: {v}" for k, v in r.items() if k.startswith("error_")]
    if ok:
        vs = {k: [val(r, k) for r in ok if val(r, k) is not None] for k, _ in cols}
        med[n] = {k: statistics.median(v) if v else None for k, v in vs.items()}
        med[n]["ok_rounds"] = len(ok)
    else:
        med[n] = {"failed": bad[-1]["reason"] if bad else "not run"}
fmt = lambda v: "n/a" if v is None else f"{v:.3g}" if v < 10 else f"{v:.1f}" if v < 1000 else f"{v:.0f}"
head = "| impl | " + " | ".join(c for _, c in cols) + " |\n|---|" + "---:|" * len(cols)
print(f"Medians over {rounds} round(s), {duration} s per iperf3 test; RSS = larger of the two daemons."
      + (f" Server-side daemon under taskset -c {cpus}." if cpus else "") + "\n")
print(head)
for n in names:
    m = med[n]
    if "failed" in m: print(f"| {n} | FAILED: {m['failed']} |" + " |" * (len(cols) - 1)); continue
    tag = "" if m["ok_rounds"] == int(rounds) else f" ({m['ok_rounds']}/{rounds} ok)"
    print(f"| {n}{tag} | " + " | ".join(fmt(m[k]) for k, _ in cols) + " |")
b = med.get(base, {})
print()
if b and "failed" not in b:
    print(f"Ratio to {base} (throughput: higher is better; ping, CPU, RSS: lower is better).\n")
    print(head)
    for n in names:
        if "failed" in med[n]: continue
        r = [med[n][k] / b[k] if med[n][k] is not None and b[k] else None for k, _ in cols]
        print(f"| {n} | " + " | ".join("n/a" if x is None else f"{x:.2f}x" for x in r) + " |")
else:
    print(f"No ratios: baseline '{base}' " + ("failed." if base in names else "was not among the implementations."))
vers = {r["impl"]: r["version"] for r in runs if "version" in r}
print("\nVersions: " + "; ".join(f"{n}: {vers[n]}" for n in names if n in vers))
loads = [r["loadavg_1m"] for r in runs if isinstance(r.get("loadavg_1m"), (int, float))]
if loads: print(f"Host 1-min load average at run start: {min(loads)}..{max(loads)}")
if notes: print("\nNotes:\n" + "\n".join(f"- {x}" for x in notes))
if out:
    json.dump({"rounds": int(rounds), "duration_s": int(duration), "baseline": base, "server_cpus": cpus or None,
               "impls": dict(i.split("=", 1) for i in impls), "runs": runs, "medians": med},
              open(out, "w"), indent=2)
EOF
}

# --- main -------------------------------------------------------------------------------------
main() {
  parse_args "$@"
  [ "$(id -u)" -eq 0 ] || die "must run as root (namespaces, TUN)"
  for t in ip wg iperf3 ping python3 timeout ss; do command -v "$t" >/dev/null || die "$t not found"; done
  [ -z "$server_cpus" ] || command -v taskset >/dev/null || die "taskset not found (--server-cpus)"
  [ ${#impls[@]} -gt 0 ] || default_impls
  [ ${#impls[@]} -gt 0 ] || die "no implementation to measure"
  mkdir -p "$sockdir"
  : >"$tmp/runs.jsonl"
  local r spec rc
  for r in $(seq "$rounds"); do
    for spec in "${impls[@]}"; do
      name=${spec%%=*} bin=${spec#*=} dir="$tmp/$name.$r"
      mkdir -p "$dir"
      log "round $r/$rounds: $name ($bin)"
      set +e; ( set -e; run_one ); rc=$?; set -e
      [ "$rc" -eq 0 ] || log "  $name FAILED: $(cat "$dir/step" 2>/dev/null)"
      teardown
      record "$r" "$rc"
    done
  done
  report
}

main "$@"
