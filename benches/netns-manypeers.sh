#!/usr/bin/env bash
# netns-manypeers.sh: cost of many configured peers (issue 11 item 3), each implementation side by
# side, between two network namespaces: N peers on one side, ONE of them real.
#
# Usage: sudo bash benches/netns-manypeers.sh [OPTIONS] [NAME=PATH ...]
#   NAME=PATH        an implementation to measure (repeatable, measured in this order). PATH IFNAME
#                    must create TUN IFNAME and /var/run/wireguard/IFNAME.sock, then daemonize.
#                    Default: wgrs=$WGRS_BIN (default <repo>/target/release/wgrs) and
#                    wireguard-go=<Debian 13's build, from $WG_TRIXIE_INSTALLER>.
#   --n "LIST"       peer counts to measure (default "1 1000 10000"; each 1..60000)
#   --rounds R       rounds; each round runs every N for every implementation (default 1)
#   --pings K        pings per run (default 50), sent every --interval s (default 0.05)
#   --duration S     seconds of the one-stream iperf3 test (default 10)
#   --idle-wait S    quiet seconds before the idle window (default 20; no keepalives configured)
#   --idle-window S  seconds over which idle context switches are counted (default 10)
#   --baseline NAME  implementation the ratio columns divide by (default wireguard-go)
#   --json FILE      also write the raw per-run data and the medians to FILE
#   -h, --help       print this text
# Environment: WGRS_BIN, WG_TRIXIE_INSTALLER (default <repo>/../shared/tools/
#                install-wireguard-go-trixie.sh, prints wireguard-go's path)
# Per run: fresh namespaces wgm$$-a/-b joined by a veth (10.200.0.1/24 <-> .2), the same
# implementation on both sides. A (10.201.0.1/16) gets `wg setconf` with N peers: N-1 random
# 32-byte public keys with one /32 each in 10.201.0.0/16 and no endpoint, and, in the middle of
# the list, the real peer B (10.201.0.2/32, endpoint 10.200.0.2:51820). B has one peer, A. No
# persistent keepalives; IPv6 is off on both tunnel interfaces (no RS/MLD noise while idle), and
# /var/run/wireguard is a tmpfs of the run's own mount namespace (no other process on the host
# can visit or delete the sockets).
# Measured on A: setconf time, VmRSS/VmHWM after setconf, `wg show dump` time (and its line count
# checked), ping RTT A->B, one iperf3 TCP stream A->B, context switches of all of A's threads over
# the idle window, VmHWM at the end. Prints Markdown tables per N. Needs root, iproute2, wg,
# iperf3, ping, python3, timeout, ss, sysctl, unshare, nsenter, mount.
set -euo pipefail
me=netns-manypeers
# shellcheck source=lib.sh
. "$(dirname "$0")/lib.sh"
export LC_ALL=C                      # $EPOCHREALTIME and awk with a '.' decimal point

counts="1 1000 10000" rounds=1 pings=50 interval=0.05 duration=10 idle_wait=20 idle_window=10
baseline=wireguard-go json_out=""
impls=()
tag="wgm$$"                          # prefix of every namespace, interface and socket we create
tmp=$(mktemp -d "/tmp/$tag.XXXXXX")
ns_a="$tag-a" ns_b="$tag-b" if_a="${tag}a" if_b="${tag}b"
sockdir=/var/run/wireguard
mnt="$tmp/mnt"                       # mount namespace with a private tmpfs on $sockdir


