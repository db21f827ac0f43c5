// Server settings the client follows: the edit window (EDIT_WINDOW_SECS=3 here; past it the
// server refuses an edit, `edit_window_over`, said next to the message in the client's words,
// and the menu stops offering Edit and Delete) and the reactions offered (REACTIONS).

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { joinRoom, say, waitForMessage } from './browser.mjs';
import { useServerAndBrowser } from './harness.mjs';
import { freshRoom } from './scenes.mjs';

const h = useServerAndBrowser({ env: { EDIT_WINDOW_SECS: '3', REACTIONS: '🎉,🔥,👀' } });

/** Al and Bo in a fresh room. */
async function pair(title) {
  const slug = await freshRoom(h.server, { title });
  const al = await h.page();
  const bo = await h.page();
  await joinRoom(al, 'Al', slug);
  await joinRoom(bo, 'Bo', slug);
  return { al, bo };
}

function messageNode(p, text) {
  return p.locator('#messages .msg', { has: p.locator('.text', { hasText: text }) });
}

test('an edit after the window is refused next to the message, and the menu offers it no more', async () => {
  const { al, bo } = await pair('Window');
  await say(al, 'typo in thsi one');
  await waitForMessage(bo, 'typo in thsi one');
  const msg = messageNode(al, 'typo in thsi one');
  await msg.locator('.msg-action').click();
  await al.locator('.msg-menu [role="menuitem"]', { hasText: 'Edit' }).click();
  const area = msg.locator('.edit-form textarea');
  await area.fill('typo in this one');
  // Past the window (the server's, 3 s from sending) before saving.
  await al.waitForFunction((at) => Date.now() - Date.parse(at) > 3_500, await msg.getAttribute('data-at'), { timeout: 10_000 });
  await al.keyboard.press('Enter');
  await msg.locator('.msg-error', { hasText: 'Too late to edit this message: messages can be changed for 3 seconds after sending.' }).waitFor();
  // The editor works again (it could be cancelled), Bo still sees the original.
  assert.equal(await area.isDisabled(), false);
  assert.equal(await messageNode(bo, 'typo in thsi one').count(), 1);
  await al.keyboard.press('Escape');
  await msg.locator('.msg-action').click();
  assert.deepEqual(await al.locator('.msg-menu [role="menuitem"]').allTextContents(), ['Reply']);
  assert.deepEqual(al.problems, []);
});

test('the reaction picker offers the server\'s REACTIONS, and a chip of one counts', async () => {
  const { al, bo } = await pair('Picker');
  await say(bo, 'launch day!');
  await waitForMessage(al, 'launch day!');
  await messageNode(al, 'launch day!').locator('.msg-action').click();
  const emoji = al.locator('.msg-menu .menu-emoji');
  assert.deepEqual(await emoji.allTextContents(), ['🎉', '🔥', '👀']);
  assert.equal(await emoji.first().getAttribute('aria-label'), 'React with 🎉');
  await emoji.nth(1).click();
  await messageNode(bo, 'launch day!').locator('.reaction[data-emoji="🔥"] .n', { hasText: '1' }).waitFor();
  assert.deepEqual(al.problems, []);
});
