// Replies, reactions, editing and deleting one's own message, against the real server: each
// through the message menu (by keyboard where it matters), seen by both sides.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { frameTap, joinRoom, say, waitForMessage } from './browser.mjs';
import { useServerAndBrowser } from './harness.mjs';
import { freshRoom } from './scenes.mjs';

const h = useServerAndBrowser();

function messageNode(p, text) {
  return p.locator('#messages .msg', { has: p.locator('.text', { hasText: text }) });
}

/** Opens the menu of the message showing `text` and presses its item `label`. */
async function menuAction(p, text, label) {
  await messageNode(p, text).locator('.msg-action').click();
  await p.locator('.msg-menu').waitFor();
  await p.locator('.msg-menu [role^="menuitem"]', { hasText: label }).click();
}

async function pair(title) {
  const slug = await freshRoom(h.server, { title });
  const al = await h.page();
  const bo = await h.page();
  await joinRoom(al, 'Al', slug);
  await joinRoom(bo, 'Bo', slug);
  return { slug, al, bo };
}

test('a reply shows its quote on both sides; the quote goes to the original, or says it was deleted', async () => {
  const { al, bo } = await pair('Replies');
  await say(bo, 'what time is the meetup on Saturday?');
  await waitForMessage(al, 'what time is the meetup on Saturday?');
  await say(bo, 'and where?');
  await waitForMessage(al, 'and where?');

  // Reply from the menu: the bar above the composer, the focus in it.
  await menuAction(al, 'what time is the meetup', 'Reply');
  const bar = al.locator('#reply-bar');
  await bar.waitFor();
  assert.equal(await bar.locator('#reply-bar-text').textContent(), 'Replying to Bo: what time is the meetup on Saturday?');
  assert.equal(await al.evaluate(() => document.activeElement.id), 'input');
  // Esc clears the reply first; the draft stays, the chat is not left.
  await al.locator('#input').fill('at seven');
  await al.keyboard.press('Escape');
  await bar.waitFor({ state: 'hidden' });
  assert.equal(await al.locator('#input').inputValue(), 'at seven');
  assert.equal(await al.locator('#esc-hint').isVisible(), false);
  // Again, by keyboard, and sent.
  await messageNode(al, 'what time is the meetup').locator('.msg-action').focus();
  await al.keyboard.press('Enter');
  await al.keyboard.press('Enter'); // "Reply" is focused first
  await bar.waitFor();
  await al.keyboard.press('Enter');
  await bar.waitFor({ state: 'hidden' });
  for (const p of [al, bo]) {
    await waitForMessage(p, 'at seven');
    const quote = messageNode(p, 'at seven').locator('.reply-quote');
    assert.equal(await quote.locator('.quote-nick').textContent(), 'Bo');
    assert.equal(await quote.locator('.excerpt').textContent(), 'what time is the meetup on Saturday?');
  }
  // The quote goes to the original (focused, highlighted).
  await messageNode(bo, 'at seven').locator('.reply-quote').click();
  await bo.waitForFunction(() => document.activeElement.classList.contains('msg')
    && document.activeElement.querySelector('.text').textContent.startsWith('what time'));

  // Bo takes his question back: a placeholder for both, and the quote says so.
  await menuAction(bo, 'what time is the meetup', 'Delete');
  const confirm = bo.locator('.confirm-delete');
  await confirm.waitFor();
  assert.equal(await bo.evaluate(() => document.activeElement.textContent), 'Delete');
  await bo.keyboard.press('Enter');
  for (const p of [al, bo]) {
    await p.locator('#messages .msg.deleted .text', { hasText: 'message deleted' }).waitFor();
    assert.equal(await messageNode(p, 'what time is the meetup').count(), 0);
  }
  await messageNode(al, 'at seven').locator('.reply-quote').click();
  await al.locator('.reply-note', { hasText: 'The original message was deleted.' }).waitFor();

  // A reply being written when its original is deleted says so, and goes out as a plain message.
  await menuAction(al, 'and where?', 'Reply');
  await al.locator('#input').fill('by the lake');
  await menuAction(bo, 'and where?', 'Delete');
  await bo.locator('.confirm-delete .danger').click();
  await bar.locator('#reply-bar-text', { hasText: 'you were replying to was deleted' }).waitFor();
  await al.keyboard.press('Enter');
  await waitForMessage(bo, 'by the lake');
  assert.equal(await messageNode(bo, 'by the lake').locator('.reply-quote').count(), 0);
  assert.deepEqual(al.problems, []);
  assert.deepEqual(bo.problems, []);
});