# --- arguments and implementations ------------------------------------------------------------
parse_args() {
  while [ $# -gt 0 ]; do
    case $1 in
      --n) counts=${2:?}; shift ;;
      --rounds) rounds=${2:?}; shift ;;
      --pings) pings=${2:?}; shift ;;
      --interval) interval=${2:?}; shift ;;
      --duration) duration=${2:?}; shift ;;
      --idle-wait) idle_wait=${2:?}; shift ;;
      --idle-window) idle_window=${2:?}; shift ;;
      --baseline) baseline=${2:?}; shift ;;
      --json) json_out=${2:?}; shift ;;
      -h|--help) usage; exit 0 ;;
      *=*) impls+=("$1") ;;
      *) usage >&2; die "unknown argument: $1" ;;
    esac
    shift
  done
  local v
  for v in "$rounds" "$pings" "$duration" "$idle_window"; do
    [[ $v =~ ^[1-9][0-9]{0,3}$ ]] || die "bad --rounds/--pings/--duration/--idle-window: $v"
  done
  [[ $idle_wait =~ ^[0-9]{1,4}$ ]] || die "bad --idle-wait: $idle_wait"
  [[ $interval =~ ^(0|[1-9][0-9]?)(\.[0-9]{1,3})?$ ]] || die "bad --interval: $interval"
  for v in $counts; do
    if ! [[ $v =~ ^[1-9][0-9]{0,4}$ ]] || [ "$v" -gt 60000 ]; then die "bad peer count: $v"; fi
  done
  [ -n "${counts// /}" ] || die "--n needs at least one peer count"
}

default_impls() {
  local installer bin
  bin=${WGRS_BIN:-$root/target/release/wgrs}
  if [ -x "$bin" ]; then impls+=("wgrs=$bin")
  else log "skipping wgrs: $bin not built (cargo build --release, or set WGRS_BIN)"; fi
  installer=${WG_TRIXIE_INSTALLER:-$root/../shared/tools/install-wireguard-go-trixie.sh}
  if [ -f "$installer" ] && bin=$(bash "$installer" 2>"$tmp/installer.log") && [ -x "$bin" ]; then
    impls+=("wireguard-go=$bin")
  else log "skipping wireguard-go: installer $installer failed or missing (see below)"
    tail -3 "$tmp/installer.log" >&2 || true; fi
}

# --- per-run setup and teardown ---------------------------------------------------------------
teardown() {   # stop every process in this run's namespaces, delete them and the sockets
  stop_netns "$ns_a" "$ns_b"
  if [ -e "$mnt" ]; then umount "$mnt" 2>/dev/null || true; rm -f "$mnt"; fi
}
cleanup() { teardown; umount "$tmp" 2>/dev/null || true; rm -rf "$tmp"; }
trap cleanup EXIT
trap 'exit 130' INT TERM

step() { echo "$*" >"$dir/step"; }

# The daemons and every `wg` call see $sockdir as a tmpfs of their own, so no other process on
# the host can list, connect to or delete these sockets (such visits wake a daemon while idle).
private_sockdir() {
  step "cannot mount a private $sockdir"
  touch "$mnt"
  unshare --mount="$mnt" --propagation slave \
    mount -t tmpfs -o mode=0755,size=1m "$tag" "$sockdir"
}
in_ns() { local ns=$1; shift; nsenter --mount="$mnt" ip netns exec "$ns" "$@"; }
put() { echo "$1=$2" >>"$dir/metrics"; }
jget() {  # jget FILE EXPR: EXPR over the JSON document d in FILE
  python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); print(eval(sys.argv[2]))' "$@"
}
secs() { python3 -c "print(round($2 - $1, 3))"; }   # secs T0 T1: elapsed, from $EPOCHREALTIME

start_daemon() {  # start_daemon NS IFNAME: start $bin, wait for its UAPI socket, note its pids
  local ns=$1 ifname=$2
  step "starting daemon in $ns"
  if ! in_ns "$ns" timeout 15 "$bin" "$ifname" >>"$dir/$ifname.log" 2>&1; then
    step "daemon start failed: $(tail -qn1 "$dir/$ifname.log" 2>/dev/null)"; return 1
  fi
  step "daemon did not create $sockdir/$ifname.sock within 5 s"
  for _ in $(seq 50); do in_ns "$ns" test -S "$sockdir/$ifname.sock" && break; sleep 0.1; done
  in_ns "$ns" test -S "$sockdir/$ifname.sock"
  ip netns pids "$ns" >"$dir/pids.$ns"
  [ -s "$dir/pids.$ns" ]
}

