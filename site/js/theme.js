// A manual light/dark choice beside the system default: Auto → Light → Dark, kept for the
// browser (localStorage), applied as <html data-theme> which the style sheet reads.
import { ui } from './state.js';

const THEMES = ['auto', 'light', 'dark'];
const LABELS = { auto: 'Auto', light: 'Light', dark: 'Dark' };

function stored() {
  try {
    const theme = localStorage.getItem('theme');
    return THEMES.includes(theme) ? theme : 'auto';
  } catch (e) { return 'auto'; }
}

export function applyTheme(theme = stored()) {
  const root = document.documentElement;
  if (theme === 'auto') delete root.dataset.theme;
  else root.dataset.theme = theme;
  const meta = document.querySelector('meta[name="color-scheme"]');
  if (meta) meta.content = theme === 'auto' ? 'light dark' : theme;
  ui.themeToggle.querySelector('.theme-label').textContent = LABELS[theme];
  ui.themeToggle.title = theme === 'auto' ? 'Colour theme: Auto follows your system; press to change' : `Colour theme: ${LABELS[theme]}; press to change`;
  ui.themeToggle.dataset.theme = theme;
}

export function cycleTheme() {
  const next = THEMES[(THEMES.indexOf(ui.themeToggle.dataset.theme || 'auto') + 1) % THEMES.length];
  try { localStorage.setItem('theme', next); } catch (e) { /* storage may be disabled: this page only */ }
  applyTheme(next);
}
