// A banned visitor appeals from the ban notice: the form, the appeal's state and the staff's
// replies (shown as "Staff"), polled while the page is open and shown again after a reload (the
// token is kept in localStorage). Screenshots of the form and of an answered appeal at desktop
// and phone sizes, light and dark, and axe on both.
//
// Every browser connects from 127.0.0.1, so the ban (on 127.0.0.1) covers every page of this
// file: the steps run in one test, in order. Staff decide in Discord; here the decision and the
// reply are written into the database and the server restarted, which is also how the bot puts
// back what its bus lost (it republishes appeals from the database at start).

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import path from 'node:path';
import { runCli } from './server.mjs';
import { DESKTOP, TIMEOUT, SLOW_TIMEOUT, screenshot } from './browser.mjs';
import { useServerAndBrowser } from './harness.mjs';
import { VARIANTS, seriousAxe } from './variants.mjs';

const h = useServerAndBrowser();

async function banCase() {
  const deadline = Date.now() + TIMEOUT;
  for (;;) {
    const res = await fetch(`${h.server.url}/api/status`, { cache: 'no-store' });
    const { ban } = await res.json();
    if (ban) return ban.case;
    assert.ok(Date.now() < deadline, 'the ban never reached the gateway');
    await new Promise((r) => setTimeout(r, 100));
  }
}

function sql(statement) {
  execFileSync('sqlite3', [path.join(h.server.cwd, 'data', 'chatroulette.db'), statement]);
}

test('a banned visitor appeals, reads the staff reply and the decision, also after a reload', async () => {
  await runCli(h.server.cwd, ['bans', 'add', '127.0.0.1', '--duration', '2h', '--reason', 'spam links']);
  const banned = await banCase();

  // The ban notice, and under it the appeal form.
  const page = await h.page({ viewport: DESKTOP });
  await page.locator('#landing-error', { hasText: 'You are banned' }).waitFor();
  await page.locator('#appeal-form').waitFor();
  assert.equal(await page.locator("#appeal-case").textContent(), `case #${banned}`);
  // Empty: refused by the page itself, said next to the field.
  await page.click('#appeal-send');
  await page.locator('#appeal-error', { hasText: 'Write why' }).waitFor();
  await page.fill('#appeal-text', 'I posted one link to a recipe, <b>not</b> spam. Sorry!');
  await page.click('#appeal-send');
  await page.locator('#appeal-state', { hasText: 'Your appeal was sent' }).waitFor();
  assert.equal(await page.locator('#appeal-sent').textContent(), 'I posted one link to a recipe, <b>not</b> spam. Sorry!');
  assert.equal(await page.locator('#appeal-form').isVisible(), false);
  const token = await page.evaluate((c) => localStorage.getItem(`chatroulette.appeal.${c}`), banned);
  assert.match(token, /^[0-9a-f]{32}$/);

  // A reload shows the same appeal, not a new form.
  await page.reload();
  await page.locator('#appeal-state', { hasText: 'Your appeal was sent' }).waitFor();
  assert.equal(await page.locator('#appeal-form').isVisible(), false);

  // Screenshots and axe of the form (a fresh page has no token) and of the open appeal.
  for (const [name, options] of VARIANTS) {
    const fresh = await h.page({ ...options, bypassCSP: true });
    await fresh.locator('#appeal-form').waitFor();
    await fresh.fill('#appeal-text', 'I posted one link to a recipe, not spam. Sorry!');
    await fresh.locator('#appeal-send').scrollIntoViewIfNeeded();
    await screenshot(fresh, `appeal-form-${name}`);
    assert.deepEqual(await seriousAxe(fresh), [], `appeal form ${name}`);
    await fresh.context().close();
  }

  // Staff answer in Discord and lift the ban: written as the bot writes them, then the server
  // restarts and puts the appeal back on its (in-process) bus from the database.
  const reply = JSON.stringify([{ at: new Date().toISOString(), text: 'Thanks for explaining. Lifted: welcome back!' }]);
  await h.stopServer();
  sql(`UPDATE appeals SET replies = '${reply.replace(/'/g, "''")}', state = 'lifted', decided_by = 'discord:1' WHERE token = '${token}'`);
  sql(`UPDATE bans SET lifted_at = created_at, lifted_by = 'discord:1' WHERE case_id = ${banned}`);
  await h.startServer();
  // The open page polls on its own and shows the reply as Staff, and the decision.
  await page.locator('#appeal-state', { hasText: 'lifted the ban' }).waitFor({ timeout: SLOW_TIMEOUT });
  await page.locator('#appeal-replies li', { hasText: 'Thanks for explaining' }).waitFor();
  assert.match(await page.locator('#appeal-replies li').first().textContent(), /^Staff/);
  // Asked again, the ban is gone: the notice goes.
  await page.locator('#landing-error').waitFor({ state: 'hidden', timeout: SLOW_TIMEOUT });

  for (const [name, options] of VARIANTS) {
    const answered = await h.page({ ...options, bypassCSP: true }, { load: false });
    await answered.goto(h.server.url);
    await answered.waitForLoadState('networkidle');
    await answered.evaluate(([c, t]) => localStorage.setItem(`chatroulette.appeal.${c}`, t), [banned, token]);
    // The ban is lifted, so the page shows no appeal by itself: ask as a banned page would.
    await answered.evaluate(async (c) => {
      const { showAppeal } = await import('/js/appeal.js');
      showAppeal({ case: c });
    }, banned);
    await answered.locator('#appeal-replies li').waitFor();
    await answered.locator('#appeal-replies').scrollIntoViewIfNeeded();
    await screenshot(answered, `appeal-answered-${name}`);
    assert.deepEqual(await seriousAxe(answered), [], `answered appeal ${name}`);
    await answered.context().close();
  }
  assert.deepEqual(page.problems.filter((m) => !/WebSocket connection .* failed|Failed to load resource/.test(m)), []);
});
