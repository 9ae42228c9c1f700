#!/usr/bin/env bash
# Capacity in the units operators size by: for each operation, operations per CPU-second of the
# server process (its utime+stime from /proc over the run, so the load generator's share of the
# cores does not count), requests/s, p50/p99, and (production) the database and store work per
# operation: PostgreSQL transactions and rows written (pg_stat_database, pg_stat_user_tables
# deltas) and Redis commands (INFO commandstats).
#
#   scripts/capacity.sh [embedded|production] [seconds per case]     (defaults: embedded 10)
#   CAPACITY_PARTS="throughput"  only the per-operation table (default: throughput fixed feed memory)
#   PORTCULLIS_BIN=path          measure another build (a baseline beside this one)
#
# Operations: password login (Argon2id at the argon2 crate's defaults: m = 19456 KiB, t = 2,
# p = 1), refresh with rotation (one chain of refresh tokens per connection), GET /me warm,
# forward-auth GET /auth/verify warm, token introspection (an API client, HTTP Basic), and the
# OpenID provider's token endpoint: client_credentials (a confidential client, HTTP Basic) and
# refresh_token with rotation (one chain per connection, each from its own user's code flow).
# Load from wrk on loopback (refresh: 4 connections, each its own thread so its Lua state is its
# own).
set -euo pipefail
cd "$(dirname "$0")/.."

mode=${1:-embedded}
secs=${2:-10}
port=18180
case "$mode" in embedded|production) ;; *) echo "usage: $0 [embedded|production] [seconds]" >&2; exit 2 ;; esac

