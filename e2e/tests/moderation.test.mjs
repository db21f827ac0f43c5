// A moderator deletes a mirrored message in Discord: it becomes "message deleted" for web visitors.
// Discord is the fake from the fake-discord crate (its binary), spoken to with Discord's REST API.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { openPage, joinRoom, say, waitForMessage, TIMEOUT } from './browser.mjs';
import { useServerAndBrowser } from './harness.mjs';

const h = useServerAndBrowser({ discord: true });
const discord = (method, route) => h.discord.request(method, route);

async function poll(what, fn) {
  const deadline = Date.now() + TIMEOUT;
  for (;;) {
    const value = await fn();
    if (value) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

test('a message a moderator deletes in Discord becomes "message deleted" for web visitors', async () => {
  const alice = await openPage(h.browser, h.server.url);
  const bob = await openPage(h.browser, h.server.url);
  await joinRoom(alice, 'Alice', 'lobby');
  await joinRoom(bob, 'Bob', 'lobby');
  await say(alice, 'this one goes');
  await say(alice, 'this one stays');
  await waitForMessage(bob, 'this one goes');

  const lobby = await poll('the lobby channel', async () => {
    const channels = await discord('GET', `/guilds/${h.discord.info.guild_id}/channels`);
    return channels.find((c) => c.name === 'lobby');
  });
  const mirrored = await poll('the mirrored message', async () => {
    const messages = await discord('GET', `/channels/${lobby.id}/messages?limit=50`);
    return messages.find((m) => JSON.stringify(m.embeds).includes('this one goes')
      && !JSON.stringify(m.embeds).includes('this one stays'));
  });
  await discord('DELETE', `/channels/${lobby.id}/messages/${mirrored.id}`);

  for (const page of [alice, bob]) {
    await page.waitForFunction(
      () => [...document.querySelectorAll('#messages .msg.deleted .text')]
        .some((n) => n.textContent === 'message deleted'),
      null,
      { timeout: TIMEOUT },
    );
    const texts = await page.$$eval('#messages .msg .text', (nodes) => nodes.map((n) => n.textContent));
    assert.ok(!texts.includes('this one goes'), `still shown: ${texts}`);
    assert.ok(texts.includes('this one stays'), `the other message is kept: ${texts}`);
  }
  await alice.context().close();
  await bob.context().close();
});
