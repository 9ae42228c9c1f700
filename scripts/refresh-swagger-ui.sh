#!/usr/bin/env bash
# Replaces the vendored Swagger UI (ui/vendor/swagger-ui/, compiled into the binary and served at
# /docs) with the given release of npm's swagger-ui-dist. Only the files the page loads are kept,
# with the licences; the version goes into VERSION, which the server and the tests read.
#
#   scripts/refresh-swagger-ui.sh 5.35.0
#
# Then: rebuild, run `cargo nextest run -E 'test(/docs/)'` (the browser test checks the page
# renders under its CSP), and commit ui/vendor/swagger-ui/ with the version in the message.
set -euo pipefail
cd "$(dirname "$0")/.."
version=${1:?usage: $0 VERSION (see: npm view swagger-ui-dist version)}
case $version in
  5.*) ;;
  *) echo "swagger-ui-dist $version: the page (ui/docs/) is written for 5.x" >&2; exit 1 ;;
esac
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
(cd "$work" && npm pack --silent "swagger-ui-dist@$version" >/dev/null)
tar -xzf "$work/swagger-ui-dist-$version.tgz" -C "$work"
packed=$(sed -n 's/^  "version": "\(.*\)",$/\1/p' "$work/package/package.json")
[ "$packed" = "$version" ] || { echo "npm gave $packed, not $version" >&2; exit 1; }
dest=ui/vendor/swagger-ui
rm -rf "$dest"
mkdir -p "$dest"
for f in swagger-ui-bundle.js swagger-ui-bundle.js.LICENSE.txt swagger-ui.css LICENSE NOTICE; do
  cp "$work/package/$f" "$dest/$f"
done
echo "$version" >"$dest/VERSION"
echo "ui/vendor/swagger-ui: swagger-ui-dist $version"
(cd "$dest" && sha256sum swagger-ui-bundle.js swagger-ui.css)
