// Builds the two screens in a realistic state, for the accessibility checks and the screenshots.

import { runCli, waitForRooms } from './server.mjs';
import {
  openPage, gotoLanding, joinRoom, say, waitForMessage, waitForMember, startRoulette, waitForPair,
} from './browser.mjs';

let roomSeq = 0;

/** A fresh listed room (so each chat scene starts with an empty history). */
export async function freshRoom(server, { title = 'Night Owls', topic = 'Late talk for the sleepless.', capacity = 12 } = {}) {
  roomSeq += 1;
  const slug = `scene-${roomSeq}`;
  await runCli(server.cwd, ['rooms', 'add', slug, '--capacity', String(capacity), '--title', title, '--topic', topic]);
  await waitForRooms(server.url, (list) => list.some((r) => r.slug === slug));
  return slug;
}

/**
 * The visitor's page (with `contextOptions`) on the landing page showing room `slug`, and Bob
 * and Carol_92 in that room.
 */
async function withBobAndCarol(browser, server, contextOptions, slug, beforeLoad = null) {
  const page = await openPage(browser, null, contextOptions);
  if (beforeLoad) await beforeLoad(page);
  await gotoLanding(page, server.url);
  await page.locator(`#rooms .room[data-slug="${slug}"]`).waitFor();
  const bob = await openPage(browser, server.url);
  const carol = await openPage(browser, server.url);
  await joinRoom(bob, 'Bob', slug);
  await joinRoom(carol, 'Carol_92', slug);
  return { page, bob, carol };
}

/**
 * The chat screen as `nick` sees it, in a context with `contextOptions` (viewport, colorScheme,
 * bypassCSP…), after a short conversation with two others. Returns { page, others }.
 */
export async function chatScene(browser, server, contextOptions, { nick = 'Alice', beforeLoad } = {}) {
  const slug = await freshRoom(server);
  const { page, bob, carol } = await withBobAndCarol(browser, server, contextOptions, slug, beforeLoad);
  await say(bob, 'Evening all! Anyone else up this late?');
  await joinRoom(page, nick, slug);
  await waitForMember(page, 'Carol_92');
  await say(carol, 'Always. Coffee number three.');
  await waitForMessage(page, 'Always. Coffee number three.');
  await say(page, 'Hi both 👋 first time here.');
  await say(bob, 'Welcome! Two lines work too:\nShift+Enter makes a new line.');
  await waitForMessage(page, 'Welcome! Two lines work too:\nShift+Enter makes a new line.');
  await say(carol, 'A long one, to see wrapping: ' + 'the quick brown fox jumps over the lazy dog, '.repeat(4).trim());
  await waitForMessage(page, 'A long one, to see wrapping: ' + 'the quick brown fox jumps over the lazy dog, '.repeat(4).trim());
  await say(page, '<b>not bold</b> — markup stays text');
  // Bob starts typing, so the indicator is part of the picture. (The server relays one typing
  // frame per 2 s per person, and Bob's last one came with his last message: wait that out.)
  await bob.waitForTimeout(2_100);
  await bob.locator('#input').pressSequentially('hm', { delay: 20 });
  await page.locator('#typing', { hasText: 'Bob is typing' }).waitFor();
  await page.locator('#input').fill('Drafting a reply…');
  return { page, others: [bob, carol] };
}

/**
 * Roulette as `nick` sees it, in stages: `waiting()` (looking for a stranger), then `paired()`
 * (a short chat with Bob, who shares one interest), then `ended()` (Bob pressed Next).
 */
export async function rouletteScene(browser, server, contextOptions, { nick = 'Alice', offerAfterMs = 0 } = {}) {
  const page = await openPage(browser, null, contextOptions);
  // With `offerAfterMs`, the waiting screen offers the Lobby that soon (instead of after 20 s).
  if (offerAfterMs) await page.context().addInitScript((ms) => { window.__chatTuning = { waitOfferMs: ms }; }, offerAfterMs);
  await gotoLanding(page, server.url);
  let bob = null;
  return {
    page,
    others: () => (bob ? [bob] : []),
    async waiting() {
      await startRoulette(page, nick, 'music, films, go');
      await page.locator('#waiting-status', { hasText: 'in the queue' }).waitFor();
      if (offerAfterMs) await page.locator('#waiting-offer').waitFor({ state: 'visible' });
    },
    async paired() {
      bob = await openPage(browser, server.url);
      await startRoulette(bob, 'Bob', 'music, chess');
      await waitForPair(page, 'Bob');
      await say(bob, 'Hi! Music fan too, I see. What are you listening to?');
      await waitForMessage(page, 'Hi! Music fan too, I see. What are you listening to?');
      await say(page, 'Mostly old jazz records 🎷');
      await waitForMessage(bob, 'Mostly old jazz records 🎷');
    },
    async ended() {
      await bob.click('#next');
      await page.locator('#ended', { hasText: 'has left' }).waitFor();
    },
  };
}

