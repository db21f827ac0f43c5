// Roulette: two visitors press Roulette, are paired, chat both ways, and one moves on with Next
// (or Esc, or Block); the other is told the stranger left and can find another.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  say, waitForMessage, shownMessages, startRoulette, waitForPair,
  cspViolations, TIMEOUT,
} from './browser.mjs';
import { useServerAndBrowser } from './harness.mjs';

const h = useServerAndBrowser();
const page = () => h.page();

async function assertStrangerLeft(p) {
  await p.locator('#ended', { hasText: 'has left' }).waitFor();
  assert.equal(await p.locator('#find-another').isVisible(), true);
  assert.equal(await p.locator('#input').isDisabled(), true, 'the composer is off once the stranger left');
  assert.equal(await p.locator('#send').isDisabled(), true);
}

test('two strangers are paired, chat both ways, and Next ends it for the other', async () => {
  const al = await page();
  const bo = await page();
  await startRoulette(al, 'Al', 'Music, go');
  // The waiting screen shows the interests as the server understood them, and a Cancel button.
  assert.match(await al.locator('#waiting-interests').textContent(), /music, go/);
  assert.equal(await al.locator('#cancel').isVisible(), true);
  assert.match(await al.title(), /Looking for a stranger/);

  await startRoulette(bo, 'Bo', 'music');
  await waitForPair(al, 'Bo');
  await waitForPair(bo, 'Al');
  for (const p of [al, bo]) {
    assert.match(await p.locator('#room-topic').textContent(), /You both like music/);
    assert.equal(await p.locator('#member-count').textContent(), '2');
    assert.equal(await p.locator('#next').isVisible(), true);
    assert.equal(await p.locator('#block').isVisible(), true);
    assert.equal(await p.locator('#copy-invite').isVisible(), false);
  }

  await say(al, 'Hi stranger!');
  await waitForMessage(bo, 'Hi stranger!');
  // The typing indicator works as in rooms.
  await bo.locator('#input').pressSequentially('hey', { delay: 20 });
  await al.locator('#typing', { hasText: 'Bo is typing…' }).waitFor();
  await bo.fill('#input', '');
  await say(bo, 'Hello! Which music?');
  await waitForMessage(al, 'Hello! Which music?');
  const expected = [{ nick: 'Al', text: 'Hi stranger!' }, { nick: 'Bo', text: 'Hello! Which music?' }];
  for (const p of [al, bo]) {
    assert.deepEqual((await shownMessages(p)).map(({ nick, text }) => ({ nick, text })), expected);
  }

  // Al presses Next: he is looking again, Bo is told the stranger left.
  await al.click('#next');
  await al.locator('#waiting').waitFor({ state: 'visible' });
  await al.locator('#waiting-status', { hasText: 'in the queue' }).waitFor();
  await assertStrangerLeft(bo);
  // Bo's log stays readable.
  await waitForMessage(bo, 'Hi stranger!');

  // "Find another" queues Bo again. Al is the only one looking, and the two just parted: they are
  // held apart for a while, so Bo waits and is told nobody else is looking.
  await bo.click('#find-another');
  await bo.locator('#waiting-status', { hasText: 'Nobody else is looking right now' }).waitFor();
  for (const p of [al, bo]) {
    assert.deepEqual(await cspViolations(p), []);
    assert.deepEqual(p.problems, []);
  }
});

