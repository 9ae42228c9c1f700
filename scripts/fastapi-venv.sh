#!/usr/bin/env bash
# Makes the virtualenv tests/api/fastapi.rs runs fba's backend example from
# (examples/fba-backend/requirements.txt, from PyPI) in target/fastapi-venv. Does nothing when it
# is there and matches the requirements; makes it again when they changed.
#
#   scripts/fastapi-venv.sh            (scripts/test.sh calls it)
set -euo pipefail
cd "$(dirname "$0")/.."
venv=${PORTCULLIS_FASTAPI_VENV:-target/fastapi-venv}
requirements=examples/fba-backend/requirements.txt
if [ -x "$venv/bin/uvicorn" ] && cmp -s "$requirements" "$venv/requirements.txt"; then
  exit 0
fi
if ! python3 -c 'import venv, ensurepip' 2>/dev/null; then
  echo "fastapi-venv.sh: needs Python 3 with venv and pip (Debian: apt-get install python3-venv)" >&2
  exit 1
fi
echo "==> installing fba's backend example into $venv (PyPI: $requirements)" >&2
rm -rf "$venv"
python3 -m venv "$venv"
"$venv/bin/pip" install --quiet --disable-pip-version-check -r "$requirements"
# Written last: a venv whose install failed halfway is made again on the next run.
cp "$requirements" "$venv/requirements.txt"
