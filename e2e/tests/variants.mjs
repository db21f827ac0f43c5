// What the screenshot-and-axe tests share: the four screens (desktop and phone, light and dark)
// and axe's serious and critical violations on a page.

import { createRequire } from 'node:module';
import { DESKTOP, MOBILE } from './browser.mjs';

const require = createRequire(import.meta.url);
const AXE_PATH = require.resolve('axe-core/axe.min.js');

/** [name, context options] of each screen a screenshot is taken at. */
export const VARIANTS = [
  ['desktop-light', { viewport: DESKTOP, colorScheme: 'light' }],
  ['desktop-dark', { viewport: DESKTOP, colorScheme: 'dark' }],
  ['mobile-light', { viewport: MOBILE, colorScheme: 'light', isMobile: true, hasTouch: true, deviceScaleFactor: 2 }],
  ['mobile-dark', { viewport: MOBILE, colorScheme: 'dark', isMobile: true, hasTouch: true, deviceScaleFactor: 2 }],
];

/** axe's serious and critical violations on `page` (opened with `bypassCSP: true`). */
export async function seriousAxe(page) {
  await page.addScriptTag({ path: AXE_PATH });
  const violations = await page.evaluate(async () => {
    // eslint-disable-next-line no-undef
    const result = await axe.run(document, { resultTypes: ['violations'] });
    return result.violations.map((v) => ({ id: v.id, impact: v.impact, nodes: v.nodes.map((n) => n.target.join(' ')) }));
  });
  return violations.filter((v) => v.impact === 'serious' || v.impact === 'critical');
}
