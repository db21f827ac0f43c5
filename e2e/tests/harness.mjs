// The start-up every browser test file shares: one server (its own work directory) and one
// headless Chromium for the file, and optionally a fake Discord the server mirrors into.
//
//   const h = useServerAndBrowser({ env: { SAY_BURST: '3' } });
//   test('…', async () => { const p = await h.page(); … });
//
// `h.server`, `h.browser` (and `h.discord`) are set once the file's `before` hook ran. Pages made
// with `h.page()` are closed after each test; pages opened otherwise are the test's to close.

import { before, after, afterEach } from 'node:test';
import { startServer, startFakeDiscord, makeWorkDir, removeWorkDir } from './server.mjs';
import { launchBrowser, openPage } from './browser.mjs';

/**
 * - `env`: extra server settings;
 * - `prepare(cwd)`: runs before the server starts, in its work directory (e.g.
 *   `chatroulette rooms add …` through runCli), so the server starts with it;
 * - `ready(h)`: runs once the server and the browser are up (e.g. rooms made on the running
 *   server, pages that stay open for the whole file);
 * - `cleanup(h)`: runs after the file's tests, before the browser and the server stop;
 * - `discord`: start the fake Discord first and point the server at it (`h.discord`).
 */
export function useServerAndBrowser({ env = {}, prepare = null, ready = null, cleanup = null, discord = false } = {}) {
  const open = [];
  let serverEnv = env;
  let port = 0;
  const h = {
    server: null,
    browser: null,
    /** The fake Discord (`{info, request(method, route)}`), with `discord: true`. */
    discord: null,
    /**
     * A new context + page (see openPage), closed after the test: on `url` (default the
     * server's landing page), or on no page at all with `load: false` or `url: null`.
     */
    async page(contextOptions = {}, { load = true, url } = {}) {
      const target = !load ? null : url === undefined ? h.server.url : url;
      const p = await openPage(h.browser, target, contextOptions);
      open.push(p);
      return p;
    },
    /** Close the pages `h.page()` made so far (done after each test anyway). */
    async closePages() {
      for (const p of open.splice(0)) await p.context().close().catch(() => {});
    },
    /** Stop the server (SIGTERM, then wait); `startServer` brings it back in place. */
    async stopServer() {
      await h.server.stop();
    },
    /** Start the server again on the same port and work directory (its database kept). */
    async startServer() {
      h.server = await startServer({ cwd: h.server.cwd, port, env: serverEnv });
      return h.server;
    },
  };
  before(async () => {
    if (discord) {
      h.discord = await startFakeDiscord();
      const { token, guild_id: guild, base_url: base } = h.discord.info;
      serverEnv = { DISCORD_TOKEN: token, DISCORD_GUILD_ID: guild, DISCORD_API_BASE: base, ...env };
    }
    const cwd = makeWorkDir();
    if (prepare) await prepare(cwd);
    h.server = await startServer({ cwd, env: serverEnv });
    port = h.server.port;
    h.browser = await launchBrowser();
    if (ready) await ready(h);
  });
  afterEach(() => h.closePages());
  after(async () => {
    if (cleanup) await cleanup(h);
    await h.browser?.close();
    await h.server?.stop();
    if (h.server) removeWorkDir(h.server.cwd);
    h.discord?.stop();
  });
  return h;
}
