// The member list and the typing indicator.
import { send } from './connection.js';
import { isIgnored } from './ignore.js';
import { TYPING_SEND_MS, state, ui } from './state.js';
import { make, paintNick } from './util.js';

export function setMembers(list) {
  state.members = [...new Set(list.filter((m) => typeof m === 'string' && m))];
  const sorted = [...state.members].sort((a, b) => {
    if (a === state.nick) return -1;
    if (b === state.nick) return 1;
    return a.localeCompare(b, undefined, { sensitivity: 'base' });
  });
  ui.members.replaceChildren(...sorted.map((nick) => {
    const li = make('li', nick === state.nick ? 'me' : '', nick);
    paintNick(li, nick);
    return li;
  }));
  ui.memberCount.textContent = String(state.members.length);
  ui.membersOpenCount.textContent = String(state.members.length);
}

export function setMembersExpanded(expanded) {
  ui.membersToggle.setAttribute('aria-expanded', String(expanded));
  ui.membersOpen.setAttribute('aria-expanded', String(expanded));
  ui.memberPanel.classList.toggle('collapsed', !expanded);
}

export function clearTyping(nick) {
  if (!state.typers.has(nick)) return;
  clearTimeout(state.typers.get(nick));
  state.typers.delete(nick);
  renderTyping();
}

export function clearAllTyping() {
  for (const timer of state.typers.values()) clearTimeout(timer);
  state.typers.clear();
  renderTyping();
}

export function renderTyping() {
  const names = [...state.typers.keys()].filter((nick) => !isIgnored(nick));
  let text = '';
  if (names.length === 1) text = `${names[0]} is typing…`;
  else if (names.length === 2) text = `${names[0]} and ${names[1]} are typing…`;
  else if (names.length > 2) text = `${names.length} people are typing…`;
  ui.typing.textContent = text;
}

export function maybeSendTyping() {
  const now = Date.now();
  if (state.phase !== 'joined' || !ui.input.value.trim() || now - state.lastTypingSent < TYPING_SEND_MS) return;
  if (send({ type: 'typing' })) state.lastTypingSent = now;
}
