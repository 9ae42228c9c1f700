#!/usr/bin/env bash
# Benchmarks the request path side by side, in one run, and prints a table.
#
#   scripts/bench.sh [embedded|production] [seconds per case]     (defaults: embedded 10)
#
# Builds release, starts the server (embedded: SQLite + in-process store; production:
# PostgreSQL + Redis on 127.0.0.1), seeds a user, and drives load with wrk from a second process
# on loopback, 64 connections. Cases, each run twice, interleaved: GET /health/live (no auth),
# GET /api/v1/sys/users/me with a valid token (of a password session, and of one signed in with a
# second factor), GET /api/v1/auth/codes (the same authentication
# with a tiny body), forward-auth GET /api/v1/auth/verify?permission=… (a warm token holding the
# code), /me with a bad signature, with a revoked session, and password login at low
# concurrency; if nginx is installed, /health/live through nginx with and without auth_request
# (examples/nginx); the guard crate's example API (guard/examples/protected_api.rs): its
# protected GET /orders against its own GET /public. Then: /me while 8 clients log in
# continuously (as another user), RSS over a 60 s run, how fast a logout on the server is refused by the guard,
# and (production) by a second node.
set -euo pipefail
cd "$(dirname "$0")/.."

mode=${1:-embedded}
secs=${2:-10}
port=18080
port_b=18081
conns=64

case "$mode" in embedded|production) ;; *) echo "usage: $0 [embedded|production] [seconds]" >&2; exit 2 ;; esac

if ! command -v wrk >/dev/null 2>&1; then
  echo "bench.sh: installing wrk (Debian package)" >&2
  apt-get update -qq >/dev/null && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq wrk >/dev/null
fi

echo "==> building release" >&2
cargo build --release --quiet --bin portcullis --example revocation_latency
cargo build --release --quiet -p portcullis-guard --example protected_api
bin=target/release/portcullis

work=$(mktemp -d)
pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; rm -rf "$work"; }
trap cleanup EXIT

source scripts/bench_env.sh
bench_env "$work"
export PORTCULLIS__SESSION__MAX_SESSIONS_PER_USER=0
for route in LOGIN REFRESH CAPTCHA; do export "PORTCULLIS__RATE_LIMIT__${route}__BURST=100000000"; done
export PORTCULLIS__LOCKOUT__THRESHOLD=100000000 PORTCULLIS__LOCKOUT__ACCOUNT_THRESHOLD=100000000
if [ "$mode" = production ]; then
  bash scripts/services.sh
  db=portcullis_bench
  psql -h 127.0.0.1 -U postgres -d postgres -qc "DROP DATABASE IF EXISTS $db" >/dev/null
  psql -h 127.0.0.1 -U postgres -d postgres -qc "CREATE DATABASE $db" >/dev/null
  export PORTCULLIS__DATABASE__URL="postgres://postgres@127.0.0.1:5432/$db"
  export PORTCULLIS__REDIS__URL="redis://127.0.0.1:6379/0"
  export PORTCULLIS__REDIS__KEY_PREFIX="bench$$"
fi

password=$BENCH_PASSWORD
echo "$password" | "$bin" user create --username bench --password-stdin >/dev/null
# Other people logging in (the /me-under-logins case): a login changes its user (the last login
# time), so logins of the measured user itself would evict it from the cache each time.
echo "$password" | "$bin" user create --username visitor --password-stdin >/dev/null
"$bin" role create bencher --permission bench:read >/dev/null
"$bin" user grant --username bench --role bencher >/dev/null

start_node() { # port -> pid
  PORTCULLIS__SERVER__PORT=$1 "$bin" serve >"$work/node-$1.log" 2>&1 &
  local pid=$!
  for _ in $(seq 1 100); do
    curl -sf "http://127.0.0.1:$1/health/ready" >/dev/null && { echo "$pid"; return; }
    sleep 0.1
  done
  echo "bench.sh: server on port $1 did not start; see its log:" >&2; cat "$work/node-$1.log" >&2; exit 1
}
server=$(start_node $port); pids+=("$server")
base="http://127.0.0.1:$port"
sleep 0.5 # production: let the node subscribe to invalidations