need=()
command -v wrk >/dev/null 2>&1 || need+=(wrk)
command -v hey >/dev/null 2>&1 || need+=(hey)
command -v gnuplot >/dev/null 2>&1 || need+=(gnuplot-nox)
if [ ${#need[@]} -gt 0 ]; then
  echo "capacity.sh: installing ${need[*]} (Debian packages)" >&2
  apt-get update -qq >/dev/null && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need[@]}" >/dev/null
fi
echo "==> building release" >&2
cargo build --release --quiet --bin portcullis --example warm_sessions --example argon2_rate
# PORTCULLIS_BIN: another build to measure (a baseline, side by side with this one).
bin=${PORTCULLIS_BIN:-target/release/portcullis}
warm=target/release/examples/warm_sessions

# The bare hash, alone on the machine, before anything else runs: what a login costs at least.
argon2_rate=$(target/release/examples/argon2_rate 3)

work=$(mktemp -d)
server=""
cleanup() { [ -n "$server" ] && kill "$server" 2>/dev/null; rm -rf "$work"; }
trap cleanup EXIT

source scripts/bench_env.sh
bench_env "$work"
export PORTCULLIS__SESSION__MAX_SESSIONS_PER_USER=0
for route in LOGIN REFRESH CAPTCHA OIDC_TOKEN OIDC_AUTHORIZE; do
  export "PORTCULLIS__RATE_LIMIT__${route}__BURST=100000000"
done
export PORTCULLIS__OIDC__ENABLED=true
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
# The login case signs its own user in (thousands of sessions); each refresh chain is the one
# session of its own user, as a real user's refresh is.
echo "$password" | "$bin" user create --username bench-login --password-stdin >/dev/null
refresh_conns=4
for i in $(seq 1 $refresh_conns); do
  echo "$password" | "$bin" user create --username "bench-r$i" --password-stdin >/dev/null
done
"$bin" role create bencher --permission bench:read >/dev/null
"$bin" user grant --username bench --role bencher >/dev/null
client_secret=$("$bin" client create --id capacity-api 2>/dev/null)
# The provider's clients: one acting for itself, one signing users in (first party: no consent).
cc_secret=$("$bin" oidc-client create --id capacity-cc --grant client_credentials --scope profile 2>/dev/null)
rp_redirect=http://127.0.0.1:9/cb
rp_secret=$("$bin" oidc-client create --id capacity-rp --first-party --redirect-uri "$rp_redirect" \
  --scope openid --scope offline_access 2>/dev/null)
for i in $(seq 1 $refresh_conns); do
  echo "$password" | "$bin" user create --username "bench-o$i" --password-stdin >/dev/null
done

base="http://127.0.0.1:$port"
kb() { awk '/^VmRSS/ {print $2}' "/proc/$1/status"; }
start_server() { # extra env assignments...
  if [ -n "$server" ]; then kill "$server" 2>/dev/null && wait "$server" 2>/dev/null || true; fi
  env "$@" PORTCULLIS__SERVER__PORT=$port "$bin" serve >"$work/server.log" 2>&1 &
  server=$!
  for _ in $(seq 1 100); do curl -sf "$base/health/ready" >/dev/null && break; sleep 0.1; done
  curl -sf "$base/health/ready" >/dev/null || { cat "$work/server.log" >&2; exit 1; }
}
start_server
sleep 1
idle_default=$(kb "$server")

login_json() { # USERNAME
  curl -sf "$base/api/v1/auth/login" -H 'content-type: application/json' \
    -d "{\"username\":\"$1\",\"password\":\"$password\"}"
}
field() { python3 -c "import json,sys; print(json.load(sys.stdin)['data']['$1'])"; }
token=$(login_json bench | field access_token)
# One refresh chain per connection: each starts from its own user's session.
chains=()
for i in $(seq 1 $refresh_conns); do chains+=("$(login_json "bench-r$i" | field refresh_token)"); done
# An app's refresh token, as a relying party gets it: sign in at the provider (the browser's
# cookie), authorize with PKCE (RFC 7636's example pair), exchange the code.
app_refresh_token() { # USERNAME
  local jar="$work/jar-$1" access to code
  access=$(login_json "$1" | field access_token)
  curl -sf -c "$jar" -X POST "$base/oidc/session" -H "Authorization: Bearer $access" >/dev/null
  to=$(curl -s -b "$jar" -o /dev/null -w '%{redirect_url}' -G "$base/oidc/authorize" \
    -d client_id=capacity-rp --data-urlencode "redirect_uri=$rp_redirect" -d response_type=code \
    --data-urlencode "scope=openid offline_access" -d code_challenge_method=S256 \
    -d code_challenge=E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM)
  code=$(sed -n 's/.*[?&]code=\([^&]*\).*/\1/p' <<<"$to")
  curl -sf -u "capacity-rp:$rp_secret" "$base/oidc/token" -d grant_type=authorization_code \
    -d "code=$code" --data-urlencode "redirect_uri=$rp_redirect" \
    -d code_verifier=dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk |
    python3 -c "import json,sys; print(json.load(sys.stdin)['refresh_token'])"
}
app_chains=()
for i in $(seq 1 $refresh_conns); do app_chains+=("$(app_refresh_token "bench-o$i")"); done

cat >"$work/login.lua" <<LUA
wrk.method = "POST"
wrk.body   = '{"username":"bench-login","password":"$password"}'
wrk.headers["Content-Type"] = "application/json"
LUA
# wrk's Lua for refresh chains: each thread follows its own chain (the next token from each
# answer). REQUEST is the body of request(), which sends the thread's token `rt`.
chain_lua() { # REQUEST TOKENS...
  local request=$1; shift
  echo "local chains = {"; for t in "$@"; do echo "  \"$t\","; done; echo "}"
  cat <<'LUA'
local n = 0
function setup(thread)
  n = n + 1
  thread:set("rt", chains[n])
end
function response(status, headers, body)
  local next_rt = body:match('"refresh_token":"([^"]+)"')
  if next_rt then rt = next_rt end
end
LUA
  echo "function request() $request end"
}
chain_lua "return wrk.format('POST', nil, {['Content-Type'] = 'application/json'}, \
  '{\"refresh_token\":\"' .. rt .. '\"}')" "${chains[@]}" >"$work/refresh.lua"
rp_basic="Basic $(printf 'capacity-rp:%s' "$rp_secret" | base64 -w0)"
chain_lua "return wrk.format('POST', nil, {['Content-Type'] = 'application/x-www-form-urlencoded', \
  ['Authorization'] = '$rp_basic'}, 'grant_type=refresh_token&refresh_token=' .. rt)" \
  "${app_chains[@]}" >"$work/app_refresh.lua"
cat >"$work/client_credentials.lua" <<LUA
wrk.method = "POST"
wrk.body   = "grant_type=client_credentials"
wrk.headers["Content-Type"] = "application/x-www-form-urlencoded"
wrk.headers["Authorization"] = "Basic $(printf 'capacity-cc:%s' "$cc_secret" | base64 -w0)"
LUA
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
  case "$name" in refresh|token_refresh) threads=$c ;; esac
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
measure token_client_credentials 64 /oidc/token -s "$work/client_credentials.lua"
measure token_refresh $refresh_conns /oidc/token -s "$work/app_refresh.lua"
measure live 64 /health/live

