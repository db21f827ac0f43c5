// Visitor-made rooms: one visitor opens a room, copies its invite link; a second visitor opens the
// link, sees the invitation, joins, and they chat. Plus the refusals and a dead invite link.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { startServer, waitForRooms, removeWorkDir } from './server.mjs';
import {
  gotoLanding, say, waitForMessage, waitForMember, roomItem, cspViolations,
} from './browser.mjs';
import { useServerAndBrowser } from './harness.mjs';

const h = useServerAndBrowser();
const page = (url, contextOptions = {}) => h.page(contextOptions, { url });

/** Opens the "New room" disclosure (closed at first: a secondary action) unless it is open. */
async function openCreate(p) {
  if (!(await p.locator('#create-title').isVisible())) await p.click('#create-toggle');
  await p.locator('#create-title').waitFor({ state: 'visible' });
}

/** Fills the "New room" form and submits it; waits for the chat screen of the new room. */
async function createRoom(p, nick, { title, capacity, listed = false }) {
  await p.fill('#nick', nick);
  await openCreate(p);
  await p.fill('#create-title', title);
  await p.fill('#create-capacity', String(capacity));
  await p.setChecked('#create-listed', listed);
  await p.click('#create');
  await p.locator('#chat').waitFor({ state: 'visible' });
  await p.locator('#messages .system', { hasText: `as ${nick}` }).waitFor();
}

test('a visitor opens a room, shares the invite link, and a second visitor joins through it', async () => {
  const alice = await page(null);
  await alice.context().grantPermissions(['clipboard-read', 'clipboard-write'], { origin: h.server.url });
  await gotoLanding(alice, h.server.url);
  await createRoom(alice, 'Alice', { title: 'Movie night', capacity: 3 });
  assert.equal(await alice.locator('#room-title').textContent(), 'Movie night');
  assert.match(await alice.title(), /^Movie night — /);
  assert.equal(await alice.locator('#next').isVisible(), false);

  // "Copy invite link" puts the full URL on the clipboard and says so.
  await alice.click('#copy-invite');
  await alice.locator('#copy-status', { hasText: 'Copied' }).waitFor();
  const invite = await alice.evaluate(() => navigator.clipboard.readText());
  assert.match(invite, new RegExp(`^${h.server.url}/\\?room=[a-z0-9-]+$`));
  const slug = new URL(invite).searchParams.get('room');

  // Unlisted (the default): not in the public room list.
  const rooms = await (await fetch(`${h.server.url}/api/rooms`)).json();
  assert.ok(!rooms.some((r) => r.slug === slug), 'an unlisted room stays out of the list');

  // Bob opens the link: he is invited, with a Join button next to the nickname field.
  const bob = await page(invite);
  await bob.locator('#invite', { hasText: "You're invited to Movie night" }).waitFor();
  assert.match(await bob.locator('#invite-count').textContent(), /1 of 3 places taken/);
  await bob.fill('#nick', 'Bob');
  await bob.click('#invite-join');
  await bob.locator('#chat').waitFor({ state: 'visible' });
  assert.equal(await bob.locator('#room-title').textContent(), 'Movie night');
  await waitForMember(alice, 'Bob');
  await waitForMember(bob, 'Alice');
  // Bob can pass the link on too.
  assert.equal(await bob.locator('#copy-invite').isVisible(), true);

  await say(bob, 'Popcorn is ready.');
  await waitForMessage(alice, 'Popcorn is ready.');
  await say(alice, 'Starting the film!');
  await waitForMessage(bob, 'Starting the film!');
  for (const p of [alice, bob]) {
    assert.deepEqual(await cspViolations(p), []);
    assert.deepEqual(p.problems, []);
  }
});

test('without clipboard access the link is shown selected in a read-only field', async () => {
  const alice = await page();
  await createRoom(alice, 'Alice', { title: 'No clipboard', capacity: 2 });
  await alice.evaluate(() => {
    Object.defineProperty(navigator, 'clipboard', { value: undefined, configurable: true });
  });
  await alice.click('#copy-invite');
  const field = alice.locator('#invite-url');
  await field.waitFor({ state: 'visible' });
  assert.match(await field.inputValue(), new RegExp(`^${h.server.url}/\\?room=[a-z0-9-]+$`));
  assert.equal(await field.getAttribute('readonly'), '');
  assert.equal(await alice.evaluate(() => document.activeElement.id), 'invite-url');
  assert.ok((await alice.locator('#copy-status').textContent()).length > 0);
  assert.deepEqual(alice.problems, []);
});

test('a listed room shows in the room list', async () => {
  const alice = await page();
  await createRoom(alice, 'Alice', { title: 'Open house', capacity: 4, listed: true });
  const list = await waitForRooms(h.server.url, (l) => l.some((r) => r.title === 'Open house'));
  const slug = list.find((r) => r.title === 'Open house').slug;
  const bob = await page();
  await roomItem(bob, slug).locator('.room-count', { hasText: '1 / 4' }).waitFor();
  await bob.fill('#nick', 'Bob');
  await roomItem(bob, slug).locator('.join').click();
  await bob.locator('#chat').waitFor({ state: 'visible' });
  await say(bob, 'found it in the list');
  await waitForMessage(alice, 'found it in the list');
  assert.deepEqual(bob.problems, []);
});

test('bad room settings are refused with a clear message', async () => {
  const p = await page();
  await p.fill('#nick', 'Carol');
  await openCreate(p);
  await p.fill('#create-title', '');
  await p.click('#create');
  await p.locator('#create-error', { hasText: 'name' }).waitFor();
  await p.fill('#create-title', 'Tiny');
  await p.fill('#create-capacity', '1');
  await p.click('#create');
  await p.locator('#create-error', { hasText: /from 2 to \d+/ }).waitFor();
  assert.equal(await p.locator('#chat').isVisible(), false);
  assert.equal(await p.locator('#create-capacity').getAttribute('aria-invalid'), 'true');
  assert.deepEqual(p.problems, []);
});

test('an invite link to a room that no longer exists says so', async () => {
  const p = await page(`${h.server.url}/?room=v-gone-long-ago`);
  await p.locator('#invite-error', { hasText: 'no longer exists' }).waitFor();
  assert.equal(await p.locator('#invite').isVisible(), false);
  assert.equal(await p.locator('#invite-join').isVisible(), false);
  // The rest of the page works as usual.
  assert.ok(await p.locator('#rooms .room').count() > 0);
  // (The 404 of the room lookup is logged by the browser as a failed resource: nothing else.)
  assert.deepEqual(p.problems.filter((m) => !/404/.test(m)), []);
});

test('one address may open only so many rooms: the refusal is shown by the form', async () => {
  const strict = await startServer({ env: { VISITOR_ROOMS_PER_IP: '1' } });
  try {
    const p = await page(strict.url);
    await createRoom(p, 'Dora', { title: 'First', capacity: 2 });
    await p.click('#leave');
    await p.locator('#landing').waitFor({ state: 'visible' });
    await openCreate(p);
    await p.fill('#create-title', 'Second');
    await p.click('#create');
    await p.locator('#create-error').waitFor({ state: 'visible' });
    assert.ok((await p.locator('#create-error').textContent()).trim().length > 0);
    assert.equal(await p.locator('#chat').isVisible(), false);
    assert.equal(await p.locator('#create').isEnabled(), true, 'the form can be used again');
    assert.deepEqual(p.problems, []);
  } finally {
    await h.closePages();
    await strict.stop();
    removeWorkDir(strict.cwd);
  }
});
