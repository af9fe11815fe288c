#!/usr/bin/env bash
# Quick start: build wgrs, then bring up a real WireGuard tunnel with `wgrs up` between two
# network namespaces this script creates ("local" and "peer", joined by a veth pair), show the
# tunnel's state and ping across it, then take everything down again.
# Usage (Linux, Rust installed):  bash conf/quickstart.sh [--wgrs PATH]
# As root it does everything itself (no sudo needed). As another user it builds first, then
# re-runs itself with sudo for the namespace part. `--wgrs PATH` uses that binary, no build.
# Nothing outside the two namespaces is touched; they are removed on exit, even on failure.
set -euo pipefail

wgrs=
case "${1:-}" in
    --wgrs) wgrs=$(realpath -- "${2:?--wgrs needs a path}") ;;
    "") ;;
    *) echo "usage: bash conf/quickstart.sh [--wgrs PATH]" >&2; exit 2 ;;
esac
cd "$(dirname "${BASH_SOURCE[0]}")/.."
self=$PWD/conf/quickstart.sh
if [[ -z $wgrs ]]; then
    echo "== building wgrs (cargo build --release)"
    cargo build --release --quiet
    wgrs=$PWD/target/release/wgrs
fi
if [[ $(id -u) -ne 0 ]]; then
    if ! command -v sudo >/dev/null 2>&1; then
        echo "quickstart: creating network namespaces needs root: run it as root, or install sudo" >&2
        exit 1
    fi
    echo "== not root: running the rest with sudo"
    exec sudo bash "$self" --wgrs "$wgrs"
fi

id=$$
ns_local=wgrs-qs-local-$id ns_peer=wgrs-qs-peer-$id
if_local=wgql$((id % 100000)) if_peer=wgqp$((id % 100000))
work=$(mktemp -d)

cleanup() {
    set +e
    ip netns exec "$ns_local" "$wgrs" down "$work/$if_local.conf" >/dev/null 2>&1
    ip netns exec "$ns_peer" "$wgrs" down "$work/$if_peer.conf" >/dev/null 2>&1
    ip netns del "$ns_local" 2>/dev/null
    ip netns del "$ns_peer" 2>/dev/null
    rm -rf "$work"
}
trap cleanup EXIT

echo "== namespaces $ns_local and $ns_peer, linked by a veth pair"
ip netns add "$ns_local"
ip netns add "$ns_peer"
ip link add "qsl$id" type veth peer name "qsp$id"
ip link set "qsl$id" netns "$ns_local"
ip link set "qsp$id" netns "$ns_peer"
ip -n "$ns_local" addr add 172.30.99.1/24 dev "qsl$id"
ip -n "$ns_peer" addr add 172.30.99.2/24 dev "qsp$id"
for ns in "$ns_local" "$ns_peer"; do ip -n "$ns" link set lo up; done
ip -n "$ns_local" link set "qsl$id" up
ip -n "$ns_peer" link set "qsp$id" up

echo "== keys (wgrs genkey | wgrs pubkey, wgrs genpsk)"
local_key=$("$wgrs" genkey) peer_key=$("$wgrs" genkey) psk=$("$wgrs" genpsk)
local_pub=$(echo "$local_key" | "$wgrs" pubkey) peer_pub=$(echo "$peer_key" | "$wgrs" pubkey)
umask 077
fill() {
    sed -e "s|@LOCAL_PRIVATE_KEY@|$local_key|" -e "s|@PEER_PRIVATE_KEY@|$peer_key|" \
        -e "s|@LOCAL_PUBLIC_KEY@|$local_pub|" -e "s|@PEER_PUBLIC_KEY@|$peer_pub|" \
        -e "s|@PSK@|$psk|" "$1" > "$2"
}
fill conf/quickstart-local.conf "$work/$if_local.conf"
fill conf/quickstart-peer.conf "$work/$if_peer.conf"

echo "== wgrs up (peer side, then local side)"
ip netns exec "$ns_peer" "$wgrs" up "$work/$if_peer.conf"
ip netns exec "$ns_local" "$wgrs" up "$work/$if_local.conf"

echo "== ping across the tunnel (IPv4 and IPv6)"
ip netns exec "$ns_local" ping -c 3 -W 2 10.99.0.2
ip netns exec "$ns_local" ping -6 -c 3 -W 2 fd99::2

echo "== tunnel state"
if "$wgrs" help show >/dev/null 2>&1; then
    ip netns exec "$ns_local" "$wgrs" show "$if_local"
elif command -v wg >/dev/null; then
    ip netns exec "$ns_local" wg show "$if_local"
fi

echo "== wgrs down"
ip netns exec "$ns_local" "$wgrs" down "$work/$if_local.conf"
ip netns exec "$ns_peer" "$wgrs" down "$work/$if_peer.conf"
echo "== done: tunnel worked and everything was removed"
