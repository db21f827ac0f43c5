// Resume: a visitor whose socket drops comes back within RESUME_SECS to the same room under the
// same nickname, with the messages said meanwhile (each once), and the room sees no left/joined;
// in a roulette chat the stranger is told of the drop and of the return.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  openPage, gotoLanding, joinRoom, startRoulette, waitForPair, say, waitForMessage, waitForMember, shownMessages, cuttableSocket, SLOW_TIMEOUT,
} from './browser.mjs';
import { useServerAndBrowser } from './harness.mjs';

const h = useServerAndBrowser({ env: { RESUME_SECS: '60' } });

test('a dropped socket resumes: same nickname, missed messages once, no left/joined for the room', async () => {
  const alice = await openPage(h.browser, null);
  const socket = await cuttableSocket(alice.context());
  const bob = await h.page();
  try {
    await gotoLanding(alice, h.server.url);
    await joinRoom(alice, 'Alice', 'chill');
    await joinRoom(bob, 'Bob', 'chill');
    await waitForMember(alice, 'Bob');
    await say(bob, 'before the tunnel');
    await waitForMessage(alice, 'before the tunnel');

    // The network drops; the server keeps Alice's seat while she is away.
    await socket.cut();
    await alice.locator('#banner').waitFor({ state: 'visible' });
    await say(bob, 'said while Alice was away');
    await say(bob, 'and once more');
    await waitForMessage(bob, 'and once more');

    socket.restore();
    await alice.click('#retry-now');
    await alice.locator('#messages .system', { hasText: 'Reconnected' }).waitFor({ timeout: SLOW_TIMEOUT });
    await waitForMessage(alice, 'said while Alice was away');
    await waitForMessage(alice, 'and once more');
    assert.equal(await alice.locator('#me-nick').textContent(), 'Alice');
    const shown = (await shownMessages(alice)).map((m) => m.text);
    for (const text of ['before the tunnel', 'said while Alice was away', 'and once more']) {
      assert.equal(shown.filter((t) => t === text).length, 1, `${text} shown once: ${shown}`);
    }
    // Alice talks on in the same seat; Bob never saw her leave or join again.
    await say(alice, 'back from the tunnel');
    await waitForMessage(bob, 'back from the tunnel');
    await bob.waitForTimeout(3_500); // past the grace a "left" line waits for
    assert.equal(await bob.locator('#messages .system', { hasText: /Alice (left|joined)/ }).count(), 0);
    assert.deepEqual(bob.problems, []);
  } finally {
    await alice.context().close();
  }
});

test('a roulette stranger sees the drop and the return, and the chat goes on', async () => {
  const al = await openPage(h.browser, null);
  const socket = await cuttableSocket(al.context());
  const bo = await h.page();
  try {
    await gotoLanding(al, h.server.url);
    await startRoulette(al, 'Al');
    await startRoulette(bo, 'Bo');
    await waitForPair(al, 'Bo');
    await waitForPair(bo, 'Al');
    await say(al, 'before the tunnel');
    await waitForMessage(bo, 'before the tunnel');

    await socket.cut();
    await bo.locator('#messages .system', { hasText: 'Al lost their connection' }).waitFor();
    await say(bo, 'still there?');
    socket.restore();
    await al.click('#retry-now');
    await al.locator('#messages .system', { hasText: 'Reconnected' }).waitFor({ timeout: SLOW_TIMEOUT });
    await bo.locator('#messages .system', { hasText: 'Al is back' }).waitFor();
    await waitForMessage(al, 'still there?');
    await say(al, 'yes, back');
    await waitForMessage(bo, 'yes, back');
    assert.equal(await bo.locator('#ended').isVisible(), false, 'the chat did not end');
    assert.equal(await al.locator('#room-title').textContent(), 'Chat with Bo');
  } finally {
    await al.context().close();
  }
});