/**
 * A room moderators just locked, as `nick` sees it: a short chat with a link in it, then the
 * lock (learnt from the room's API within a few seconds), the composer off. Returns { page, others }.
 */
export async function lockedScene(browser, server, contextOptions, { nick = 'Alice' } = {}) {
  const slug = await freshRoom(server, { title: 'Book club', topic: 'This month: anything by Ursula K. Le Guin.' });
  const page = await openPage(browser, null, contextOptions);
  await gotoLanding(page, server.url);
  await page.locator(`#rooms .room[data-slug="${slug}"]`).waitFor();
  const bob = await openPage(browser, server.url);
  await joinRoom(bob, 'Bob', slug);
  await joinRoom(page, nick, slug);
  await say(bob, 'Reading list is up: https://example.com/reading-list');
  await waitForMessage(page, 'Reading list is up: https://example.com/reading-list');
  await say(page, 'Thanks! Starting with The Dispossessed.');
  await page.locator('#input').fill('Half-written reply…');
  await runCli(server.cwd, ['rooms', 'edit', slug, '--locked', 'true']);
  await page.locator('#messages .system', { hasText: 'locked by moderators' }).waitFor({ timeout: 15_000 });
  return { page, others: [bob] };
}

/** The landing screen with a nickname typed, in a context with `contextOptions`. */
export async function landingScene(browser, server, contextOptions, { nick = 'Alice' } = {}) {
  const page = await openPage(browser, null, contextOptions);
  await gotoLanding(page, server.url);
  if (nick) await page.fill('#nick', nick);
  return page;
}

export async function closeAll(...pages) {
  for (const p of pages.flat()) await p?.context().close().catch(() => {});
}

/** Opens the menu of `page`'s message showing `text` and presses `label` (an action or an emoji). */
export async function messageAction(page, text, label) {
  const node = page.locator('#messages .msg', { has: page.locator('.text', { hasText: text }) });
  await node.locator('.msg-action').click();
  await page.locator('.msg-menu').waitFor();
  await page.locator('.msg-menu [role^="menuitem"]', { hasText: label }).click();
}

/**
 * A conversation as `nick` sees it: grouped messages, a mention of her, reactions (hers
 * highlighted), her reply with its quote, an edited message and a deleted one; with `menu`, the
 * menu of Carol's message open. Returns { page, others }.
 */
export async function conversationScene(browser, server, contextOptions, { nick = 'Alice', menu = false } = {}) {
  const slug = await freshRoom(server, { title: 'Weekend plans', topic: 'Hikes, films, whatever is on.' });
  const { page, bob, carol } = await withBobAndCarol(browser, server, contextOptions, slug);
  await joinRoom(page, nick, slug);
  await waitForMember(page, 'Carol_92');
  await say(bob, 'Anyone up for a hike on Saturday?');
  await say(bob, 'Thinking of the ridge trail, about 12 km.');
  await waitForMessage(carol, 'Thinking of the ridge trail, about 12 km.');
  await messageAction(carol, 'Anyone up for a hike', '👍');
  await messageAction(carol, 'Anyone up for a hike', '❤️');
  await waitForMessage(page, 'Thinking of the ridge trail, about 12 km.');
  await page.locator('#messages .reaction[data-emoji="❤️"]').waitFor();
  await messageAction(page, 'Anyone up for a hike', '👍');
  await page.locator('#messages .reaction.mine[data-emoji="👍"]').waitFor();
  await say(carol, `@${nick} you know the area, right?`);
  await waitForMessage(page, `@${nick} you know the area, right?`);
  await messageAction(page, 'you know the area', 'Reply');
  await say(page, 'I do! The ridge is lovely early in the morning.');
  await say(bob, 'oops, wrong room');
  await messageAction(bob, 'oops, wrong room', 'Delete');
  await bob.locator('.confirm-delete .danger').click();
  await page.locator('#messages .msg.deleted').waitFor();
  await say(carol, 'Whoever brings coffee wins');
  await messageAction(carol, 'Whoever brings coffee wins', 'Edit');
  await carol.locator('.edit-form textarea').fill('Whoever brings the coffee wins ☕');
  await carol.keyboard.press('Enter');
  await waitForMessage(page, 'Whoever brings the coffee wins ☕');
  await page.locator('#messages .edited-mark').waitFor();
  await page.evaluate(() => { const m = document.getElementById('messages'); m.scrollTop = m.scrollHeight; });
  if (menu) {
    const node = page.locator('#messages .msg', { has: page.locator('.text', { hasText: 'Whoever brings the coffee' }) });
    await node.locator('.msg-action').click();
    await page.locator('.msg-menu').waitFor();
  }
  return { page, others: [bob, carol] };
}
