#!/usr/bin/env bash
# Capacity in the units operators size by: for each operation, operations per CPU-second of the
# server process (its utime+stime from /proc over the run, so the load generator's share of the
# cores does not count), requests/s, p50/p99, and (production) the database and store work per
# operation: PostgreSQL transactions and rows written (pg_stat_database, pg_stat_user_tables
# deltas) and Redis commands (INFO commandstats).
#
#   scripts/capacity.sh [embedded|production] [seconds per case]     (defaults: embedded 10)
#
# Operations: password login (Argon2id at the argon2 crate's defaults: m = 19456 KiB, t = 2,
# p = 1), refresh with rotation (one chain of refresh tokens per connection), GET /me warm,
# forward-auth GET /auth/verify warm, token introspection (an API client, HTTP Basic). Load from
# wrk on loopback (refresh: 4 connections, each its own thread so its Lua state is its own).
set -euo pipefail
cd "$(dirname "$0")/.."

mode=${1:-embedded}
secs=${2:-10}
port=18180
case "$mode" in embedded|production) ;; *) echo "usage: $0 [embedded|production] [seconds]" >&2; exit 2 ;; esac

if ! command -v wrk >/dev/null 2>&1; then
  echo "capacity.sh: installing wrk (Debian package)" >&2
  apt-get update -qq >/dev/null && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq wrk >/dev/null
fi
echo "==> building release" >&2
cargo build --release --quiet --bin portcullis
bin=target/release/portcullis

work=$(mktemp -d)
server=""
cleanup() { [ -n "$server" ] && kill "$server" 2>/dev/null; rm -rf "$work"; }
trap cleanup EXIT

source scripts/bench_env.sh
bench_env "$work"
export PORTCULLIS__SESSION__MAX_SESSIONS_PER_USER=0
for route in LOGIN REFRESH CAPTCHA; do export "PORTCULLIS__RATE_LIMIT__${route}__BURST=100000000"; done
export PORTCULLIS__LOCKOUT__THRESHOLD=100000000 PORTCULLIS__LOCKOUT__ACCOUNT_THRESHOLD=100000000
db=""
if [ "$mode" = production ]; then
  bash scripts/services.sh
  db=portcullis_capacity
  psql -h 127.0.0.1 -U postgres -d postgres -qc "DROP DATABASE IF EXISTS $db" >/dev/null
  psql -h 127.0.0.1 -U postgres -d postgres -qc "CREATE DATABASE $db" >/dev/null
  export PORTCULLIS__DATABASE__URL="postgres://postgres@127.0.0.1:5432/$db"
  export PORTCULLIS__REDIS__URL="redis://127.0.0.1:6379/0"
  export PORTCULLIS__REDIS__KEY_PREFIX="capacity$$"
fi
password=$BENCH_PASSWORD
echo "$password" | "$bin" user create --username bench --password-stdin >/dev/null
"$bin" role create bencher --permission bench:read >/dev/null
"$bin" user grant --username bench --role bencher >/dev/null
client_secret=$("$bin" client create --id capacity-api 2>/dev/null)

PORTCULLIS__SERVER__PORT=$port "$bin" serve >"$work/server.log" 2>&1 &
server=$!
base="http://127.0.0.1:$port"
for _ in $(seq 1 100); do curl -sf "$base/health/ready" >/dev/null && break; sleep 0.1; done
curl -sf "$base/health/ready" >/dev/null || { cat "$work/server.log" >&2; exit 1; }

login_json() {
  curl -sf "$base/api/v1/auth/login" -H 'content-type: application/json' \
    -d "{\"username\":\"bench\",\"password\":\"$password\"}"
}
field() { python3 -c "import json,sys; print(json.load(sys.stdin)['data']['$1'])"; }
token=$(login_json | field access_token)
# One refresh chain per connection: each starts from its own session's refresh token.
refresh_conns=4
chains=()
for _ in $(seq 1 $refresh_conns); do chains+=("$(login_json | field refresh_token)"); done

cat >"$work/login.lua" <<LUA
wrk.method = "POST"
wrk.body   = '{"username":"bench","password":"$password"}'
wrk.headers["Content-Type"] = "application/json"
LUA
{
  echo "local chains = {"; for t in "${chains[@]}"; do echo "  \"$t\","; done; echo "}"
  cat <<'LUA'
local n = 0
function setup(thread)
  n = n + 1
  thread:set("rt", chains[n])
end
function request()
  return wrk.format("POST", nil, {["Content-Type"] = "application/json"},
    '{"refresh_token":"' .. rt .. '"}')
end
function response(status, headers, body)
  local next_rt = body:match('"refresh_token":"([^"]+)"')
  if next_rt then rt = next_rt end
end
LUA
} >"$work/refresh.lua"
cat >"$work/introspect.lua" <<LUA
wrk.method = "POST"
wrk.body   = "token=$token"
wrk.headers["Content-Type"] = "application/x-www-form-urlencoded"
wrk.headers["Authorization"] = "Basic $(printf 'capacity-api:%s' "$client_secret" | base64 -w0)"
LUA

