// Reports: the Report action of a message's menu (keyboard), the dialog, the confirmation, a refusal
// said in plain words, the roulette stranger reported after Next; screenshots of the open dialog
// at desktop and phone sizes in light and dark, and axe on each.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createRequire } from 'node:module';
import {
  DESKTOP, MOBILE, joinRoom, say, startRoulette, waitForMessage, waitForPair, cspViolations, screenshot,
} from './browser.mjs';
import { useServerAndBrowser } from './harness.mjs';

const require = createRequire(import.meta.url);
const AXE_PATH = require.resolve('axe-core/axe.min.js');

const h = useServerAndBrowser();
const page = () => h.page();

function messageNode(p, text) {
  return p.locator('#messages .msg', { has: p.locator('.text', { hasText: text }) });
}

async function openReportFromMenu(p, text) {
  await messageNode(p, text).locator('.msg-action').click();
  await p.locator('.msg-menu [role="menuitem"]', { hasText: 'Report' }).click();
}

async function sendReport(p, reason, note = '') {
  const dialog = p.locator('#report-dialog');
  await dialog.waitFor({ state: 'visible' });
  await p.check(`#report-form input[value="${reason}"]`);
  if (note) await p.fill('#report-note', note);
  await p.click('#report-send');
}

test('a message is reported from its menu button, once', async () => {
  const al = await page();
  const bo = await page();
  await joinRoom(al, 'Al');
  await joinRoom(bo, 'Bo');
  await say(al, 'buy cheap stuff at my site');
  await waitForMessage(bo, 'buy cheap stuff at my site');
  // Own messages have no Report action; others' do, in the message menu, reachable by keyboard.
  await messageNode(al, 'buy cheap stuff').locator('.msg-action').click();
  assert.equal(await al.locator('.msg-menu [role="menuitem"]', { hasText: 'Report' }).count(), 0);
  await al.keyboard.press('Escape');
  const action = messageNode(bo, 'buy cheap stuff').locator('.msg-action');
  assert.equal(await action.getAttribute('aria-label'), 'Actions for this message from Al');
  await action.focus();
  await bo.keyboard.press('Enter');
  await bo.locator('.msg-menu').waitFor();
  while (await bo.evaluate(() => document.activeElement.textContent) !== 'Report') await bo.keyboard.press('ArrowDown');
  await bo.keyboard.press('Enter');
  assert.match(await bo.locator('#report-about').textContent(), /from Al/);
  await sendReport(bo, 'spam', 'an advert');
  await bo.locator('#report-notice', { hasText: 'Report sent' }).waitFor();
  await bo.locator('#report-dialog').waitFor({ state: 'hidden' });
  await bo.locator('#messages .system', { hasText: 'Report sent' }).waitFor();

  // Again: the server refuses, and the dialog says why.
  await openReportFromMenu(bo, 'buy cheap stuff');
  await sendReport(bo, 'spam');
  await bo.locator('#report-error', { hasText: 'You already reported this message.' }).waitFor();
  await bo.click('#report-cancel');
  await bo.locator('#report-dialog').waitFor({ state: 'hidden' });

  // A message from the history of `joined` was not received live: refused in plain words.
  const cy = await page();
  await joinRoom(cy, 'Cy');
  await waitForMessage(cy, 'buy cheap stuff at my site');
  await openReportFromMenu(cy, 'buy cheap stuff');
  await sendReport(cy, 'other');
  await cy.locator('#report-error', { hasText: 'cannot be reported from here' }).waitFor();
  for (const p of [al, bo, cy]) {
    assert.deepEqual(await cspViolations(p), []);
    assert.deepEqual(p.problems, []);
  }
});

test('the roulette stranger is reportable in the chat and after Next', async () => {
  const al = await page();
  const bo = await page();
  await startRoulette(al, 'Al');
  await startRoulette(bo, 'Bo');
  await waitForPair(al, 'Bo');
  await waitForPair(bo, 'Al');
  assert.equal(await al.locator('#report-stranger').isVisible(), false, 'nothing to report yet');
  await say(bo, 'something nasty');
  await waitForMessage(al, 'something nasty');
  await al.locator('#report-stranger').waitFor({ state: 'visible' });
  await al.click('#next');
  await al.locator('#waiting').waitFor({ state: 'visible' });
  const last = al.locator('#report-last');
  await last.waitFor({ state: 'visible' });
  assert.equal(await last.textContent(), 'Report Bo');
  await last.click();
  await sendReport(al, 'harassment');
  await al.locator('#report-notice', { hasText: 'Report sent' }).waitFor();
  assert.deepEqual(al.problems, []);
});

for (const [name, options] of [
  ['desktop-light', { viewport: DESKTOP, colorScheme: 'light' }],
  ['desktop-dark', { viewport: DESKTOP, colorScheme: 'dark' }],
  ['mobile-light', { viewport: MOBILE, colorScheme: 'light', isMobile: true, hasTouch: true }],
  ['mobile-dark', { viewport: MOBILE, colorScheme: 'dark', isMobile: true, hasTouch: true }],
]) {
  test(`the report dialog has no serious accessibility violations (${name})`, async () => {
    const al = await h.page({ ...options, bypassCSP: true });
    const bo = await h.page({ ...options, bypassCSP: true });
    {
      await joinRoom(al, 'Al');
      await joinRoom(bo, 'Bo');
      await say(al, `hello there ${name}`);
      await waitForMessage(bo, `hello there ${name}`);
      await openReportFromMenu(bo, `hello there ${name}`);
      await bo.locator('#report-dialog').waitFor({ state: 'visible' });
      await screenshot(bo, `report-dialog-${name}`);
      await bo.addScriptTag({ path: AXE_PATH });
      const violations = await bo.evaluate(async () => {
        // eslint-disable-next-line no-undef
        const result = await axe.run(document, { resultTypes: ['violations'] });
        return result.violations.filter((v) => v.impact === 'serious' || v.impact === 'critical')
          .map((v) => `${v.id}: ${v.nodes.map((n) => n.target.join(' ')).join(', ')}`);
      });
      assert.deepEqual(violations, []);
    }
  });
}
