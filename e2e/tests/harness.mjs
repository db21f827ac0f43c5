// The start-up every browser test file shares: one server (its own work directory) and one
// headless Chromium for the file, a fresh context per page, closed after each test.
//
//   const h = useServerAndBrowser({ env: { SAY_BURST: '3' } });
//   test('…', async () => { const p = await h.page(); … });
//
// `h.server` and `h.browser` are set once the file's `before` hook ran.

import { before, after, afterEach } from 'node:test';
import { startServer, makeWorkDir, removeWorkDir } from './server.mjs';
import { launchBrowser, openPage } from './browser.mjs';

/**
 * `env`: extra server settings; `prepare(cwd)`: runs before the server starts, in its work
 * directory (e.g. `chatroulette rooms add …` through runCli), so the server starts with it.
 */
export function useServerAndBrowser({ env = {}, prepare = null } = {}) {
  const open = [];
  const h = {
    server: null,
    browser: null,
    /** A new context + page on the landing page (see openPage), closed after the test. */
    async page(contextOptions = {}, { load = true } = {}) {
      const p = await openPage(h.browser, load ? h.server.url : undefined, contextOptions);
      open.push(p);
      return p;
    },
  };
  before(async () => {
    const cwd = makeWorkDir();
    if (prepare) await prepare(cwd);
    h.server = await startServer({ cwd, env });
    h.browser = await launchBrowser();
  });
  afterEach(async () => {
    for (const p of open.splice(0)) await p.context().close().catch(() => {});
  });
  after(async () => {
    await h.browser?.close();
    await h.server?.stop();
    if (h.server) removeWorkDir(h.server.cwd);
  });
  return h;
}
