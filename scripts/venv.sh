# Sourced: `venv_tool BIN PACKAGE` installs PACKAGE from PyPI into the test virtualenv
# (target/schemathesis-venv) unless its BIN is there already, and prints the BIN's path.
venv=target/schemathesis-venv
venv_tool() {
  if [ ! -x "$venv/bin/$1" ]; then
    echo "==> installing $2 into $venv" >&2
    [ -x "$venv/bin/pip" ] || python3 -m venv "$venv"
    "$venv/bin/pip" install --quiet --disable-pip-version-check "$2" >&2
  fi
  echo "$venv/bin/$1"
}
