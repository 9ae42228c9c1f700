#!/usr/bin/env bash
# Proves the committed OpenAPI 3 document (openapi3.json; a test keeps it equal to the served one)
# with the tools clients use:
#   1. openapi-spec-validator (PyPI, into target/schemathesis-venv) validates it;
#   2. openapi-typescript (npm, into tests/typescript/node_modules) generates types from it, and
#      tests/typescript/client.ts (log in, refresh, /me) must type-check with them (`tsc --noEmit`),
#      while tests/typescript/must-fail/client.ts (a misspelt field) must not.
# Every tool missing is installed; none is skipped.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/venv.sh

validator=$(venv_tool openapi-spec-validator openapi-spec-validator)
echo "==> openapi-spec-validator openapi3.json"
"$validator" openapi3.json

ts=tests/typescript
if ! command -v npm >/dev/null 2>&1; then
  echo "openapi-check: the TypeScript check needs Node.js and npm (Debian: apt-get install nodejs npm)" >&2
  exit 1
fi
if [ ! -x "$ts/node_modules/.bin/tsc" ] || [ ! -x "$ts/node_modules/.bin/openapi-typescript" ]; then
  echo "==> installing openapi-typescript and typescript (npm ci --prefix $ts)"
  npm ci --prefix "$ts" --no-audit --no-fund --loglevel=error
fi
echo "==> openapi-typescript openapi3.json, then tsc --noEmit"
(cd "$ts" && node_modules/.bin/openapi-typescript ../../openapi3.json -o generated/schema.d.ts --silent)
(cd "$ts" && node_modules/.bin/tsc --noEmit -p .)
if out=$(cd "$ts" && node_modules/.bin/tsc --noEmit -p must-fail 2>&1); then
  echo "openapi-check: $ts/must-fail/client.ts type-checked; the generated types check nothing" >&2
  exit 1
fi
for code in TS2353 TS2551; do
  grep -q "$code" <<<"$out" || { echo "openapi-check: expected $code from must-fail:" >&2; echo "$out" >&2; exit 1; }
done
echo "openapi-check: ok"
