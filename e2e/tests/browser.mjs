// Headless Debian Chromium driven by playwright-core, plus small helpers for the chat UI.

import { mkdirSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright-core';

const here = path.dirname(fileURLToPath(import.meta.url));

export const CHROMIUM = process.env.CHROMIUM_PATH || '/usr/bin/chromium';
export const TIMEOUT = 10_000;       // every wait has one; generous, never a speed assertion
export const SLOW_TIMEOUT = 30_000;  // reconnect after a server restart (client backoff)

export const DESKTOP = { width: 1280, height: 800 };
export const MOBILE = { width: 375, height: 740 };

export function artifactsDir() {
  const dir = process.env.ARTIFACTS_DIR
    ? path.resolve(process.cwd(), process.env.ARTIFACTS_DIR)
    : path.resolve(here, '..', '..', 'artifacts');
  const shots = path.join(dir, 'screenshots');
  mkdirSync(shots, { recursive: true });
  return shots;
}

export function launchBrowser() {
  return chromium.launch({
    executablePath: CHROMIUM,
    headless: true,
    args: [
      '--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking',
      '--disable-component-update', '--disable-sync', '--no-first-run', '--disable-quic',
    ],
    timeout: 30_000,
  });
}

/**
 * A new context + page that records console errors, page errors and CSP violations in
 * `page.problems` (an array of strings).
 */
export async function openPage(browser, url, contextOptions = {}) {
  const context = await browser.newContext({ viewport: DESKTOP, ...contextOptions });
  context.setDefaultTimeout(TIMEOUT);
  // Runs through the DevTools protocol, so the page's CSP does not apply to it.
  await context.addInitScript(() => {
    window.__cspViolations = [];
    document.addEventListener('securitypolicyviolation', (e) => {
      window.__cspViolations.push(`${e.violatedDirective} blocked ${e.blockedURI || '(inline)'}`);
    });
  });
  const page = await context.newPage();
  page.problems = [];
  page.dialogs = [];
  page.on('console', (msg) => {
    if (msg.type() === 'error') page.problems.push(`console error: ${msg.text()} (${msg.location().url || 'no url'})`);
  });
  page.on('pageerror', (err) => page.problems.push(`page error: ${err.message}`));
  page.on('dialog', async (dialog) => {
    page.dialogs.push(`${dialog.type()}: ${dialog.message()}`);
    await dialog.dismiss().catch(() => {});
  });
  if (url) await gotoLanding(page, url);
  return page;
}

/** Loads the landing page and waits until the room list is rendered. */
export async function gotoLanding(page, url) {
  await page.goto(url, { waitUntil: 'load' });
  await page.locator('#rooms .room').first().waitFor({ state: 'visible' });
}

export async function cspViolations(page) {
  return page.evaluate(() => window.__cspViolations || []);
}

export function roomItem(page, slug) {
  return page.locator(`#rooms .room[data-slug="${slug}"]`);
}

/** Types a nickname and presses the room's Join button; waits for the chat screen. */
export async function joinRoom(page, nick, slug = 'lobby') {
  await page.fill('#nick', nick);
  await roomItem(page, slug).locator('.join').click();
  await page.locator('#chat').waitFor({ state: 'visible' });
  await page.locator('#messages .system', { hasText: `as ${nick}` }).waitFor();
}

/**
 * Types a nickname (and interests) and presses Roulette; waits until the server queued us (or
 * paired us at once).
 */
export async function startRoulette(page, nick, interests = '') {
  await page.fill('#nick', nick);
  await page.fill('#interests', interests);
  await page.click('#roulette');
  await page.waitForFunction(() => document.getElementById('waiting-status').textContent.includes('in the queue')
    || !document.getElementById('chat').hidden);
}

/** Waits until a roulette chat with `stranger` is open. */
export async function waitForPair(page, stranger, timeout = TIMEOUT) {
  await page.locator('#chat').waitFor({ state: 'visible', timeout });
  await page.locator('#room-title', { hasText: `Chat with ${stranger}` }).waitFor({ timeout });
  await waitForMember(page, stranger, true, timeout);
}

/**
 * Sends a message through the composer (Enter; the Send button on a touch screen, where Enter
 * starts a new line) and waits until it is acked (no longer pending).
 */
export async function say(page, text) {
  await page.fill('#input', text);
  if (await page.evaluate(() => matchMedia('(pointer: coarse)').matches)) await page.click('#send');
  else await page.press('#input', 'Enter');
  await waitForMessage(page, text);
}

/** Waits for a confirmed (non-pending) message whose text is exactly `text`. */
export async function waitForMessage(page, text, timeout = TIMEOUT) {
  await page.waitForFunction(
    (t) => [...document.querySelectorAll('#messages .msg:not(.pending) .text')].some((n) => n.textContent === t),
    text,
    { timeout },
  );
}

/** The confirmed messages shown, in order: [{nick, text, id}]. */
export function shownMessages(page) {
  return page.evaluate(() => [...document.querySelectorAll('#messages .msg:not(.pending)')].map((n) => ({
    nick: n.querySelector('.nick').textContent,
    text: n.querySelector('.text').textContent,
    id: n.dataset.id || '',
  })));
}

export async function waitForMember(page, nick, present = true, timeout = TIMEOUT) {
  await page.waitForFunction(
    ([n, want]) => [...document.querySelectorAll('#members li')].some((li) => li.textContent === n) === want,
    [nick, present],
    { timeout },
  );
}

export async function screenshot(page, name) {
  const file = path.join(artifactsDir(), `${name}.png`);
  await page.screenshot({ path: file, fullPage: false });
  return file;
}

/**
 * Routes the context's WebSocket through the test so it can be cut like a network drop:
 * `cut()` closes both ends and refuses new connections until `restore()`. Call before loading.
 */
export async function cuttableSocket(context) {
  let blocked = false;
  let current = null;
  await context.routeWebSocket((url) => url.pathname === '/ws', (ws) => {
    if (blocked) {
      ws.close({ code: 1011, reason: 'test: network down' }).catch(() => {});
      return;
    }
    current = { page: ws, server: ws.connectToServer() };
  });
  return {
    async cut() {
      blocked = true;
      if (!current) return;
      const { page, server } = current;
      current = null;
      await server.close({ code: 1000, reason: 'test: network down' }).catch(() => {});
      await page.close({ code: 1011, reason: 'test: network down' }).catch(() => {});
    },
    restore() { blocked = false; },
  };
}

/**
 * Routes the context's WebSocket through the test, which may rewrite what the server sends
 * (`rewrite(frame)` returns the frame to pass on, or null to drop it) and `inject(frame)` a
 * frame as if the server had sent it: for frames today's server does not send (yet). Call
 * before loading.
 */
export async function frameTap(context, rewrite = (frame) => frame) {
  let current = null;
  await context.routeWebSocket((url) => url.pathname === '/ws', (ws) => {
    const server = ws.connectToServer();
    current = ws;
    ws.onMessage((message) => server.send(message));
    server.onMessage((message) => {
      let frame;
      try { frame = JSON.parse(message); } catch { ws.send(message); return; }
      const out = rewrite(frame);
      if (out) ws.send(JSON.stringify(out));
    });
    ws.onClose((code, reason) => server.close({ code, reason }).catch(() => {}));
    server.onClose((code, reason) => ws.close({ code, reason }).catch(() => {}));
  });
  return {
    inject(frame) {
      if (!current) throw new Error('no WebSocket open yet');
      current.send(JSON.stringify(frame));
    },
  };
}
