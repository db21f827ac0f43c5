// A full room: the server's room_full error is shown, and the room list marks the room as full.
// The capacity-1 room is made with the operator CLI against the running server's database.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { runCli, waitForRooms } from './server.mjs';
import { openPage, joinRoom, roomItem, screenshot, TIMEOUT } from './browser.mjs';
import { useServerAndBrowser } from './harness.mjs';

const h = useServerAndBrowser({
  async ready() {
    await runCli(h.server.cwd, ['rooms', 'add', 'tiny', '--capacity', '1']);
    await waitForRooms(h.server.url, (list) => list.some((r) => r.slug === 'tiny'));
  },
});

test('joining a full room shows the room_full error', async () => {
  const alice = await openPage(h.browser, h.server.url);
  const bob = await openPage(h.browser, h.server.url);
  try {
    // Bob's room list is from before Alice took the only place, as if she joined a moment after
    // Bob's last refresh: freeze it so his click reaches the server instead of a disabled button.
    await roomItem(bob, 'tiny').waitFor();
    const stale = await (await bob.request.get(`${h.server.url}/api/rooms`)).text();
    await bob.route('**/api/rooms', (route) => route.fulfill({ status: 200, contentType: 'application/json', body: stale }));
    assert.equal(await roomItem(bob, 'tiny').locator('.join').isEnabled(), true);

    await joinRoom(alice, 'Alice', 'tiny');
    await waitForRooms(h.server.url, (list) => list.some((r) => r.slug === 'tiny' && r.members === 1));

    await bob.fill('#nick', 'Bob');
    await roomItem(bob, 'tiny').locator('.join').click();
    // The error shows once, on the room it concerns (not at the top of the page).
    const error = roomItem(bob, 'tiny').locator('.room-error');
    await error.waitFor({ state: 'visible' });
    assert.match(await error.textContent(), /full/i);
    assert.equal(await bob.locator('#landing-error').isVisible(), false);
    await screenshot(bob, 'landing-room-full-error-desktop-light');
    assert.equal(await bob.locator('#chat').isVisible(), false);
    assert.equal(await bob.locator('#landing').isVisible(), true);
    // The visitor may pick another room right away.
    assert.equal(await roomItem(bob, 'lobby').locator('.join').isEnabled(), true);

    // With a fresh list, the room shows as full and its button is disabled with a clear label.
    await bob.unroute('**/api/rooms');
    await bob.reload();
    await roomItem(bob, 'tiny').locator('.room-badge', { hasText: 'Full' }).waitFor({ timeout: TIMEOUT });
    const join = roomItem(bob, 'tiny').locator('.join');
    assert.equal(await join.isDisabled(), true);
    assert.match(await join.getAttribute('aria-label'), /full/i);
    assert.equal(await roomItem(bob, 'tiny').locator('.room-count').textContent(), '1 / 1');

    // Alice is unaffected.
    assert.equal(await alice.locator('#member-count').textContent(), '1');
    assert.deepEqual(alice.problems, []);
    assert.deepEqual(bob.problems, []);
  } finally {
    await alice.context().close();
    await bob.context().close();
  }
});

test('the place frees up when the member leaves', async () => {
  const alice = await openPage(h.browser, h.server.url);
  const bob = await openPage(h.browser, h.server.url);
  try {
    await waitForRooms(h.server.url, (list) => list.some((r) => r.slug === 'tiny' && r.members === 0));
    await joinRoom(alice, 'Alice', 'tiny');
    await waitForRooms(h.server.url, (list) => list.some((r) => r.slug === 'tiny' && r.members === 1));
    await alice.click('#leave');
    await waitForRooms(h.server.url, (list) => list.some((r) => r.slug === 'tiny' && r.members === 0));
    await bob.reload();
    await joinRoom(bob, 'Bob', 'tiny');
    assert.deepEqual(bob.problems, []);
  } finally {
    await alice.context().close();
    await bob.context().close();
  }
});
