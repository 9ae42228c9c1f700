#!/usr/bin/env bash
# Refreshes the README's screenshots from the current code: runs the browser tests (real
# Chromium) and copies the login page and the admin console into docs/screenshots/.
set -euo pipefail
cd "$(dirname "$0")/.."
PORTCULLIS_TEST_MODE=embedded cargo nextest run browser::
cp target/screenshots/login.png target/screenshots/admin.png docs/screenshots/
echo "docs/screenshots/login.png and admin.png updated"
