// Ignore: one visitor hides someone's messages for the rest of the tab's session (client side
// only; nobody is told). Hidden messages are not counted, announced or notified; a line in the
// log says who is ignored, with "Show again".
import { state, ui } from './state.js';
import { make } from './util.js';

const KEY = 'ignored';
const MAX = 200; // a bound on what sessionStorage keeps
const ignored = new Set(load());

function load() {
  try {
    const list = JSON.parse(sessionStorage.getItem(KEY) || '[]');
    return Array.isArray(list) ? list.filter((n) => typeof n === 'string' && n).slice(0, MAX) : [];
  } catch (e) {
    return [];
  }
}

function save() {
  try { sessionStorage.setItem(KEY, JSON.stringify([...ignored].slice(-MAX))); } catch (e) { /* storage may be disabled */ }
}

export function isIgnored(nick) {
  return ignored.has(nick);
}

function apply(nick, hide) {
  for (const node of ui.messages.querySelectorAll('.msg')) {
    if (node.dataset.nick === nick) node.classList.toggle('ignored', hide);
  }
}

// Hides `nick`'s messages (shown and to come), and says so in the log with a way back.
export function ignore(nick) {
  if (!nick || nick === state.nick || ignored.has(nick)) return;
  ignored.add(nick);
  save();
  apply(nick, true);
  const line = make('div', 'system ignore-line');
  line.dataset.nick = nick;
  line.append(`You are ignoring ${nick}: their messages are hidden for you until you leave this site. `);
  const undo = make('button', 'link-button', 'Show again');
  undo.type = 'button';
  undo.setAttribute('aria-label', `Show ${nick}'s messages again`);
  undo.addEventListener('click', () => unignore(nick));
  line.append(undo);
  ui.messages.insertBefore(line, ui.messages.querySelector('.msg.pending'));
  ui.messages.scrollTop = ui.messages.scrollHeight;
  undo.focus();
}

export function unignore(nick) {
  if (!ignored.delete(nick)) return;
  save();
  apply(nick, false);
  for (const line of ui.messages.querySelectorAll('.ignore-line')) {
    if (line.dataset.nick !== nick) continue;
    line.replaceChildren(`${nick}'s messages are shown again.`);
  }
  ui.input.focus();
}
