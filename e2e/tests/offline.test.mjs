// While the connection is down: a message typed meanwhile goes out once after the reconnect,
// "Retry now" reconnects without waiting for the backoff, and a visitor whose connection blips
// causes no "left"/"joined" lines for the others.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  openPage, gotoLanding, joinRoom, say, waitForMessage, waitForMember, shownMessages, cuttableSocket, SLOW_TIMEOUT,
} from './browser.mjs';
import { useServerAndBrowser } from './harness.mjs';

const h = useServerAndBrowser();

test('a message typed while offline is sent once after reconnecting; no left/joined noise', async () => {
  const alice = await openPage(h.browser, null);
  const socket = await cuttableSocket(alice.context());
  const bob = await h.page();
  try {
    await gotoLanding(alice, h.server.url);
    await joinRoom(alice, 'Alice', 'chill');
    await joinRoom(bob, 'Bob', 'chill');
    await waitForMember(alice, 'Bob');
    await say(bob, 'before');

    // A blip: cut and back at once. Bob hears nothing of it.
    await socket.cut();
    socket.restore();
    await alice.locator('#messages .system', { hasText: 'Reconnected' }).waitFor({ timeout: SLOW_TIMEOUT });
    await bob.waitForTimeout(3_500); // past the grace a "left" line waits for
    assert.equal(await bob.locator('#messages .system', { hasText: /Alice (left|joined)/ }).count(), 0);

    // Down for longer: a message written meanwhile waits, then goes out once.
    await socket.cut();
    await alice.locator('#banner').waitFor({ state: 'visible' });
    await alice.fill('#input', 'written while offline');
    await alice.press('#input', 'Enter');
    const bubble = alice.locator('#messages .msg.pending', { hasText: 'written while offline' });
    await bubble.locator('.send-note', { hasText: 'Waiting for the connection' }).waitFor();
    assert.equal(await alice.inputValue('#input'), '');
    socket.restore();
    await alice.click('#retry-now');
    await waitForMessage(bob, 'written while offline', SLOW_TIMEOUT);
    await waitForMessage(alice, 'written while offline');
    await bob.waitForTimeout(500);
    const got = (await shownMessages(bob)).filter((m) => m.text === 'written while offline');
    assert.equal(got.length, 1, 'sent once');
    assert.deepEqual(bob.problems, []);
  } finally {
    await alice.context().close();
  }
});

test('"Retry now" reconnects at once instead of waiting for the backoff', async () => {
  const p = await openPage(h.browser, null);
  const socket = await cuttableSocket(p.context());
  try {
    await gotoLanding(p, h.server.url);
    await joinRoom(p, 'Hasty', 'lobby');
    // Several failed attempts make the backoff long…
    await socket.cut();
    await p.locator('#banner').waitFor({ state: 'visible' });
    await p.waitForTimeout(4_000);
    socket.restore();
    // …and the button skips it.
    await p.click('#retry-now');
    await p.locator('#banner').waitFor({ state: 'hidden', timeout: 3_000 });
    assert.deepEqual(p.problems, []);
  } finally {
    await p.context().close();
  }
});
