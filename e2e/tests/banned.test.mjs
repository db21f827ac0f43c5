// Banned visitors are told so: the client asks `GET /api/status` on load, after
// a refused upgrade and after a kick, says "You are banned until 17:23 — reason: …" and stops
// retrying, instead of "Could not reach the chat server" or "reconnecting…" forever.
//
// Every browser connects from 127.0.0.1, so the ban (on 127.0.0.1) covers every page of this
// file: the steps run in one test, in order.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { runCli } from './server.mjs';
import { joinRoom, roomItem, TIMEOUT } from './browser.mjs';
import { useServerAndBrowser } from './harness.mjs';

const h = useServerAndBrowser();

async function status() {
  const res = await fetch(`${h.server.url}/api/status`, { cache: 'no-store' });
  assert.equal(res.status, 200);
  return res.json();
}

/** Counts the WebSocket connections a page opens. */
function countSockets(page) {
  const counter = { opened: 0 };
  page.on('websocket', () => { counter.opened += 1; });
  return counter;
}

/** The expiry as the page itself writes a time ("17:23"). */
function shownTime(page, iso) {
  return page.evaluate((at) => new Date(at).toLocaleTimeString([], { hour: '2-digit', minute: '2-digit' }), iso);
}

test('a banned visitor is told until when and why, on load, after a refused upgrade and in the kick', async () => {
  assert.deepEqual(await status(), { ban: null, mute: null });
  // Three visitors before the ban: one chatting, two on the landing page.
  const chatting = await h.page();
  const joiner = await h.page();
  const spinner = await h.page();
  await joinRoom(chatting, 'Kiki', 'lobby');
  const joinerSockets = countSockets(joiner);
  const spinnerSockets = countSockets(spinner);

  await runCli(h.server.cwd, ['bans', 'add', '127.0.0.1', '--duration', '2h', '--reason', 'spam links']);
  const deadline = Date.now() + TIMEOUT;
  let ban = null;
  while (!ban) {
    ({ ban } = await status());
    assert.ok(ban || Date.now() < deadline, 'the ban never reached the gateway');
    if (!ban) await new Promise((r) => setTimeout(r, 100));
  }
  assert.equal(ban.reason, 'spam links');
  assert.equal(typeof ban.case, 'number');
  const until = await shownTime(chatting, ban.expires);
  // "until 17:23", or "until Fri 4 Dec, 01:23" when the two hours cross midnight.
  const banned = new RegExp(`You are banned until ([^—]+, )?${until} — reason: spam links`);

  // Kicked from the room: the kick message has the expiry too.
  await chatting.locator('#landing').waitFor({ state: 'visible' });
  await chatting.locator('#landing-error', { hasText: banned }).waitFor();
  assert.match(await chatting.locator('#landing-error').textContent(), /removed/);

  // Join on a page loaded before the ban: the upgrade is refused; no "could not reach".
  await joiner.fill('#nick', 'Joiner');
  await roomItem(joiner, 'lobby').locator('.join').click();
  await joiner.locator('#landing-error', { hasText: banned }).waitFor();
  assert.doesNotMatch(await joiner.locator('#landing-error').textContent(), /reach/);
  assert.equal(await joiner.locator('#chat').isVisible(), false);

  // Roulette on a page loaded before the ban: no endless "reconnecting…".
  await spinner.fill('#nick', 'Spinner');
  await spinner.click('#roulette');
  await spinner.locator('#landing-error', { hasText: banned }).waitFor();
  assert.equal(await spinner.locator('#waiting').isVisible(), false);
  assert.equal(await spinner.locator('#banner').isVisible(), false);
  // Trying again does not even open a socket: the page knows.
  await spinner.click('#roulette');
  await roomItem(spinner, 'lobby').locator('.join').click();
  await spinner.locator('#landing-error', { hasText: banned }).waitFor();
  assert.equal(spinnerSockets.opened, 1, 'one refused upgrade, then no retries');
  assert.equal(joinerSockets.opened, 1, 'one refused upgrade, then no retries');

  // A new visitor from the banned address is told on load, before pressing anything.
  const fresh = await h.page();
  const freshSockets = countSockets(fresh);
  await fresh.locator('#landing-error', { hasText: banned }).waitFor();
  await fresh.fill('#nick', 'Newcomer');
  await fresh.click('#roulette');
  assert.equal(await fresh.locator('#waiting').isVisible(), false);
  assert.match(await fresh.locator('#landing-error').textContent(), banned);
  assert.equal(freshSockets.opened, 0);
  // (Chromium logs each refused upgrade itself: "WebSocket connection … failed".)
  for (const p of [chatting, joiner, spinner, fresh]) {
    assert.deepEqual(p.problems.filter((m) => !/WebSocket connection .* failed/.test(m)), []);
  }
});
