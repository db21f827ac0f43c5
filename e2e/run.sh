#!/usr/bin/env bash
# End-to-end browser tests of the web client: real `chatroulette` binary, headless Debian Chromium
# driven by playwright-core (no browser download), node's built-in test runner.
#
#   bash e2e/run.sh                 # uses ../target/debug/chatroulette
#   CHATROULETTE_BIN=/path/to/chatroulette bash e2e/run.sh
#   FAKE_DISCORD_BIN=/path/to/fake-discord bash e2e/run.sh   # default: beside the binary under test
#   ARTIFACTS_DIR=/tmp/art bash e2e/run.sh   # screenshots go to $ARTIFACTS_DIR/screenshots
#   bash e2e/run.sh tests/chat.test.mjs      # only some test files
set -euo pipefail

die() { echo "e2e: $*" >&2; exit 1; }

# The binary under test: $CHATROULETTE_BIN (relative to where you run this), else
# ../target/debug/chatroulette relative to e2e/. Checked first, so the error is clear.
if [[ -n "${CHATROULETTE_BIN:-}" ]]; then
  bin="$CHATROULETTE_BIN"
else
  bin="$(dirname "${BASH_SOURCE[0]}")/../target/debug/chatroulette"
fi
[[ -f "$bin" && -x "$bin" ]] \
  || die "chatroulette binary not found or not executable at '$bin' (build it with 'cargo build', or set CHATROULETTE_BIN)"
CHATROULETTE_BIN="$(cd "$(dirname "$bin")" && pwd)/$(basename "$bin")"
export CHATROULETTE_BIN
# The fake Discord of the moderation test: $FAKE_DISCORD_BIN, else fake-discord beside the binary.
if [[ -n "${FAKE_DISCORD_BIN:-}" ]]; then
  [[ -f "$FAKE_DISCORD_BIN" && -x "$FAKE_DISCORD_BIN" ]] \
    || die "fake-discord binary not found or not executable at '$FAKE_DISCORD_BIN'"
  FAKE_DISCORD_BIN="$(cd "$(dirname "$FAKE_DISCORD_BIN")" && pwd)/$(basename "$FAKE_DISCORD_BIN")"
  export FAKE_DISCORD_BIN
fi
# Screenshots: $ARTIFACTS_DIR (relative to where you run this), else artifacts/ at the repo root.
if [[ -n "${ARTIFACTS_DIR:-}" ]]; then
  mkdir -p "$ARTIFACTS_DIR"
  ARTIFACTS_DIR="$(cd "$ARTIFACTS_DIR" && pwd)"
  export ARTIFACTS_DIR
fi

cd "$(dirname "${BASH_SOURCE[0]}")"

command -v node >/dev/null || die "node (>= 20) is needed: apt-get install -y nodejs npm"
node_major="$(node -p 'process.versions.node.split(".")[0]')"
(( node_major >= 20 )) || die "node >= 20 is needed, found $(node --version)"

# Debian's Chromium (playwright-core never downloads a browser).
export CHROMIUM_PATH="${CHROMIUM_PATH:-/usr/bin/chromium}"
if [[ ! -x "$CHROMIUM_PATH" ]]; then
  echo "e2e: $CHROMIUM_PATH is missing: installing Debian's chromium" >&2
  if [[ $(id -u) -ne 0 ]]; then die "cannot install chromium: not root (run: sudo apt-get install -y chromium)"; fi
  { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium; } \
    || die "apt-get could not install chromium; install it (apt-get install -y chromium) or set CHROMIUM_PATH"
  [[ -x "$CHROMIUM_PATH" ]] || die "chromium was installed but $CHROMIUM_PATH does not exist; set CHROMIUM_PATH"
fi
# The appeal test writes a staff decision into the SQLite database with the sqlite3 shell.
if ! command -v sqlite3 >/dev/null; then
  echo "e2e: sqlite3 is missing: installing Debian's sqlite3" >&2
  if [[ $(id -u) -ne 0 ]]; then die "cannot install sqlite3: not root (run: sudo apt-get install -y sqlite3)"; fi
  { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq sqlite3; } \
    || die "apt-get could not install sqlite3; install it (apt-get install -y sqlite3)"
fi
# A colour emoji font makes the screenshots show emoji as a person would see them. Optional.
if command -v fc-list >/dev/null && ! fc-list | grep -qi 'Noto Color Emoji' && [[ $(id -u) -eq 0 ]]; then
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq fonts-noto-color-emoji >/dev/null 2>&1 \
    || { apt-get update -qq >/dev/null 2>&1 && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq fonts-noto-color-emoji >/dev/null 2>&1; } \
    || echo "e2e: note: fonts-noto-color-emoji not installed; emoji show as boxes in screenshots" >&2
fi

# npm ci when node_modules is missing or older than the lockfile.
stamp=node_modules/.package-lock.json
if [[ ! -f "$stamp" || package-lock.json -nt "$stamp" || package.json -nt "$stamp" ]]; then
  npm ci --no-audit --no-fund || die "npm ci failed"
fi

if [[ $# -eq 0 ]]; then set -- tests/; fi
exec node --test --test-concurrency=1 "$@"
