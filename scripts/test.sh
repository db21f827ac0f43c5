#!/usr/bin/env bash
# The one test command (README.md): makes sure the services the tests use are running, then
# checks formatting, runs clippy with warnings denied, and runs every test of the workspace.
# It never skips a test silently: a missing service stops it with what to install.
set -euo pipefail
cd "$(dirname "$0")/.."

say() { printf '\n==> %s\n' "$*"; }
fail() { printf '\nerror: %s\n' "$*" >&2; exit 1; }

command -v cargo >/dev/null || fail "cargo is not installed: install Rust 1.95 or newer (rustup.rs)."

# PostgreSQL: the tests create (and drop) databases of their own on TEST_DATABASE_URL.
export TEST_DATABASE_URL="${TEST_DATABASE_URL:-postgres://postgres@127.0.0.1:5432/postgres}"
pg_ready() {
  if command -v pg_isready >/dev/null; then
    pg_isready -q -d "$TEST_DATABASE_URL" 2>/dev/null
  else
    (exec 3<>/dev/tcp/127.0.0.1/5432) 2>/dev/null
  fi
}
ensure_postgres() {
  pg_ready && return 0
  say "PostgreSQL is not answering; trying to start it"
  if command -v pg_ctlcluster >/dev/null && [ -d /etc/postgresql ]; then
    for version in $(ls /etc/postgresql); do
      pg_ctlcluster --skip-systemctl-redirect "$version" main start || true
    done
  elif command -v service >/dev/null && [ -x /etc/init.d/postgresql ]; then
    service postgresql start || true
  else
    fail "PostgreSQL is not installed. Install it (Debian: apt-get install postgresql) with trust auth for user postgres on 127.0.0.1:5432, or point TEST_DATABASE_URL at a server whose user may create databases."
  fi
  for _ in $(seq 1 30); do pg_ready && return 0; sleep 1; done
  fail "PostgreSQL was started but does not answer at $TEST_DATABASE_URL."
}
ensure_postgres

# Redis: the bus tests and the split-deployment tests use key prefixes of their own.
export TEST_REDIS_URL="${TEST_REDIS_URL:-redis://127.0.0.1:6379}"
redis_ready() {
  if command -v redis-cli >/dev/null; then
    [ "$(redis-cli -u "$TEST_REDIS_URL" ping 2>/dev/null)" = "PONG" ]
  else
    (exec 3<>/dev/tcp/127.0.0.1/6379) 2>/dev/null
  fi
}
ensure_redis() {
  redis_ready && return 0
  say "Redis is not answering; trying to start it"
  if command -v redis-server >/dev/null; then
    mkdir -p /tmp/chatroulette-redis
    redis-server --daemonize yes --bind 127.0.0.1 --port 6379 --save "" --appendonly no \
      --dir /tmp/chatroulette-redis --logfile /tmp/chatroulette-redis/redis.log || true
  else
    fail "Redis is not installed. Install it (Debian: apt-get install redis-server), or point TEST_REDIS_URL at a Redis 7 server."
  fi
  for _ in $(seq 1 30); do redis_ready && return 0; sleep 1; done
  fail "Redis was started but does not answer at $TEST_REDIS_URL."
}
ensure_redis

say "cargo fmt --check"
cargo fmt --all -- --check

say "cargo clippy (warnings denied)"
cargo clippy --workspace --all-targets --locked -- -D warnings

# The browser tests need the debug binary the Rust tests build.
run_browser_tests() {
  say "browser tests (headless Chromium)"
  cargo build --locked -p chatroulette -p fake-discord --bins
  bash e2e/run.sh
}

if command -v cargo-nextest >/dev/null; then
  say "cargo nextest run"
  cargo nextest run --workspace --locked --no-tests=fail
  run_browser_tests
else
  say "cargo test (cargo-nextest is not installed)"
  log=$(mktemp)
  status=0
  cargo test --workspace --locked 2>&1 | tee "$log" || status=$?
  # One closing line for the whole run, summed over every test binary.
  awk '/^test result:/ { p += $4; f += $6 } END { printf "%d passed, %d failed\n", p, f }' "$log"
  rm -f "$log"
  [ "$status" -eq 0 ] || exit "$status"
  run_browser_tests
fi

# The benchmark suite is not a test; its seconds-long smoke run only proves it still works
# (every scenario at tiny scale, debug build, numbers meaningless).
say "benchmark smoke run (bench/run --smoke)"
bash bench/run --smoke