alive() {  # fail unless every daemon process still runs
  local pid pids
  mapfile -t pids < <(cat "$dir/pids.$ns_a" "$dir/pids.$ns_b")
  for pid in "${pids[@]}"; do
    if [ ! -d "/proc/$pid" ] || grep -q '^State:.*Z' "/proc/$pid/status"; then
      step "daemon $pid exited ($(tail -qn1 "$dir"/*.log 2>/dev/null | tr '\n' ' '))"; return 1
    fi
  done
}

write_conf() {  # write_conf N FILE: A's config, N peers, the real one (B) in the middle
  python3 - "$1" "$(cat "$dir/key.a")" "$(wg pubkey <"$dir/key.b")" >"$2" <<'EOF'
import base64, ipaddress, os, sys
n, private, real_key = int(sys.argv[1]), sys.argv[2], sys.argv[3]
out = ["[Interface]", f"PrivateKey = {private}", "ListenPort = 51820", ""]
fake = int(ipaddress.IPv4Address("10.201.0.3"))   # .0.1 is A, .0.2 is B
for i in range(n):
    if i == n // 2:
        out += ["[Peer]", f"PublicKey = {real_key}", "AllowedIPs = 10.201.0.2/32",
                "Endpoint = 10.200.0.2:51820", ""]
    else:
        key = base64.b64encode(os.urandom(32)).decode()
        ip = ipaddress.IPv4Address(fake)
        out += ["[Peer]", f"PublicKey = {key}", f"AllowedIPs = {ip}/32", ""]
        fake += 1
print("\n".join(out))
EOF
}

setup_a() {  # namespaces, daemon A, setconf with $n peers (timed), RSS, dump (timed)
  local t0 t1 lines
  step "creating namespaces and veth"
  ip netns add "$ns_a"; ip netns add "$ns_b"
  ip -n "$ns_a" link add veth0 type veth peer name veth0 netns "$ns_b"
  ip -n "$ns_a" addr add 10.200.0.1/24 dev veth0
  ip -n "$ns_b" addr add 10.200.0.2/24 dev veth0
  for ns in "$ns_a" "$ns_b"; do
    ip -n "$ns" link set veth0 mtu 1500 up; ip -n "$ns" link set lo up
  done
  private_sockdir
  start_daemon "$ns_a" "$if_a"
  start_daemon "$ns_b" "$if_b"
  umask 077; wg genkey >"$dir/key.a"; wg genkey >"$dir/key.b"
  write_conf "$n" "$dir/a.conf"
  step "wg setconf with $n peers failed silently or took over 120 s"
  t0=$EPOCHREALTIME
  in_ns "$ns_a" timeout 120 wg setconf "$if_a" "$dir/a.conf" 2>"$dir/wg.err" \
    || { [ -s "$dir/wg.err" ] && step "wg setconf: $(tail -qn1 "$dir/wg.err")"; return 1; }
  t1=$EPOCHREALTIME
  put setconf_s "$(secs "$t0" "$t1")"
  rss rss_setconf_mib VmRSS; rss hwm_setconf_mib VmHWM
  step "wg show dump failed silently or took over 60 s"
  t0=$EPOCHREALTIME
  in_ns "$ns_a" timeout 60 wg show "$if_a" dump >"$dir/dump.txt" 2>"$dir/wg.err" \
    || { [ -s "$dir/wg.err" ] && step "wg show dump: $(tail -qn1 "$dir/wg.err")"; return 1; }
  t1=$EPOCHREALTIME
  put dump_s "$(secs "$t0" "$t1")"
  lines=$(wc -l <"$dir/dump.txt")
  step "wg show dump printed $lines lines, not $((n + 1)) (interface + $n peers)"
  [ "$lines" -eq $((n + 1)) ]
}