test('reactions: chosen from the menu, shown as chips with counts, mine highlighted, toggled by click and keyboard', async () => {
  const { al, bo } = await pair('Reactions');
  await say(bo, 'pizza tonight?');
  await waitForMessage(al, 'pizza tonight?');
  // The picker offers hello.limits.reactions.
  await messageNode(al, 'pizza tonight?').locator('.msg-action').click();
  assert.deepEqual(await al.locator('.msg-menu .menu-emoji').allTextContents(), ['👍', '❤️', '😂', '😮', '😢', '👎']);
  await al.locator('.msg-menu .menu-emoji', { hasText: '👍' }).click();
  const chip = (p) => messageNode(p, 'pizza tonight?').locator('.reaction[data-emoji="👍"]');
  await chip(al).locator('.n', { hasText: '1' }).waitFor();
  await chip(bo).locator('.n', { hasText: '1' }).waitFor();
  assert.equal(await chip(al).getAttribute('aria-pressed'), 'true');
  assert.equal(await chip(bo).getAttribute('aria-pressed'), 'false');
  // Bo adds his by clicking the chip: 2 for both, each one's own still marked.
  await chip(bo).click();
  await chip(al).locator('.n', { hasText: '2' }).waitFor();
  await chip(bo).locator('.n', { hasText: '2' }).waitFor();
  assert.equal(await chip(bo).getAttribute('aria-pressed'), 'true');
  assert.equal(await chip(al).getAttribute('aria-pressed'), 'true');
  // Al takes hers back by keyboard.
  await chip(al).focus();
  await al.keyboard.press('Enter');
  await chip(bo).locator('.n', { hasText: '1' }).waitFor();
  await chip(al).locator('.n', { hasText: '1' }).waitFor();
  assert.equal(await chip(al).getAttribute('aria-pressed'), 'false');
  // The menu shows which are mine.
  await messageNode(bo, 'pizza tonight?').locator('.msg-action').click();
  assert.equal(await bo.locator('.msg-menu .menu-emoji', { hasText: '👍' }).getAttribute('aria-checked'), 'true');
  await bo.keyboard.press('Escape');
  assert.deepEqual(al.problems, []);
  assert.deepEqual(bo.problems, []);
});

test('staff reactions from Discord are marked and cannot be toggled from the web', async () => {
  const slug = await freshRoom(h.server, { title: 'Staff reactions' });
  const al = await h.page({}, { load: false });
  // The frame the server sends when a moderator reacts in Discord (server tests cover the path).
  const tap = await frameTap(al.context());
  await al.goto(h.server.url);
  await joinRoom(al, 'Al', slug);
  await say(al, 'is this allowed here?');
  const id = await messageNode(al, 'is this allowed here?').getAttribute('data-id');
  tap.inject({ type: 'reactions', id, counts: { '👍': 1 }, staff: ['✅'] });
  const staffChip = messageNode(al, 'is this allowed here?').locator('.reaction.staff[data-emoji="✅"]');
  await staffChip.waitFor();
  assert.equal(await staffChip.evaluate((n) => n.tagName), 'SPAN');
  assert.equal(await staffChip.getAttribute('aria-label'), '✅ from the moderators');
  assert.match(await staffChip.textContent(), /staff/);
  assert.deepEqual(al.problems, []);
});

test('one\'s own message is edited inline (Enter saves, Esc cancels) and marked edited for everyone', async () => {
  const { al, bo } = await pair('Edits');
  await say(al, 'helo world');
  await waitForMessage(bo, 'helo world');
  // Someone else's message offers no Edit or Delete.
  await messageNode(bo, 'helo world').locator('.msg-action').click();
  const items = await bo.locator('.msg-menu [role="menuitem"]').allTextContents();
  assert.ok(!items.includes('Edit') && !items.includes('Delete'), items.join());
  await bo.keyboard.press('Escape');

  // Esc cancels an edit without leaving the chat.
  await menuAction(al, 'helo world', 'Edit');
  const area = messageNode(al, 'helo world').locator('.edit-form textarea');
  await area.waitFor();
  assert.equal(await area.inputValue(), 'helo world');
  await area.fill('something else');
  await al.keyboard.press('Escape');
  await area.waitFor({ state: 'detached' });
  assert.equal(await al.locator('#esc-hint').isVisible(), false);
  assert.equal(await messageNode(al, 'helo world').locator('.text').textContent(), 'helo world');

  // Enter saves: both see the new text and "(edited)" with the time on hover.
  await menuAction(al, 'helo world', 'Edit');
  await area.fill('hello world');
  await al.keyboard.press('Enter');
  for (const p of [al, bo]) {
    await waitForMessage(p, 'hello world');
    const mark = messageNode(p, 'hello world').locator('.edited-mark');
    await mark.waitFor();
    assert.equal(await mark.textContent(), '(edited)');
    assert.match(await mark.getAttribute('title'), /^Edited /);
  }
  assert.equal(await messageNode(al, 'hello world').locator('.edit-form').count(), 0);
  // An empty edit is not sent: Delete is the way to take it back.
  await menuAction(al, 'hello world', 'Edit');
  await messageNode(al, 'hello world').locator('.edit-form textarea').fill('   ');
  await al.keyboard.press('Enter');
  await messageNode(al, 'hello world').locator('.msg-error', { hasText: 'use Delete' }).waitFor();
  assert.deepEqual(al.problems, []);
  assert.deepEqual(bo.problems, []);
});
