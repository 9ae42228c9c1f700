#!/usr/bin/env bash
# Counts the CPU instructions the server spends per request, by route, under callgrind.
#
#   scripts/instructions.sh [requests per case]     (default 2000)
#   PORTCULLIS_BIN=path/to/portcullis scripts/instructions.sh    (another build, e.g. an older one)
#
# Unlike requests/s on a shared machine, instruction counts repeat from run to run, so a change
# to the hot path can be judged by a few hundred instructions. Builds release (with line tables),
# runs one worker under `valgrind --tool=callgrind` in embedded mode, and sends the same number of
# keep-alive requests for each case, zeroing and dumping the counters around each case. Cases:
# GET /health/live, the same with a bearer header, GET /api/v1/sys/users/me, GET
# /api/v1/auth/verify (forward-auth), GET /api/v1/auth/codes, POST /api/v1/auth/introspect (an
# API client, HTTP Basic). Per-case profiles stay in the printed directory for callgrind_annotate.
set -euo pipefail
cd "$(dirname "$0")/.."

n=${1:-2000}
port=18090

if ! command -v valgrind >/dev/null 2>&1; then
  echo "instructions.sh: installing valgrind (Debian package)" >&2
  apt-get update -qq >/dev/null && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq valgrind >/dev/null
fi

if [ -n "${PORTCULLIS_BIN:-}" ]; then
  bin=$(realpath "$PORTCULLIS_BIN")
else
  echo "==> building release" >&2
  cargo build --release --quiet --bin portcullis
  bin=$PWD/target/release/portcullis
fi

work=$(mktemp -d)
source scripts/bench_env.sh
bench_env "$work"
"$bin" config check >/dev/null 2>&1 || unset PORTCULLIS__METRICS__LISTEN # an older build
export PORTCULLIS__SERVER__WORKERS=1
export PORTCULLIS__SERVER__PORT=$port

password=$BENCH_PASSWORD
echo "$password" | "$bin" user create --username bench --password-stdin >/dev/null
client_secret=$("$bin" client create --id bench-api 2>/dev/null)

valgrind --tool=callgrind --callgrind-out-file="$work/callgrind.out" "$bin" serve >"$work/server.log" 2>&1 &
vg=$!
trap 'kill $vg 2>/dev/null || true' EXIT
for _ in $(seq 1 300); do
  curl -sf "http://127.0.0.1:$port/health/live" >/dev/null && break
  sleep 0.2
done

echo "==> $n requests per case under callgrind (a few minutes)" >&2
python3 - "$port" "$password" "$n" "$vg" "$work" "$client_secret" <<'PY'
import base64, http.client, json, subprocess, sys
port, password, n, pid, work = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4], sys.argv[5]
basic = "Basic " + base64.b64encode(f"bench-api:{sys.argv[6]}".encode()).decode()
conn = http.client.HTTPConnection("127.0.0.1", int(port))
def request(method, path, body=None, headers={}):
    conn.request(method, path, body=body, headers=headers)
    res = conn.getresponse()
    return res.status, res.read()
status, body = request("POST", "/api/v1/auth/login",
                       json.dumps({"username": "bench", "password": password}),
                       {"content-type": "application/json"})
assert status == 200, body
access = json.loads(body)["data"]["access_token"]
bearer = {"Authorization": "Bearer " + access}
form = {"Authorization": basic, "content-type": "application/x-www-form-urlencoded"}
get = lambda name, path, headers: (name, "GET", path, None, headers)
cases = [get("live", "/health/live", {}), get("live_with_bearer_header", "/health/live", bearer),
         get("me", "/api/v1/sys/users/me", bearer), get("verify", "/api/v1/auth/verify", bearer),
         get("codes", "/api/v1/auth/codes", bearer),
         ("introspect", "POST", "/api/v1/auth/introspect", f"token={access}", form)]
for _, method, path, body, headers in cases:  # warm: the first request of a session reads through
    for _ in range(50):
        request(method, path, body, headers)
totals = {}
for name, method, path, body, headers in cases:
    subprocess.run(["callgrind_control", "-z", pid], check=True, capture_output=True)
    for _ in range(n):
        status, answer = request(method, path, body, headers)
        assert status == 200 and b'"active":false' not in answer, (name, status, answer)
    subprocess.run(["callgrind_control", "-d", name, pid], check=True, capture_output=True)
print(f"\nInstructions per request (callgrind, one worker, {n} keep-alive requests per case)\n")
print("| case | instructions per request | vs live |")
print("|---|---|---|")
import glob
for name, *_ in cases:
    for path in glob.glob(f"{work}/callgrind.out.*"):
        text = open(path, errors="replace").read(4096)
        if f"desc: Trigger: dump {name}\n" in text:
            total = int(next(l for l in open(path, errors="replace") if l.startswith("summary:")).split()[1])
            totals[name] = total / n
            break
for name, *_ in cases:
    print(f"| {name} | {totals[name]:,.0f} | {totals['live'] / totals[name]:.2f} |")
print(f"\nProfiles: {work}/callgrind.out.* (callgrind_annotate --inclusive=yes FILE)")
PY
trap - EXIT
kill -INT $vg 2>/dev/null || true
wait $vg 2>/dev/null || true
