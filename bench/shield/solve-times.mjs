// Proof-of-work gate, part of bench scenario 6 ("shield"): the time a visitor pays at each
// difficulty step, measured in headless Chromium on this machine. It starts `chatroulette` (one
// process, SHIELD_MODE=on), sets each step with `chatroulette shield on --difficulty N`, and in a
// page of the chat (same origin, the server's CSP) solves fresh challenges from
// GET /api/challenge with the page's own worker (/js/pow-worker.js), one after another.
//
//   node bench/shield/solve-times.mjs [--samples 30,15,6,3] [--out FILE.json]
//
// Needs the e2e tests' node_modules (playwright-core) and Chromium: `bash e2e/run.sh` installs
// both, or `cd e2e && npm ci`. CHATROULETTE_BIN picks the binary (default target/debug).

import { launchBrowser } from '../../e2e/tests/browser.mjs';
import { startServer, runCli, removeWorkDir } from '../../e2e/tests/server.mjs';
import { writeFileSync } from 'node:fs';

const args = process.argv.slice(2);
const opt = (name, dflt) => {
  const i = args.indexOf(`--${name}`);
  return i >= 0 ? args[i + 1] : dflt;
};
const samples = opt('samples', '30,15,6,3').split(',').map(Number);
const out = opt('out', null);

function quantile(sorted, q) {
  if (sorted.length === 0) return null;
  const i = Math.min(sorted.length - 1, Math.ceil(q * sorted.length) - 1);
  return sorted[Math.max(0, i)];
}

const server = await startServer({ env: { SHIELD_MODE: 'on' } });
const browser = await launchBrowser();
const results = [];
try {
  const page = await (await browser.newContext()).newPage();
  await page.goto(server.url, { waitUntil: 'load' });
  for (let step = 1; step <= samples.length; step++) {
    await runCli(server.cwd, ['shield', 'on', '--difficulty', String(step)]);
    // The running process publishes it within ROOM_SYNC_SECS, its gate follows within 1 s.
    let maxnumber = 0;
    for (let i = 0; i < 100; i++) {
      const c = await page.evaluate(async () => (await fetch('/api/challenge', { cache: 'no-store' })).json());
      maxnumber = c.maxnumber;
      if (c.required && (results.length === 0 || maxnumber !== results[results.length - 1].maxnumber)) break;
      await new Promise((r) => setTimeout(r, 100));
    }
    const times = await page.evaluate(async (n) => {
      const worker = new Worker('/js/pow-worker.js');
      const solveOne = (c) => new Promise((resolve, reject) => {
        worker.onmessage = (ev) => (ev.data.error ? reject(new Error(ev.data.error)) : resolve(ev.data));
        worker.postMessage({ salt: c.salt, challenge: c.challenge, maxnumber: c.maxnumber });
      });
      const out = [];
      for (let i = 0; i < n; i++) {
        const c = await (await fetch('/api/challenge', { cache: 'no-store' })).json();
        const started = performance.now();
        const solved = await solveOne(c);
        out.push({ ms: performance.now() - started, number: solved.number });
      }
      worker.terminate();
      return out;
    }, samples[step - 1]);
    const ms = times.map((t) => t.ms).sort((a, b) => a - b);
    const hashes = times.reduce((sum, t) => sum + t.number + 1, 0);
    const row = {
      step,
      maxnumber,
      samples: ms.length,
      p50_ms: Math.round(quantile(ms, 0.5)),
      p95_ms: Math.round(quantile(ms, 0.95)),
      max_ms: Math.round(ms[ms.length - 1]),
      hashes_per_sec: Math.round(hashes / (ms.reduce((a, b) => a + b, 0) / 1000)),
    };
    results.push(row);
    console.log(JSON.stringify(row));
  }
} finally {
  await browser.close();
  await server.stop();
  removeWorkDir(server.cwd);
}
console.log('\nstep  maxnumber   samples  p50 ms  p95 ms  max ms  hashes/s');
for (const r of results) {
  console.log(`${String(r.step).padEnd(6)}${String(r.maxnumber).padEnd(12)}${String(r.samples).padEnd(9)}${String(r.p50_ms).padEnd(8)}${String(r.p95_ms).padEnd(8)}${String(r.max_ms).padEnd(8)}${r.hashes_per_sec}`);
}
if (out) writeFileSync(out, JSON.stringify(results, null, 2));
