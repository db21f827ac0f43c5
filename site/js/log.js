// The message log: lines in order, each id once, pending copies of our own messages, autoscroll.
import { clearTyping } from './members.js';
import { markNotSent, pumpOutbox } from './sending.js';
import { state, ui } from './state.js';
import { setMessageText } from './links.js';
import { addReportAction } from './report.js';
import { formatTime, make, paintNick, str, updateTitle } from './util.js';

export function isNearBottom() {
  const m = ui.messages;
  return m.scrollHeight - m.scrollTop - m.clientHeight < 48;
}

export function onLogScroll() {
  state.pinned = isNearBottom();
  if (state.pinned) { state.newBelow = 0; ui.newMessages.hidden = true; }
}

export function scrollToBottom() {
  ui.messages.scrollTop = ui.messages.scrollHeight;
  state.pinned = true;
  state.newBelow = 0;
  ui.newMessages.hidden = true;
}

// Confirmed lines go before the first pending message, so pending ones stay at the bottom.
export function insertLine(node, { own = false, notify = false } = {}) {
  const stick = own || isNearBottom();
  ui.messages.insertBefore(node, ui.messages.querySelector('.msg.pending'));
  if (stick) {
    scrollToBottom();
  } else if (notify) {
    state.newBelow += 1;
    ui.newMessages.textContent = `${state.newBelow} new message${state.newBelow > 1 ? 's' : ''} ↓`;
    ui.newMessages.hidden = false;
  }
}

export function addSystem(text, isError = false) {
  insertLine(make('div', isError ? 'system error' : 'system', text));
}

// One message: "Kiki, 5:27 PM: text" to a screen reader (hidden separators), name, time and
// text to the eye. URLs are links unless the message or the room says otherwise.
export function renderMessage(m, own) {
  const nick = str(m.nick);
  const at = str(m.at);
  const node = make('div', 'msg');
  node.classList.toggle('own', own);
  node.classList.toggle('staff', m.staff === true);
  if (str(m.id)) node.dataset.id = m.id;
  const meta = make('div', 'meta');
  const nickEl = make('span', 'nick', nick);
  paintNick(nickEl, nick);
  meta.append(nickEl);
  if (m.staff === true) meta.append(make('span', 'badge staff-badge', 'staff'));
  meta.append(make('span', 'visually-hidden', ', '));
  const time = make('time', 'time', formatTime(at));
  if (time.textContent) {
    time.dateTime = at;
    time.title = new Date(at).toLocaleString();
  }
  meta.append(time, make('span', 'visually-hidden', ': '));
  const text = make('div', 'text');
  setMessageText(text, str(m.text), linksFor(m));
  node.append(meta, text);
  addReportAction(node, m, own);
  return node;
}

// Links are shown for staff always; for visitors unless the server marks the message
// (`links: false`, e.g. a sender below a trust tier) or the room (`links: false` in `joined`
// or `room_updated`) as plain text.
export function linksFor(m) {
  if (m.staff === true) return true;
  return m.links !== false && state.linksAllowed;
}

export function addMessage(m, countUnread) {
  const id = str(m.id);
  if (!id) return;
  if (str(m.room) && m.room !== state.room) return;
  const nick = str(m.nick);
  const own = nick === state.nick;
  const confirmed = state.shown.get(id);
  if (confirmed) { // each id is shown once; ours may have been confirmed in place by its ack
    if (confirmed.dataset.acked === '1') {
      delete confirmed.dataset.acked;
      state.lastId = id;
      // Re-rendered when the server changed the text (filters) or says its links are plain text.
      if (str(m.text) !== confirmed.dataset.sent || !linksFor(m)) setMessageText(confirmed.querySelector('.text'), str(m.text), linksFor(m));
    }
    return;
  }
  const mine = own ? claimPending(id, str(m.text)) : null;
  if (mine) { // the pending bubble becomes the message: one node, one announcement
    confirmPending(mine, id);
    if (str(m.text) !== mine.dataset.sent || !linksFor(m)) setMessageText(mine.querySelector('.text'), str(m.text), linksFor(m));
    delete mine.dataset.acked;
    state.lastId = id;
    clearTyping(nick);
    return;
  }
  const node = renderMessage(m, own);
  state.shown.set(id, node);
  state.lastId = id;
  clearTyping(nick);
  insertLine(node, { own, notify: true });
  if (countUnread && !own && document.hidden) {
    state.unread += 1;
    updateTitle();
  }
}

// A pending bubble of ours is now a message with `id`, in place (no second node for a screen
// reader to announce); `data-acked` until the message itself arrives.
export function confirmPending(el, id) {
  el.classList.remove('pending', 'queued', 'failed');
  el.dataset.id = id;
  el.dataset.acked = '1';
  const note = el.querySelector('.send-note');
  if (note) note.remove();
  state.shown.set(id, el);
}

// Takes the pending copy of one of our messages out of the pending set and returns its node:
// matched by acked id, else by text.
export function claimPending(id, text) {
  let match = null;
  for (const [clientId, entry] of state.pending) {
    if (entry.id === id) { match = clientId; break; }
  }
  if (!match) {
    for (const [clientId, entry] of state.pending) {
      if (!entry.id && entry.sent && entry.text.trim() === text.trim()) { match = clientId; break; }
    }
  }
  if (!match) return null;
  const { el } = state.pending.get(match);
  state.pending.delete(match);
  if (state.inFlight === match) { state.inFlight = null; pumpOutbox(); }
  return el;
}

// After a rejoin: acked messages that history did not repeat are kept; ones sent but never
// answered become "Not sent" bubbles (with Retry); ones still waiting in the outbox go out now.
export function settleUnsentPending() {
  for (const [clientId, entry] of state.pending) {
    if (entry.id) {
      confirmPending(entry.el, entry.id);
      state.pending.delete(clientId);
    } else if (entry.sent) {
      markNotSent(clientId, entry, 'lost');
    }
  }
  pumpOutbox();
}
