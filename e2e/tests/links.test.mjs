// Links and what a screen reader hears. http(s) URLs in messages become links built node by node
// (never from HTML), opening in a new tab with rel="noopener noreferrer nofollow ugc", long ones
// showing their domain; anything else stays text, and a message the server marks `links: false`
// stays plain. Each message is one node (the pending bubble is confirmed in place) read as
// "Nick, time: text".

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { openPage, gotoLanding, joinRoom, say, waitForMember, frameTap } from './browser.mjs';
import { useServerAndBrowser } from './harness.mjs';

const h = useServerAndBrowser();

const LONG = 'https://www.example.org/articles/2026/12/a-very-long-path-that-goes-on?ref=chat#part-2';

test('URLs become safe links; other text stays text', async () => {
  const alice = await h.page();
  const bob = await h.page();
  await joinRoom(alice, 'Alice', 'chill');
  await joinRoom(bob, 'Bob', 'chill');
  await waitForMember(alice, 'Bob');
  await say(bob, 'look: https://example.com/page. And (see https://en.wikipedia.org/wiki/Fox_(x)) too');
  // (Shown as its domain, so not waited for by its text.)
  await bob.fill('#input', `long one ${LONG} end`);
  await bob.press('#input', 'Enter');
  await alice.locator('#messages .msg .text a', { hasText: 'example.org/…' }).waitFor();
  await say(bob, 'not links: javascript:alert(1) ftp://example.com <a href="https://evil.example">x</a>');

  const links = await alice.locator('#messages .msg .text a').evaluateAll((as) => as.map((a) => ({
    href: a.getAttribute('href'), text: a.textContent, rel: a.rel, target: a.target, title: a.title,
  })));
  const rel = 'noopener noreferrer nofollow ugc';
  assert.deepEqual(links.slice(0, 3), [
    { href: 'https://example.com/page', text: 'https://example.com/page', rel, target: '_blank', title: '' },
    { href: 'https://en.wikipedia.org/wiki/Fox_(x)', text: 'https://en.wikipedia.org/wiki/Fox_(x)', rel, target: '_blank', title: '' },
    { href: LONG, text: 'example.org/…', rel, target: '_blank', title: LONG },
  ]);
  // In the third message only the URL inside the markup is a link, and the markup stays text.
  const third = alice.locator('#messages .msg .text').nth(2);
  assert.equal(await third.locator('b, img, script').count(), 0);
  assert.match(await third.textContent(), /javascript:alert\(1\) ftp:\/\/example\.com <a href="/);
  assert.equal(links.length, 4);
  assert.equal(links[3].href, 'https://evil.example/');
  assert.deepEqual(alice.problems, []);
});

test('a message the server marks links: false stays plain text', async () => {
  const p = await openPage(h.browser, null);
  await frameTap(p.context(), (f) => (f.type === 'message' && f.text.includes('plain') ? { ...f, links: false } : f));
  try {
    await gotoLanding(p, h.server.url);
    await joinRoom(p, 'Newcomer', 'lobby');
    const other = await h.page();
    await joinRoom(other, 'Sender', 'lobby');
    await say(other, 'plain https://example.com/x');
    await say(other, 'linked https://example.com/y');
    await p.locator('#messages .msg .text a', { hasText: 'https://example.com/y' }).waitFor();
    assert.equal(await p.locator('#messages .msg .text a', { hasText: 'https://example.com/x' }).count(), 0);
  } finally {
    await p.context().close();
  }
});

test('one node per message, read as "Nick, time: text"', async () => {
  const p = await h.page();
  await joinRoom(p, 'Kiki', 'chill');
  // Mark the pending bubble as soon as it appears: the confirmed message must be that same node.
  await p.evaluate(() => {
    new MutationObserver((records) => {
      for (const r of records) for (const n of r.addedNodes) if (n.classList && n.classList.contains('pending')) n.dataset.mark = 'pending-node';
    }).observe(document.getElementById('messages'), { childList: true });
  });
  await say(p, 'hello there');
  const msg = p.locator('#messages .msg', { hasText: 'hello there' });
  assert.equal(await msg.count(), 1);
  assert.equal(await msg.getAttribute('data-mark'), 'pending-node');
  assert.ok(await msg.getAttribute('data-id'));
  // What a screen reader reads: the text without what is hidden from it (the relative time).
  const spoken = (await msg.evaluate((n) => {
    const copy = n.cloneNode(true);
    for (const hidden of copy.querySelectorAll('[aria-hidden="true"]')) hidden.remove();
    return copy.textContent;
  })).replace(/\s+/g, ' ');
  assert.match(spoken, /^Kiki, \d{1,2}:\d{2}( ?[AP]M)?: hello there$/);
  assert.deepEqual(p.problems, []);
});