setup_b() {  # B's one peer (A), addresses, links up, first ping (the handshake)
  step "wg set on B failed silently or took over 10 s"
  in_ns "$ns_b" timeout 10 wg set "$if_b" private-key "$dir/key.b" listen-port 51820 \
    peer "$(wg pubkey <"$dir/key.a")" allowed-ips 10.201.0.1/32 endpoint 10.200.0.1:51820 \
    2>"$dir/wg.err" \
    || { [ -s "$dir/wg.err" ] && step "wg set on B: $(tail -qn1 "$dir/wg.err")"; return 1; }
  ip -n "$ns_a" addr add 10.201.0.1/16 dev "$if_a"; ip -n "$ns_b" addr add 10.201.0.2/16 dev "$if_b"
  ip netns exec "$ns_a" sysctl -qw "net.ipv6.conf.$if_a.disable_ipv6=1"
  ip netns exec "$ns_b" sysctl -qw "net.ipv6.conf.$if_b.disable_ipv6=1"
  ip -n "$ns_a" link set "$if_a" mtu 1420 up; ip -n "$ns_b" link set "$if_b" mtu 1420 up
  step "tunnel did not pass a ping within 10 s"
  for _ in $(seq 10); do
    ip netns exec "$ns_a" ping -c 1 -W 1 10.201.0.2 >/dev/null 2>&1 && return 0
  done
  false
}

# --- measurements -----------------------------------------------------------------------------
rss() {  # rss KEY FIELD: FIELD (VmRSS/VmHWM) of A's daemon processes, summed, in MiB
  local kb=0 pid pids
  mapfile -t pids <"$dir/pids.$ns_a"
  for pid in "${pids[@]}"; do
    kb=$((kb + $(awk -v f="$2:" '$1 == f { print $2 }' "/proc/$pid/status")))
  done
  put "$1" "$(python3 -c "print(round($kb / 1024, 1))")"
}

snap() {  # snap NS: "TID NAME SWITCHES" (voluntary + nonvoluntary) per thread of NS's daemon
  local pid pids
  mapfile -t pids <"$dir/pids.$1"
  for pid in "${pids[@]}"; do
    awk '$1 == "Name:" { name[FILENAME] = $2 }
         /^(non)?voluntary_ctxt_switches:/ { sw[FILENAME] += $2 }
         END { for (f in sw) { split(f, p, "/"); print p[5], name[f], sw[f] } }' \
      "/proc/$pid"/task/*/status 2>/dev/null || true   # a thread may exit mid-read
  done
}

wakeups() {  # wakeups BEFORE AFTER: "TOTAL NAME:COUNT,..." (threads born in between count fully)
  awk 'NR == FNR { was[$1] = $3; next }
       { d = $3 - ($1 in was ? was[$1] : 0); total += d; by[$2] += d }
       END { for (n in by) if (by[n]) list = list (list ? "," : "") n ":" by[n]
             print total + 0, (list ? list : "-") }' "$1" "$2"
}

measure_ping() {
  step "ping"
  ip netns exec "$ns_a" ping -c "$pings" -i "$interval" -W 1 10.201.0.2 >"$dir/ping.txt" || true
  read -r med avg n_ok < <(python3 - "$dir/ping.txt" <<'EOF'
import re, statistics, sys
t = [float(x) for x in re.findall(r"time=([0-9.]+)", open(sys.argv[1]).read())]
print(round(statistics.median(t), 3), round(statistics.mean(t), 3), len(t)) if t else print("x x 0")
EOF
)
  [ "$n_ok" -gt 0 ]
  put ping_median_ms "$med"; put ping_avg_ms "$avg"; put ping_replies "$n_ok/$pings"
}

measure_tcp1() {  # one iperf3 TCP stream A->B for $duration s
  local spid f=$dir/tcp1.client.json
  step "iperf3"
  ip netns exec "$ns_b" timeout $((duration + 30)) iperf3 -s -1 -J -B 10.201.0.2 \
    >"$dir/tcp1.server.json" 2>&1 &
  spid=$!
  for _ in $(seq 50); do
    ip netns exec "$ns_b" ss -Hltn 'sport = :5201' | grep -q . && break; sleep 0.1
  done
  ip netns exec "$ns_a" timeout $((duration + 20)) iperf3 -c 10.201.0.2 -t "$duration" -J \
    >"$f" || { kill "$spid" 2>/dev/null || true; wait "$spid" || true
      step "iperf3: $(jget "$f" 'd.get("error")' 2>/dev/null || echo timeout)"; return 1; }
  wait "$spid"
  put tcp1_gbps "$(jget "$f" 'round(d["end"]["sum_received"]["bits_per_second"] / 1e9, 3)')"
}

