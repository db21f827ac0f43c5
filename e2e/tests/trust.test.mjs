// The trust tier for new visitors (issue 27) in the browser: in a room whose `links` setting is
// `inert`, a new visitor's link shows as plain text (for everyone) while a trusted visitor's
// (`chatroulette trust` with its device tag) shows as a link; in a room that refuses new
// visitors' links, the sender is told why, in the client's own words, on the bubble.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import path from 'node:path';
import { execFileSync } from 'node:child_process';
import { joinRoom, say, waitForMember } from './browser.mjs';
import { useServerAndBrowser } from './harness.mjs';
import { runCli } from './server.mjs';

const TIMEOUT = 15_000;

const h = useServerAndBrowser({
  // New for a long while: only staff trust makes a visitor's links links here.
  env: { NEW_VISITOR_MINUTES: '60', NEW_VISITOR_MESSAGES: '100' },
  prepare: async (cwd) => {
    await runCli(cwd, ['rooms', 'add', 'plain', '--capacity', '20', '--title', 'Plain']);
    await runCli(cwd, ['rooms', 'edit', 'plain', '--links', 'inert']);
  },
});

function sql(statement) {
  return execFileSync('sqlite3', [path.join(h.server.cwd, 'data', 'chatroulette.db'), statement]).toString().trim();
}

/** The device tag the message log gives `nick`'s messages (logged by the bot shortly after). */
async function deviceTagOf(nick) {
  const deadline = Date.now() + TIMEOUT;
  for (;;) {
    const tag = sql(`SELECT device_tag FROM message_log WHERE nickname = '${nick}' AND device_tag IS NOT NULL LIMIT 1`);
    if (tag) return tag;
    assert.ok(Date.now() < deadline, `${nick}'s message was never logged with a device tag`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

/** Whether the message with text `text` on `page` shows a link. */
function hasLink(page, text) {
  return page.evaluate((t) => {
    const node = [...document.querySelectorAll('#messages .msg:not(.pending)')].find((n) => n.querySelector('.text').textContent === t);
    return node ? node.querySelectorAll('.text a').length > 0 : null;
  }, text);
}

test("in an inert room a new visitor's link is plain text and a trusted visitor's is a link", async () => {
  const newcomer = await h.page();
  const regular = await h.page();
  await joinRoom(newcomer, 'Newcomer', 'plain');
  await joinRoom(regular, 'Regular', 'plain');
  await waitForMember(newcomer, 'Regular');

  const plain = 'have a look: https://example.com/new';
  await say(newcomer, plain);
  await regular.locator('#messages .msg .text', { hasText: plain }).waitFor();
  assert.equal(await hasLink(newcomer, plain), false, 'plain text for its sender');
  assert.equal(await hasLink(regular, plain), false, 'plain text for everyone');
  assert.equal(await regular.locator('#messages .msg .text a').count(), 0);

  // Staff trust the regular's device (as `chatroulette trust` from a shell, picked up by the
  // running process's sync within ROOM_SYNC_SECS): its links are links again.
  await say(regular, 'hello, I have been here for ages');
  await runCli(h.server.cwd, ['trust', await deviceTagOf('Regular')]);
  const deadline = Date.now() + TIMEOUT;
  for (let i = 0; ; i += 1) {
    const text = `my page https://example.org/${i}`;
    await say(regular, text);
    await newcomer.locator('#messages .msg .text', { hasText: text }).waitFor();
    if (await hasLink(newcomer, text)) {
      const a = newcomer.locator('#messages .msg .text a', { hasText: `https://example.org/${i}` });
      assert.equal(await a.getAttribute('rel'), 'noopener noreferrer nofollow ugc');
      break;
    }
    assert.ok(Date.now() < deadline, 'the trust never reached the gateway');
  }
  assert.deepEqual(newcomer.problems, []);
  assert.deepEqual(regular.problems, []);
});

test('where links are refused, a new visitor is told why on the bubble', async () => {
  const p = await h.page();
  await joinRoom(p, 'Fresh', 'lobby');
  await p.fill('#input', 'join my server https://spam.example/invite');
  await p.press('#input', 'Enter');
  const bubble = p.locator('#messages .msg.failed', { hasText: 'https://spam.example/invite' });
  await bubble.locator('.send-note', { hasText: 'Not sent — new visitors cannot post links in this room yet' }).waitFor();
  assert.equal(await p.locator('#input').inputValue(), '', 'the text stays in its bubble, not the input');
  // A repeat is refused with its own words.
  await say(p, 'hi all');
  await p.fill('#input', 'hi all');
  await p.press('#input', 'Enter');
  await p.locator('#messages .msg.failed .send-note', { hasText: 'Not sent — you just sent the same message' }).waitFor();
});
