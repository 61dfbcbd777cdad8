#!/bin/bash
# Records gap-leak.pcap for real (root; iperf3, tcpdump, nftables, conntrack; PYTHONPATH with cnibench's src):
# a 1,000 datagrams/s iperf3 UDP probe from cnigl-cli through a SNAT gateway cnigl-gw to cnigl-srv, captured on
# cnigl-srv with tcpdump. The event is engineered: its time is stamped (CLOCK_REALTIME, `date +%s.%N`) as if the
# policy had been applied, but the gateway keeps masquerading to its own address 203.0.113.1 for 0.1 s more (the
# known leak: about 100 datagrams), then its external link is down for 0.3 s (the known gap), then the SNAT rule
# changes to the egress IP 203.0.113.254 (conntrack entry deleted) and the link comes back.
set -euo pipefail
PY=${PY:-python3}
ns() { ip netns exec "$@"; }
cleanup() { for n in cnigl-cli cnigl-gw cnigl-srv; do ip netns del $n 2>/dev/null || true; done; }
trap cleanup EXIT
cleanup
for n in cnigl-cli cnigl-gw cnigl-srv; do ip netns add $n; ip -n $n link set lo up; done
ip -n cnigl-cli link add eth0 type veth peer name cli netns cnigl-gw
ip -n cnigl-gw link add ext type veth peer name eth0 netns cnigl-srv
ip -n cnigl-cli addr add 10.99.1.2/24 dev eth0; ip -n cnigl-cli link set eth0 up
ip -n cnigl-cli route add default via 10.99.1.1
ip -n cnigl-gw addr add 10.99.1.1/24 dev cli; ip -n cnigl-gw link set cli up
ip -n cnigl-gw addr add 203.0.113.1/24 dev ext; ip -n cnigl-gw addr add 203.0.113.254/32 dev ext
ip -n cnigl-gw link set ext up
ip -n cnigl-srv addr add 203.0.113.2/24 dev eth0; ip -n cnigl-srv link set eth0 up
ip -n cnigl-srv route add default via 203.0.113.1
ns cnigl-gw sysctl -qw net.ipv4.ip_forward=1
ns cnigl-gw nft -f - <<'NFT'
table ip gl {
  chain post {
    type nat hook postrouting priority srcnat; policy accept;
    oifname "ext" masquerade
  }
}
NFT
ns cnigl-srv nft -f - <<'NFT'
table ip gl {
  chain out {
    type filter hook output priority filter; policy accept;
    icmp type destination-unreachable drop
  }
}
NFT
out=$(dirname "$0")/gap-leak.pcap
ns cnigl-srv tcpdump -i eth0 -n -U -s 512 -w "$out" 'udp or tcp' 2>/tmp/gl-tcpdump.log & dump=$!
ns cnigl-srv iperf3 -s -1 -B 203.0.113.2 -p 5301 >/dev/null & srv=$!
sleep 1
ns cnigl-cli iperf3 -c 203.0.113.2 -p 5301 -u -b 512000 -l 64 -t 5 --pacing-timer 100 >/dev/null & cli=$!
sleep 1.5
started=$(date +%s.%N); at=$(date +%s.%N)
sleep 0.1                                   # the known leak: still masquerading to 203.0.113.1
ip -n cnigl-gw link set ext down; sleep 0.3  # the known gap
ns cnigl-gw nft flush chain ip gl post
ns cnigl-gw nft add rule ip gl post oifname ext snat to 203.0.113.254
ns cnigl-gw conntrack -D -p udp >/dev/null 2>&1 || true
ip -n cnigl-gw link set ext up
ip -n cnigl-gw route add default via 203.0.113.2 2>/dev/null || true
printf '{"at": %s, "egress_ip": "203.0.113.254", "event": "policy-apply", "flow_port": null, "pod_port": null, "probe_port": 5301, "started": %s, "window_s": 1.5}\n' \
  "$at" "$started" | ns cnigl-srv env PYTHONPATH="${PYTHONPATH:-}" "$PY" -m cnibench.scenarios._egress_capture mark 203.0.113.255
sleep 1.5
kill $cli 2>/dev/null || true; wait $cli 2>/dev/null || true
kill $srv 2>/dev/null || true
sleep 0.2; kill -TERM $dump; wait $dump || true
echo "at=$at started=$started"
