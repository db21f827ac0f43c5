// Errors in the client's own words, in sentence case, with human times, each shown once next to
// what it concerns and cleared when that changes.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { openPage, gotoLanding, joinRoom, frameTap } from './browser.mjs';
import { useServerAndBrowser } from './harness.mjs';

const h = useServerAndBrowser();

test('a taken nickname is said once, at the nickname, and cleared when it changes', async () => {
  const first = await h.page();
  await joinRoom(first, 'Twin', 'chill');
  const p = await h.page();
  await p.fill('#nick', 'Twin');
  await p.locator('#rooms .room[data-slug="chill"] .join').click();
  const error = p.locator('#nick-error');
  await error.waitFor({ state: 'visible' });
  assert.match(await error.textContent(), /^Someone in this room already uses this nickname/);
  assert.equal(await p.locator('#landing-error').isVisible(), false, 'not a second time at the top');
  assert.equal(await p.locator('#rooms .room-error:visible').count(), 0);
  await p.fill('#nick', 'Twin two');
  assert.equal(await error.isVisible(), false);
  assert.deepEqual(p.problems, []);
});

test('a wait is said in human terms ("in 5 minutes"), next to the composer', async () => {
  const p = await openPage(h.browser, null);
  const tap = await frameTap(p.context());
  try {
    await gotoLanding(p, h.server.url);
    await joinRoom(p, 'Patience', 'lobby');
    tap.inject({ type: 'error', code: 'rate_limited', message: 'slow down', retry_after_ms: 300_000 });
    const error = p.locator('#chat-error');
    await error.waitFor({ state: 'visible' });
    assert.equal(await error.textContent(), 'You are going a little fast: try again in 5 minutes.');
    tap.inject({ type: 'error', code: 'rate_limited', message: 'slow down', retry_after_ms: 1_200 });
    await p.locator('#chat-error', { hasText: 'try again in 2 seconds.' }).waitFor();
    assert.equal(await p.locator('#chat-error').count(), 1);
    // A code this client does not know: the server's words, in sentence case.
    tap.inject({ type: 'error', code: 'brand_new', message: 'something new happened' });
    await p.locator('#chat-error', { hasText: 'Something new happened.' }).waitFor();
  } finally {
    await p.context().close();
  }
});
