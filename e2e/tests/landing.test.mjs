// The landing page: a pitch and a live count, one primary action under the nickname (Roulette,
// or the Lobby), a random nickname in one click, the rooms with the Lobby first then by
// population, visitor rooms marked, "New room" a closed disclosure, the invite card of a full
// room, and the light/dark toggle.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { runCli, waitForRooms } from './server.mjs';
import { openPage, gotoLanding, joinRoom, roomItem, DESKTOP } from './browser.mjs';
import { closeAll } from './scenes.mjs';
import { useServerAndBrowser } from './harness.mjs';

const crowd = [];
const h = useServerAndBrowser({
  async prepare(cwd) {
    await runCli(cwd, ['rooms', 'add', 'aaa-quiet', '--capacity', '10', '--title', 'Aardvarks']);
    await runCli(cwd, ['rooms', 'add', 'busy', '--capacity', '10', '--title', 'Busy corner']);
    await runCli(cwd, ['rooms', 'add', 'solo', '--capacity', '1', '--title', 'Solo']);
  },
  async ready() {
    // Two people in "Busy corner", one in the Lobby, "Solo" full.
    for (const [nick, slug] of [['Ann', 'busy'], ['Ben', 'busy'], ['Cat', 'lobby'], ['Dan', 'solo']]) {
      const p = await openPage(h.browser, h.server.url);
      await joinRoom(p, nick, slug);
      crowd.push(p);
    }
    await waitForRooms(h.server.url, (list) => list.some((r) => r.slug === 'busy' && r.members === 2)
      && list.some((r) => r.slug === 'solo' && r.members === 1));
  },
  async cleanup() { await closeAll(crowd); },
});

test('a pitch, a live count, the Lobby first then rooms by population, visitor rooms marked', async () => {
  const p = await h.page({ viewport: DESKTOP });
  await gotoLanding(p, h.server.url);
  assert.match(await p.locator('.pitch').textContent(), /stranger/);
  // Everyone connected counts (GET /api/info `online`): the four in the rooms.
  await p.locator('#online', { hasText: /\b4 people online now/ }).waitFor();
  // The nickname field is focused on desktop: typing starts at once.
  assert.equal(await p.evaluate(() => document.activeElement.id), 'nick');
  await p.waitForFunction(() => document.querySelector('#rooms .room[data-slug="busy"] .room-count').textContent === '2 / 10');
  const order = await p.locator('#rooms .room').evaluateAll((items) => items.map((i) => i.dataset.slug));
  assert.equal(order[0], 'lobby');
  assert.ok(order.indexOf('busy') < order.indexOf('aaa-quiet'), `busier rooms first: ${order}`);
  assert.equal(await roomItem(p, 'busy').locator('.kind-tag').count(), 0);

  // A visitor's listed room looks different from the staff rooms.
  const owner = await h.page();
  await owner.fill('#nick', 'Eve');
  await owner.click('#create-toggle');
  assert.equal(await owner.locator('label[for="create-capacity"]').textContent(), 'Max people');
  await owner.fill('#create-title', 'Eve\'s den');
  await owner.setChecked('#create-listed', true);
  await owner.click('#create');
  await owner.locator('#chat').waitFor({ state: 'visible' });
  const den = p.locator('#rooms .room.visitor', { hasText: 'Eve\'s den' });
  await den.waitFor({ timeout: 15_000 });
  assert.equal(await den.locator('.kind-tag').textContent(), 'Visitor room');
  assert.deepEqual(p.problems, []);
});

test('one click: a random nickname, then the Lobby (or Roulette) right under it', async () => {
  const p = await h.page({ viewport: DESKTOP });
  await gotoLanding(p, h.server.url);
  assert.equal(await p.locator('#create-title').isVisible(), false, '"New room" starts closed');
  await p.click('#random-nick');
  const nick = await p.inputValue('#nick');
  assert.match(nick, /^[A-Za-z]+ [A-Za-z]+ \d{2}$/);
  assert.equal(await p.locator('#nick-error').isVisible(), false);
  // The primary action sits in the nickname card, above the list.
  const roulette = await p.locator('#roulette').boundingBox();
  const list = await p.locator('#rooms').boundingBox();
  assert.ok(roulette.y < list.y);
  await p.locator('#join-lobby').waitFor({ state: 'visible' });
  await p.click('#join-lobby');
  await p.locator('#room-title', { hasText: 'Lobby' }).waitFor();
  await p.locator('#messages .system', { hasText: `as ${nick}` }).waitFor();
  assert.deepEqual(p.problems, []);
});

test('the invite card of a full room says so and disables Join', async () => {
  const p = await h.page({}, { url: `${h.server.url}/?room=solo` });
  await p.locator('#invite', { hasText: 'Solo' }).waitFor();
  assert.match(await p.locator('#invite-count').textContent(), /full/);
  assert.equal(await p.locator('#invite-join').isDisabled(), true);
});

test('a manual light/dark choice beside the system default, kept across visits', async () => {
  const p = await h.page({ colorScheme: 'light', viewport: DESKTOP });
  await gotoLanding(p, h.server.url);
  const bg = () => p.evaluate(() => getComputedStyle(document.body).backgroundColor);
  const light = await bg();
  assert.equal(await p.locator('#theme-toggle .theme-label').textContent(), 'Auto');
  await p.click('#theme-toggle'); // → Light
  assert.equal(await p.getAttribute('html', 'data-theme'), 'light');
  assert.equal(await bg(), light);
  await p.click('#theme-toggle'); // → Dark
  assert.equal(await p.getAttribute('html', 'data-theme'), 'dark');
  assert.notEqual(await bg(), light);
  assert.equal((await p.locator('#theme-toggle').textContent()).trim(), 'Colour theme: Dark');
  await p.reload();
  await p.locator('#rooms .room').first().waitFor();
  assert.equal(await p.getAttribute('html', 'data-theme'), 'dark');
  await p.click('#theme-toggle'); // → Auto: the system's (light) again
  assert.equal(await p.getAttribute('html', 'data-theme'), null);
  assert.equal(await bg(), light);
  assert.deepEqual(p.problems, []);
});
