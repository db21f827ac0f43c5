// House rules (HOUSE_RULES in the server's environment): shown on the landing page with their
// line breaks, and nothing is sent until the visitor accepted them; acceptance is remembered for
// the tab's session.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { joinRoom, say, waitForMessage, waitForMember, gotoLanding } from './browser.mjs';
import { useServerAndBrowser } from './harness.mjs';

const RULES = 'Be kind.\nNo spam.';
// As an operator writes it in .env: `\n` stands for a line break.
const RULES_ENV = 'Be kind.\\nNo spam.';

const h = useServerAndBrowser({ env: { HOUSE_RULES: RULES_ENV } });
const page = () => h.page();

test('the house rules are shown on the landing page, line breaks kept', async () => {
  const p = await page();
  await p.locator('#rules-card').waitFor({ state: 'visible' });
  assert.equal(await p.locator('#rules-text').textContent(), RULES);
  const lines = await p.locator('#rules-text').evaluate((n) => {
    const lh = parseFloat(getComputedStyle(n).lineHeight);
    return Math.round(n.getBoundingClientRect().height / lh);
  });
  assert.equal(lines, 2);
  assert.equal(await p.locator('#rules-check').isChecked(), false);
  // The anonymity / staff-can-read note stays.
  assert.match(await p.locator('.intro').textContent(), /anonymous/);
  assert.match(await p.locator('.intro').textContent(), /Discord/);
  assert.deepEqual(p.problems, []);
});

test('nothing is sent until the rules are accepted', async () => {
  const alice = await page();
  const bob = await page();
  await alice.locator('#rules-card').waitFor({ state: 'visible' });
  await joinRoom(alice, 'Alice', 'lobby');
  await joinRoom(bob, 'Bob', 'lobby');
  await waitForMember(bob, 'Alice');

  // Alice did not tick the box: her first message waits behind the rules.
  await alice.fill('#input', 'hello everyone');
  await alice.press('#input', 'Enter');
  const gate = alice.locator('#rules-gate');
  await gate.waitFor({ state: 'visible' });
  assert.equal(await alice.locator('#rules-gate-text').textContent(), RULES);
  assert.equal(await alice.evaluate(() => document.activeElement.id), 'rules-accept');
  assert.equal(await alice.locator('#input').inputValue(), 'hello everyone', 'the text is kept');
  await bob.waitForTimeout(500);
  assert.equal(await bob.locator('#messages .msg').count(), 0, 'nothing reached the room');
  assert.equal(await alice.locator('#messages .msg').count(), 0);

  // Accepting sends it.
  await alice.click('#rules-accept');
  await waitForMessage(bob, 'hello everyone');
  await waitForMessage(alice, 'hello everyone');
  await gate.waitFor({ state: 'hidden' });
  await say(alice, 'and again, no questions asked');
  await waitForMessage(bob, 'and again, no questions asked');

  // Remembered for this tab: after a reload the box is ticked.
  await alice.click('#leave');
  await gotoLanding(alice, h.server.url);
  await alice.locator('#rules-card').waitFor({ state: 'visible' });
  await alice.waitForFunction(() => document.getElementById('rules-check').checked);
  assert.deepEqual(alice.problems, []);
  assert.deepEqual(bob.problems, []);
});

test('ticking the box on the landing page accepts them up front', async () => {
  const carol = await page();
  const dan = await page();
  await carol.locator('#rules-card').waitFor({ state: 'visible' });
  await carol.check('#rules-check');
  await joinRoom(carol, 'Carol', 'chill');
  await joinRoom(dan, 'Dan', 'chill');
  await say(carol, 'hi, rules accepted already');
  await waitForMessage(dan, 'hi, rules accepted already');
  assert.equal(await carol.locator('#rules-gate').isVisible(), false);
  assert.deepEqual(carol.problems, []);
});
