// Two visitors in two browser contexts: chatting, escaping, typing, keyboard, nickname rules.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  joinRoom, say, waitForMessage, shownMessages, waitForMember,
  cspViolations, TIMEOUT,
} from './browser.mjs';
import { useServerAndBrowser } from './harness.mjs';

const h = useServerAndBrowser();
const page = () => h.page();

test('two visitors join a room and chat both ways', async () => {
  const alice = await page();
  const bob = await page();
  await joinRoom(alice, 'Alice', 'lobby');
  await joinRoom(bob, 'Bob', 'lobby');

  await waitForMember(alice, 'Bob');
  await waitForMember(bob, 'Alice');
  await alice.locator('#messages .system', { hasText: 'Bob joined' }).waitFor();
  assert.equal(await alice.locator('#member-count').textContent(), '2');
  assert.equal(await bob.locator('#member-count').textContent(), '2');
  assert.equal(await alice.locator('#room-title').textContent(), 'Lobby');
  assert.equal(await bob.locator('#me-nick').textContent(), 'Bob');

  await say(alice, 'Hi Bob!');
  await waitForMessage(bob, 'Hi Bob!');
  await say(bob, 'Hello Alice, nice to meet you.');
  await waitForMessage(alice, 'Hello Alice, nice to meet you.');

  const expected = [
    { nick: 'Alice', text: 'Hi Bob!' },
    { nick: 'Bob', text: 'Hello Alice, nice to meet you.' },
  ];
  for (const p of [alice, bob]) {
    const shown = (await shownMessages(p)).map(({ nick, text }) => ({ nick, text }));
    assert.deepEqual(shown, expected);
  }
  // Own messages are marked as such, the other's are not.
  assert.equal(await alice.locator('#messages .msg.own').count(), 1);
  assert.equal(await bob.locator('#messages .msg.own').count(), 1);
  assert.equal(await alice.locator('#messages .msg.pending').count(), 0);
  // No "joined" line about oneself (the server echoes our own presence join).
  assert.equal(await alice.locator('#messages .system', { hasText: 'Alice joined' }).count(), 0);
  for (const p of [alice, bob]) {
    assert.deepEqual(await cspViolations(p), []);
    assert.deepEqual(p.problems, []);
  }
});

test('HTML in messages is shown as literal text and never runs (XSS)', async () => {
  const alice = await page();
  const bob = await page();
  await joinRoom(alice, 'Alice', 'chill');
  // (Nicknames cannot carry markup: `<`, `>` and quotes are refused by the nickname rules.)
  await joinRoom(bob, 'Bob', 'chill');
  const payloads = [
    '<img src=x onerror=alert(1)>',
    '<script>alert(1)</script>',
    '<b>bold</b> & "quotes" \'single\' <a href="javascript:alert(1)">link</a>',
  ];
  for (const text of payloads) await say(bob, text);
  for (const text of payloads) await waitForMessage(alice, text);
  // Give any injected handler (an <img> error, a script) a moment to fire if it existed.
  await alice.waitForTimeout(500);

  for (const p of [alice, bob]) {
    const texts = (await shownMessages(p)).map((m) => m.text);
    assert.deepEqual(texts, payloads);
    assert.equal(await p.locator('#messages img, #messages script, #messages b, #messages a').count(), 0);
    assert.deepEqual(p.dialogs, [], 'no dialog may open');
    assert.deepEqual(p.problems, []);
  }
});

test('typing indicator shows in the other context and clears on expiry and on message', async () => {
  const alice = await page();
  const bob = await page();
  await joinRoom(alice, 'Alice', 'games');
  await joinRoom(bob, 'Bob', 'games');
  await waitForMember(alice, 'Bob');

  // Bob types without sending: Alice sees it, Bob does not see himself typing.
  await bob.locator('#input').pressSequentially('thinking', { delay: 20 });
  await alice.locator('#typing', { hasText: 'Bob is typing…' }).waitFor();
  assert.equal((await bob.locator('#typing').textContent()).trim(), '');
  // Nothing more is typed: the indicator expires on its own.
  await alice.waitForFunction(() => document.getElementById('typing').textContent.trim() === '', null, { timeout: 15_000 });
  assert.equal((await bob.locator('#typing').textContent()).trim(), '');

  // Typing again (the client throttles typing frames to one per few seconds, so wait it out),
  // then sending: the message clears the indicator at once.
  await bob.fill('#input', '');
  await alice.waitForTimeout(3_200);
  await bob.locator('#input').pressSequentially('done thinking', { delay: 20 });
  await alice.locator('#typing', { hasText: 'Bob is typing…' }).waitFor();
  await bob.press('#input', 'Enter');
  await waitForMessage(alice, 'done thinking');
  assert.equal((await alice.locator('#typing').textContent()).trim(), '');
  assert.deepEqual(alice.problems, []);
  assert.deepEqual(bob.problems, []);
});