measure_idle() {  # context switches over the idle window, after $idle_wait quiet seconds
  local side total by
  step "idle window"
  sleep "$idle_wait"
  snap "$ns_a" >"$dir/idle0.a"; snap "$ns_b" >"$dir/idle0.b"
  sleep "$idle_window"
  snap "$ns_a" >"$dir/idle1.a"; snap "$ns_b" >"$dir/idle1.b"
  for side in a b; do
    read -r total by < <(wakeups "$dir/idle0.$side" "$dir/idle1.$side")
    put "idle_ctxt_$side" "$total"; put "idle_by_thread_$side" "$by"
  done
  put threads_a "$(wc -l <"$dir/idle1.a")"
}

soft() {  # soft FUNC: run a measurement with errexit; on failure note it and carry on
  local rc
  set +e; ( set -e; "$1" ); rc=$?; set -e
  [ "$rc" -eq 0 ] || put "error_${1#measure_}" "$(cat "$dir/step")"
  alive   # a dead daemon, though, ends the run
}

run_one() {  # run_one: $name ($bin) with $n peers; metrics to $dir/metrics
  [ -x "$bin" ] || { step "binary not found: $bin"; return 1; }
  put version "$(timeout 5 "$bin" --version 2>&1 | grep -m1 . || echo unknown)"
  put loadavg_1m "$(cut -d' ' -f1 /proc/loadavg)"   # other load on the host skews every number
  setup_a
  setup_b
  soft measure_ping
  soft measure_tcp1
  soft measure_idle
  rss hwm_end_mib VmHWM
}

