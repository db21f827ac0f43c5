// Relative times on messages ("just now", "4 min ago", then the clock time), refreshed every
// half minute; the exact date and time on hover (title) and for screen readers.
import { ui } from './state.js';
import { formatTime, make } from './util.js';

const REFRESH_MS = 30000;

export function relativeTime(iso, now = Date.now()) {
  const t = Date.parse(iso);
  if (!Number.isFinite(t)) return '';
  const mins = Math.floor((now - t) / 60000);
  if (mins < 1) return 'just now';
  if (mins < 60) return `${mins} min ago`;
  return formatTime(iso);
}

/**
 * A <time> for `iso`: the relative time to the eye (hidden from screen readers, whose text is
 * the clock time, as "Kiki, 5:27 PM: …"), the full date and time as its title.
 */
export function timeElement(iso) {
  const time = make('time', 'time');
  const clock = formatTime(iso);
  if (!clock) return time;
  time.dateTime = iso;
  time.title = new Date(iso).toLocaleString([], { dateStyle: 'full', timeStyle: 'medium' });
  const rel = make('span', 'rel', relativeTime(iso));
  rel.setAttribute('aria-hidden', 'true');
  time.append(rel, make('span', 'visually-hidden', clock));
  return time;
}

function refresh() {
  if (ui.chat.hidden || document.hidden) return;
  const now = Date.now();
  for (const rel of ui.messages.querySelectorAll('time.time > .rel')) {
    const text = relativeTime(rel.parentElement.dateTime, now);
    if (rel.textContent !== text) rel.textContent = text;
  }
}

export function startRelativeTimes() {
  setInterval(refresh, REFRESH_MS);
  document.addEventListener('visibilitychange', refresh);
}
