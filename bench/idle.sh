#!/usr/bin/env bash
# The idle-memory step of bench/run alone (scenario 1, "ours"): the one-process default with
# 1000 rooms r1..r1000 made by `chatroulette rooms add`, 1000 × 10 WebSocket connections
# joined and left idle, and the server's RSS growth per connection. Each run starts a fresh
# server on a fresh copy of the same SQLite database, so runs differ only by the machine's noise.
#
#   bench/idle.sh [RUNS]     default 3 runs; RESUME_SECS=30 unless set (RESUME_SECS=0 turns
#                            resuming off)
#
# Uses the release binaries of CARGO_TARGET_DIR (or target/): build them first with
#   cargo build --release -p chatroulette -p bench
# or give CHATROULETTE_BIN / LOADGEN. Prints one "KiB per connection" figure a run; logs and
# the loadgen JSON go to IDLE_OUT (default target/bench/idle-<time>).
set -euo pipefail

RUNS=${1:-3}
RESUME=${RESUME_SECS:-30}
ROOMS=1000 MEMBERS=10 CAPACITY=2000
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
TARGET=${CARGO_TARGET_DIR:-$ROOT/target}
BIN=${CHATROULETTE_BIN:-$TARGET/release/chatroulette}
LOADGEN=${LOADGEN:-$TARGET/release/loadgen}
OUT=${IDLE_OUT:-$TARGET/bench/idle-$(date -u +%Y%m%dT%H%M%SZ)}
for b in "$BIN" "$LOADGEN"; do [ -x "$b" ] || { echo "idle.sh: missing $b (build it first)" >&2; exit 1; }; done
ulimit -n 20000 2>/dev/null || ulimit -n "$(ulimit -Hn)"
[ "$(ulimit -n)" -ge 12000 ] || { echo "idle.sh: need ulimit -n ≥ 12000" >&2; exit 1; }
mkdir -p "$OUT"
WORK=$(mktemp -d /tmp/chatroulette-idle.XXXXXX)
SERVER=""
cleanup() {
  if [ -n "$SERVER" ]; then
    kill -TERM "$SERVER" 2>/dev/null || true
    wait "$SERVER" 2>/dev/null || true
  fi
  rm -rf "$WORK"
}
trap cleanup EXIT

# The rooms, once: migrate, then `rooms add` two at a time (as bench/run does).
CLEAN=(env -u DATABASE_URL -u REDIS_URL -u REDIS_PREFIX -u DISCORD_TOKEN -u DISCORD_GUILD_ID)
mkdir -p "$WORK/seed"
(cd "$WORK/seed" && "${CLEAN[@]}" RUST_LOG=warn "$BIN" migrate >/dev/null)
seq 1 "$ROOMS" | sed 's/^/r/' | (cd "$WORK/seed" && "${CLEAN[@]}" RUST_LOG=warn \
  xargs -P 2 -I{} "$BIN" rooms add {} --capacity "$CAPACITY" >/dev/null)

# The environment of bench/run's "ours" (limits meant for the internet lifted), and the window.
ENV=(RUST_LOG=warn SAY_BURST=100000 SAY_PER_SECOND=100000 SAY_IP_BURST=10000000 SAY_IP_PER_SECOND=10000000
  JOINS_PER_MINUTE=10000000 API_REQUESTS_PER_MINUTE=10000000 MAX_CONNECTIONS_PER_IP=100000
  SEATS_PER_ADDRESS=100000 ADMIN_LISTEN_ADDR=off SHIELD_MODE=off NEW_VISITOR_MESSAGES=0 RESUME_SECS="$RESUME")
# bench/run's full-mode settings for scenario 1; one ramp step only (the idle figure is taken
# before the ramp).
RAMP=(--factor 1.5 --max-steps 1 --refine 0 --warmup-secs 1 --measure-secs 3 --drain-secs 3
  --idle-settle-secs 2 --max-secs 100)

echo "idle step: $ROOMS rooms × $MEMBERS members, RESUME_SECS=$RESUME, $RUNS runs, $(nproc) cores," \
  "load average $(cut -d' ' -f1 /proc/loadavg) at start; files in $OUT"
for run in $(seq 1 "$RUNS"); do
  rm -rf "$WORK/run"
  cp -a "$WORK/seed" "$WORK/run"
  port=$("$LOADGEN" free-port)
  (cd "$WORK/run" && exec "${CLEAN[@]}" "${ENV[@]}" LISTEN_ADDR="127.0.0.1:$port" "$BIN") >"$OUT/server-$run.log" 2>&1 &
  SERVER=$!
  "$LOADGEN" wait --addr "127.0.0.1:$port" --min-rooms "$ROOMS" --timeout-secs 60
  "$LOADGEN" fanout --scenario rooms --target ours --addrs "127.0.0.1:$port" --pids "$SERVER" \
    --clk-tck "$(getconf CLK_TCK)" --rooms "$ROOMS" --members "$MEMBERS" --room-prefix r --idle \
    --start-dps 20000 "${RAMP[@]}" --out "$OUT/rooms-$run.json" 2>"$OUT/loadgen-$run.log"
  kill -TERM "$SERVER"
  wait "$SERVER" 2>/dev/null || true
  SERVER=""
  figure=$(sed -n 's/^\[idle ours\] \(.*\)$/\1/p' "$OUT/loadgen-$run.log")
  echo "run $run: ${figure:-no idle figure (see $OUT/loadgen-$run.log)}"
done
echo "load average $(cut -d' ' -f1 /proc/loadavg) at the end"