record() {  # record ROUND STATUS: append this run as one JSON line to $tmp/runs.jsonl
  python3 - "$name" "$bin" "$n" "$1" "$2" "$dir" >>"$tmp/runs.jsonl" <<'EOF'
import json, os, sys
name, binary, n, rnd, status, d = sys.argv[1:]
r = {"impl": name, "bin": binary, "n": int(n), "round": int(rnd),
     "status": "ok" if status == "0" else "failed"}
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
  python3 - "$tmp/runs.jsonl" "$baseline" "$json_out" "$rounds" "$counts" "$idle_window" \
    "${impls[@]}" <<'EOF'
import json, statistics, sys
path, base, out, rounds, counts, window, *impls = sys.argv[1:]
runs = [json.loads(l) for l in open(path)]
names = [i.split("=", 1)[0] for i in impls]
ns = [int(c) for c in counts.split()]
rows = [("setconf_s", "`wg setconf` s"), ("rss_setconf_mib", "VmRSS after setconf MiB"),
        ("hwm_setconf_mib", "VmHWM after setconf MiB"), ("dump_s", "`wg show dump` s"),
        ("ping_median_ms", "ping median ms"), ("ping_avg_ms", "ping avg ms"),
        ("tcp1_gbps", "TCP 1 stream Gbit/s"),
        ("idle_ctxt_a", f"idle wake-ups / {window} s"), ("hwm_end_mib", "VmHWM at end MiB")]
med, notes = {}, []
for n in ns:
    for name in names:
        mine = [r for r in runs if r["impl"] == name and r["n"] == n]
        ok = [r for r in mine if r["status"] == "ok"]
        for r in mine:
            tag = f"{name} N={n} round {r['round']}"
            if r["status"] != "ok": notes.append(f"{tag}: FAILED: {r['reason']}")
            notes += [f"{tag}: {k[6:]} failed: {v}" for k, v in r.items() if k.startswith("error_")]
            if r.get("idle_by_thread_a", "-") != "-":
                notes.append(f"{tag}: idle wake-ups by thread (N peers): {r['idle_by_thread_a']}")
            got, _, sent = str(r.get("ping_replies", "")).partition("/")
            if got != sent: notes.append(f"{tag}: ping replies {got}/{sent}")
        m = {}
        for k, _ in rows:
            v = [r[k] for r in ok if isinstance(r.get(k), (int, float))]
            m[k] = statistics.median(v) if v else None
        m["ok"] = len(ok)
        med[(name, n)] = m
def fmt(v):
    if v is None: return "n/a"
    if isinstance(v, int) or float(v).is_integer(): return f"{int(v)}"
    return f"{v:.3g}" if v < 10 else f"{v:.1f}" if v < 1000 else f"{v:.0f}"
def ratio(a, b):
    if a is None or b is None: return "n/a"
    if b == 0: return "=" if a == 0 else "∞"
    return f"{a / b:.2f}x"
others = [x for x in names if x != base] if base in names else []
print(f"Medians over {rounds} round(s); the same implementation on both sides; RSS and wake-ups "
      f"are of the side with N peers.\n")
for n in ns:
    print(f"### N = {n}\n")
    ok = lambda x: "" if med[(x, n)]["ok"] == int(rounds) else f" ({med[(x, n)]['ok']}/{rounds} ok)"
    hdr = ["metric"] + [x + ok(x) for x in names] + [f"{x} / {base}" for x in others]
    print("| " + " | ".join(hdr) + " |\n|---|" + "---:|" * (len(hdr) - 1))
    for k, label in rows:
        cells = [fmt(med[(x, n)][k]) for x in names]
        cells += [ratio(med[(x, n)][k], med[(base, n)][k]) for x in others]
        print(f"| {label} | " + " | ".join(cells) + " |")
    print()
if len(ns) > 1:
    lo, hi = min(ns), max(ns)
    print(f"### N = {hi} against N = {lo}, per implementation (flat cost = 1.00x)\n")
    keys = [("ping_median_ms", "ping median"), ("tcp1_gbps", "TCP 1 stream"),
            ("idle_ctxt_a", "idle wake-ups"), ("rss_setconf_mib", "VmRSS after setconf")]
    print("| impl | " + " | ".join(l for _, l in keys) + " |\n|---|" + "---:|" * len(keys))
    for x in names:
        cells = [ratio(med[(x, hi)][k], med[(x, lo)][k]) for k, _ in keys]
        print(f"| {x} | " + " | ".join(cells) + " |")
    print()
vers = {r["impl"]: r["version"] for r in runs if "version" in r}
print("Versions: " + "; ".join(f"{x}: {vers[x]}" for x in names if x in vers))
loads = [r["loadavg_1m"] for r in runs if isinstance(r.get("loadavg_1m"), (int, float))]
if loads: print(f"Host 1-min load average at run starts: {min(loads)}..{max(loads)}")
if notes: print("\nNotes:\n" + "\n".join(f"- {x}" for x in notes))
if out:
    json.dump({"rounds": int(rounds), "counts": ns, "baseline": base,
               "impls": dict(i.split("=", 1) for i in impls), "runs": runs,
               "medians": {f"{x} N={n}": m for (x, n), m in med.items()}},
              open(out, "w"), indent=2)
EOF
}

# --- main -------------------------------------------------------------------------------------
main() {
  parse_args "$@"
  [ "$(id -u)" -eq 0 ] || die "must run as root (namespaces, TUN)"
  for t in ip wg iperf3 ping python3 timeout ss sysctl unshare nsenter mount; do
    command -v "$t" >/dev/null || die "$t not found"
  done
  [ ${#impls[@]} -gt 0 ] || default_impls
  [ ${#impls[@]} -gt 0 ] || die "no implementation to measure"
  mkdir -p "$sockdir"
  mount --bind "$tmp" "$tmp"; mount --make-private "$tmp"   # so $mnt can hold a namespace
  : >"$tmp/runs.jsonl"
  local r spec rc
  for r in $(seq "$rounds"); do
    for n in $counts; do
      for spec in "${impls[@]}"; do
        name=${spec%%=*} bin=${spec#*=} dir="$tmp/$name.n$n.r$r"
        mkdir -p "$dir"
        log "round $r/$rounds, N=$n: $name ($bin)"
        set +e; ( set -e; run_one ); rc=$?; set -e
        [ "$rc" -eq 0 ] || log "  $name N=$n FAILED: $(cat "$dir/step" 2>/dev/null)"
        teardown
        record "$r" "$rc"
      done
    done
  done
  report
}

main "$@"
