// The mute notice and the warning as a visitor sees them, at desktop and phone sizes in light and
// dark: the notice's "Appeal this mute" button is reached with the keyboard alone and opens the
// appeal form (focus in its text field), whose refusals are worded for a mute; axe is clean on
// the notice with its form. The warning is injected into the page's socket as the server sends
// it (warnings are given in Discord, see sanctions.test.mjs).
//
// Every browser connects from 127.0.0.1, so the mute (on 127.0.0.1) covers every page here.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { runCli } from './server.mjs';
import { DESKTOP, TIMEOUT, frameTap, gotoLanding, joinRoom, screenshot } from './browser.mjs';
import { useServerAndBrowser } from './harness.mjs';
import { VARIANTS, seriousAxe } from './variants.mjs';

const h = useServerAndBrowser();

// Press Tab until `id` has the focus (at most 40 times): reachable with the keyboard alone.
async function tabTo(page, id) {
  for (let i = 0; i < 40; i += 1) {
    await page.keyboard.press('Tab');
    if (await page.evaluate(() => document.activeElement && document.activeElement.id) === id) return;
  }
  assert.fail(`#${id} is not reachable with Tab`);
}

// Before the mute (which covers every page of this file once made).
for (const [name, options] of VARIANTS) {
  test(`the warning notice (${name})`, async () => {
    const page = await h.page({ ...options }, { load: false });
    const tap = await frameTap(page.context());
    await gotoLanding(page, h.server.url);
    await joinRoom(page, `Warned${name.replace('-', '')}`.slice(0, 20));
    tap.inject({ type: 'warned', case: 42, reason: 'keep it civil' });
    await page.locator('#warn-note').waitFor({ state: 'visible', timeout: TIMEOUT });
    assert.match(await page.locator('#warn-note').textContent(), /keep it civil \(case #42\)/);
    await screenshot(page, `sanctions-warned-${name}`);
  });
}

let muteCase = null;

async function muted(page, nick) {
  await joinRoom(page, nick);
  await page.locator('#mute-note').waitFor({ state: 'visible', timeout: TIMEOUT });
}

test('the mute notice offers an appeal, reached with the keyboard, worded for a mute', async () => {
  await runCli(h.server.cwd, ['mutes', 'add', '127.0.0.1', '--duration', '2h', '--reason', 'flooding the lobby']);
  const deadline = Date.now() + TIMEOUT;
  for (;;) {
    const { mute } = await (await fetch(`${h.server.url}/api/status`, { cache: 'no-store' })).json();
    if (mute) { muteCase = mute.case; break; }
    assert.ok(Date.now() < deadline, 'the mute never reached the gateway');
    await new Promise((r) => setTimeout(r, 100));
  }

  const page = await h.page({ viewport: DESKTOP });
  await muted(page, 'Loud');
  const open = page.locator('#mute-appeal-open');
  assert.equal(await open.textContent(), 'Appeal this mute');
  assert.equal(await open.getAttribute('aria-expanded'), 'false');
  assert.equal(await page.locator('#mute-appeal').isVisible(), false);
  // Keyboard only: Tab to the button, Enter opens the form with the focus in its text field.
  await page.locator('#leave').focus();
  await tabTo(page, 'mute-appeal-open');
  await page.keyboard.press('Enter');
  await page.locator('#mute-appeal-form').waitFor({ state: 'visible' });
  assert.equal(await open.getAttribute('aria-expanded'), 'true');
  assert.equal(await page.evaluate(() => document.activeElement.id), 'mute-appeal-text');
  assert.equal(await page.locator('#mute-appeal-case').textContent(), `case #${muteCase}`);
  // Empty: refused by the page, in a mute's words.
  await page.keyboard.press('Tab');
  assert.equal(await page.evaluate(() => document.activeElement.id), 'mute-appeal-send');
  await page.keyboard.press('Enter');
  await page.locator('#mute-appeal-error', { hasText: 'Write why the mute should be reconsidered.' }).waitFor();
  await page.fill('#mute-appeal-text', 'I pasted the same question twice by mistake. Sorry!');
  await page.click('#mute-appeal-send');
  await page.locator('#mute-appeal-state', { hasText: 'Your appeal was sent' }).waitFor();
  assert.equal(await page.locator('#mute-appeal-sent').textContent(), 'I pasted the same question twice by mistake. Sorry!');
  // The composer stays off meanwhile.
  assert.equal(await page.locator('#input').isDisabled(), true);

  // Another tab, with no appeal of its own on record: the server refuses a second open appeal
  // for the case, said for a mute.
  const other = await h.page({ viewport: DESKTOP });
  await other.evaluate((c) => localStorage.removeItem(`chatroulette.appeal.${c}`), muteCase);
  await muted(other, 'Loud2');
  await other.click('#mute-appeal-open');
  await other.fill('#mute-appeal-text', 'Once more, please.');
  await other.click('#mute-appeal-send');
  await other.locator('#mute-appeal-error', { hasText: 'This mute already has an open appeal' }).waitFor();
  // Closing it again with the same button.
  await other.click('#mute-appeal-open');
  await other.locator('#mute-appeal').waitFor({ state: 'hidden' });
  assert.equal(await other.locator('#mute-appeal-open').getAttribute('aria-expanded'), 'false');
});

for (const [name, options] of VARIANTS) {
  test(`the mute notice with its appeal form, screenshot and axe (${name})`, async () => {
    assert.ok(muteCase, 'the first test mutes 127.0.0.1');
    const page = await h.page({ ...options, bypassCSP: true }, { load: false });
    await gotoLanding(page, h.server.url);
    await page.evaluate((c) => localStorage.removeItem(`chatroulette.appeal.${c}`), muteCase);
    await muted(page, `Muted${name.replace('-', '')}`.slice(0, 20));
    await screenshot(page, `mute-notice-${name}`);
    await page.click('#mute-appeal-open');
    await page.fill('#mute-appeal-text', 'I pasted the same question twice by mistake. Sorry!');
    await page.locator('#mute-appeal-send').scrollIntoViewIfNeeded();
    await screenshot(page, `mute-appeal-form-${name}`);
    assert.deepEqual(await seriousAxe(page), [], `mute notice ${name}`);
  });
}
