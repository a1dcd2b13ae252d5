#!/usr/bin/env bash
# Accept rate (connections per second, `Connection: close` on /hello) of the
# libactor server (one session process per connection) against the plain
# Asio baseline, measured in the same run, alternating A and B each round
# so that machine noise hits both. Also keep-alive requests per second, and
# server CPU microseconds per connection (utime+stime / connections).
#
#   bench/accept_rate.sh [build-dir]      env: ROUNDS=3 DURATION=8 CONNS=50 THREADS=1
#   BEFORE=<path to another http_hello> adds a third contender (an older build,
#   say), run in the same rounds, to check that a change did not tax the path.
set -euo pipefail
build="${1:-build}"
rounds="${ROUNDS:-3}"
duration="${DURATION:-8}"
conns="${CONNS:-50}"
threads="${THREADS:-1}"
command -v wrk >/dev/null || { echo "accept_rate: wrk is missing (apt-get install wrk)" >&2; exit 2; }

clk=$(getconf CLK_TCK)

# run <name> <binary> <mode: close|keepalive>: prints "<name> <mode> <req/s> <cpu_us_per_req>"
run() {
  local name="$1" bin="$2" mode="$3" fifo port pid
  fifo=$(mktemp -u)
  mkfifo "$fifo"
  "$bin" --threads "$threads" >"$fifo" &
  pid=$!
  read -r line <"$fifo"
  rm -f "$fifo"
  port="${line#port=}"
  local header=()
  [[ "$mode" == close ]] && header=(-H "Connection: close")
  local t0 t1 out rps reqs
  t0=$(awk '{print $14+$15}' "/proc/$pid/stat")
  out=$(wrk -t1 -c"$conns" -d"${duration}s" "${header[@]}" "http://127.0.0.1:$port/hello")
  t1=$(awk '{print $14+$15}' "/proc/$pid/stat")
  kill "$pid"
  wait "$pid" 2>/dev/null || true
  rps=$(awk '/Requests\/sec/ {print $2}' <<<"$out")
  reqs=$(awk '/requests in/ {print $1}' <<<"$out")
  local cpu_us
  cpu_us=$(awk -v a="$t0" -v b="$t1" -v c="$clk" -v n="$reqs" 'BEGIN { printf "%.1f", (b-a)/c*1e6/n }')
  echo "$name $mode $rps $cpu_us"
}

results=$(mktemp)
for ((r = 1; r <= rounds; ++r)); do
  for mode in close keepalive; do
    run asio "$build/bench/asio_baseline/asio_baseline" "$mode" | tee -a "$results"
    run libactor "$build/bench/http_hello/http_hello" "$mode" | tee -a "$results"
    if [[ -n "${BEFORE:-}" ]]; then
      run before "$BEFORE" "$mode" | tee -a "$results"
    fi
  done
done

echo "--- medians over $rounds rounds (wrk -t1 -c$conns -d${duration}s, server threads=$threads)"
for mode in close keepalive; do
  a=$(awk -v m="$mode" '$1=="asio" && $2==m {print $3}' "$results" | sort -n | awk '{v[NR]=$1} END {print v[int((NR+1)/2)]}')
  l=$(awk -v m="$mode" '$1=="libactor" && $2==m {print $3}' "$results" | sort -n | awk '{v[NR]=$1} END {print v[int((NR+1)/2)]}')
  ac=$(awk -v m="$mode" '$1=="asio" && $2==m {print $4}' "$results" | sort -n | awk '{v[NR]=$1} END {print v[int((NR+1)/2)]}')
  lc=$(awk -v m="$mode" '$1=="libactor" && $2==m {print $4}' "$results" | sort -n | awk '{v[NR]=$1} END {print v[int((NR+1)/2)]}')
  awk -v m="$mode" -v a="$a" -v l="$l" -v ac="$ac" -v lc="$lc" 'BEGIN {
    printf "%-9s asio=%.0f/s libactor=%.0f/s ratio=%.2f  cpu_us/req asio=%s libactor=%s\n", m, a, l, l/a, ac, lc }'
  if [[ -n "${BEFORE:-}" ]]; then
    b=$(awk -v m="$mode" '$1=="before" && $2==m {print $3}' "$results" | sort -n | awk '{v[NR]=$1} END {print v[int((NR+1)/2)]}')
    bc=$(awk -v m="$mode" '$1=="before" && $2==m {print $4}' "$results" | sort -n | awk '{v[NR]=$1} END {print v[int((NR+1)/2)]}')
    awk -v m="$mode" -v a="$a" -v b="$b" -v ac="$ac" -v bc="$bc" -v lc="$lc" 'BEGIN {
      printf "%-9s before=%.0f/s ratio=%.2f  cpu_us/req before=%s (cpu ratio to asio: before %.2f, now %.2f)\n", m, b, b/a, bc, bc/ac, lc/ac }'
  fi
done
rm -f "$results"
