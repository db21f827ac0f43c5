// Screenshots of the landing and chat screens: desktop and 375 px mobile, light and dark.
// Saved as PNG under $ARTIFACTS_DIR/screenshots (default: artifacts/screenshots at the repo root)
// for a person to look at. Also checks that nothing overflows the viewport horizontally.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { runCli, waitForRooms } from './server.mjs';
import {
  openPage, joinRoom, screenshot, cuttableSocket, DESKTOP, MOBILE, SLOW_TIMEOUT,
} from './browser.mjs';
import { landingScene, chatScene, rouletteScene, lockedScene, conversationScene, closeAll } from './scenes.mjs';
import { useServerAndBrowser } from './harness.mjs';

const crowd = [];

const VARIANTS = [];
for (const [device, viewport] of [['desktop', DESKTOP], ['mobile', MOBILE]]) {
  for (const colorScheme of ['light', 'dark']) {
    VARIANTS.push({
      name: `${device}-${colorScheme}`,
      options: { viewport, colorScheme, ...(device === 'mobile' ? { isMobile: true, hasTouch: true, deviceScaleFactor: 2 } : {}) },
    });
  }
}

const h = useServerAndBrowser({
  // A room list with some life in it: people in the lobby, a full room and a locked one.
  async ready() {
    await runCli(h.server.cwd, ['rooms', 'add', 'night-owls', '--capacity', '2', '--title', 'Night Owls', '--topic', 'Late talk for the sleepless.']);
    await runCli(h.server.cwd, ['rooms', 'add', 'quiet', '--capacity', '10', '--title', 'Quiet corner']);
    await runCli(h.server.cwd, ['rooms', 'edit', 'quiet', '--locked', 'true']);
    await waitForRooms(h.server.url, (list) => list.some((r) => r.slug === 'quiet' && r.locked));
    for (const [nick, slug] of [['Owl', 'night-owls'], ['Moth', 'night-owls'], ['Dora', 'lobby'], ['Eli', 'lobby'], ['Finn', 'chill']]) {
      const p = await openPage(h.browser, h.server.url);
      await joinRoom(p, nick, slug);
      crowd.push(p);
    }
    await waitForRooms(h.server.url, (list) => list.some((r) => r.slug === 'night-owls' && r.members === 2));
  },
  async cleanup() {
    await closeAll(crowd);
  },
});

async function assertNoHorizontalOverflow(page, what) {
  const { scroll, client } = await page.evaluate(() => ({
    scroll: document.documentElement.scrollWidth, client: document.documentElement.clientWidth,
  }));
  assert.ok(scroll <= client, `${what}: page is ${scroll}px wide in a ${client}px viewport`);
}

test('landing screenshots (desktop and mobile, light and dark)', async () => {
  for (const { name, options } of VARIANTS) {
    const page = await landingScene(h.browser, h.server, options);
    try {
      await page.locator('#rooms .room[data-slug="night-owls"] .room-badge', { hasText: 'Full' }).waitFor();
      await page.locator('#rooms .room[data-slug="quiet"] .room-badge', { hasText: 'Locked' }).waitFor();
      await assertNoHorizontalOverflow(page, `landing ${name}`);
      await screenshot(page, `landing-${name}`);
      // The nickname error state, too.
      await page.fill('#nick', 'x');
      await page.locator('#nick-error').waitFor();
      await screenshot(page, `landing-nick-error-${name}`);
      assert.deepEqual(page.problems, []);
    } finally {
      await closeAll(page);
    }
  }
});

