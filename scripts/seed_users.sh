#!/usr/bin/env bash
# Seeds the sample users (scripts/sample_users.csv, or the file given) into whichever database
# the configuration names: the embedded SQLite file by default, PostgreSQL when
# PORTCULLIS__DATABASE__URL says so. Users that already exist are skipped, so it can run twice.
set -euo pipefail
cd "$(dirname "$0")/.."
file=${1:-scripts/sample_users.csv}
cargo run --quiet -- user import "$file"
