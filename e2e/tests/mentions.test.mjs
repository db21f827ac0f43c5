// Mentions, the unread and mention counts in the title, the favicon dot, the opt-in alert;
// Ignore from the message menu; grouping, day separators, relative times, "Jump to latest".

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { frameTap, joinRoom, say, startRoulette, waitForMessage, waitForPair } from './browser.mjs';
import { useServerAndBrowser } from './harness.mjs';
import { freshRoom } from './scenes.mjs';

const h = useServerAndBrowser();

function messageNode(p, text) {
  return p.locator('#messages .msg', { has: p.locator('.text', { hasText: text }) });
}

// The tab is "hidden" (as if another tab were in front) while window.__hidden is true, and
// notifications are recorded in window.__notes (the page asks for them as it would the real API).
async function hideableWithNotifications(p) {
  await p.context().addInitScript(() => {
    window.__hidden = false;
    Object.defineProperty(document, 'hidden', { get: () => window.__hidden });
    window.__notes = [];
    window.Notification = class {
      constructor(title, options) { window.__notes.push({ title, body: options && options.body }); }
      close() {}
      static get permission() { return 'granted'; }
      static requestPermission() { return Promise.resolve('granted'); }
    };
  });
}

async function setHidden(p, hidden) {
  await p.evaluate((v) => { window.__hidden = v; document.dispatchEvent(new Event('visibilitychange')); }, hidden);
}

test('a mention is highlighted for the one mentioned, counted apart in the title, with a favicon dot and an alert', async () => {
  const slug = await freshRoom(h.server, { title: 'Mentions' });
  const al = await h.page();
  const bo = await h.page({}, { load: false });
  await hideableWithNotifications(bo);
  await bo.goto(h.server.url);
  await joinRoom(al, 'Al', slug);
  await joinRoom(bo, 'Bo', slug);
  // Alerts are opt-in: the header's button.
  const alerts = bo.locator('#alerts');
  assert.equal(await alerts.getAttribute('aria-pressed'), 'false');
  await alerts.click();
  assert.equal(await alerts.getAttribute('aria-pressed'), 'true');

  await setHidden(bo, true);
  await say(al, 'hello everyone');
  await waitForMessage(bo, 'hello everyone');
  await bo.waitForFunction(() => document.title === '(1) Mentions — Textual Chatroulette');
  assert.deepEqual(await bo.evaluate(() => window.__notes), [], 'no alert for a message that mentions nobody');
  await say(al, 'are you there @bo?');
  await waitForMessage(bo, 'are you there @bo?');
  await bo.waitForFunction(() => document.title === '(2 · @1) Mentions — Textual Chatroulette');
  assert.equal(await bo.getAttribute('link[rel="icon"]', 'href'), '/favicon-dot.svg');
  assert.deepEqual(await bo.evaluate(() => window.__notes), [{ title: 'Al mentioned you', body: 'are you there @bo?' }]);
  // Highlighted for Bo (the mention marked), not for Al, who wrote it.
  const mentioned = messageNode(bo, 'are you there');
  assert.match(await mentioned.getAttribute('class'), /mentions-me/);
  assert.equal(await mentioned.locator('mark.mention').textContent(), '@bo');
  assert.doesNotMatch(await messageNode(al, 'are you there').getAttribute('class'), /mentions-me/);
  assert.equal(await messageNode(al, 'are you there').locator('mark').count(), 0);
  // "@bob" or an e-mail address is not a mention of Bo.
  await say(al, 'ask @bobby or mail al@bo');
  await waitForMessage(bo, 'ask @bobby or mail al@bo');
  assert.equal(await messageNode(bo, 'ask @bobby').locator('mark').count(), 0);
  await bo.waitForFunction(() => document.title === '(3 · @1) Mentions — Textual Chatroulette');

  // Back on the tab: counts and dot gone.
  await setHidden(bo, false);
  await bo.waitForFunction(() => document.title === 'Mentions — Textual Chatroulette');
  assert.equal(await bo.getAttribute('link[rel="icon"]', 'href'), '/favicon.svg');
  assert.deepEqual(al.problems, []);
  assert.deepEqual(bo.problems, []);
});

test('in a roulette chat every message of the stranger alerts while the tab is hidden (when alerts are on)', async () => {
  const al = await h.page();
  const bo = await h.page({}, { load: false });
  await hideableWithNotifications(bo);
  await bo.goto(h.server.url);
  await startRoulette(al, 'Al');
  await startRoulette(bo, 'Bo');
  await waitForPair(al, 'Bo');
  await waitForPair(bo, 'Al');
  await say(al, 'said while Bo looks');
  await waitForMessage(bo, 'said while Bo looks');
  await setHidden(bo, true);
  await say(al, 'said while alerts are off');
  await waitForMessage(bo, 'said while alerts are off');
  assert.deepEqual(await bo.evaluate(() => window.__notes), []);
  await setHidden(bo, false);
  await bo.click('#alerts');
  await setHidden(bo, true);
  await say(al, 'hello stranger');
  await waitForMessage(bo, 'hello stranger');
  assert.deepEqual(await bo.evaluate(() => window.__notes), [{ title: 'Al wrote to you', body: 'hello stranger' }]);
  await bo.waitForFunction(() => document.title.startsWith('(1) Chat with Al'));
  assert.deepEqual(bo.problems, []);
});

