// Sending under the server's limits (issue 28, bug 1): the client paces `say` with the token
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
    await runCli(cwd, ['rooms', 'edit', 'slow', '--slowmode', '2']);
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
  await say(alice, 'first');

  await alice.fill('#input', 'second');
  await alice.press('#input', 'Enter');
  // Refused (one message every 2 s): the bubble says so and when it goes again.
  const bubble = alice.locator('#messages .msg.pending', { hasText: 'second' });
  await bubble.locator('.send-note', { hasText: /slow mode/i }).waitFor({ timeout: TIMEOUT });
  // Meanwhile Alice writes on: her text is hers alone.
  await alice.keyboard.type('third draft');
  await waitForText(bob, 'second');
  await waitForText(alice, 'second');
  assert.equal(await alice.locator('#input').inputValue(), 'third draft');
  assert.deepEqual((await shownMessages(bob)).map((m) => m.text), ['first', 'second']);
  assert.equal(await alice.locator('#messages .msg.pending').count(), 0);
  assert.equal(await alice.locator('#chat-error').isVisible(), false, 'no error: the message went out');
  for (const p of [alice, bob]) assert.deepEqual(p.problems, []);
});
