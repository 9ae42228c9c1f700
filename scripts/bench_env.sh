# Sourced by bench.sh and instructions.sh: a throwaway server configuration for measuring.
#   bench_env WORK_DIR
# Embedded mode unless the caller sets database/Redis URLs; no config files, a random JWT
# secret, no bootstrap admin, no captcha. BENCH_PASSWORD is the password both give the user `bench`.
BENCH_PASSWORD=bench-password-1

bench_env() {
  export RUST_LOG=warn
  export PORTCULLIS_CONFIG_DIR=/nonexistent
  export PORTCULLIS__DATA__DIR="$1"
  export PORTCULLIS__JWT__SECRET="bench-secret-$(head -c 24 /dev/urandom | od -An -tx1 | tr -d ' \n')"
  export PORTCULLIS__BOOTSTRAP__CREATE_ADMIN=false
  export PORTCULLIS__CAPTCHA__ENABLED=false
  export PORTCULLIS__METRICS__LISTEN=127.0.0.1:0
}
