#!/usr/bin/env bash
# Cross-node `send` delivered to streams versus one node, in one run: a comet
# without NATS, and two comets behind one nats-server; floodtest holds 100
# streams (one per user) and POSTs 20,000 timestamped messages to /send/<id>
# back to back on one keep-alive connection, to the node holding the streams
# or to the other one. Three rounds. Stops everything it started.
#   bench/cluster_streams.sh        (uses ./build; needs nats-server)
set -u
B="${BUILD:-build}"; C=$B/examples/comet/comet; F=$B/examples/floodtest/floodtest
port() { grep -ao 'port=[0-9]*' "$1" | head -1 | cut -d= -f2; }
rm -rf /tmp/xs-js; nats-server -js -sd /tmp/xs-js -a 127.0.0.1 -p 14555 >/dev/null 2>&1 & NP=$!
sleep 0.5
$C --port 0 --heartbeat 0 --log-level info --nats nats://127.0.0.1:14555 --node-name a --run-for 300s 2>/tmp/xa.log &
$C --port 0 --heartbeat 0 --log-level info --nats nats://127.0.0.1:14555 --node-name b --run-for 300s 2>/tmp/xb.log &
$C --port 0 --heartbeat 0 --log-level info --run-for 300s 2>/tmp/xs.log &
sleep 1
PA=$(port /tmp/xa.log); PB=$(port /tmp/xb.log); PS=$(port /tmp/xs.log)
run() { # label, targets, post-to
  local t0 t1 out
  out=$($F --mode latency --targets "$2" --post-to "$3" -n 100 --users 100 --rate 0 --via send --expect user-streams --messages 20000 --interval 0ms -q 2>/dev/null | tail -1)
  python3 - "$1" "$out" <<'PY'
import json, sys
d = json.loads(sys.argv[2]); l = d["latency"]
print(f"{sys.argv[1]:28} received {l['received']}/{l['expected']} lost {l['lost']} in {d['elapsed_s']:.2f} s = {l['received']/d['elapsed_s']:.0f} msgs/s, p50 {l['p50_us']/1000:.2f} ms p99 {l['p99_us']/1000:.2f} ms")
PY
}
for r in 1 2 3; do
  run "single node (no NATS)" 127.0.0.1:$PS 127.0.0.1:$PS
  run "cluster, same node" 127.0.0.1:$PB 127.0.0.1:$PB
  run "cluster, other node" 127.0.0.1:$PB 127.0.0.1:$PA
done
pkill -f "comet --port 0 --heartbeat 0 --log-level info" ; kill $NP
