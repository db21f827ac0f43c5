// Reading the log: consecutive messages from one sender grouped (the name shown once; a screen
// reader still hears it on each), and a day separator wherever the day changes.
import { ui } from './state.js';
import { make } from './util.js';

const GROUP_GAP_MS = 5 * 60 * 1000; // a pause this long starts a new group

function dayOf(node) {
  const d = new Date(node.dataset.at || '');
  return Number.isNaN(d.getTime()) ? '' : d.toDateString();
}

// The message shown before `node` (skipping hidden ones and system lines), or null; stops at a
// day separator.
function previousMessage(node) {
  for (let prev = node.previousElementSibling; prev; prev = prev.previousElementSibling) {
    if (prev.classList.contains('day-sep')) return null;
    if (prev.classList.contains('msg') && !prev.classList.contains('ignored')) return prev;
    if (prev.classList.contains('system')) return null;
  }
  return null;
}

function lastMessageBefore(node) {
  for (let prev = node.previousElementSibling; prev; prev = prev.previousElementSibling) {
    if (prev.classList.contains('msg') || prev.classList.contains('day-sep')) return prev;
  }
  return null;
}

// "Today", "Yesterday", else "Friday 4 December".
export function dayLabel(iso) {
  const d = new Date(iso);
  if (Number.isNaN(d.getTime())) return '';
  const today = new Date();
  if (d.toDateString() === today.toDateString()) return 'Today';
  const yesterday = new Date(today.getFullYear(), today.getMonth(), today.getDate() - 1);
  if (d.toDateString() === yesterday.toDateString()) return 'Yesterday';
  return d.toLocaleDateString([], { weekday: 'long', day: 'numeric', month: 'long' });
}

function groupWith(node, prev) {
  if (!prev || prev.dataset.nick !== node.dataset.nick) return false;
  if (prev.classList.contains('staff') !== node.classList.contains('staff')) return false;
  if (node.querySelector(':scope > .reply-quote')) return false; // a reply shows its sender
  const gap = Date.parse(node.dataset.at) - Date.parse(prev.dataset.at);
  return Number.isFinite(gap) && gap >= 0 && gap < GROUP_GAP_MS;
}

/** Called once `node` (a message) is in the log: its day separator, and its group (and the next one's). */
export function placeInLog(node) {
  const day = dayOf(node);
  const before = lastMessageBefore(node);
  if (day && (!before || (before.classList.contains('msg') && dayOf(before) && dayOf(before) !== day))) {
    const sep = make('div', 'day-sep');
    sep.setAttribute('role', 'separator');
    sep.setAttribute('aria-label', dayLabel(node.dataset.at));
    sep.append(make('span', '', dayLabel(node.dataset.at)));
    node.before(sep);
  }
  regroup(node);
  const next = node.nextElementSibling;
  if (next && next.classList.contains('msg')) regroup(next);
}

export function regroup(node) {
  node.classList.toggle('grouped', groupWith(node, previousMessage(node)));
}

/** Regroups every message (after an ignore hides some, or a deletion). */
export function regroupAll() {
  for (const node of ui.messages.querySelectorAll('.msg')) regroup(node);
}
