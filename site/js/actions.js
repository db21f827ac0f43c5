// What a visitor did to a message (react, edit, delete) and is waiting to hear about: a refusal
// is said next to that message, in the client's own words per error code, and cleared when the
// next action on it starts or after a while.
import { CHAT_ERROR_MS, state } from './state.js';
import { describeError, humanDelay, make, num, str } from './util.js';

const WAIT_MS = 10000; // an answer later than this is not taken for this action's
const CODES = new Set([
  'not_yours', 'edit_window_over', 'unknown_message', 'rate_limited', 'muted', 'filtered', 'too_long',
  'empty_message', 'bad_frame', 'room_locked', 'not_in_room', 'unavailable', 'slowmode',
]);
let waiting = null; // { kind, node, clientId, at }

export function noteAction(kind, node, clientId = '') {
  waiting = { kind, node, clientId, at: Date.now() };
  showActionError(node, '');
}

export function settleAction(kind, node) {
  if (waiting && waiting.kind === kind && waiting.node === node) waiting = null;
}

function windowText() {
  const secs = num(state.editWindowSecs) || 300;
  return secs % 60 === 0 ? `${secs / 60} minute${secs === 60 ? '' : 's'}` : `${secs} seconds`;
}

// The refusal of `kind` ('react', 'edit', 'delete') with error frame `f`, for the person who did it.
export function actionErrorText(kind, f) {
  const code = str(f.code);
  const verb = kind === 'react' ? 'react to' : kind;
  switch (code) {
    case 'not_yours': return `You can only ${verb === 'react to' ? 'change' : verb} your own messages.`;
    case 'edit_window_over': return `Too late to ${verb} this message: messages can be changed for ${windowText()} after sending.`;
    case 'unknown_message': return `This message can no longer be ${kind === 'react' ? 'reacted to' : (kind === 'edit' ? 'edited' : 'deleted')}.`;
    case 'rate_limited': {
      const ms = num(f.retry_after_ms);
      return ms > 0 ? `You are going a little fast: try again ${humanDelay(ms)}.` : 'You are going a little fast. Try again in a moment.';
    }
    default: return describeError(f);
  }
}

/**
 * A short-lived note (class `className`, `role`) in `host`, put in place by `insert` the first
 * time; '' removes it. Each note goes away by itself after `ms`.
 */
export function timedNote(host, className, role, text, ms, insert = (note) => host.append(note)) {
  let note = host.querySelector(`:scope > .${className}`);
  if (!text) { if (note) note.remove(); return; }
  if (!note) {
    note = make('div', className);
    note.setAttribute('role', role);
    insert(note);
  }
  note.textContent = text;
  clearTimeout(note.timer);
  note.timer = setTimeout(() => note.remove(), ms);
}

/** Shows (or with '' clears) a refusal under message `node`. */
export function showActionError(node, text) {
  timedNote(node, 'msg-error', 'alert', text, CHAT_ERROR_MS);
}

/** An `error` frame: true when it answers the action waiting (then said next to its message). */
export function onActionError(f) {
  if (!waiting || Date.now() - waiting.at > WAIT_MS) { waiting = null; return false; }
  const clientId = str(f.client_id);
  if (clientId && clientId !== waiting.clientId) return false; // a `say`'s, or another edit's
  if (!CODES.has(str(f.code))) return false;
  const { kind, node } = waiting;
  waiting = null;
  showActionError(node, actionErrorText(kind, f));
  document.dispatchEvent(new CustomEvent('chat:action-refused', { detail: { kind, node } }));
  return true;
}