test('Ignore from the message menu, by keyboard, hides one nickname for the session', async () => {
  const slug = await freshRoom(h.server, { title: 'Ignore' });
  const al = await h.page();
  const bo = await h.page();
  const cy = await h.page();
  await joinRoom(al, 'Al', slug);
  await joinRoom(bo, 'Bo', slug);
  await joinRoom(cy, 'Cy', slug);
  await say(cy, 'first pitch');
  await waitForMessage(al, 'first pitch');
  // The menu: focus its button, Enter opens it with the first action focused; End then Enter.
  const action = messageNode(al, 'first pitch').locator('.msg-action');
  assert.equal(await action.getAttribute('aria-label'), 'Actions for this message from Cy');
  await action.focus();
  await al.keyboard.press('Enter');
  const menu = al.locator('.msg-menu[role="menu"]');
  await menu.waitFor();
  assert.equal(await al.evaluate(() => document.activeElement.textContent), 'Reply');
  const labels = await menu.locator('[role="menuitem"]').allTextContents();
  assert.deepEqual(labels, ['Reply', 'Report', 'Ignore Cy']);
  await al.keyboard.press('End');
  assert.equal(await al.evaluate(() => document.activeElement.textContent), 'Ignore Cy');
  await al.keyboard.press('Enter');
  await menu.waitFor({ state: 'detached' });
  await messageNode(al, 'first pitch').waitFor({ state: 'hidden' });
  await al.locator('#messages .system', { hasText: 'You are ignoring Cy' }).waitFor();
  // Esc in the menu closes only the menu (the chat is not left).
  await say(bo, 'hi all');
  await waitForMessage(al, 'hi all');
  await messageNode(al, 'hi all').locator('.msg-action').click();
  await menu.waitFor();
  await al.keyboard.press('Escape');
  await menu.waitFor({ state: 'detached' });
  assert.equal(await al.locator('#esc-hint').isVisible(), false);
  assert.equal(await al.evaluate(() => document.activeElement.className), 'msg-action');

  // Cy's next message stays hidden for Al (and is not counted), Bo sees it.
  await say(cy, 'second pitch');
  await waitForMessage(bo, 'second pitch');
  await say(bo, 'after the pitch');
  await waitForMessage(al, 'after the pitch');
  assert.equal(await messageNode(al, 'second pitch').isVisible(), false);
  assert.equal(await al.locator('#new-messages').isVisible(), false);
  // One's own message offers Edit and Delete (within the window), never Report or Ignore.
  await say(al, 'my own words');
  await messageNode(al, 'my own words').locator('.msg-action').click();
  assert.deepEqual(await menu.locator('[role="menuitem"]').allTextContents(), ['Reply', 'Edit', 'Delete']);
  await al.keyboard.press('Escape');
  // Show again: both come back.
  await al.locator('#messages .system button', { hasText: 'Show again' }).click();
  await messageNode(al, 'first pitch').waitFor({ state: 'visible' });
  await messageNode(al, 'second pitch').waitFor({ state: 'visible' });
  for (const p of [al, bo, cy]) assert.deepEqual(p.problems, []);
});

test('consecutive messages are grouped, days separated, times relative with the exact time on hover, and Jump to latest', async () => {
  const slug = await freshRoom(h.server, { title: 'Reading' });
  const yesterday = new Date(Date.now() - 86_400_000).toISOString();
  const al = await h.page({}, { load: false });
  // The history of `joined` gains a message of yesterday (as a room's history spanning midnight).
  const tap = await frameTap(al.context(), (f) => {
    if (f.type === 'joined') {
      f.history.unshift({ id: '01HZZZZZZZZZZZZZZZZZZZZZZ0', room: f.room, nick: 'Night', text: 'late last night', at: yesterday, staff: false });
    }
    return f;
  });
  await al.goto(h.server.url);
  const bo = await h.page();
  await joinRoom(bo, 'Bo', slug);
  await joinRoom(al, 'Al', slug);
  await say(bo, 'one');
  await say(bo, 'two');
  await say(bo, 'three');
  await say(al, 'four');
  await waitForMessage(al, 'three');
  await waitForMessage(al, 'four');
  const classes = await al.evaluate(() => [...document.querySelectorAll('#messages .msg')].map((n) => [n.querySelector('.text').textContent, n.classList.contains('grouped')]));
  assert.deepEqual(classes, [['late last night', false], ['one', false], ['two', true], ['three', true], ['four', false]]);
  // The name is still read on grouped messages ("Bo, 5:27 PM: two").
  assert.match(await messageNode(al, 'two').locator('.meta').textContent(), /^Bo, /);
  assert.deepEqual(await al.locator('#messages .day-sep').allTextContents(), ['Yesterday', 'Today']);
  const time = messageNode(al, 'one').locator('time');
  assert.equal(await time.locator('.rel').textContent(), 'just now');
  assert.match(await time.getAttribute('title'), /\d{1,2}:\d{2}:\d{2}/);

  // Many messages; scrolled up, a way back down.
  for (let i = 0; i < 40; i += 1) {
    tap.inject({ type: 'message', id: `01HZZZZZZZZZZZZZZZZZZZZ${String(i).padStart(3, '0')}`.slice(0, 26), room: slug, nick: 'Bo', text: `filler ${i}`, at: new Date().toISOString(), staff: false });
  }
  await waitForMessage(al, 'filler 39');
  await al.evaluate(() => { document.getElementById('messages').scrollTop = 0; });
  const jump = al.locator('#new-messages');
  await jump.waitFor({ state: 'visible' });
  assert.equal(await jump.textContent(), 'Jump to latest ↓');
  await jump.click();
  await jump.waitFor({ state: 'hidden' });
  assert.ok(await al.evaluate(() => { const m = document.getElementById('messages'); return m.scrollHeight - m.scrollTop - m.clientHeight < 48; }));
  assert.deepEqual(al.problems, []);
});
