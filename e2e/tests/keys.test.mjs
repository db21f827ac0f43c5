// Keys with one clear meaning: Enter in the nickname field never joins
// a room by itself; Esc never throws a visitor out mid-sentence — the first only leaves the
// composer (the draft stays), leaving or skipping needs a second Esc, and drafts are kept.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  joinRoom, say, waitForMessage, waitForMember, startRoulette, waitForPair, roomItem, TIMEOUT, MOBILE,
} from './browser.mjs';
import { useServerAndBrowser } from './harness.mjs';

const h = useServerAndBrowser();

test('Enter in the nickname field validates it and joins no room', async () => {
  const p = await h.page();
  await p.locator('#nick').click();
  await p.keyboard.type('Alice');
  await p.keyboard.press('Enter');
  // Either the page says what to do next, or (the bug) the first Join button took the key.
  await p.waitForFunction(() => !document.getElementById('chat').hidden
    || document.getElementById('landing-status').textContent.includes('Nickname'), null, { timeout: TIMEOUT });
  assert.equal(await p.locator('#chat').isVisible(), false, 'Enter joined a room');
  assert.match(await p.locator('#landing-status').textContent(), /Nickname Alice is ready/);
  assert.equal(await p.evaluate(() => document.activeElement.id), 'nick', 'focus stays in the field');
  // A second Enter means the same thing.
  await p.keyboard.press('Enter');
  assert.equal(await p.locator('#chat').isVisible(), false);

  // An invalid nickname: Enter shows what is wrong, and nothing more.
  await p.fill('#nick', 'A');
  await p.press('#nick', 'Enter');
  await p.locator('#nick-error', { hasText: /at least 2 characters/ }).waitFor();
  assert.equal(await p.locator('#landing-status').textContent(), '');
  assert.equal(await p.locator('#chat').isVisible(), false);

  // Nobody entered Chill (the first room by name) or any other room.
  const rooms = await (await fetch(`${h.server.url}/api/rooms`)).json();
  assert.deepEqual(rooms.filter((r) => r.members > 0).map((r) => r.slug), []);
  // The Join buttons still work as before.
  await p.fill('#nick', 'Alice');
  await roomItem(p, 'chill').locator('.join').click();
  await p.locator('#chat').waitFor({ state: 'visible' });
  assert.deepEqual(p.problems, []);
});

test('Esc with a draft only leaves the composer; a second Esc leaves the room; the draft is kept', async () => {
  const alice = await h.page();
  const bob = await h.page();
  await joinRoom(alice, 'Alice', 'games');
  await joinRoom(bob, 'Bob', 'games');
  await waitForMember(alice, 'Bob');

  await bob.locator('#input').click();
  await bob.keyboard.type('I was just about to say');
  await bob.keyboard.press('Escape');
  // The first Esc: still in the room, draft untouched, out of the composer, and told what a
  // second Esc does.
  await bob.waitForFunction(() => document.getElementById('chat').hidden
    || document.getElementById('esc-hint').textContent !== '', null, { timeout: TIMEOUT });
  assert.equal(await bob.locator('#chat').isVisible(), true, 'the first Esc left the room');
  assert.match(await bob.locator('#esc-hint').textContent(), /Press Esc again to leave/);
  assert.equal(await bob.locator('#input').inputValue(), 'I was just about to say');
  assert.notEqual(await bob.evaluate(() => document.activeElement.id), 'input');
  // Alice still has Bob: a message reaches him.
  await say(alice, 'still there?');
  await waitForMessage(bob, 'still there?');

  // The second Esc leaves; Alice sees it.
  await bob.keyboard.press('Escape');
  await bob.locator('#landing').waitFor({ state: 'visible' });
  await alice.locator('#messages .system', { hasText: 'Bob left' }).waitFor();

  // Back in the room, the draft is where he left it.
  await joinRoom(bob, 'Bob', 'games');
  assert.equal(await bob.locator('#input').inputValue(), 'I was just about to say');
  // Typing again disarms: one Esc after it does not leave.
  await bob.locator('#input').click();
  await bob.keyboard.press('Escape');
  await bob.locator('#esc-hint', { hasText: 'Press Esc again' }).waitFor();
  await bob.locator('#input').click();
  await bob.keyboard.type('!');
  await bob.locator('#esc-hint').waitFor({ state: 'hidden' });
  await bob.keyboard.press('Escape');
  await bob.locator('#esc-hint', { hasText: 'Press Esc again' }).waitFor();
  assert.equal(await bob.locator('#chat').isVisible(), true);
  assert.equal(await bob.locator('#input').inputValue(), 'I was just about to say!');
  for (const p of [alice, bob]) assert.deepEqual(p.problems, []);
});

test('Esc in a roulette chat skips the stranger only on the second press, keeping the draft', async () => {
  const cy = await h.page();
  const di = await h.page();
  await startRoulette(cy, 'Cy');
  await startRoulette(di, 'Di');
  await waitForPair(cy, 'Di');
  await waitForPair(di, 'Cy');

  await di.locator('#input').click();
  await di.keyboard.type('so where are you');
  await di.keyboard.press('Escape');
  await di.waitForFunction(() => document.getElementById('chat').hidden
    || document.getElementById('esc-hint').textContent !== '', null, { timeout: TIMEOUT });
  assert.equal(await di.locator('#chat').isVisible(), true, 'the first Esc skipped the stranger');
  assert.match(await di.locator('#esc-hint').textContent(), /Press Esc again to skip/);
  assert.equal(await di.locator('#input').inputValue(), 'so where are you');
  await say(cy, 'hello?');
  await waitForMessage(di, 'hello?');
  assert.equal(await cy.locator('#ended').isVisible(), false);

  await di.keyboard.press('Escape');
  await di.locator('#waiting').waitFor({ state: 'visible' });
  await cy.locator('#ended', { hasText: 'has left' }).waitFor();
  // The next chat opens with the draft still in the composer.
  const ed = await h.page();
  await startRoulette(ed, 'Ed');
  await waitForPair(di, 'Ed');
  assert.equal(await di.locator('#input').inputValue(), 'so where are you');
  for (const p of [cy, di, ed]) assert.deepEqual(p.problems, []);
});

test('on a phone, Enter is a new line (Send sends) and Esc closes the member sheet first', async () => {
  const p = await h.page({ viewport: MOBILE, isMobile: true, hasTouch: true });
  await joinRoom(p, 'Thumbs', 'games');
  assert.equal(await p.getAttribute('#input', 'enterkeyhint'), 'send');
  await p.fill('#input', 'two');
  await p.press('#input', 'Enter');
  await p.locator('#input').pressSequentially('lines');
  assert.equal(await p.inputValue('#input'), 'two\nlines');
  await p.click('#send');
  await waitForMessage(p, 'two\nlines');
  await p.click('#members-open');
  await p.locator('#members li', { hasText: 'Thumbs' }).waitFor();
  await p.keyboard.press('Escape');
  assert.equal(await p.locator('#members').isVisible(), false);
  assert.equal(await p.getAttribute('#members-open', 'aria-expanded'), 'false');
  assert.equal(await p.locator('#esc-hint').isVisible(), false, 'that Esc did not arm leaving');
  assert.equal(await p.locator('#chat').isVisible(), true);
  assert.deepEqual(p.problems, []);
});
