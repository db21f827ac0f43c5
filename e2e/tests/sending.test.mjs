// Sending under the server's limits: the client paces `say` with the token
// bucket the `hello` frame announces, shows a countdown on Send while messages wait, and a
// message the server refuses (slow mode, rate limit) stays a bubble of its own that is sent again
// later. It is never put back into the input while someone is typing there (that glued
// refused messages onto the next one: the room received "msg 14msg 15").

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { runCli } from './server.mjs';
import { joinRoom, say, shownMessages, waitForMember, TIMEOUT } from './browser.mjs';
import { useServerAndBrowser } from './harness.mjs';

// A small burst with a slow refill, so typing at a normal pace runs past it.
const h = useServerAndBrowser({
  env: { SAY_BURST: '3', SAY_PER_SECOND: '1' },
  prepare: async (cwd) => {
    await runCli(cwd, ['rooms', 'add', 'slow', '--capacity', '10', '--title', 'Slow']);
    await runCli(cwd, ['rooms', 'edit', 'slow', '--slowmode', '4']);
  },
});

/** Waits until `page` shows a confirmed message whose text contains `part`. */
async function waitForText(page, part, timeout = TIMEOUT) {
  await page.waitForFunction(
    (t) => [...document.querySelectorAll('#messages .msg:not(.pending) .text')].some((n) => n.textContent.includes(t)),
    part,
    { timeout },
  );
}

test('messages typed past the burst are paced, each sent alone and in order, with a countdown on Send', async () => {
  const alice = await h.page();
  const bob = await h.page();
  await joinRoom(alice, 'Alice', 'lobby');
  await joinRoom(bob, 'Bob', 'lobby');
  await waitForMember(alice, 'Bob');
  // Remember whether the Send button ever showed a countdown.
  await alice.evaluate(() => {
    window.__countdowns = [];
    const send = document.getElementById('send');
    new MutationObserver(() => {
      const wait = send.querySelector('.send-wait');
      if (wait && !wait.hidden && wait.textContent) window.__countdowns.push(wait.textContent);
    }).observe(send, { subtree: true, childList: true, attributes: true, characterData: true });
  });

  const sent = [];
  await alice.locator('#input').click();
  for (let i = 1; i <= 8; i += 1) {
    const text = `msg ${i}`;
    sent.push(text);
    await alice.keyboard.type(text);
    await alice.keyboard.press('Enter');
  }
  // Burst 3, one more each second: the last one arrives about five seconds later.
  await waitForText(bob, 'msg 8', 20_000);
  await waitForText(alice, 'msg 8', TIMEOUT);
  for (const p of [alice, bob]) {
    assert.deepEqual((await shownMessages(p)).map((m) => m.text), sent);
  }
  assert.equal(await alice.locator('#input').inputValue(), '', 'nothing was put back into the input');
  assert.equal(await alice.locator('#messages .msg.pending').count(), 0);
  const countdowns = await alice.evaluate(() => window.__countdowns);
  assert.ok(countdowns.some((t) => /\d+\s*s/.test(t)), `the Send button counted down: ${JSON.stringify(countdowns)}`);
  await alice.locator('#send .send-wait').waitFor({ state: 'hidden' });
  for (const p of [alice, bob]) assert.deepEqual(p.problems, []);
});

test('a message refused by slow mode stays a bubble, is sent again later, and never lands in the input', async () => {
  const alice = await h.page();
  const bob = await h.page();
  await joinRoom(alice, 'Alice', 'slow');
  await joinRoom(bob, 'Bob', 'slow');
  await waitForMember(alice, 'Bob');
  // Slow mode keeps one slot per seat an address holds in the room, and both pages share
  // 127.0.0.1: two messages pass, the third waits.
  await say(alice, 'first');
  await say(alice, 'second');

  await alice.fill('#input', 'third');
  await alice.press('#input', 'Enter');
  // Refused (one message per seat every few seconds): the bubble says so and when it goes again.
  const bubble = alice.locator('#messages .msg.pending', { hasText: 'third' });
  await bubble.locator('.send-note', { hasText: /slow mode/i }).waitFor({ timeout: TIMEOUT });
  // Meanwhile Alice writes on: her text is hers alone.
  await alice.keyboard.type('fourth draft');
  await waitForText(bob, 'third');
  await waitForText(alice, 'third');
  assert.equal(await alice.locator('#input').inputValue(), 'fourth draft');
  assert.deepEqual((await shownMessages(bob)).map((m) => m.text), ['first', 'second', 'third']);
  assert.equal(await alice.locator('#messages .msg.pending').count(), 0);
  assert.equal(await alice.locator('#chat-error').isVisible(), false, 'no error: the message went out');
  for (const p of [alice, bob]) assert.deepEqual(p.problems, []);
});

test('a message the dropped connection left unanswered becomes "Not sent" with Retry, not input text', async () => {
  // Alice's socket goes through the test, which can swallow her `say` frames (as a network that
  // drops them would) and cut the connection.
  const context = await h.browser.newContext();
  context.setDefaultTimeout(TIMEOUT);
  let swallowSays = false;
  let current = null;
  await context.routeWebSocket((url) => url.pathname === '/ws', (ws) => {
    const server = ws.connectToServer();
    ws.onMessage((message) => {
      let frame = null;
      try { frame = JSON.parse(message); } catch { /* not JSON: forward as is */ }
      if (swallowSays && frame && frame.type === 'say') return;
      server.send(message);
    });
    current = { ws, server };
  });
  const alice = await context.newPage();
  alice.problems = [];
  alice.on('pageerror', (err) => alice.problems.push(`page error: ${err.message}`));
  try {
    await alice.goto(h.server.url);
    const bob = await h.page();
    await joinRoom(alice, 'Alice', 'chill');
    await joinRoom(bob, 'Bob', 'chill');
    await waitForMember(alice, 'Bob');
    await say(alice, 'before the drop');

    swallowSays = true;
    await alice.fill('#input', 'lost in transit');
    await alice.press('#input', 'Enter');
    await alice.locator('#messages .msg.pending', { hasText: 'lost in transit' }).waitFor();
    await alice.keyboard.type('my draft');
    // The connection drops; Alice's page reconnects by itself (through the test, no longer
    // swallowing anything).
    swallowSays = false;
    const { ws, server } = current;
    await server.close({ code: 1000 }).catch(() => {});
    await ws.close({ code: 1011, reason: 'test: network down' }).catch(() => {});
    await alice.locator('#messages .system', { hasText: 'Reconnected' }).waitFor({ timeout: 30_000 });

    const bubble = alice.locator('#messages .msg.failed', { hasText: 'lost in transit' });
    await bubble.locator('.send-note', { hasText: 'Not sent — the connection dropped' }).waitFor();
    assert.equal(await alice.locator('#input').inputValue(), 'my draft', 'the unsent text stays in its bubble');
    await bubble.getByRole('button', { name: 'Retry' }).click();
    await waitForText(bob, 'lost in transit');
    await waitForText(alice, 'lost in transit');
    assert.deepEqual((await shownMessages(bob)).map((m) => m.text), ['before the drop', 'lost in transit']);
    assert.equal(await alice.locator('#messages .msg.failed').count(), 0);
    assert.equal(await alice.locator('#input').inputValue(), 'my draft');
    assert.deepEqual(alice.problems, []);
  } finally {
    await context.close();
  }
});