# The guard's example API, in front of nothing but itself, asking this server.
guard_port=18090
client_secret=$("$bin" client create --id bench-api --claims user 2>/dev/null)
PORTCULLIS_URL=$base PORTCULLIS_CLIENT_ID=bench-api PORTCULLIS_CLIENT_SECRET=$client_secret \
  PORTCULLIS_JWT_SECRET=$PORTCULLIS__JWT__SECRET PORT=$guard_port RUST_LOG=warn \
  target/release/examples/protected_api >"$work/guard.log" 2>&1 &
pids+=($!)
for _ in $(seq 1 100); do curl -sf "http://127.0.0.1:$guard_port/public" >/dev/null && break; sleep 0.1; done

login() {
  curl -sf "$base/api/v1/auth/login" -H 'content-type: application/json' \
    -d "{\"username\":\"bench\",\"password\":\"$password\"}" |
    python3 -c 'import json,sys; print(json.load(sys.stdin)["data"]["access_token"])'
}
token=$(login)
# A session signed in with a second factor (TOTP enrolled through the API; the second step with
# a recovery code): /me must cost what a password session's does (amr is in the token).
echo "$password" | "$bin" user create --username benchmfa --password-stdin >/dev/null
mfa_token=$(BASE=$base PASSWORD=$password python3 - <<'PY'
import base64, hashlib, hmac, json, os, struct, time, urllib.request
base, password = os.environ["BASE"], os.environ["PASSWORD"]
def post(path, body, token=None):
    req = urllib.request.Request(base + "/api/v1" + path, json.dumps(body).encode(),
                                 {"content-type": "application/json"})
    if token:
        req.add_header("authorization", f"Bearer {token}")
    return json.load(urllib.request.urlopen(req))["data"]
def totp(secret):
    mac = hmac.new(secret, struct.pack(">Q", int(time.time()) // 30), hashlib.sha1).digest()
    o = mac[-1] & 15
    return "%06d" % ((struct.unpack(">I", mac[o:o + 4])[0] & 0x7FFFFFFF) % 1000000)
access = post("/auth/login", {"username": "benchmfa", "password": password})["access_token"]
secret = base64.b32decode(post("/auth/mfa/totp", {}, access)["secret"])
codes = post("/auth/mfa/totp/confirm", {"code": totp(secret)}, access)["recovery_codes"]
ticket = post("/auth/login", {"username": "benchmfa", "password": password})["mfa_ticket"]
print(post("/auth/mfa/verify", {"ticket": ticket, "code": codes[0]})["access_token"])
PY
)
bad="${token%?}$( [ "${token: -1}" = A ] && echo B || echo A )"
revoked=$(login)
curl -sf -X POST "$base/api/v1/auth/logout" -H "Authorization: Bearer $revoked" >/dev/null
[ "$(curl -s -o /dev/null -w '%{http_code}' "$base/api/v1/sys/users/me" -H "Authorization: Bearer $token")" = 200 ]

cat >"$work/login.lua" <<LUA
wrk.method = "POST"
wrk.body   = '{"username":"bench","password":"$password"}'
wrk.headers["Content-Type"] = "application/json"
LUA
sed 's/"bench"/"visitor"/' "$work/login.lua" >"$work/visitor.lua"

redis_calls() {
  [ "$mode" = production ] || { echo 0; return; }
  redis-cli -h 127.0.0.1 INFO commandstats | awk -F'[:=,]' '/^cmdstat_/ {s += $3} END {print s+0}'
}
rss_kb() { ps -o rss= -p "$server" | tr -d ' '; }

# run NAME CONNECTIONS PATH [wrk args...] -> appends "name rps p50 p99 requests" to results
results="$work/results"
run() {
  local name=$1 c=$2 path=$3; shift 3
  local before after out url=$path
  [[ $path == http* ]] || url="$base$path"
  before=$(redis_calls)
  out=$(wrk -t2 -c"$c" -d"${secs}s" --latency "$@" "$url")
  after=$(redis_calls)
  local rps p50 p99 reqs
  rps=$(awk '/Requests\/sec/ {print $2}' <<<"$out")
  p50=$(awk '/^ +50%/ {print $2}' <<<"$out")
  p99=$(awk '/^ +99%/ {print $2}' <<<"$out")
  reqs=$(awk '/requests in/ {print $1}' <<<"$out")
  echo "$name $rps $p50 $p99 $reqs $((after - before)) $(rss_kb)" >>"$results"
  echo "  $name: $rps req/s, p50 $p50, p99 $p99" >&2
}

nginx_bin=$(command -v nginx || ls /usr/sbin/nginx 2>/dev/null || true)
if [ -n "$nginx_bin" ]; then
  # The shipped site, asking this server, in front of this server's /health/live; and a plain
  # proxy to the same, to see what auth_request adds.
  mkdir -p "$work/nginx"
  for f in protected-api.conf portcullis-forward.conf portcullis-subrequest.conf; do
    sed -e "s/127.0.0.1:8000/127.0.0.1:$port/; s/127.0.0.1:9000/127.0.0.1:$port/; s/listen 127.0.0.1:8080/listen 127.0.0.1:18082/" \
      "examples/nginx/$f" >"$work/nginx/$f"
  done
  cat >"$work/nginx/nginx.conf" <<NGINX
worker_processes 1; daemon off; pid $work/nginx/pid; error_log $work/nginx/error.log warn;
events { worker_connections 1024; }
http {
  access_log off;
  client_body_temp_path $work/nginx/b; proxy_temp_path $work/nginx/p; fastcgi_temp_path $work/nginx/f;
  uwsgi_temp_path $work/nginx/u; scgi_temp_path $work/nginx/s;
  include $work/nginx/protected-api.conf;
  # The same proxying as the site's (its upstream, kept alive), without auth_request.
  server {
    listen 127.0.0.1:18083;
    location / { proxy_http_version 1.1; proxy_set_header Connection ""; proxy_pass http://protected_api; }
  }
}
NGINX
  "$nginx_bin" -p "$work/nginx" -c "$work/nginx/nginx.conf" &
  pids+=($!)
  sleep 0.5
fi

echo "==> $mode mode, $conns connections, ${secs}s per case, each case twice (interleaved)" >&2
for round in 1 2; do
  run live $conns /health/live
  run me $conns /api/v1/sys/users/me -H "Authorization: Bearer $token"
  run me_mfa $conns /api/v1/sys/users/me -H "Authorization: Bearer $mfa_token"
  run verify $conns "/api/v1/auth/verify?permission=bench:read" -H "Authorization: Bearer $token"
  if [ -n "$nginx_bin" ]; then
    run nginx_plain $conns http://127.0.0.1:18083/health/live
    run nginx_auth $conns http://127.0.0.1:18082/health/live -H "Authorization: Bearer $token"
  fi
  run guard_public $conns "http://127.0.0.1:$guard_port/public"
  run guard_orders $conns "http://127.0.0.1:$guard_port/orders" -H "Authorization: Bearer $token"
  run codes $conns /api/v1/auth/codes -H "Authorization: Bearer $token"
  run bad_signature $conns /api/v1/sys/users/me -H "Authorization: Bearer $bad"
  run revoked $conns /api/v1/sys/users/me -H "Authorization: Bearer $revoked"
  run login 4 /api/v1/auth/login -s "$work/login.lua"
done

echo "==> /me while 8 clients log in continuously" >&2
wrk -t1 -c8 -d"$((secs + 2))s" -s "$work/visitor.lua" "$base/api/v1/auth/login" >/dev/null &
loader=$!
sleep 1
run me_under_logins $conns /api/v1/sys/users/me -H "Authorization: Bearer $token"
wait "$loader" || true

echo "==> RSS over a 60 s /me run" >&2
rss_samples=$(rss_kb)
wrk -t2 -c$conns -d60s "$base/api/v1/sys/users/me" -H "Authorization: Bearer $token" >/dev/null &
soak=$!
for _ in 1 2 3 4 5 6; do sleep 10; rss_samples="$rss_samples $(rss_kb)"; done
wait "$soak" || true

echo "==> revocation latency, server -> guard" >&2
revocation_guard=$(target/release/examples/revocation_latency "$base" "http://127.0.0.1:$guard_port/orders" bench "$password" 200)

revocation="(production mode only)"
if [ "$mode" = production ]; then
  echo "==> revocation latency between two nodes" >&2
  node_b=$(start_node $port_b); pids+=("$node_b")
  sleep 0.5
  revocation=$(target/release/examples/revocation_latency "$base" "http://127.0.0.1:$port_b" bench "$password" 200)
fi

python3 - "$results" "$mode" "$secs" "$rss_samples" "$revocation" "$revocation_guard" <<'PY'
import sys
path, mode, secs, rss, revocation, revocation_guard = sys.argv[1:7]
def ms(v):
    v = v.strip()
    for unit, f in (("us", 1e-3), ("ms", 1.0), ("s", 1e3)):
        if v.endswith(unit) and (unit != "s" or not v.endswith(("us", "ms"))):
            return float(v[: -len(unit)]) * f
    return float(v)
rows = {}
for line in open(path):
    name, rps, p50, p99, reqs, calls, rss_kb = line.split()
    rows.setdefault(name, []).append((float(rps), ms(p50), ms(p99), int(reqs), int(calls), int(rss_kb)))
live = sum(r[0] for r in rows["live"]) / len(rows["live"])
print(f"\nPortcullis, {mode} mode, wrk -t2 -c64 (login: -c4), {secs}s per run, both processes on this machine\n")
print("| case | runs | requests/s | p50 ms | p99 ms | vs /health/live | store calls per request |")
print("|---|---|---|---|---|---|---|")
for name in ["live", "me", "me_mfa", "verify", "guard_public", "guard_orders", "codes", "bad_signature", "revoked", "login", "me_under_logins", "nginx_plain", "nginx_auth"]:
    runs = rows.get(name, [])
    if not runs:
        continue
    rps = sum(r[0] for r in runs) / len(runs)
    p50 = sum(r[1] for r in runs) / len(runs)
    p99 = sum(r[2] for r in runs) / len(runs)
    calls = sum(r[4] for r in runs) / max(1, sum(r[3] for r in runs))
    each = " / ".join(f"{r[0]:.0f}" for r in runs)
    store = f"{calls:.4f}" if mode == "production" else "n/a (in-process)"
    print(f"| {name} | {each} | {rps:.0f} | {p50:.2f} | {p99:.2f} | {rps / live:.2f} | {store} |")
me_p99 = sum(r[2] for r in rows["me"]) / len(rows["me"])
if "me_mfa" in rows:
    me = sum(r[0] for r in rows["me"]) / len(rows["me"])
    mfa = sum(r[0] for r in rows["me_mfa"]) / len(rows["me_mfa"])
    print(f"\n/me of a session signed in with a second factor: {mfa:.0f} req/s vs {me:.0f} req/s with a password ({mfa / me:.2f})")
if "me_under_logins" in rows:
    print(f"\n/me p99 with 8 clients logging in: {rows['me_under_logins'][0][2]:.2f} ms vs {me_p99:.2f} ms without ({rows['me_under_logins'][0][2] / me_p99:.2f}x)")
if "nginx_auth" in rows and "nginx_plain" in rows:
    plain = sum(r[0] for r in rows["nginx_plain"]) / len(rows["nginx_plain"])
    auth = sum(r[0] for r in rows["nginx_auth"]) / len(rows["nginx_auth"])
    print(f"\nThrough nginx: with auth_request {auth:.0f} req/s, without {plain:.0f} req/s ({auth / plain:.2f} of plain proxying)")
if "guard_orders" in rows and "guard_public" in rows:
    public = sum(r[0] for r in rows["guard_public"]) / len(rows["guard_public"])
    orders = sum(r[0] for r in rows["guard_orders"]) / len(rows["guard_orders"])
    print(f"\nGuard crate example: protected GET /orders {orders:.0f} req/s, its GET /public {public:.0f} req/s ({orders / public:.2f} of unprotected)")
samples = [int(x) for x in rss.split()]
print(f"RSS every 10 s over a 60 s /me run (MiB): {' '.join(f'{s / 1024:.1f}' for s in samples)}")
print(f"Revocation, server -> guard: {revocation_guard}")
print(f"Revocation, node -> node: {revocation}")
PY
