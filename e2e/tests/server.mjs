// Starts and stops the real `chatroulette` binary (and the fake Discord) for the browser tests.
//
// Each server runs in a fresh temporary working directory, so it gets its own SQLite database
// (./data/chatroulette.db) and the default rooms. Nothing from the developer's environment that
// would switch on other features (Redis, Discord, another database) reaches it.

import { spawn, execFile } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { createInterface } from 'node:readline';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const here = path.dirname(fileURLToPath(import.meta.url));
const e2eDir = path.resolve(here, '..');

/** The binary under test: $CHATROULETTE_BIN, else ../target/debug/chatroulette beside e2e/. */
export function binaryPath() {
  const configured = process.env.CHATROULETTE_BIN;
  const bin = configured
    ? path.resolve(process.cwd(), configured)
    : path.resolve(e2eDir, '..', 'target', 'debug', 'chatroulette');
  if (!existsSync(bin)) {
    throw new Error(`chatroulette binary not found at ${bin} (set CHATROULETTE_BIN or build it first)`);
  }
  return bin;
}

/** The fake Discord: $FAKE_DISCORD_BIN, else `fake-discord` beside the binary under test. */
export function fakeDiscordPath() {
  const configured = process.env.FAKE_DISCORD_BIN;
  const bin = configured
    ? path.resolve(process.cwd(), configured)
    : path.join(path.dirname(binaryPath()), 'fake-discord');
  if (!existsSync(bin)) {
    throw new Error(`fake-discord binary not found at ${bin} (set FAKE_DISCORD_BIN or cargo build -p fake-discord)`);
  }
  return bin;
}

const START_TIMEOUT_MS = 30_000;
const STOP_TIMEOUT_MS = 15_000;
// eslint-disable-next-line no-control-regex
const ANSI = /\u001b\[[0-9;]*m/g;

function serverEnv(extra) {
  const env = { ...process.env };
  for (const name of ['REDIS_URL', 'DISCORD_TOKEN', 'DATABASE_URL', 'LISTEN_ADDR']) delete env[name];
  // Every browser connects from 127.0.0.1, so the per-address limits are raised; the Rust
  // tests cover those limits.
  return {
    ...env,
    ROOM_SYNC_SECS: '0.2',
    RUST_LOG: 'info',
    NO_COLOR: '1',
    JOINS_PER_MINUTE: '10000',
    API_REQUESTS_PER_MINUTE: '100000',
    SAY_IP_BURST: '10000',
    SAY_IP_PER_SECOND: '10000',
    MAX_CONNECTIONS_PER_IP: '10000',
    SEATS_PER_ADDRESS: '10000',
    VISITOR_ROOMS_PER_IP: '10000',
    // Nor is 127.0.0.1 gated for its refusals (shield.test.mjs turns the gate on itself).
    SHIELD_ADDRESS_REFUSALS: '0',
    // A dropped socket leaves at once unless a test resumes (resume.test.mjs sets it).
    RESUME_SECS: '0',
    // Every page is a new visitor from one address: the trust tier gets its own tests
    // (trust.test.mjs turns it on).
    NEW_VISITOR_MESSAGES: '0',
    ...extra,
  };
}

/** A fresh working directory for one server (and its restarts). */
export function makeWorkDir() {
  return mkdtempSync(path.join(tmpdir(), 'chatroulette-e2e-'));
}

/**
 * Starts the server. `port` 0 (default) picks a free one; pass the port of an earlier run (with the
 * same `cwd`) to restart it in place. Resolves once it logged `listening on http://ADDR`.
 */
export async function startServer({ cwd = makeWorkDir(), port = 0, env = {} } = {}) {
  const bin = binaryPath();
  const child = spawn(bin, [], {
    cwd,
    env: serverEnv({ LISTEN_ADDR: `127.0.0.1:${port}`, ...env }),
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let log = '';
  const exited = new Promise((resolve) => child.once('exit', (code, signal) => resolve({ code, signal })));

  const url = await new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`server did not log "listening on" within ${START_TIMEOUT_MS} ms; output:\n${log}`));
    }, START_TIMEOUT_MS);
    const onData = (chunk) => {
      log += chunk.toString('utf8').replace(ANSI, '');
      const m = log.match(/listening on (http:\/\/127\.0\.0\.1:(\d+))/);
      if (m) {
        clearTimeout(timer);
        resolve(m[1]);
      }
    };
    child.stdout.on('data', onData);
    child.stderr.on('data', onData);
    child.once('error', (e) => { clearTimeout(timer); reject(e); });
    exited.then(({ code, signal }) => {
      clearTimeout(timer);
      reject(new Error(`server exited early (code ${code}, signal ${signal}); output:\n${log}`));
    });
  });

  const server = {
    url,
    port: Number(new URL(url).port),
    cwd,
    child,
    get log() { return log; },
    exited,
    /** SIGTERM, then wait for the process to exit (SIGKILL after a timeout). */
    async stop() {
      if (child.exitCode !== null || child.signalCode !== null) return exited;
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), STOP_TIMEOUT_MS);
      const result = await exited;
      clearTimeout(timer);
      return result;
    },
  };
  return server;
}