# Latency at a fixed rate, half of the maximum just measured: hey holds the rate (per worker,
# 200 workers, so that one slow answer does not hold a worker's share back) and writes every
# request's time, from which p50/p99/p99.9 are read. The achieved rate is printed beside the
# target: on two shared cores hey itself may fall short of it.
workers=200
fixed_rate() { # NAME PATH [hey args...]
  local name=$1 path=$2; shift 2
  local max rate
  max=$(awk -v n="$name" '$1 == n {print $3}' "$results")
  rate=$(python3 -c "print(max(1, round(float('$max') / 2 / $workers)))")
  hey -z "${secs}s" -c $workers -q "$rate" -o csv "$@" "$base$path" >"$work/$name.csv"
  python3 - "$work/$name.csv" "$name" "$((rate * workers))" "$secs" >>"$work/fixed" <<'PY'
import sys
rows = [l.split(",") for l in open(sys.argv[1]).read().splitlines()[1:] if l]
t = sorted(float(r[0]) * 1000 for r in rows)
bad = sum(1 for r in rows if not r[6].startswith("2"))
q = lambda p: t[min(len(t) - 1, int(p * len(t)))]
print(f"| {sys.argv[2]} | {sys.argv[3]} | {len(t) / float(sys.argv[4]):.0f} | {q(0.5):.2f} | {q(0.99):.2f} | {q(0.999):.2f} | {bad} |")
PY
  echo "  $name at a fixed rate done" >&2
}
parts=${CAPACITY_PARTS:-throughput fixed feed memory}
has() { [[ " $parts " == *" $1 "* ]]; }
: >"$work/fixed"
if has fixed; then
echo "==> fixed-rate latency" >&2
fixed_rate me /api/v1/sys/users/me -H "Authorization: Bearer $token"
fixed_rate forward_auth "/api/v1/auth/verify?permission=bench:read" -H "Authorization: Bearer $token"
fixed_rate introspection /api/v1/auth/introspect -m POST -T application/x-www-form-urlencoded \
  -d "token=$token" -H "Authorization: Basic $(printf 'capacity-api:%s' "$client_secret" | base64 -w0)"
fi

