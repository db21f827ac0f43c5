// A server restart (SIGTERM) is announced: the server says `restarting` and closes with 1012, the
// client says "Server restarting — reconnecting…" instead of an error, waits the delay it was
// given, and is back where it was once the server is: in its room, or in the roulette queue.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { joinRoom, startRoulette, say, waitForMessage, waitForMember, SLOW_TIMEOUT } from './browser.mjs';
import { useServerAndBrowser } from './harness.mjs';

const h = useServerAndBrowser();

const RESTART = 'Server restarting — reconnecting…';

test('a restart is announced as such and the visitor is back in the room and the queue', async () => {
  const rita = await h.page();
  const walt = await h.page();
  await joinRoom(rita, 'Rita', 'lobby');
  await startRoulette(walt, 'Walt');
  await walt.locator('#waiting-status', { hasText: 'in the queue' }).waitFor();

  await h.stopServer();
  await rita.locator('#banner-text', { hasText: RESTART }).waitFor();
  await rita.locator('#messages .system', { hasText: RESTART }).waitFor();
  assert.equal(await rita.locator('#chat').isVisible(), true, 'still on the chat screen');
  assert.equal(await rita.locator('#messages .system', { hasText: 'Connection lost' }).count(), 0);
  await walt.locator('#waiting-status', { hasText: RESTART }).waitFor();
  assert.equal(await walt.locator('#waiting').isVisible(), true, 'still on the waiting screen');

  await h.startServer();
  await rita.locator('#banner').waitFor({ state: 'hidden', timeout: SLOW_TIMEOUT });
  await rita.locator('#messages .system', { hasText: 'Reconnected' }).waitFor({ timeout: SLOW_TIMEOUT });
  await waitForMember(rita, 'Rita', true, SLOW_TIMEOUT);
  await walt.locator('#waiting-status', { hasText: 'in the queue' }).waitFor({ timeout: SLOW_TIMEOUT });
  await say(rita, 'back again');
  await waitForMessage(rita, 'back again');
  for (const p of [rita, walt]) {
    // The refused WebSocket while the server was down shows in the console; nothing else may.
    assert.deepEqual(p.problems.filter((m) => !/WebSocket connection to .* failed/.test(m)), []);
  }
});