test('chat screenshots (desktop and mobile, light and dark)', async () => {
  for (const { name, options } of VARIANTS) {
    const { page, others } = await chatScene(h.browser, h.server, options);
    try {
      await assertNoHorizontalOverflow(page, `chat ${name}`);
      // The composer and the latest message are on screen (the log is scrolled to the bottom).
      assert.ok(await page.locator('#input').isVisible());
      const last = page.locator('#messages .msg').last();
      const box = await last.boundingBox();
      const log = await page.locator('#messages').boundingBox();
      assert.ok(box && log && box.y + box.height <= log.y + log.height + 1, `chat ${name}: the last message is visible`);
      await screenshot(page, `chat-${name}`);
      if (name.startsWith('mobile')) {
        // On a narrow screen the member list is a sheet behind the header's Members button.
        const toggle = page.locator('#members-open');
        assert.equal(await toggle.getAttribute('aria-expanded'), 'false');
        assert.equal((await toggle.textContent()).replace(/\s+/g, ' ').trim(), 'Members 3');
        await toggle.click();
        assert.equal(await toggle.getAttribute('aria-expanded'), 'true');
        await page.locator('#members li', { hasText: 'Carol_92' }).waitFor();
        await assertNoHorizontalOverflow(page, `chat members ${name}`);
        await screenshot(page, `chat-members-open-${name}`);
      }
      assert.deepEqual(page.problems, []);
    } finally {
      await closeAll(page, others);
    }
  }
});

test('reconnect banner screenshot (desktop and mobile, light and dark)', async () => {
  // This page's WebSocket alone is cut, so the server stays up for the others.
  for (const { name, options } of VARIANTS) {
    let socket;
    const { page, others } = await chatScene(h.browser, h.server, options, {
      beforeLoad: async (p) => { socket = await cuttableSocket(p.context()); },
    });
    try {
      await socket.cut();
      await page.locator('#banner').waitFor({ state: 'visible' });
      await assertNoHorizontalOverflow(page, `banner ${name}`);
      await screenshot(page, `chat-reconnecting-${name}`);
      socket.restore();
      await page.locator('#banner').waitFor({ state: 'hidden', timeout: SLOW_TIMEOUT });
    } finally {
      await closeAll(page, others);
    }
  }
});

test('roulette screenshots: looking for a stranger, paired, stranger left (desktop and mobile, light and dark)', async () => {
  for (const { name, options } of VARIANTS) {
    const scene = await rouletteScene(h.browser, h.server, options, { offerAfterMs: 500 });
    const { page } = scene;
    try {
      await scene.waiting();
      await assertNoHorizontalOverflow(page, `roulette waiting ${name}`);
      await screenshot(page, `roulette-waiting-${name}`);
      await scene.paired();
      await assertNoHorizontalOverflow(page, `roulette chat ${name}`);
      assert.ok(await page.locator('#next').isVisible());
      await screenshot(page, `roulette-chat-${name}`);
      await scene.ended();
      await assertNoHorizontalOverflow(page, `roulette ended ${name}`);
      assert.ok(await page.locator('#find-another').isVisible());
      await screenshot(page, `roulette-ended-${name}`);
      assert.deepEqual(page.problems, []);
    } finally {
      await closeAll(page, scene.others());
    }
  }
});

test('locked room screenshots: the lock line, the composer off, a link (desktop and mobile, light and dark)', async () => {
  for (const { name, options } of VARIANTS) {
    const { page, others } = await lockedScene(h.browser, h.server, options);
    try {
      await assertNoHorizontalOverflow(page, `locked ${name}`);
      assert.equal(await page.locator('#input').isDisabled(), true);
      await screenshot(page, `chat-locked-${name}`);
      assert.deepEqual(page.problems, []);
    } finally {
      await closeAll(page, others);
    }
  }
});

test('conversation screenshots: a reply, reactions, an edit, a deletion, a mention, the menu (desktop and mobile, light and dark)', async () => {
  for (const { name, options } of VARIANTS) {
    for (const menu of [false, true]) {
      const { page, others } = await conversationScene(h.browser, h.server, options, { menu });
      try {
        await assertNoHorizontalOverflow(page, `conversation ${name}`);
        if (menu) {
          // The menu is inside the viewport.
          const box = await page.locator('.msg-menu').boundingBox();
          const size = page.viewportSize();
          assert.ok(box.x >= 0 && box.y >= 0 && box.x + box.width <= size.width && box.y + box.height <= size.height, `menu ${name} inside the viewport`);
        }
        await screenshot(page, `conversation${menu ? '-menu' : ''}-${name}`);
        assert.deepEqual(page.problems, []);
      } finally {
        await closeAll(page, others);
      }
    }
  }
});