# Memory: RSS idle, then with 10k, 100k and 1M sessions cached (1,000 users, their sessions
# written straight into the store, each token sent once), then 10k more users of one session
# each; then a made-up token load; then a server whose cache.max_sessions is 100k given 300k.
# The event feed: logouts (each one invalidation) while N API clients' streams listen; logouts
# per CPU-second of the server and the events each subscriber received.
: >"$work/feed"
if has feed; then
echo "==> event feed" >&2
start_server PORTCULLIS__EVENTS__MAX_STREAMS_PER_CLIENT=1024
cat >"$work/logout.lua" <<'LUA'
local tokens = {}
for line in io.lines(os.getenv("TOKENS")) do tokens[#tokens + 1] = line end
local i = 0
request = function()
  i = i + 1
  return wrk.format("POST", nil, {["Authorization"] = "Bearer " .. (tokens[i] or tokens[#tokens])})
end
LUA
for n in 0 10 100; do
  subs=()
  for i in $(seq 1 "$n"); do
    curl -sN -u "capacity-api:$client_secret" "$base/api/v1/auth/events" >"$work/feed-$n-$i" 2>/dev/null &
    subs+=($!)
  done
  sleep 1
  # Enough sessions for the case, a few per user (a logout reads its user's sessions); each
  # case tops the same users up again.
  WARM_TOKENS_OUT="$work/tokens-$n" "$warm" "$base" 5000 $((secs * 6000)) feed- >/dev/null
  t0=$(ticks)
  out=$(TOKENS="$work/tokens-$n" wrk -t1 -c4 -d"${secs}s" -s "$work/logout.lua" "$base/api/v1/auth/logout")
  t1=$(ticks)
  sleep 1.5
  if [ ${#subs[@]} -gt 0 ]; then
    kill "${subs[@]}" 2>/dev/null || true
    wait "${subs[@]}" 2>/dev/null || true
  fi
  reqs=$(awk '/requests in/ {print $1}' <<<"$out")
  got=0
  [ "$n" -gt 0 ] && got=$(cat "$work"/feed-"$n"-* | grep -c '^event: invalidation' || true)
  echo "$n $reqs $(awk '/Requests\/sec/ {print $2}' <<<"$out") $((t1 - t0)) $got $(awk '/Non-2xx/ {print $5}' <<<"$out" | head -1)" >>"$work/feed"
  echo "  $n subscribers done" >&2
done
fi

if has memory; then
echo "==> memory" >&2
start_server PORTCULLIS__CACHE__MAX_SESSIONS=1100000 PORTCULLIS__CACHE__MAX_USERS=100000
sleep 1
curl -sf -o /dev/null "$base/api/v1/sys/users/me" -H "Authorization: Bearer $token"
idle=$(kb "$server")
mem="$work/memory"
echo "0 $idle" >"$mem"
for n in 10000 100000 1000000; do
  "$warm" "$base" 1000 "$n" >&2
  echo "$n $(kb "$server")" >>"$mem"
done
"$warm" "$base" 10000 10000 one- >&2
users_kb=$(kb "$server")
"$warm" "$base" --made-up 100000 >&2
made_up_kb=$(kb "$server")
start_server PORTCULLIS__CACHE__MAX_SESSIONS=100000
"$warm" "$base" 1000 100000 bound- >&2
bound_100k=$(kb "$server")
"$warm" "$base" 1000 300000 bound- >&2
bound_300k=$(kb "$server")
plot=docs/capacity-memory-$mode.png
gnuplot <<GP
set terminal pngcairo size 640,360 font ",10"
set output "$plot"
set title "Portcullis RSS by cached sessions ($mode mode, 1,000 users)"
set xlabel "cached sessions"
set ylabel "RSS, MiB"
set logscale x
set grid
set key off
plot "< awk '\$1 > 0' $mem" using 1:(\$2/1024) with linespoints pt 7, $idle/1024.0 with lines dt 2
GP
fi

python3 - "$results" "$mode" "$secs" "$(getconf CLK_TCK)" "$(nproc)" "$argon2_rate" <<'PY'
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
login = [l.split() for l in open(path) if l.startswith("login ")][0]
login_per_cpu = int(login[3]) / (int(login[6]) / hz)
bare = float(sys.argv[6])
print(f"\nlogin: {login_per_cpu:.1f} per CPU-second of the server against the bare Argon2id's "
      f"{bare:.1f} verifications per CPU-second (one thread, same parameters): {login_per_cpu / bare:.2f} of it")
print("\nper CPU-second: requests completed / (server utime + stime over the run); the rest of the")
print("machine (wrk, PostgreSQL, Redis) is not counted. DB transactions include the statistics")
print("reads of this script (two per case), spread over the case's requests.")
PY

if has fixed; then
echo
echo "Latency at a fixed rate (half the maximum above; hey, $workers workers, ${secs} s)"
echo
echo "| operation | target req/s | achieved req/s | p50 ms | p99 ms | p99.9 ms | not 2xx |"
echo "|---|---|---|---|---|---|---|"
cat "$work/fixed"
fi
has feed && python3 - "$work/feed" "$(getconf CLK_TCK)" "$secs" <<'PY'
import sys
hz = int(sys.argv[2])
print(f"\nThe event feed: logouts (one invalidation each) while N streams listen (wrk, 4 connections, {sys.argv[3]} s)\n")
print("| subscribers | logouts/s | logouts per CPU-second of the server | events received per subscriber per logout |")
print("|---|---|---|---|")
for line in open(sys.argv[1]):
    f = line.split()
    n, reqs, rps, ticks, got = int(f[0]), int(f[1]), float(f[2]), int(f[3]), int(f[4])
    bad = int(f[5]) if len(f) > 5 else 0
    per = f"{got / (n * reqs):.3f}" if n else "—"
    note = f" ({bad} not 2xx)" if bad else ""
    print(f"| {n}{note} | {rps:.0f} | {reqs / (ticks / hz):.0f} | {per} |")
PY
has memory && python3 - "$mem" "$users_kb" "$made_up_kb" "$bound_100k" "$bound_300k" "$plot" "$idle_default" <<'PY'
import sys
rows = [tuple(map(int, l.split())) for l in open(sys.argv[1])]
users_kb, made_up_kb, b100, b300 = map(int, sys.argv[2:6])
print("\nMemory (RSS, server process)\n")
print(f"idle, the default configuration, before any request: {int(sys.argv[7]) / 1024:.1f} MiB")
print("(the rows below are a server whose cache may hold 1.1M sessions, warmed by one /me per session)\n")
print("| cached sessions (1,000 users) | RSS MiB | bytes per session since the step before |")
print("|---|---|---|")
prev = rows[0]
for n, kb in rows:
    per = f"{(kb - prev[1]) * 1024 / (n - prev[0]):.0f}" if n > prev[0] else "—"
    print(f"| {n:,} | {kb / 1024:.1f} | {per} |")
    prev = (n, kb)
last = rows[-1][1]
print(f"\n10,000 more users with one session each: +{(users_kb - last) / 1024:.1f} MiB, "
      f"{(users_kb - last) * 1024 / 10000:.0f} bytes per cached user with its session")
print(f"100,000 made-up tokens: RSS {made_up_kb / 1024:.1f} MiB ({(made_up_kb - users_kb) / 1024:+.1f} MiB)")
print(f"cache.max_sessions = 100,000: RSS {b100 / 1024:.1f} MiB with 100k sessions warmed, "
      f"{b300 / 1024:.1f} MiB with 300k ({(b300 - b100) / 1024:+.1f} MiB)")
print(f"plot: {sys.argv[6]}")
PY
if [ "$mode" = production ]; then
  redis-cli -h 127.0.0.1 --scan --pattern "capacity$$*" | xargs -r -n 1000 redis-cli -h 127.0.0.1 DEL >/dev/null
  kill "$server" 2>/dev/null && wait "$server" 2>/dev/null || true
  server=""
  psql -h 127.0.0.1 -U postgres -d postgres -qc "DROP DATABASE IF EXISTS $db" >/dev/null
fi
