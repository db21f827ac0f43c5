// The proof-of-work gate in the browser (issue 27): with the gate on, the page solves the
// challenge in a Web Worker while the visitor types a nickname (typing never waits on it), shows
// "Checking your browser…" only while the solver runs, and joins with the solution; with the gate
// off, the note never shows. The solver runs under the server's real CSP (`worker-src 'self'`).

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { cspViolations, gotoLanding, joinRoom, say } from './browser.mjs';
import { useServerAndBrowser } from './harness.mjs';
import { runCli } from './server.mjs';

// Step 4 (maxnumber 5 000 000, seconds of work): long enough to type during it on any machine.
const h = useServerAndBrowser({ prepare: (cwd) => runCli(cwd, ['shield', 'on', '--difficulty', '4']) });

// Records when the note was shown and hidden, when keys went down, and the longest stall of the
// page's thread (a 20 ms timer that fires late), from the first script on.
function watch() {
  window.__shield = { shown: [], hidden: [], keys: [], stall: 0 };
  const observe = () => {
    const note = document.getElementById('shield-note');
    const list = () => (note.hidden ? window.__shield.hidden : window.__shield.shown);
    if (!note.hidden) list().push(performance.now());
    new MutationObserver(() => list().push(performance.now())).observe(note, { attributes: true, attributeFilter: ['hidden'] });
  };
  document.addEventListener('DOMContentLoaded', observe);
  document.addEventListener('keydown', () => window.__shield.keys.push(performance.now()), true);
  let last = performance.now();
  setInterval(() => {
    const now = performance.now();
    window.__shield.stall = Math.max(window.__shield.stall, now - last - 20);
    last = now;
  }, 20);
}

test('with the gate on, the challenge solves in a worker while the visitor types, the note shows meanwhile only', async () => {
  const page = await h.page({}, { load: false });
  await page.context().addInitScript(watch);
  await gotoLanding(page, h.server.url);
  // The page started solving as it loaded; type while it runs.
  await page.waitForFunction(() => window.__shield.shown.length > 0);
  await page.click('#nick');
  await page.keyboard.type('PatientVisitor', { delay: 40 });
  assert.equal(await page.inputValue('#nick'), 'PatientVisitor', 'every key arrived');
  await page.waitForFunction(() => window.__shield.hidden.length > 0, null, { timeout: 60_000 });
  const s = await page.evaluate(() => window.__shield);
  assert.equal(s.shown.length, 1, `shown once: ${JSON.stringify(s)}`);
  assert.ok(s.shown[0] < s.hidden[0], 'shown, then hidden');
  assert.equal(await page.locator('#shield-note').isVisible(), false, 'hidden once solved');
  const typedWhileSolving = s.keys.filter((t) => t > s.shown[0] && t < s.hidden[0]).length;
  assert.ok(typedWhileSolving > 0, `keys went down while the solver ran (${s.hidden[0] - s.shown[0]} ms)`);
  // A page whose thread stalls cannot take keys; the solver runs elsewhere (generous: the
  // machine is shared).
  assert.ok(s.stall < 500, `the page's thread stalled ${Math.round(s.stall)} ms`);

  // The solution made ahead opens the chat at once; no second solve.
  await joinRoom(page, 'PatientVisitor');
  await say(page, 'let in by a solved challenge');
  const after = await page.evaluate(() => window.__shield);
  assert.equal(after.shown.length, 1, 'nothing solved again for the join');
  assert.deepEqual(await cspViolations(page), []);
  assert.deepEqual(page.problems, []);
});

test('with the gate off, nothing is solved and the note never shows', async () => {
  await runCli(h.server.cwd, ['shield', 'off']);
  // The running process takes it from the database within ROOM_SYNC_SECS, each gate within 1 s.
  const deadline = Date.now() + 10_000;
  for (;;) {
    const res = await fetch(`${h.server.url}/api/challenge`);
    if ((await res.json()).required === false) break;
    assert.ok(Date.now() < deadline, 'the gate never turned off');
    await new Promise((r) => setTimeout(r, 100));
  }
  const page = await h.page({}, { load: false });
  await page.context().addInitScript(watch);
  await gotoLanding(page, h.server.url);
  await page.click('#nick');
  await page.keyboard.type('Breezy', { delay: 20 });
  await joinRoom(page, 'Breezy');
  await say(page, 'no challenge today');
  const s = await page.evaluate(() => window.__shield);
  assert.deepEqual(s.shown, [], 'the note never showed');
  assert.deepEqual(page.problems, []);
});
