#!/bin/bash
# Records policy-allow.pcap for real (root; hping3, tcpdump, nftables; PYTHONPATH with cnibench's src): a node
# namespace cnipa-node routing between a client pod cnipa-cli (10.99.3.2) and a server pod cnipa-srv (10.99.4.2),
# the network-policy events' table in its forward hook rendered by cnibench's own renderer (chain representation,
# 0 non-matching rules) first WITHOUT the rule admitting the client (deny), an hping3 UDP probe (a new source port
# per datagram, -i u700) from the client to the server's port 5311, tcpdump -i any -y LINUX_SLL2 in the node. The
# event is engineered: its time is stamped (CLOCK_REALTIME, `date +%s.%N`) as if the allow had been applied, but the
# allowing table is applied 0.2 s later (the known delay, plus nft's own time).
set -euo pipefail
trap 'echo "failed at line $LINENO" >&2' ERR
PY=${PY:-python3}
ns() { ip netns exec "$@"; }
cleanup() { for n in cnipa-node cnipa-cli cnipa-srv; do ip netns del $n 2>/dev/null || true; done; }
trap 'kill $probe $dump 2>/dev/null || true; cleanup' EXIT
probe=; dump=
cleanup
for n in cnipa-node cnipa-cli cnipa-srv; do ip netns add $n; ip -n $n link set lo up; done
ip -n cnipa-cli link add eth0 type veth peer name vcli netns cnipa-node
ip -n cnipa-srv link add eth0 type veth peer name vsrv netns cnipa-node
ip -n cnipa-cli addr add 10.99.3.2/24 dev eth0; ip -n cnipa-cli link set eth0 up
ip -n cnipa-cli route add default via 10.99.3.1
ip -n cnipa-srv addr add 10.99.4.2/24 dev eth0; ip -n cnipa-srv link set eth0 up
ip -n cnipa-srv route add default via 10.99.4.1
ip -n cnipa-node addr add 10.99.3.1/24 dev vcli; ip -n cnipa-node link set vcli up
ip -n cnipa-node addr add 10.99.4.1/24 dev vsrv; ip -n cnipa-node link set vsrv up
ns cnipa-node sysctl -qw net.ipv4.ip_forward=1
render() {  # $1: True (with the rule admitting the client) or False
  PYTHONPATH="${PYTHONPATH:-}" "$PY" -c "
import functools
from cnibench.platforms.netns.policy_nft import netns_members, remove_lines, render_policy
from cnibench.scenarios._policy_rules import ingress_rules
rules = [r for r in ingress_rules(0, [('UDP', 5311)]) if $1 or not r.matches]
members = functools.partial(netns_members, clients=['10.99.3.2'])
print('\n'.join([*remove_lines('pa'), *render_policy(rules, table='pa', protected=['10.99.4.2'], members=members,
                                                     representation='chain')]))"
}
render False > /tmp/pa-deny.nft; render True > /tmp/pa-allow.nft
ns cnipa-node nft -f /tmp/pa-deny.nft
ifindex=$(ip -n cnipa-node -j link show dev vsrv | "$PY" -c 'import json,sys; print(json.load(sys.stdin)[0]["ifindex"])')
out=$(dirname "$0")/policy-allow.pcap
ip netns exec cnipa-node tcpdump -i any -y LINUX_SLL2 -n -U --immediate-mode -s 512 -w "$out" \
  'udp and (dst port 5311 or dst port 9)' 2>/tmp/pa-tcpdump.log & dump=$!
sleep 1
ip netns exec cnipa-cli hping3 --udp -p 5311 -i u700 -d 64 -q 10.99.4.2 >/dev/null 2>&1 & probe=$!
sleep 1
started=$(date +%s.%N); at=$(date +%s.%N)
sleep 0.2                                    # the known delay: the deny still holds
ns cnipa-node nft -f /tmp/pa-allow.nft
printf '{"at": %s, "client_ip": "10.99.3.2", "delivered_ifindex": %s, "event": "policy-allow", "probe_port": 5311, "representation": "chain", "server_ip": "10.99.4.2", "size": 0, "started": %s, "window_s": 1.0}\n' \
  "$at" "$ifindex" "$started" | ns cnipa-node env PYTHONPATH="${PYTHONPATH:-}" "$PY" -m cnibench.scenarios._pcap mark 127.0.0.1
sleep 1.2
kill -TERM $probe; wait $probe 2>/dev/null || true
sleep 0.2; kill -TERM $dump; wait $dump || true
echo "at=$at started=$started ifindex=$ifindex"
