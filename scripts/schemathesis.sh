#!/usr/bin/env bash
# Runs schemathesis, with all its checks, against both OpenAPI documents of a throwaway server
# (embedded mode), the Swagger 2.0 one and the OpenAPI 3 one, signed in as a superuser. Installs
# schemathesis into target/schemathesis-venv the first time (PyPI).
#
#   scripts/schemathesis.sh [max examples per operation] [document ...]
#       (default 25, both openapi.json and openapi3.json; SCHEMATHESIS_SEED=1)
#
# Left out: the operations that end the caller's own session or change its password (the run
# would sign itself out halfway: logout, a password change or reset, kicking a user's sessions),
# and the Swagger UI's assets.
set -euo pipefail
cd "$(dirname "$0")/.."
examples=${1:-25}
shift || true
documents=("$@")
[ ${#documents[@]} -eq 0 ] && documents=(openapi.json openapi3.json)
source scripts/venv.sh
schemathesis=$(venv_tool schemathesis schemathesis)

cargo build --quiet --bin portcullis
bin=${CARGO_TARGET_DIR:-target}/debug/portcullis
work=$(mktemp -d)
port=18700
server=
cleanup() { [ -n "$server" ] && kill "$server" 2>/dev/null; rm -rf "$work"; }
trap cleanup EXIT

source scripts/bench_env.sh
bench_env "$work"
export PORTCULLIS__SERVER__PORT=$port
for route in LOGIN REFRESH CAPTCHA OAUTH2_START OAUTH2_CALLBACK; do
  export "PORTCULLIS__RATE_LIMIT__${route}__BURST=100000000"
done
export PORTCULLIS__LOCKOUT__THRESHOLD=100000000
# Nor the API clients' failure limit: a refused client is to be answered 401, not 429.
export PORTCULLIS__API_CLIENTS__MAX_FAILURES=100000000
echo "$BENCH_PASSWORD" | "$bin" user create --username bench --superuser --password-stdin >/dev/null
"$bin" serve >"$work/server.log" 2>&1 &
server=$!
for _ in $(seq 1 100); do curl -sf "http://127.0.0.1:$port/health/ready" >/dev/null && break; sleep 0.1; done
token=$(curl -sf "http://127.0.0.1:$port/api/v1/auth/login" -H 'content-type: application/json' \
  -d "{\"username\":\"bench\",\"password\":\"$BENCH_PASSWORD\"}" |
  python3 -c 'import json,sys; print(json.load(sys.stdin)["data"]["access_token"])')

status=0
for document in "${documents[@]}"; do
  echo "==> schemathesis on /api/v1/$document" >&2
  "$schemathesis" --config-file scripts/schemathesis.toml run "http://127.0.0.1:$port/api/v1/$document" \
    --checks all \
    --max-examples "$examples" \
    --header "Authorization: Bearer $token" \
    --exclude-path /api/v1/auth/logout \
    --exclude-path /api/v1/auth/logout/all \
    --exclude-path /api/v1/sys/users/me/password \
    --exclude-path-regex '^/api/v1/auth/sessions/' \
    --exclude-path '/api/v1/sys/users/{id}/password' \
    --exclude-path '/api/v1/monitors/online/{user_id}' \
    --seed "${SCHEMATHESIS_SEED:-1}" \
    || status=$?
done
if [ $status -ne 0 ]; then
  echo "schemathesis: failures above; the server's log:" >&2
  tail -n 50 "$work/server.log" >&2
fi
exit $status
