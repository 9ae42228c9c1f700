#!/usr/bin/env bash
# Makes the tests' Python virtualenv in target/fastapi-venv, from PyPI: fba's backend example that
# tests/api/fastapi.rs runs (examples/fba-backend/requirements.txt) and the SMTP server the mail
# tests send to (aiosmtpd, tests/smtp/requirements.txt). Does nothing when it is there and
# matches the requirements; makes it again when they changed.
#
#   scripts/fastapi-venv.sh            (scripts/test.sh calls it)
set -euo pipefail
cd "$(dirname "$0")/.."
venv=${PORTCULLIS_FASTAPI_VENV:-target/fastapi-venv}
requirements=(examples/fba-backend/requirements.txt tests/smtp/requirements.txt)
wanted=$(cat "${requirements[@]}")
if [ -x "$venv/bin/uvicorn" ] && [ -x "$venv/bin/aiosmtpd" ] \
  && [ "$wanted" = "$(cat "$venv/requirements.txt" 2>/dev/null)" ]; then
  exit 0
fi
if ! python3 -c 'import venv, ensurepip' 2>/dev/null; then
  echo "fastapi-venv.sh: needs Python 3 with venv and pip (Debian: apt-get install python3-venv)" >&2
  exit 1
fi
echo "==> installing the tests' Python tools into $venv (PyPI: ${requirements[*]})" >&2
rm -rf "$venv"
python3 -m venv "$venv"
"$venv/bin/pip" install --quiet --disable-pip-version-check "${requirements[@]/#/-r}"
# Written last: a venv whose install failed halfway is made again on the next run.
printf '%s' "$wanted" > "$venv/requirements.txt"
