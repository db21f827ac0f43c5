// Sanctions the visitor is told about: a mute made from the operator CLI shows as a notice with
// the reason and the expiry, turns the composer off (the draft kept), and lifts itself at expiry
// or when lifted early; a moderator's warning shows as a notice and a line in the log.
//
// Every browser connects from 127.0.0.1, so the mute (on 127.0.0.1) covers every page here.
// Warnings are given in Discord (`/warn`), which this file has no way to type into: the warning
// frame is injected into the page's socket as the server sends it (see `frameTap`).

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { runCli } from './server.mjs';
import { frameTap, gotoLanding, joinRoom, say, screenshot, TIMEOUT } from './browser.mjs';
import { useServerAndBrowser } from './harness.mjs';

const h = useServerAndBrowser();

async function status() {
  const res = await fetch(`${h.server.url}/api/status`, { cache: 'no-store' });
  assert.equal(res.status, 200);
  return res.json();
}

test('a muted visitor sees why and until when, cannot write, and writes again once it ends', async () => {
  const page = await h.page();
  await joinRoom(page, 'Loud', 'lobby');
  await say(page, 'before the mute');

  await runCli(h.server.cwd, ['mutes', 'add', '127.0.0.1', '--duration', '6s', '--reason', 'cool off']);
  const note = page.locator('#mute-note');
  await note.waitFor({ state: 'visible', timeout: TIMEOUT });
  const text = await note.textContent();
  assert.match(text, /You are muted until .+ — reason: cool off \(case #\d+\)/);
  const { mute } = await status();
  assert.equal(mute.reason, 'cool off');
  assert.ok(text.includes(`case #${mute.case}`), text);
  assert.equal(await page.locator('#input').isDisabled(), true);
  assert.equal(await page.locator('#input').getAttribute('placeholder'), 'You are muted');
  await page.locator('#messages .system', { hasText: 'You are muted until' }).first().waitFor();
  await screenshot(page, 'sanctions-muted-desktop');

  // At expiry the notice goes and the composer comes back by itself.
  await note.waitFor({ state: 'hidden', timeout: TIMEOUT });
  await page.locator('#messages .system', { hasText: 'Your mute has ended' }).waitFor();
  assert.equal(await page.locator('#input').isDisabled(), false);
  await say(page, 'after the mute');
});

test('a draft waits while muted, and a mute lifted early is noticed without a reload', async () => {
  const page = await h.page();
  await joinRoom(page, 'Quiet', 'chill');
  await page.fill('#input', 'typed in time');
  await runCli(h.server.cwd, ['mutes', 'add', '127.0.0.1', '--duration', '1h', '--reason', 'spam']);
  const deadline = Date.now() + TIMEOUT;
  while (!(await status()).mute) {
    assert.ok(Date.now() < deadline, 'the mute never reached the gateway');
    await new Promise((r) => setTimeout(r, 100));
  }
  await page.locator('#mute-note').waitFor({ state: 'visible', timeout: TIMEOUT });
  assert.match(await page.locator('#mute-note').textContent(), /reason: spam/);
  // The draft stays in the input while the composer is off.
  assert.equal(await page.locator('#input').inputValue(), 'typed in time');
  assert.equal(await page.locator('#send').isDisabled(), true);
  // Lifted early: the page finds out by itself (no frame says so) and lets the visitor write.
  const { stdout: listed } = await runCli(h.server.cwd, ['mutes', 'list']);
  const row = listed.split('\n').find((l) => l.includes('spam'));
  assert.ok(row, listed);
  await runCli(h.server.cwd, ['mutes', 'remove', row.trim().split(/\s+/)[0]]);
  await page.locator('#mute-note').waitFor({ state: 'hidden', timeout: 20_000 });
  assert.equal(await page.locator('#input').isDisabled(), false);
});

test('a warning shows as a notice and in the log', async () => {
  const page = await h.page({}, { load: false });
  const tap = await frameTap(page.context());
  await gotoLanding(page, h.server.url);
  await joinRoom(page, 'Rowdy', 'lobby');
  tap.inject({ type: 'warned', case: 42, reason: 'keep it civil' });
  const note = page.locator('#warn-note');
  await note.waitFor({ state: 'visible', timeout: TIMEOUT });
  assert.equal(await note.textContent(), 'A moderator warned you: keep it civil (case #42). Repeated warnings lead to a mute or a ban.');
  await page.locator('#messages .system.error', { hasText: 'keep it civil' }).waitFor();
  // A warning is no mute: writing goes on.
  assert.equal(await page.locator('#input').isDisabled(), false);
  await say(page, 'sorry');
  await screenshot(page, 'sanctions-warned-desktop');
  assert.deepEqual(page.problems, []);
});
