#!/usr/bin/env bash
# Counts the CPU instructions the guard crate's example API spends per request, under callgrind:
# GET /public, the same with a bearer header (authenticated by the middleware, then unused), and
# the protected GET /orders. Repeatable where requests/s is not (see docs/performance.md).
#
#   scripts/guard_instructions.sh [requests per case]     (default 2000)
set -euo pipefail
cd "$(dirname "$0")/.."
n=${1:-2000}
server_port=18096
api_port=18097

command -v valgrind >/dev/null 2>&1 || {
  echo "guard_instructions.sh: installing valgrind (Debian package)" >&2
  apt-get update -qq >/dev/null && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq valgrind >/dev/null
}
echo "==> building release" >&2
cargo build --release --quiet --bin portcullis
cargo build --release --quiet -p portcullis-guard --example protected_api
bin=target/release/portcullis

work=$(mktemp -d)
source scripts/bench_env.sh
bench_env "$work"
export PORTCULLIS__SERVER__PORT=$server_port
echo "$BENCH_PASSWORD" | "$bin" user create --username prof --password-stdin >/dev/null
"$bin" serve >"$work/server.log" 2>&1 &
server=$!
vg=
trap 'kill $server $vg 2>/dev/null || true' EXIT
for _ in $(seq 1 100); do curl -sf "http://127.0.0.1:$server_port/health/ready" >/dev/null && break; sleep 0.1; done
secret=$("$bin" client create --id prof-api --claims user 2>/dev/null)
PORTCULLIS_URL=http://127.0.0.1:$server_port PORTCULLIS_CLIENT_ID=prof-api PORTCULLIS_CLIENT_SECRET=$secret \
  PORTCULLIS_JWT_SECRET=$PORTCULLIS__JWT__SECRET PORT=$api_port RUST_LOG=warn \
  valgrind --tool=callgrind --callgrind-out-file="$work/callgrind.out" \
  target/release/examples/protected_api >"$work/api.log" 2>&1 &
vg=$!
for _ in $(seq 1 300); do curl -sf "http://127.0.0.1:$api_port/public" >/dev/null && break; sleep 0.2; done

echo "==> $n requests per case under callgrind" >&2
python3 - "$BENCH_PASSWORD" "$vg" "$work" "$n" "$server_port" "$api_port" <<'PY'
import glob, http.client, json, subprocess, sys
password, pid, work, n, server_port, api_port = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4]), int(sys.argv[5]), int(sys.argv[6])
server = http.client.HTTPConnection("127.0.0.1", server_port)
server.request("POST", "/api/v1/auth/login", json.dumps({"username": "prof", "password": password}),
               {"content-type": "application/json"})
token = json.loads(server.getresponse().read())["data"]["access_token"]
api = http.client.HTTPConnection("127.0.0.1", api_port)
def get(path, headers):
    api.request("GET", path, headers=headers)
    res = api.getresponse()
    res.read()
    return res.status
bearer = {"Authorization": "Bearer " + token}
cases = [("public", "/public", {}), ("public_with_bearer", "/public", bearer), ("orders", "/orders", bearer)]
for _, path, headers in cases:  # warm: the first request of a session asks introspection
    for _ in range(50):
        get(path, headers)
for name, path, headers in cases:
    subprocess.run(["callgrind_control", "-z", pid], check=True, capture_output=True)
    for _ in range(n):
        assert get(path, headers) == 200, name
    subprocess.run(["callgrind_control", "-d", name, pid], check=True, capture_output=True)
totals = {}
for name, _, _ in cases:
    for path in glob.glob(f"{work}/callgrind.out.*"):
        if f"desc: Trigger: dump {name}\n" in open(path, errors="replace").read(4096):
            total = int(next(l for l in open(path, errors="replace") if l.startswith("summary:")).split()[1])
            totals[name] = total / n
print(f"\nGuard example API, instructions per request (callgrind, {n} keep-alive requests per case)\n")
print("| case | instructions per request | vs /public |")
print("|---|---|---|")
for name, _, _ in cases:
    print(f"| {name} | {totals[name]:,.0f} | {totals['public'] / totals[name]:.2f} |")
print(f"\nProfiles: {work}/callgrind.out.* (callgrind_annotate --inclusive=yes FILE)")
PY