test('Enter sends, Shift+Enter makes a new line', async () => {
  const alice = await page();
  const bob = await page();
  await joinRoom(alice, 'Alice', 'lobby');
  await joinRoom(bob, 'Bob', 'lobby');
  // The room keeps history from the earlier tests: count from here.
  const before = await alice.locator('#messages .msg').count();
  const input = alice.locator('#input');
  await input.click();
  await input.pressSequentially('first line', { delay: 10 });
  await input.press('Shift+Enter');
  await input.pressSequentially('second line', { delay: 10 });
  assert.equal(await input.inputValue(), 'first line\nsecond line');
  assert.equal(await alice.locator('#messages .msg').count(), before, 'Shift+Enter must not send');
  await input.press('Enter');
  await waitForMessage(bob, 'first line\nsecond line');
  await waitForMessage(alice, 'first line\nsecond line');
  assert.equal(await input.inputValue(), '', 'the composer is emptied after sending');
  // The line break is kept when shown (pre-wrap): two lines tall.
  const lines = await bob.locator('#messages .msg .text').last().evaluate((n) => {
    const lh = parseFloat(getComputedStyle(n).lineHeight);
    return Math.round(n.getBoundingClientRect().height / lh);
  });
  assert.equal(lines, 2);
  // Enter on an empty (or blank) composer sends nothing.
  await input.fill('   ');
  await input.press('Enter');
  await alice.waitForTimeout(300);
  assert.equal(await alice.locator('#messages .msg').count(), before + 1);
  // The Send button sends too.
  await input.fill('via the button');
  await alice.click('#send');
  await waitForMessage(bob, 'via the button');
});

test('Esc twice leaves the room and the other visitor sees it', async () => {
  const alice = await page();
  const bob = await page();
  await joinRoom(alice, 'Alice', 'chill');
  await joinRoom(bob, 'Bob', 'chill');
  await waitForMember(alice, 'Bob');

  await bob.locator('#input').click();
  await bob.keyboard.press('Escape'); // the first only arms it (keys.test.mjs)
  await bob.locator('#esc-hint', { hasText: 'Press Esc again to leave' }).waitFor();
  await bob.keyboard.press('Escape');
  await bob.locator('#landing').waitFor({ state: 'visible' });
  assert.equal(await bob.locator('#chat').isVisible(), false);
  assert.equal(await bob.title(), 'Textual Chatroulette');
  await alice.locator('#messages .system', { hasText: 'Bob left' }).waitFor();
  await waitForMember(alice, 'Bob', false);
  assert.equal(await alice.locator('#member-count').textContent(), '1');

  // The room list shows the change, and Bob can join again with the same nickname.
  await bob.locator('#rooms .room[data-slug="chill"] .room-count', { hasText: '1 / 20' }).waitFor({ timeout: 15_000 });
  await joinRoom(bob, 'Bob', 'chill');
  await alice.locator('#messages .system', { hasText: 'Bob joined' }).nth(1).waitFor();
  assert.deepEqual(bob.problems, []);
});

test('an invalid nickname shows a live error and does not join', async () => {
  const p = await page();
  const nick = p.locator('#nick');
  const error = p.locator('#nick-error');

  await nick.fill('A');
  await error.waitFor({ state: 'visible' });
  assert.match(await error.textContent(), /at least 2 characters/);
  assert.equal(await nick.getAttribute('aria-invalid'), 'true');

  await nick.fill('Al');
  await error.waitFor({ state: 'hidden' });
  assert.equal(await nick.getAttribute('aria-invalid'), 'false');

  await nick.fill('bad<name>');
  await error.waitFor({ state: 'visible' });
  assert.match(await error.textContent(), /letters, digits, spaces/);

  await nick.fill('x'.repeat(25));
  assert.match(await error.textContent(), /at most 24 characters/);

  // Trying to join with it keeps the visitor on the landing screen, focus on the field.
  await nick.fill('bad<name>');
  await p.locator('#rooms .room[data-slug="lobby"] .join').click();
  assert.equal(await p.locator('#chat').isVisible(), false);
  assert.equal(await p.evaluate(() => document.activeElement.id), 'nick');

  // Empty is an error too.
  await nick.fill('');
  assert.match(await error.textContent(), /choose a nickname/);

  // A name that passes the local rules but the server refuses (reserved) shows the server's error.
  await nick.fill('Admin');
  await error.waitFor({ state: 'hidden' });
  await p.locator('#rooms .room[data-slug="lobby"] .join').click();
  await error.waitFor({ state: 'visible', timeout: TIMEOUT });
  assert.equal(await p.locator('#chat').isVisible(), false);
  assert.ok((await error.textContent()).length > 0);
  assert.deepEqual(p.problems, []);
});

test('a nickname already taken in the room is refused with a clear error', async () => {
  const alice = await page();
  const other = await page();
  await joinRoom(alice, 'Alice', 'games');
  await other.fill('#nick', 'alice'); // compared case-folded
  await other.locator('#rooms .room[data-slug="games"] .join').click();
  await other.locator('#nick-error').waitFor({ state: 'visible' });
  assert.match(await other.locator('#nick-error').textContent(), /taken|already/i);
  assert.equal(await other.locator('#chat').isVisible(), false);
});

test('typing again right after sending shows the indicator again', async () => {
  const alice = await page();
  const bob = await page();
  await joinRoom(alice, 'Alice', 'games');
  await joinRoom(bob, 'Bob', 'games');
  await waitForMember(alice, 'Bob');
  await bob.locator('#input').pressSequentially('one', { delay: 20 });
  await alice.locator('#typing', { hasText: 'Bob is typing…' }).waitFor();
  await bob.press('#input', 'Enter');
  await waitForMessage(alice, 'one');
  assert.equal((await alice.locator('#typing').textContent()).trim(), '');
  // Bob goes straight on with a second message, a few keys, then pauses: Alice sees him typing
  // (the server's one typing frame per 2 s starts afresh after a message).
  await bob.locator('#input').pressSequentially('two', { delay: 20 });
  await alice.locator('#typing', { hasText: 'Bob is typing…' }).waitFor();
});
