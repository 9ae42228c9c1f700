#!/usr/bin/env bash
# Two builds of the server side by side, in one run: the same cases against each, alternating,
# so that the machine's noise falls on both alike.
#
#   scripts/ab.sh OLD_BINARY NEW_BINARY [seconds per case] [rounds]     (defaults: 5, 4)
#
# Each binary serves in embedded mode on its own port with its own data folder and user; wrk
# drives GET /health/live and GET /api/v1/sys/users/me (a valid token) for each, alternating
# A, B, B, A ... Prints requests/s per case and binary, and B's change against A.
set -euo pipefail
cd "$(dirname "$0")/.."
a=$1 b=$2 secs=${3:-5} rounds=${4:-4}
command -v wrk >/dev/null || { echo "ab.sh: needs wrk (apt-get install wrk)" >&2; exit 1; }

work=$(mktemp -d)
pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; rm -rf "$work"; }
trap cleanup EXIT
source scripts/bench_env.sh

start() { # name binary port -> token on stdout
  local name=$1 bin=$2 port=$3
  mkdir -p "$work/$name"
  (
    bench_env "$work/$name"
    # An older build may not know every key bench_env sets.
    "$bin" config check >/dev/null 2>&1 || unset PORTCULLIS__METRICS__LISTEN
    echo "$BENCH_PASSWORD" | "$bin" user create --username bench --password-stdin >/dev/null
    PORTCULLIS__SERVER__PORT=$port exec "$bin" serve >"$work/$name.log" 2>&1
  ) &
  pids+=($!)
  for _ in $(seq 1 100); do
    curl -sf "http://127.0.0.1:$port/health/ready" >/dev/null && break
    sleep 0.1
  done
}
start A "$a" 18100
start B "$b" 18101
token() {
  curl -sf "http://127.0.0.1:$1/api/v1/auth/login" -H 'content-type: application/json' \
    -d "{\"username\":\"bench\",\"password\":\"$BENCH_PASSWORD\"}" |
    python3 -c 'import json,sys; print(json.load(sys.stdin)["data"]["access_token"])'
}
ta=$(token 18100) tb=$(token 18101)

out="$work/results"
run() { # name port path [header]
  local rps
  rps=$(wrk -t2 -c64 -d"${secs}s" ${4:+-H "$4"} "http://127.0.0.1:$2$3" | awk '/Requests\/sec/ {print $2}')
  echo "$1 $rps" >>"$out"
  echo "  $1: $rps" >&2
}
for r in $(seq 1 "$rounds"); do
  order="A B"; [ $((r % 2)) -eq 0 ] && order="B A"
  for who in $order; do
    port=18100; t=$ta; [ "$who" = B ] && { port=18101; t=$tb; }
    run "$who:live" $port /health/live
    run "$who:me" $port /api/v1/sys/users/me "Authorization: Bearer $t"
  done
done
python3 - "$out" <<'PY'
import sys, statistics
rows = {}
for line in open(sys.argv[1]):
    k, v = line.split(); rows.setdefault(k, []).append(float(v))
m = {k: statistics.median(v) for k, v in rows.items()}
print("| case | A (median req/s) | B (median req/s) | B vs A |")
print("|---|---|---|---|")
for case in ("live", "me"):
    a, b = m[f"A:{case}"], m[f"B:{case}"]
    print(f"| {case} | {a:.0f} | {b:.0f} | {100 * (b / a - 1):+.1f} % |")
print(f"\n/me vs /health/live: A {m['A:me'] / m['A:live']:.2f}, B {m['B:me'] / m['B:live']:.2f}")
PY
