// axe-core on both screens (landing and chat), light and dark, desktop and mobile:
// no serious or critical violations.
//
// axe is injected as a script; the server's CSP (`default-src 'self'`) would block that, so these
// contexts alone bypass CSP (the other tests check that the page itself runs under it cleanly).

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createRequire } from 'node:module';
import { DESKTOP, MOBILE } from './browser.mjs';
import { useServerAndBrowser } from './harness.mjs';
import { landingScene, chatScene, rouletteScene, lockedScene, conversationScene, closeAll } from './scenes.mjs';

const require = createRequire(import.meta.url);
const AXE_PATH = require.resolve('axe-core/axe.min.js');

const h = useServerAndBrowser();

async function axe(page) {
  await page.addScriptTag({ path: AXE_PATH });
  return page.evaluate(async () => {
    // eslint-disable-next-line no-undef
    const result = await axe.run(document, { resultTypes: ['violations'] });
    return result.violations.map((v) => ({
      id: v.id, impact: v.impact, help: v.help,
      nodes: v.nodes.map((n) => `${n.target.join(' ')} — ${n.failureSummary.replace(/\s+/g, ' ')}`),
    }));
  });
}

function assertNoSerious(violations, where) {
  const bad = violations.filter((v) => v.impact === 'serious' || v.impact === 'critical');
  const minor = violations.filter((v) => !bad.includes(v));
  if (minor.length) {
    console.log(`${where}: minor axe findings:\n${minor.map((v) => `  [${v.impact}] ${v.id}: ${v.help}`).join('\n')}`);
  }
  assert.deepEqual(bad, [], `${where}: serious or critical accessibility violations`);
}

const VARIANTS = [
  ['desktop-light', { viewport: DESKTOP, colorScheme: 'light' }],
  ['desktop-dark', { viewport: DESKTOP, colorScheme: 'dark' }],
  ['mobile-light', { viewport: MOBILE, colorScheme: 'light', isMobile: true, hasTouch: true }],
  ['mobile-dark', { viewport: MOBILE, colorScheme: 'dark', isMobile: true, hasTouch: true }],
];

for (const [name, options] of VARIANTS) {
  test(`landing screen has no serious accessibility violations (${name})`, async () => {
    const page = await landingScene(h.browser, h.server, { ...options, bypassCSP: true });
    try {
      assertNoSerious(await axe(page), `landing ${name}`);
      // And with the nickname error shown.
      await page.fill('#nick', 'x');
      await page.locator('#nick-error').waitFor();
      assertNoSerious(await axe(page), `landing with nickname error ${name}`);
    } finally {
      await closeAll(page);
    }
  });

  test(`chat screen has no serious accessibility violations (${name})`, async () => {
    const { page, others } = await chatScene(h.browser, h.server, { ...options, bypassCSP: true });
    try {
      assertNoSerious(await axe(page), `chat ${name}`);
      if (await page.locator('#members-open').isVisible()) { // a phone: the member sheet, open
        await page.click('#members-open');
        assertNoSerious(await axe(page), `chat members sheet ${name}`);
      }
    } finally {
      await closeAll(page, others);
    }
  });

  test(`roulette screens have no serious accessibility violations (${name})`, async () => {
    const scene = await rouletteScene(h.browser, h.server, { ...options, bypassCSP: true }, { offerAfterMs: 500 });
    try {
      await scene.waiting();
      assertNoSerious(await axe(scene.page), `roulette waiting ${name}`);
      await scene.paired();
      assertNoSerious(await axe(scene.page), `roulette chat ${name}`);
      await scene.ended();
      assertNoSerious(await axe(scene.page), `roulette ended ${name}`);
    } finally {
      await closeAll(scene.page, scene.others());
    }
  });

  test(`a conversation (reply, reactions, edit, deletion, mention, open menu, editor) has no serious accessibility violations (${name})`, async () => {
    const { page, others } = await conversationScene(h.browser, h.server, { ...options, bypassCSP: true }, { menu: true });
    try {
      assertNoSerious(await axe(page), `conversation with the menu open ${name}`);
      await page.keyboard.press('Escape');
      const own = page.locator('#messages .msg.own', { hasText: 'The ridge is lovely' });
      await own.locator('.msg-action').click();
      await page.locator('.msg-menu [role="menuitem"]', { hasText: 'Edit' }).click();
      await own.locator('.edit-form textarea').waitFor();
      assertNoSerious(await axe(page), `conversation with an editor open ${name}`);
      await page.keyboard.press('Escape');
      await page.locator('#messages .msg', { has: page.locator('.text', { hasText: 'you know the area' }) }).locator('.msg-action').click();
      await page.locator('.msg-menu [role="menuitem"]', { hasText: 'Reply' }).click();
      await page.locator('#reply-bar').waitFor();
      assertNoSerious(await axe(page), `conversation with a reply being written ${name}`);
    } finally {
      await closeAll(page, others);
    }
  });

  test(`a locked room with links has no serious accessibility violations (${name})`, async () => {
    const { page, others } = await lockedScene(h.browser, h.server, { ...options, bypassCSP: true });
    try {
      assertNoSerious(await axe(page), `locked room ${name}`);
    } finally {
      await closeAll(page, others);
    }
  });
}
