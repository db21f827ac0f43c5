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
 * The chat screen as `nick` sees it, in a context with `contextOptions` (viewport, colorScheme,
 * bypassCSP…), after a short conversation with two others. Returns { page, others }.
 */
export async function chatScene(browser, server, contextOptions, { nick = 'Alice', beforeLoad } = {}) {
  const slug = await freshRoom(server);
  const page = await openPage(browser, null, contextOptions);
  if (beforeLoad) await beforeLoad(page);
  await gotoLanding(page, server.url);
  await page.locator(`#rooms .room[data-slug="${slug}"]`).waitFor();
  const bob = await openPage(browser, server.url);
  const carol = await openPage(browser, server.url);
  await joinRoom(bob, 'Bob', slug);
  await joinRoom(carol, 'Carol_92', slug);
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
