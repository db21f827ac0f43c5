// The page loads cleanly: no console errors, no page errors, no CSP violations, a room list.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { openPage, cspViolations, joinRoom, say } from './browser.mjs';
import { useServerAndBrowser } from './harness.mjs';

const h = useServerAndBrowser();

test('landing page loads with no console errors and no CSP violations', async () => {
  const page = await openPage(h.browser, h.server.url);
  try {
    const res = await page.request.get(h.server.url);
    assert.match(res.headers()['content-security-policy'] ?? '', /default-src 'self'/);
    assert.equal(await page.title(), 'Textual Chatroulette');
    const slugs = await page.locator('#rooms .room').evaluateAll((items) => items.map((i) => i.dataset.slug));
    assert.deepEqual([...slugs].sort(), ['chill', 'games', 'lobby']);
    assert.equal(await page.locator('#landing-error').isVisible(), false);
    assert.equal(await page.locator('#banner').isVisible(), false);
    // Join, chat and leave too, so the chat screen's code paths run under the CSP as well.
    await joinRoom(page, 'Smoky');
    await say(page, 'hello');
    await page.click('#leave');
    await page.locator('#landing').waitFor({ state: 'visible' });
    assert.deepEqual(await cspViolations(page), []);
    assert.deepEqual(page.problems, []);
  } finally {
    await page.context().close();
  }
});
