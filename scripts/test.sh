#!/usr/bin/env bash
# Runs the whole test suite: embedded mode (SQLite + in-process store, no services needed) and
# production mode (PostgreSQL at 127.0.0.1:5432 + Redis at 127.0.0.1:6379).
#
#   scripts/test.sh                 # every mode: embedded, production, cluster, spec
#   scripts/test.sh embedded        # no services needed
#   scripts/test.sh production      # needs PostgreSQL and Redis (scripts/services.sh starts them)
#   scripts/test.sh cluster         # the production suite on a local three-master Redis Cluster
#                                   # (started by scripts/cluster.sh on ports 7001-7003)
#   scripts/test.sh spec            # the OpenAPI 3 document through openapi-spec-validator and
#                                   # a TypeScript client generated from it (scripts/openapi-check.sh),
#                                   # then schemathesis against both documents, all checks
#                                   # (scripts/schemathesis.sh, 25 examples per operation)
#
# Extra arguments after `--` go to the test runner, e.g. `scripts/test.sh embedded -- refresh`.
set -euo pipefail
cd "$(dirname "$0")/.."

modes=()
while [ $# -gt 0 ] && [ "$1" != "--" ]; do modes+=("$1"); shift; done
[ "${1:-}" = "--" ] && shift
[ ${#modes[@]} -eq 0 ] && modes=(embedded production cluster spec)

if cargo nextest --version >/dev/null 2>&1; then
  runner=(cargo nextest run --no-fail-fast)
else
  echo "test.sh: cargo-nextest not found, using cargo test (install it with: cargo install cargo-nextest)" >&2
  runner=(cargo test --no-fail-fast)
fi

# nextest runs the login-timing test alone (.config/nextest.toml); cargo test needs telling.
run_tests() {
  if [ "${runner[1]}" = nextest ] || [ $# -gt 0 ]; then
    "${runner[@]}" "$@"
  else
    "${runner[@]}" "$@" -- --skip take_the_same_time && "${runner[@]}" "$@" take_the_same_time -- --test-threads=1
  fi
}

# Real parts the tests drive, installed from Debian's packages when missing (needs root):
# nginx in front of Portcullis (tests/api/nginx.rs), Chromium driven over WebDriver
# (tests/api/browser.rs), systemd-analyze.
missing=()
[ -x /usr/sbin/nginx ] || command -v nginx >/dev/null 2>&1 || missing+=(nginx-light)
[ -x /usr/bin/chromium ] || missing+=(chromium)
[ -x /usr/bin/chromedriver ] || missing+=(chromium-driver)
# systemd-analyze checks the example service unit (tests/api/deploying.rs).
command -v systemd-analyze >/dev/null 2>&1 || missing+=(systemd)
if [ ${#missing[@]} -gt 0 ]; then
  echo "==> installing ${missing[*]} (Debian packages)"
  if [ "$(id -u)" -ne 0 ]; then
    echo "test.sh: needs root to install ${missing[*]}: sudo apt-get install ${missing[*]}" >&2
    exit 1
  fi
  apt-get update -qq >/dev/null
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
fi

# The OAuth2 tests run a real OpenID Connect provider (the npm package oidc-provider); the
# single sign-on tests a certified relying party (openid-client).
if [ ! -d tests/oidc/node_modules/oidc-provider ] || [ ! -d tests/oidc/node_modules/openid-client ]; then
  if ! command -v npm >/dev/null 2>&1; then
    echo "test.sh: the OAuth2 tests need Node.js and npm (Debian: apt-get install nodejs npm)" >&2
    exit 1
  fi
  echo "==> installing the test OpenID Connect provider (npm ci --prefix tests/oidc)"
  npm ci --prefix tests/oidc --no-audit --no-fund --loglevel=error
fi

# The FastAPI test (tests/api/fastapi.rs) runs fba's backend example (examples/fba-backend/)
# from a virtualenv with its pinned requirements (PyPI); made once, again when they change.
scripts/fastapi-venv.sh

services_up() {
  (exec 3<>/dev/tcp/127.0.0.1/5432) 2>/dev/null && (exec 3<>/dev/tcp/127.0.0.1/6379) 2>/dev/null
}

for mode in "${modes[@]}"; do
  case "$mode" in
    embedded) ;;
    spec)
      echo "==> the OpenAPI 3 document: validator, TypeScript client"; scripts/openapi-check.sh
      echo "==> schemathesis"; scripts/schemathesis.sh 25
      continue ;;
    production|cluster)
      if ! services_up; then
        echo "test.sh: production mode needs PostgreSQL on 127.0.0.1:5432 and Redis on 127.0.0.1:6379;" \
             "start them with scripts/services.sh" >&2
        exit 1
      fi
      # Each test makes its own database and drops it when it ends; a run that was killed
      # leaves its own behind. Those older than a day go (never one a concurrent run uses).
      if command -v psql >/dev/null 2>&1; then
        cutoff=$(( $(date +%s) - 86400 ))
        psql -h 127.0.0.1 -U postgres -d postgres -Atqc \
          "SELECT datname FROM pg_database WHERE datname ~ '^portcullis_test_[0-9]+_'" 2>/dev/null |
          while read -r db; do
            created=${db#portcullis_test_}; created=${created%%_*}
            [ "$created" -lt "$cutoff" ] && dropdb -h 127.0.0.1 -U postgres --if-exists "$db" 2>/dev/null || true
          done
      fi
      ;;
    *) echo "test.sh: unknown mode '$mode' (embedded | production | cluster | spec)" >&2; exit 2 ;;
  esac
  [ "$mode" = cluster ] && scripts/cluster.sh
  echo "==> tests, $mode mode"
  PORTCULLIS_TEST_MODE="$mode" run_tests "$@"
  # nextest does not run documentation examples (the guard crate's); cargo test does, once.
  if [ "$mode" = embedded ] && [ $# -eq 0 ] && [ "${runner[1]}" = nextest ]; then
    echo "==> documentation examples"
    cargo test --workspace --doc --quiet
  fi
done
