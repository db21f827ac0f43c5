#!/usr/bin/env bash
# Soak test, outside CI: churn and chat (connect, join, chat, leave, roulette) against one
# `chatroulette` process (the one-process default: in-process bus, SQLite in a scratch
# directory) for a while, then the server's resident memory (VmRSS) and open file descriptors
# at the start, every minute and at the end, the growth per minute after the warm-up, and the
# seats still taken once everyone left.
#
# Resuming is on as by default (RESUME_SECS=30): every visit ends with `leave`, so no seat waits
# out its window (a driver that just dropped its sockets kept 90 seats held and most joins
# refused with `room_full`); one room visit in ten loses its socket and resumes its session.
#
#   scripts/soak.sh [SECONDS]      default 1800 (30 min)
#
# Environment:
#   SOAK_PROFILE=release|debug     build profile when the binaries are not given (default release)
#   CHATROULETTE_BIN, SOAK_BIN     prebuilt binaries (then nothing is built)
#   SOAK_USERS=40                  concurrent virtual visitors
#   SOAK_OUT=DIR                   where the server log and samples go (default target/soak/<time>)
#   RESUME_SECS=30                 the server's resume window (0 turns resuming off)
#
# Exits non-zero when the server dies or the driver fails; the figures are for RELIABILITY.md.
set -euo pipefail

SECS=${1:-1800}
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
PROFILE=${SOAK_PROFILE:-release}
USERS=${SOAK_USERS:-40}
TARGET=${CARGO_TARGET_DIR:-$ROOT/target}
OUT=${SOAK_OUT:-$TARGET/soak/$(date -u +%Y%m%dT%H%M%SZ)}
mkdir -p "$OUT/data"

if [ -z "${CHATROULETTE_BIN:-}" ] || [ -z "${SOAK_BIN:-}" ]; then
  flags=()
  [ "$PROFILE" = release ] && flags=(--release)
  (cd "$ROOT" && cargo build "${flags[@]}" -p chatroulette --bin chatroulette -p bench --bin soak)
  CHATROULETTE_BIN=${CHATROULETTE_BIN:-$TARGET/$PROFILE/chatroulette}
  SOAK_BIN=${SOAK_BIN:-$TARGET/$PROFILE/soak}
fi

PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
# Per-address limits are meant for the public internet; the driver speaks from 250 loopback
# addresses, so they are lifted as in bench/run. Everything else runs as configured by default.
(cd "$OUT" && exec env -u DATABASE_URL -u REDIS_URL -u REDIS_PREFIX -u DISCORD_TOKEN -u DISCORD_GUILD_ID \
  RUST_LOG=warn LISTEN_ADDR="127.0.0.1:$PORT" ADMIN_LISTEN_ADDR=off RESUME_SECS="${RESUME_SECS:-30}" \
  SAY_IP_BURST=1000000 SAY_IP_PER_SECOND=1000000 JOINS_PER_MINUTE=1000000 \
  MAX_CONNECTIONS_PER_IP=100000 SEATS_PER_ADDRESS=100000 \
  "$CHATROULETTE_BIN") >"$OUT/server.log" 2>&1 &
SERVER=$!
trap 'kill "$SERVER" 2>/dev/null || true' EXIT

for _ in $(seq 1 100); do
  if (exec 3<>"/dev/tcp/127.0.0.1/$PORT") 2>/dev/null; then break; fi
  sleep 0.1
done

sample() {
  local rss fds
  rss=$(awk '/^VmRSS:/ {print $2}' "/proc/$SERVER/status")
  fds=$(find "/proc/$SERVER/fd" -mindepth 1 -maxdepth 1 | wc -l)
  printf '%s\t%s\t%s\n' "$1" "$rss" "$fds" | tee -a "$OUT/samples.tsv"
}

printf 'when\trss_kib\tfds\n' | tee "$OUT/samples.tsv"
sample start
"$SOAK_BIN" --addr "127.0.0.1:$PORT" --secs "$SECS" --users "$USERS" >"$OUT/summary.json" 2>"$OUT/driver.log" &
DRIVER=$!
elapsed=0
while kill -0 "$DRIVER" 2>/dev/null; do
  sleep 1
  elapsed=$((elapsed + 1))
  if [ $((elapsed % 60)) -eq 0 ]; then
    kill -0 "$SERVER" 2>/dev/null || { echo "soak: the server died (see $OUT/server.log)" >&2; exit 1; }
    sample "${elapsed}s"
  fi
done
wait "$DRIVER" || { echo "soak: the driver failed (see $OUT/driver.log)" >&2; exit 1; }
kill -0 "$SERVER" 2>/dev/null || { echo "soak: the server died (see $OUT/server.log)" >&2; exit 1; }
sample end
# Growth after the warm-up: from the 2-minute sample to the last minute's (KiB → MiB a minute).
awk -F'\t' '$1 ~ /^[0-9]+s$/ { t = $1 + 0; if (t >= 120 && first == "") { first = t; r0 = $2 } last = t; r1 = $2 }
  END { if (first != "" && last > first) printf "growth after the warm-up: %.3f MiB a minute (%s s → %s s)\n", (r1 - r0) / 1024 / ((last - first) / 60), first, last }' \
  "$OUT/samples.tsv" | tee -a "$OUT/growth.txt"
echo "driver: $(cat "$OUT/summary.json")"
echo "build: $PROFILE ($CHATROULETTE_BIN), duration ${SECS}s, $USERS visitors; files in $OUT"
