// The server restarts mid-chat: both visitors see the reconnect banner, rejoin by themselves on
// the same port, and go on with every earlier message shown exactly once, in order.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { waitForRooms } from './server.mjs';
import {
  openPage, gotoLanding, cuttableSocket, joinRoom, say, waitForMessage, shownMessages, waitForMember,
  SLOW_TIMEOUT,
} from './browser.mjs';
import { useServerAndBrowser } from './harness.mjs';

const h = useServerAndBrowser();

const strip = (list) => list.map(({ nick, text }) => ({ nick, text }));

function assertOnceInOrder(shown, expected, who) {
  const texts = shown.map((m) => m.text);
  for (const { text } of expected) {
    assert.equal(texts.filter((t) => t === text).length, 1, `${who}: "${text}" must be shown exactly once`);
  }
  const ids = shown.map((m) => m.id);
  assert.equal(new Set(ids).size, ids.length, `${who}: no message id may be shown twice`);
  assert.deepEqual(strip(shown), expected, `${who}: every message once, in order`);
}

test('a server restart shows the banner, then resumes without duplicates or gaps', async () => {
  const alice = await openPage(h.browser, h.server.url);
  const bob = await openPage(h.browser, h.server.url);
  const expected = [];
  const chat = async (from, to, nick, text) => {
    await say(from, text);
    await waitForMessage(to, text);
    expected.push({ nick, text });
  };
  try {
    await joinRoom(alice, 'Alice', 'lobby');
    await joinRoom(bob, 'Bob', 'lobby');
    await waitForMember(alice, 'Bob');
    await chat(alice, bob, 'Alice', 'before 1 (Alice)');
    await chat(bob, alice, 'Bob', 'before 2 (Bob)');
    await chat(alice, bob, 'Alice', 'before 3 (Alice)');
    await chat(bob, alice, 'Bob', 'before 4 (Bob)');

    await h.stopServer();
    for (const p of [alice, bob]) {
      await p.locator('#banner').waitFor({ state: 'visible' });
      assert.match(await p.locator('#banner').textContent(), /reconnect/i);
      // Still on the chat screen, with what was said.
      assert.equal(await p.locator('#chat').isVisible(), true);
    }
    // Sending while disconnected: the message waits in a bubble that says so (nothing is
    // silently lost, nothing goes back into the input) and goes out once after the rejoin.
    await alice.fill('#input', 'sent while offline');
    await alice.press('#input', 'Enter');
    await alice.locator('#messages .msg.pending .send-note', { hasText: 'Waiting for the connection' }).waitFor();
    assert.equal(await alice.locator('#input').inputValue(), '');

    await h.startServer();
    for (const p of [alice, bob]) {
      await p.locator('#banner').waitFor({ state: 'hidden', timeout: SLOW_TIMEOUT });
      await p.locator('#messages .system', { hasText: 'Reconnected' }).waitFor({ timeout: SLOW_TIMEOUT });
    }
    await waitForMember(alice, 'Bob', true, SLOW_TIMEOUT);
    await waitForMember(bob, 'Alice', true, SLOW_TIMEOUT);
    await waitForMessage(alice, 'sent while offline');
    await waitForMessage(bob, 'sent while offline');
    expected.push({ nick: 'Alice', text: 'sent while offline' });
    assertOnceInOrder(await shownMessages(alice), expected, 'Alice after the restart');
    assertOnceInOrder(await shownMessages(bob), expected, 'Bob after the restart');

    await chat(alice, bob, 'Alice', 'after 1 (Alice)');
    await chat(bob, alice, 'Bob', 'after 2 (Bob)');
    assertOnceInOrder(await shownMessages(alice), expected, 'Alice at the end');
    assertOnceInOrder(await shownMessages(bob), expected, 'Bob at the end');
    assert.equal(await alice.locator('#member-count').textContent(), '2');
    assert.equal(await bob.locator('#member-count').textContent(), '2');

    // The history survived the restart in the database: a newcomer sees all of it once, in order.
    await waitForRooms(h.server.url, (list) => list.some((r) => r.slug === 'lobby' && r.members === 2));
    const carol = await openPage(h.browser, h.server.url);
    try {
      await joinRoom(carol, 'Carol', 'lobby');
      await carol.waitForFunction((n) => document.querySelectorAll('#messages .msg').length >= n, expected.length);
      assertOnceInOrder(await shownMessages(carol), expected, 'Carol (history)');
    } finally {
      await carol.context().close();
    }

    for (const p of [alice, bob]) {
      // Console errors for the refused WebSocket while the server was down are expected;
      // anything else is not.
      const other = p.problems.filter((m) => !/WebSocket connection to .* failed/.test(m));
      assert.deepEqual(other, []);
    }
  } finally {
    await alice.context().close();
    await bob.context().close();
  }
});

test('a visitor whose connection drops gets what was said meanwhile, once, on reconnect', async () => {
  // Alice's WebSocket goes through a proxy in the test, so her connection alone can be cut
  // (both ends closed, like a network drop the server notices) and kept down for a while.
  const alice = await openPage(h.browser, null);
  const socket = await cuttableSocket(alice.context());
  await gotoLanding(alice, h.server.url);
  const bob = await openPage(h.browser, h.server.url);
  const expected = [];
  try {
    await joinRoom(alice, 'Alice', 'chill');
    await joinRoom(bob, 'Bob', 'chill');
    await waitForMember(alice, 'Bob');
    for (const [from, to, nick, text] of [
      [alice, bob, 'Alice', 'gap 1 (Alice)'],
      [bob, alice, 'Bob', 'gap 2 (Bob)'],
    ]) {
      await say(from, text);
      await waitForMessage(to, text);
      expected.push({ nick, text });
    }

    await socket.cut();
    await alice.locator('#banner').waitFor({ state: 'visible' });
    await bob.locator('#messages .system', { hasText: 'Alice left' }).waitFor();
    // Bob goes on talking while Alice is away.
    for (const text of ['gap 3 (Bob, Alice away)', 'gap 4 (Bob, Alice away)']) {
      await say(bob, text);
      expected.push({ nick: 'Bob', text });
    }
    assert.equal(await alice.locator('#banner').isVisible(), true);

    socket.restore();
    await alice.locator('#banner').waitFor({ state: 'hidden', timeout: SLOW_TIMEOUT });
    await waitForMessage(alice, 'gap 4 (Bob, Alice away)');
    assertOnceInOrder(await shownMessages(alice), expected, 'Alice after reconnecting');
    await bob.locator('#messages .system', { hasText: 'Alice joined' }).waitFor();

    await say(alice, 'gap 5 (Alice, back)');
    await waitForMessage(bob, 'gap 5 (Alice, back)');
    expected.push({ nick: 'Alice', text: 'gap 5 (Alice, back)' });
    assertOnceInOrder(await shownMessages(alice), expected, 'Alice at the end');
    assertOnceInOrder(await shownMessages(bob), expected, 'Bob at the end');
    assert.deepEqual(bob.problems, []);
  } finally {
    await alice.context().close();
    await bob.context().close();
  }
});
