// The roulette waiting screen: an elapsed timer, live counts when the server gives them, the
// Lobby offered after a while, interests with spaces; a match found in a hidden tab flashes the
// title; a pair has no member panel and one "find another" button; after Next with nobody else
// looking, the two who parted are not paired again at once, and the waiting screen says so.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { openPage, gotoLanding, startRoulette, waitForPair, frameTap, say, waitForMessage } from './browser.mjs';
import { useServerAndBrowser } from './harness.mjs';

const h = useServerAndBrowser();

/** A page whose waiting screen offers the Lobby after `offerMs` instead of 20 s. */
async function pageWithOfferAfter(offerMs, contextOptions = {}) {
  const p = await h.page(contextOptions, { load: false });
  await p.context().addInitScript((ms) => { window.__chatTuning = { waitOfferMs: ms }; }, offerMs);
  return p;
}

test('the waiting screen counts the time and offers the Lobby after a while', async () => {
  const p = await pageWithOfferAfter(2_500);
  await gotoLanding(p, h.server.url);
  await startRoulette(p, 'Waiter', 'old films, jazz');
  // Spaces inside an interest become hyphens, as the server stores them.
  await p.locator('#waiting-interests', { hasText: 'old-films, jazz' }).waitFor();
  await p.locator('#waiting-elapsed', { hasText: /^Looking for 0:0[0-2]$/ }).waitFor();
  await p.locator('#waiting-elapsed', { hasText: /^Looking for 0:0[2-9]$/ }).waitFor();
  // The server counts who else waits (nobody here) and who is online (at least this visitor).
  await p.locator('#waiting-counts', { hasText: /^0 looking now · [1-9]\d* online$/ }).waitFor();
  assert.match(await p.locator('#waiting-status').textContent(), /Nobody else is looking right now/);
  await p.locator('#waiting-offer').waitFor({ state: 'visible' });
  assert.equal(await p.locator('#waiting-join').textContent(), 'Join Lobby instead');
  await p.click('#waiting-join');
  await p.locator('#chat').waitFor({ state: 'visible' });
  await p.locator('#room-title', { hasText: 'Lobby' }).waitFor();
  await p.locator('#messages .system', { hasText: 'as Waiter' }).waitFor();
  assert.deepEqual(p.problems, []);
});

test('counts from the server show as "N looking now · N online"; nobody else looking is said', async () => {
  const p = await h.page({}, { load: false });
  // What a server that counts would send (the frame's extra fields): added on the way in.
  await frameTap(p.context(), (f) => (f.type === 'waiting' ? { ...f, looking: 0, online: 12 } : f));
  await gotoLanding(p, h.server.url);
  await startRoulette(p, 'Counter');
  await p.locator('#waiting-counts', { hasText: '0 looking now · 12 online' }).waitFor();
  assert.match(await p.locator('#waiting-status').textContent(), /Nobody else is looking right now/);
});

test('a match in a hidden tab flashes the title; a pair has no member list and one "find another"', async () => {
  const al = await h.page({}, { load: false });
  // The tab is "hidden" (as if another tab were in front) until the test says otherwise.
  await al.context().addInitScript(() => {
    window.__hidden = true;
    Object.defineProperty(document, 'hidden', { get: () => window.__hidden });
  });
  await gotoLanding(al, h.server.url);
  const bo = await h.page();
  await startRoulette(al, 'Al');
  await startRoulette(bo, 'Bo');
  await waitForPair(al, 'Bo');
  await al.waitForFunction(() => document.title.startsWith('★ Stranger found!'));
  await al.evaluate(() => { window.__hidden = false; document.dispatchEvent(new Event('visibilitychange')); });
  await al.waitForFunction(() => !document.title.startsWith('★'));

  assert.equal(await al.locator('#member-panel').isVisible(), false, 'no member panel for a pair');
  assert.equal(await al.locator('#members-open').isVisible(), false);
  await say(al, 'hello Bo');
  await waitForMessage(bo, 'hello Bo');
  await bo.click('#next');
  await al.locator('#ended', { hasText: 'Bo has left' }).waitFor();
  assert.equal(await al.locator('#find-another').isVisible(), true);
  assert.equal(await al.locator('#next').isVisible(), false, 'one "find another" button, not two');
  assert.match(await al.locator('#messages .system').last().textContent(), /^Bo has left/);

  // Nobody else is looking (Bo waits, but he just left Al): Al waits, and is told so.
  await al.click('#find-another');
  await al.locator('#waiting-status', { hasText: "Nobody else is looking right now — we'll match you when someone arrives" }).waitFor();
  await al.locator('#waiting-counts', { hasText: /^0 looking now/ }).waitFor();
  // Someone arrives: paired with Bo, who waited longest; Al still waits.
  const cy = await h.page();
  await startRoulette(cy, 'Cy');
  await waitForPair(cy, 'Bo');
  assert.equal(await al.locator('#waiting').isVisible(), true);
  assert.deepEqual(al.problems, []);
});
