#!/usr/bin/env bash
# Refreshes the README's screenshots from the current code: runs the browser tests (real
# Chromium) and copies the login page, the admin console and the account page's second-factor
# enrolment into docs/screenshots/.
set -euo pipefail
cd "$(dirname "$0")/.."
PORTCULLIS_TEST_MODE=embedded cargo nextest run -E 'test(/^browser/)'
cp target/screenshots/login.png target/screenshots/admin.png \
  target/screenshots/account-mfa-enrol.png docs/screenshots/
echo "docs/screenshots/login.png, admin.png and account-mfa-enrol.png updated"
