// Room state shows before it bites: a lock and an unlock arrive as system lines and the
// composer of a locked room is off with the reason (the draft kept); slow mode shows as a chip.
// The server states the room in `joined` and announces each change with `room_updated`; the
// last test adds such frames on the way in to check each is said once.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { runCli } from './server.mjs';
import { openPage, gotoLanding, joinRoom, say, frameTap, TIMEOUT } from './browser.mjs';
import { useServerAndBrowser } from './harness.mjs';

const h = useServerAndBrowser({
  prepare: async (cwd) => {
    await runCli(cwd, ['rooms', 'add', 'vault', '--capacity', '10', '--title', 'Vault']);
    await runCli(cwd, ['rooms', 'add', 'snail', '--capacity', '10', '--title', 'Snail']);
    await runCli(cwd, ['rooms', 'edit', 'snail', '--slowmode', '30']);
  },
});

const LOCK_WAIT = 15_000; // the bot re-reads the rooms, then the gateways announce the change

test('a lock and an unlock by moderators show as lines; a locked room turns the composer off', async () => {
  const p = await h.page();
  await joinRoom(p, 'Keeper', 'vault');
  await p.fill('#input', 'half-written thought');
  await runCli(h.server.cwd, ['rooms', 'edit', 'vault', '--locked', 'true']);
  await p.locator('#messages .system', { hasText: 'locked by moderators' }).waitFor({ timeout: LOCK_WAIT });
  assert.equal(await p.locator('#input').isDisabled(), true);
  assert.equal(await p.locator('#send').isDisabled(), true);
  assert.match(await p.locator('#locked-note').textContent(), /locked by moderators/);
  assert.equal(await p.inputValue('#input'), 'half-written thought', 'the draft is kept');

  await runCli(h.server.cwd, ['rooms', 'edit', 'vault', '--locked', 'false']);
  await p.locator('#messages .system', { hasText: 'unlocked' }).waitFor({ timeout: LOCK_WAIT });
  assert.equal(await p.locator('#input').isEnabled(), true);
  assert.equal(await p.locator('#locked-note').isVisible(), false);
  await p.fill('#input', 'back again');
  await p.press('#input', 'Enter');
  await p.locator('#messages .msg:not(.pending) .text', { hasText: 'back again' }).waitFor();
  assert.deepEqual(p.problems, []);
});

test('slow mode shows as a chip from the join, and goes when moderators turn it off', async () => {
  const p = await h.page();
  await joinRoom(p, 'Slowpoke', 'snail');
  await p.locator('#slow-chip', { hasText: 'Slow mode · 30 s' }).waitFor({ timeout: TIMEOUT });
  await say(p, 'first');
  await runCli(h.server.cwd, ['rooms', 'edit', 'snail', '--slowmode', '0']);
  await p.locator('#messages .system', { hasText: 'Slow mode is off.' }).waitFor({ timeout: LOCK_WAIT });
  assert.equal(await p.locator('#slow-chip').isVisible(), false);
  assert.deepEqual(p.problems, []);
});

test('a room_updated frame: slow mode on and off, lock and unlock, each said once', async () => {
  const p = await openPage(h.browser, null);
  const tap = await frameTap(p.context());
  try {
    await gotoLanding(p, h.server.url);
    await joinRoom(p, 'Watcher', 'lobby');
    tap.inject({ type: 'room_updated', room: 'lobby', slowmode_secs: 10 });
    await p.locator('#slow-chip', { hasText: 'Slow mode · 10 s' }).waitFor();
    await p.locator('#messages .system', { hasText: 'Slow mode is on: one message every 10 s.' }).waitFor();
    tap.inject({ type: 'room_updated', room: 'lobby', slowmode_secs: 0 });
    await p.locator('#messages .system', { hasText: 'Slow mode is off.' }).waitFor();
    assert.equal(await p.locator('#slow-chip').isVisible(), false);
    tap.inject({ type: 'room_updated', room: 'lobby', locked: true });
    await p.locator('#messages .system', { hasText: 'locked by moderators' }).waitFor();
    assert.equal(await p.locator('#input').isDisabled(), true);
    tap.inject({ type: 'room_updated', room: 'lobby', locked: true }); // no change: no new line
    tap.inject({ type: 'room_updated', room: 'lobby', locked: false });
    await p.locator('#messages .system', { hasText: 'unlocked' }).waitFor();
    assert.equal(await p.locator('#messages .system', { hasText: 'locked by moderators' }).count(), 1);
    assert.equal(await p.locator('#input').isEnabled(), true);
    assert.deepEqual(p.problems, []);
  } finally {
    await p.context().close();
  }
});
