// Sending: an outbox paced by the server's own bucket, one `say` in flight, refusals kept as bubbles.
import { showChatError } from './composer.js';
import { send, wsOpen } from './connection.js';
import { AUTO_RESEND_MAX, RATE_MARGIN, state, ui } from './state.js';
import { make, notSentReason, num, str } from './util.js';

// Our copy of the server's per-connection `say` bucket, refilled a little slower than the real
// one so that what we send is never early.
export function bucketWait(now) {
  const b = state.bucket;
  const rate = state.rate.per_second * RATE_MARGIN;
  b.tokens = Math.min(state.rate.burst, b.tokens + ((now - b.at) / 1000) * rate);
  b.at = now;
  return b.tokens >= 1 ? 0 : Math.ceil(((1 - b.tokens) / rate) * 1000);
}

// How long until the next message may go: a pause after a refusal, or an empty bucket.
export function sendWait(now) {
  return Math.max(0, state.holdUntil - now, bucketWait(now));
}

export function resetOutbox() {
  state.outbox = [];
  state.inFlight = null;
  state.holdUntil = 0;
  clearTimeout(state.pumpTimer);
  state.pumpTimer = null;
  updateSendCountdown();
}

// Sends what waits in the outbox, in order, one `say` in flight at a time, when the bucket has
// a token; else comes back when it will.
export function pumpOutbox() {
  clearTimeout(state.pumpTimer);
  state.pumpTimer = null;
  while (state.outbox.length && !state.inFlight && state.phase === 'joined' && wsOpen()) {
    const now = Date.now();
    const wait = sendWait(now);
    if (wait > 0) {
      state.pumpTimer = setTimeout(pumpOutbox, wait);
      break;
    }
    const clientId = state.outbox.shift();
    const entry = state.pending.get(clientId);
    if (!entry) continue;
    state.bucket.tokens -= 1;
    entry.sent = true;
    setNote(entry, '');
    entry.el.classList.remove('queued');
    state.inFlight = clientId;
    const frame = { type: 'say', text: entry.text, client_id: clientId };
    if (entry.replyTo) frame.reply_to = entry.replyTo;
    send(frame);
  }
  for (const clientId of state.outbox) {
    const entry = state.pending.get(clientId);
    if (entry) entry.el.classList.add('queued');
  }
  updateSendCountdown();
}

// The Send button counts down while the next message would have to wait ("Send · 3 s").
export function updateSendCountdown() {
  clearTimeout(state.countdownTimer);
  state.countdownTimer = null;
  const wait = state.phase === 'joined' ? sendWait(Date.now()) : 0;
  const busy = wait > 0 && (state.outbox.length > 0 || state.holdUntil > Date.now() || state.bucket.tokens < 1);
  if (!busy) {
    ui.sendWait.hidden = true;
    ui.sendWait.textContent = '';
    return;
  }
  const secs = Math.ceil(wait / 1000);
  ui.sendWait.textContent = `${secs} s`;
  ui.sendWait.hidden = false;
  // Come back when the number changes (or the wait is over).
  state.countdownTimer = setTimeout(updateSendCountdown, wait - (secs - 1) * 1000);
}

export function setNote(entry, text) {
  let note = entry.el.querySelector('.send-note');
  if (!text) { if (note) note.remove(); return; }
  if (!note) {
    note = make('div', 'send-note');
    entry.el.append(note);
  }
  note.replaceChildren(make('span', 'send-note-text', text));
  return note;
}

// The server refused one of our messages. A rate limit or slow mode: it waits at the head of the
// outbox and goes again after `retry_after_ms`. Anything else: a "Not sent" bubble with Retry.
export function onSayRefused(clientId, entry, f) {
  const code = str(f.code);
  if (state.inFlight === clientId) state.inFlight = null;
  entry.sent = false;
  const ms = num(f.retry_after_ms);
  if ((code === 'rate_limited' || code === 'slowmode') && entry.resends < AUTO_RESEND_MAX && state.phase === 'joined') {
    entry.resends += 1;
    state.outbox = [clientId, ...state.outbox.filter((id) => id !== clientId)];
    state.holdUntil = Date.now() + Math.max(ms, 500);
    if (code === 'rate_limited') state.bucket.tokens = Math.min(state.bucket.tokens, 0);
    const secs = Math.max(1, Math.ceil(Math.max(ms, 500) / 1000));
    setNote(entry, `Not sent yet: ${notSentReason(code)}. It goes again in ${secs} s.`);
    pumpOutbox();
    return;
  }
  markNotSent(clientId, entry, code);
  pumpOutbox();
}

// "Not sent — <why>" with Retry and Discard; the text stays in its bubble, never in the input.
export function markNotSent(clientId, entry, code) {
  if (state.inFlight === clientId) state.inFlight = null;
  state.outbox = state.outbox.filter((id) => id !== clientId);
  entry.sent = false;
  entry.failed = true;
  entry.el.classList.remove('queued');
  entry.el.classList.add('failed');
  entry.el.dataset.clientId = clientId;
  const note = setNote(entry, `Not sent — ${notSentReason(code)}.`);
  const retry = make('button', 'link-button retry', 'Retry');
  retry.type = 'button';
  retry.dataset.action = 'retry';
  const discard = make('button', 'link-button discard', 'Discard');
  discard.type = 'button';
  discard.dataset.action = 'discard';
  note.append(' ', retry, ' ', discard);
}

export function onMessagesClick(event) {
  const button = event.target.closest('button[data-action]');
  if (!button) return;
  const node = button.closest('.msg');
  const clientId = node ? node.dataset.clientId : '';
  const entry = clientId ? state.pending.get(clientId) : null;
  if (!entry) return;
  if (button.dataset.action === 'discard') {
    entry.el.remove();
    state.pending.delete(clientId);
    ui.input.focus();
    return;
  }
  if (state.phase !== 'joined' || !wsOpen()) {
    showChatError('Not connected right now. Press Retry again once reconnected.');
    return;
  }
  entry.failed = false;
  entry.resends = 0;
  entry.el.classList.remove('failed');
  delete entry.el.dataset.clientId;
  setNote(entry, '');
  ui.messages.appendChild(entry.el); // pending messages stay at the bottom, in sending order
  state.outbox.push(clientId);
  pumpOutbox();
  ui.input.focus();
}
