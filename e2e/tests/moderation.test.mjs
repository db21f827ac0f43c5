// A moderator deletes a mirrored message in Discord: it disappears for web visitors.
// Discord is the fake from the fake-discord crate (its binary), spoken to with Discord's REST API.

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { createInterface } from 'node:readline';
import path from 'node:path';
import fs from 'node:fs';
import { startServer, removeWorkDir } from './server.mjs';
import { launchBrowser, openPage, joinRoom, say, waitForMessage, TIMEOUT } from './browser.mjs';

let fake;
let fakeInfo;
let server;
let browser;

function fakeBinary() {
  const bin = process.env.FAKE_DISCORD_BIN
    || path.join(path.dirname(process.env.CHATROULETTE_BIN), 'fake-discord');
  if (!fs.existsSync(bin)) throw new Error(`fake-discord binary not found at ${bin} (cargo build -p fake-discord)`);
  return bin;
}

async function startFake() {
  fake = spawn(fakeBinary(), [], { stdio: ['pipe', 'pipe', 'inherit'] });
  const lines = createInterface({ input: fake.stdout });
  const first = await Promise.race([
    new Promise((resolve) => lines.once('line', resolve)),
    new Promise((_, reject) => setTimeout(() => reject(new Error('fake Discord did not start')), TIMEOUT)),
  ]);
  return JSON.parse(first);
}

async function discord(method, route) {
  const res = await fetch(`${fakeInfo.base_url}/api/v10${route}`, {
    method,
    headers: { authorization: `Bot ${fakeInfo.token}` },
  });
  assert.ok(res.ok, `${method} ${route}: ${res.status}`);
  return res.status === 204 ? null : res.json();
}

async function poll(what, fn) {
  const deadline = Date.now() + TIMEOUT;
  for (;;) {
    const value = await fn();
    if (value) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

before(async () => {
  fakeInfo = await startFake();
  server = await startServer({
    env: {
      DISCORD_TOKEN: fakeInfo.token,
      DISCORD_GUILD_ID: fakeInfo.guild_id,
      DISCORD_API_BASE: fakeInfo.base_url,
    },
  });
  browser = await launchBrowser();
});

after(async () => {
  await browser?.close();
  await server?.stop();
  if (server) removeWorkDir(server.cwd);
  fake?.stdin.end();
  fake?.kill();
});

test('a message a moderator deletes in Discord disappears for web visitors', async () => {
  const alice = await openPage(browser, server.url);
  const bob = await openPage(browser, server.url);
  await joinRoom(alice, 'Alice', 'lobby');
  await joinRoom(bob, 'Bob', 'lobby');
  await say(alice, 'this one goes');
  await say(alice, 'this one stays');
  await waitForMessage(bob, 'this one goes');

  const lobby = await poll('the lobby channel', async () => {
    const channels = await discord('GET', `/guilds/${fakeInfo.guild_id}/channels`);
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
        .some((n) => n.textContent === 'message removed by a moderator'),
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