test('no shared interest is said out loud; Esc twice is Next in a roulette chat; Cancel leaves the queue', async () => {
  const cy = await page();
  const di = await page();
  await startRoulette(cy, 'Cy', 'chess');
  await startRoulette(di, 'Di', 'knitting');
  // The matchmaker may hold out a little for a shared interest before pairing them anyway.
  await waitForPair(cy, 'Di', 30_000);
  await waitForPair(di, 'Cy', 30_000);
  for (const p of [cy, di]) {
    assert.match(await p.locator('#room-topic').textContent(), /No shared interests/);
  }
  await say(di, 'no chess here');
  await waitForMessage(cy, 'no chess here');

  // Esc twice in a roulette chat = Next (in rooms it leaves; the first Esc only arms it).
  await di.locator('#input').click();
  await di.keyboard.press('Escape');
  await di.locator('#esc-hint', { hasText: 'Press Esc again to skip' }).waitFor();
  await di.keyboard.press('Escape');
  await di.locator('#waiting').waitFor({ state: 'visible' });
  await assertStrangerLeft(cy);

  // Cancel leaves the queue: back on the landing page, and nobody is paired with Di any more.
  await di.click('#cancel');
  await di.locator('#landing').waitFor({ state: 'visible' });
  assert.equal(await di.title(), 'Textual Chatroulette');
  await di.waitForTimeout(300); // (her `leave` reaches the server before Ed's `roulette`)
  const ed = await page();
  await startRoulette(ed, 'Ed');
  await cy.click('#find-another');
  await waitForPair(ed, 'Cy');
  await waitForPair(cy, 'Ed');
  assert.match(await ed.locator('#room-topic').textContent(), /random stranger/);
  assert.equal(await di.locator('#landing').isVisible(), true);

  // Esc on the waiting screen cancels too.
  await startRoulette(di, 'Di');
  await di.keyboard.press('Escape');
  await di.locator('#landing').waitFor({ state: 'visible' });
  for (const p of [cy, di, ed]) assert.deepEqual(p.problems, []);
});

test('Block ends the chat and the two are never paired again', async () => {
  const fay = await page();
  const gus = await page();
  await startRoulette(fay, 'Fay');
  await startRoulette(gus, 'Gus');
  await waitForPair(fay, 'Gus');
  await waitForPair(gus, 'Fay');

  await fay.click('#block');
  await fay.locator('#waiting-status', { hasText: 'in the queue' }).waitFor();
  await assertStrangerLeft(gus);
  await gus.click('#find-another');
  await gus.locator('#waiting-status', { hasText: 'in the queue' }).waitFor();
  // Both wait: they are not paired with each other.
  await fay.waitForTimeout(2_000);
  assert.equal(await fay.locator('#waiting').isVisible(), true);
  assert.equal(await gus.locator('#waiting').isVisible(), true);

  // A third visitor is paired with one of them.
  const hal = await page();
  await startRoulette(hal, 'Hal');
  await hal.locator('#chat').waitFor({ state: 'visible', timeout: TIMEOUT });
  const stranger = (await hal.locator('#room-title').textContent()).replace('Chat with ', '');
  assert.ok(['Fay', 'Gus'].includes(stranger), `Hal was paired with ${stranger}`);
  const other = stranger === 'Fay' ? gus : fay;
  assert.equal(await other.locator('#waiting').isVisible(), true);
  for (const p of [fay, gus, hal]) assert.deepEqual(p.problems, []);
});

test('bad interests are refused before anything is sent', async () => {
  const p = await page();
  await p.fill('#nick', 'Ivy');
  await p.fill('#interests', 'a, b, c, d, e, f');
  await p.click('#roulette');
  await p.locator('#interests-error', { hasText: 'At most 5' }).waitFor();
  await p.fill('#interests', 'rock & roll'); // (spaces are fine: they become hyphens)
  await p.click('#roulette');
  await p.locator('#interests-error', { hasText: 'not a valid interest' }).waitFor();
  assert.equal(await p.locator('#waiting').isVisible(), false);
  assert.equal(await p.locator('#interests').getAttribute('aria-invalid'), 'true');
  // A bad nickname is caught as for rooms.
  await p.fill('#interests', '');
  await p.fill('#nick', 'x');
  await p.click('#roulette');
  await p.locator('#nick-error').waitFor({ state: 'visible' });
  assert.equal(await p.locator('#waiting').isVisible(), false);
  assert.deepEqual(p.problems, []);
});