/** Runs `chatroulette ARGS…` as a CLI in `cwd` (its ./data/chatroulette.db). */
export function runCli(cwd, args) {
  return new Promise((resolve, reject) => {
    execFile(binaryPath(), args, { cwd, env: serverEnv({}), timeout: 30_000 }, (error, stdout, stderr) => {
      if (error) reject(new Error(`chatroulette ${args.join(' ')} failed: ${error.message}\n${stdout}\n${stderr}`));
      else resolve({ stdout, stderr });
    });
  });
}

/** Polls `/api/rooms` until `predicate(list)` holds. */
export async function waitForRooms(url, predicate, timeoutMs = 10_000) {
  const deadline = Date.now() + timeoutMs;
  let last;
  while (Date.now() < deadline) {
    try {
      const res = await fetch(`${url}/api/rooms`, { cache: 'no-store' });
      if (res.ok) {
        last = await res.json();
        if (predicate(last)) return last;
      }
    } catch { /* not up yet */ }
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`room list did not reach the expected state within ${timeoutMs} ms; last: ${JSON.stringify(last)}`);
}

/** Removes a work directory made by makeWorkDir (best effort). */
export function removeWorkDir(cwd) {
  try { rmSync(cwd, { recursive: true, force: true }); } catch { /* ignore */ }
}

/**
 * Starts the fake Discord (REST + Gateway on 127.0.0.1), which prints one JSON line
 * `{base_url, token, guild_id, …}` once it listens. Returns `{info, request(method, route), stop()}`;
 * `request` speaks Discord's REST API v10 with the bot's token and returns the parsed body.
 */
export async function startFakeDiscord() {
  const child = spawn(fakeDiscordPath(), [], { stdio: ['pipe', 'pipe', 'inherit'] });
  const lines = createInterface({ input: child.stdout });
  let timer;
  const first = await Promise.race([
    new Promise((resolve) => lines.once('line', resolve)),
    new Promise((_, reject) => {
      timer = setTimeout(() => reject(new Error('fake Discord did not start')), START_TIMEOUT_MS);
    }),
    new Promise((_, reject) => child.once('error', reject)),
  ]).finally(() => clearTimeout(timer));
  const info = JSON.parse(first);
  return {
    info,
    async request(method, route) {
      const res = await fetch(`${info.base_url}/api/v10${route}`, {
        method,
        headers: { authorization: `Bot ${info.token}` },
      });
      if (!res.ok) throw new Error(`${method} ${route}: ${res.status}`);
      return res.status === 204 ? null : res.json();
    },
    stop() {
      child.stdin.end();
      child.kill();
    },
  };
}
