// "New room": the form that opens a visitor room of one's own.
import { ensureConnected, send } from './connection.js';
import { readyNick } from './landing.js';
import { backToLanding } from './screens.js';
import { JOIN_TIMEOUT_MS, TITLE_MAX, state, ui } from './state.js';
import { charCount } from './util.js';

/* A room of one's own. */

export function showCreateError(text) {
  ui.createError.textContent = text;
  ui.createError.hidden = !text;
}

export function startCreate() {
  if (state.phase !== 'idle') return;
  const title = ui.createTitle.value.trim();
  const capacity = Number(ui.createCapacity.value);
  const max = state.maxCapacity;
  ui.createTitle.setAttribute('aria-invalid', 'false');
  ui.createCapacity.setAttribute('aria-invalid', 'false');
  if (!title || charCount(title) > TITLE_MAX) {
    showCreateError(title ? `The room name can have at most ${TITLE_MAX} characters.` : 'Please give your room a name.');
    ui.createTitle.setAttribute('aria-invalid', 'true');
    ui.createTitle.focus();
    return;
  }
  if (!Number.isInteger(capacity) || capacity < 2 || capacity > max) {
    showCreateError(`Places must be a whole number from 2 to ${max}.`);
    ui.createCapacity.setAttribute('aria-invalid', 'true');
    ui.createCapacity.focus();
    return;
  }
  showCreateError('');
  const nick = readyNick();
  if (!nick) return;
  Object.assign(state, {
    phase: 'creating', mode: 'room', nick, kicked: false, room: null, lastId: null, invite: '',
    creating: { title, capacity, listed: ui.createListed.checked },
  });
  ui.create.disabled = true;
  ui.landingStatus.textContent = `Opening ${title}…`;
  ensureConnected();
}

export function sendCreate() {
  const c = state.creating;
  if (!c) return;
  send({ type: 'create', title: c.title, capacity: c.capacity, listed: c.listed });
  clearTimeout(state.joinTimer);
  state.joinTimer = setTimeout(() => {
    if (state.phase === 'creating') backToLanding('The chat server did not answer. Please try again.');
  }, JOIN_TIMEOUT_MS);
}