ticks() { awk '{print $14 + $15}' "/proc/$server/stat"; }
pg() { # transactions committed, rows written
  [ -n "$db" ] || { echo "0 0"; return; }
  psql -h 127.0.0.1 -U postgres -d "$db" -Atqc \
    "SELECT (SELECT xact_commit FROM pg_stat_database WHERE datname = current_database()),
            (SELECT coalesce(sum(n_tup_ins + n_tup_upd + n_tup_del), 0) FROM pg_stat_user_tables)" |
    tr '|' ' '
}
redis_calls() {
  [ "$mode" = production ] || { echo 0; return; }
  redis-cli -h 127.0.0.1 INFO commandstats | awk -F'[:=,]' '/^cmdstat_/ {s += $3} END {print s+0}'
}

results="$work/results"
# case NAME CONNECTIONS PATH [wrk args...]
measure() {
  local name=$1 c=$2 path=$3; shift 3
  local threads=$(( c < 2 ? 1 : 2 ))
  [ "$name" = refresh ] && threads=$c
  sleep 1.2 # PostgreSQL flushes its statistics at least every second
  local t0 p0 r0 out t1 p1 r1
  t0=$(ticks); p0=$(pg); r0=$(redis_calls)
  out=$(wrk -t"$threads" -c"$c" -d"${secs}s" --latency "$@" "$base$path")
  t1=$(ticks); r1=$(redis_calls)
  sleep 1.2
  p1=$(pg)
  echo "$name $c $(awk '/Requests\/sec/ {print $2}' <<<"$out") $(awk '/requests in/ {print $1}' <<<"$out") \
$(awk '/^ +50%/ {print $2}' <<<"$out") $(awk '/^ +99%/ {print $2}' <<<"$out") $((t1 - t0)) \
$p0 $p1 $r0 $r1 $(awk '/Non-2xx/ {print $5}' <<<"$out" | head -1)" >>"$results"
  echo "  $name done" >&2
}

echo "==> $mode mode, ${secs}s per case" >&2
measure login 4 /api/v1/auth/login -s "$work/login.lua"
measure refresh $refresh_conns /api/v1/auth/refresh -s "$work/refresh.lua"
measure me 64 /api/v1/sys/users/me -H "Authorization: Bearer $token"
measure forward_auth 64 "/api/v1/auth/verify?permission=bench:read" -H "Authorization: Bearer $token"
measure introspection 64 /api/v1/auth/introspect -s "$work/introspect.lua"
measure live 64 /health/live

python3 - "$results" "$mode" "$secs" "$(getconf CLK_TCK)" "$(nproc)" <<'PY'
import sys
path, mode, secs, hz, cores = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4]), sys.argv[5]
def ms(v):
    for unit, f in (("us", 1e-3), ("ms", 1.0), ("s", 1e3)):
        if v.endswith(unit) and (unit != "s" or not v.endswith(("us", "ms"))):
            return float(v[: -len(unit)]) * f
    return float(v)
print(f"\nPortcullis capacity, {mode} mode, {secs} s per case, wrk on the same {cores}-core machine\n")
print("| operation | connections | requests/s | per CPU-second of the server | p50 ms | p99 ms | DB transactions / op | rows written / op | Redis commands / op |")
print("|---|---|---|---|---|---|---|---|---|")
for line in open(path):
    f = line.split()
    name, c, rps, reqs, p50, p99, ticks = f[0], f[1], float(f[2]), int(f[3]), f[4], f[5], int(f[6])
    x0, w0, x1, w1, r0, r1 = map(int, f[7:13])
    failed = int(f[13]) if len(f) > 13 else 0
    cpu = ticks / hz
    per_cpu = reqs / cpu if cpu else float("inf")
    db = f"{(x1 - x0) / reqs:.2f}" if mode == "production" else "n/a"
    rows = f"{(w1 - w0) / reqs:.2f}" if mode == "production" else "n/a"
    redis = f"{(r1 - r0) / reqs:.2f}" if mode == "production" else "n/a"
    note = f" ({failed} not 2xx)" if failed else ""
    print(f"| {name}{note} | {c} | {rps:.0f} | {per_cpu:.0f} | {ms(p50):.2f} | {ms(p99):.2f} | {db} | {rows} | {redis} |")
print("\nper CPU-second: requests completed / (server utime + stime over the run); the rest of the")
print("machine (wrk, PostgreSQL, Redis) is not counted. DB transactions include the statistics")
print("reads of this script (two per case), spread over the case's requests.")
PY
