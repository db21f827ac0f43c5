// The message log: lines in order, each id once, pending copies of our own messages, autoscroll.
import { clearTyping } from './members.js';
import { markNotSent, pumpOutbox } from './sending.js';
import { state, ui } from './state.js';
import { fillText, markEdited } from './edit.js';
import { placeInLog } from './grouping.js';
import { isIgnored } from './ignore.js';
import { addMenu } from './menu.js';
import { onIncoming } from './notify.js';
import { setReactions } from './reactions.js';
import { quoteFor } from './reply.js';
import { timeElement } from './times.js';
import { make, paintNick, str, updateTitle } from './util.js';

export function isNearBottom() {
  const m = ui.messages;
  return m.scrollHeight - m.scrollTop - m.clientHeight < 48;
}

export function onLogScroll() {
  state.pinned = isNearBottom();
  if (state.pinned) { state.newBelow = 0; ui.newMessages.hidden = true; return; }
  // Scrolled up more than a screen: a way back down, even with nothing new.
  const m = ui.messages;
  if (!state.newBelow && m.scrollHeight - m.scrollTop - m.clientHeight > m.clientHeight) {
    ui.newMessages.textContent = 'Jump to latest ↓';
    ui.newMessages.hidden = false;
  }
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
// text to the eye. URLs are links unless the message or the room says otherwise. A reply shows
// its quote above; reactions, "(edited)" and the menu (messages with an id) come with it.
export function renderMessage(m, own) {
  const nick = str(m.nick);
  const at = str(m.at);
  const node = make('div', 'msg');
  node.classList.toggle('own', own);
  node.classList.toggle('staff', m.staff === true);
  node.classList.toggle('ignored', !own && m.staff !== true && isIgnored(nick));
  if (str(m.id)) node.dataset.id = m.id;
  node.dataset.nick = nick;
  node.dataset.at = at;
  node.dataset.links = linksFor(m) ? '1' : '0';
  const quote = quoteFor(m.reply_to);
  if (quote) node.append(quote);
  const meta = make('div', 'meta');
  const nickEl = make('span', 'nick', nick);
  paintNick(nickEl, nick);
  meta.append(nickEl);
  if (m.staff === true) meta.append(make('span', 'badge staff-badge', 'staff'));
  meta.append(make('span', 'visually-hidden', ', '));
  meta.append(timeElement(at), make('span', 'visually-hidden', ': '));
  node.append(meta, make('div', 'text'));
  fillText(node, str(m.text));
  if (str(m.edited)) markEdited(node, m.edited);
  if (m.reactions && typeof m.reactions === 'object') setReactions(node, m.reactions);
  if (str(m.id)) addMenu(node);
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
    refreshShown(confirmed, m);
    if (confirmed.dataset.acked === '1') {
      delete confirmed.dataset.acked;
      state.lastId = id;
      // Re-rendered when the server changed the text (filters) or says its links are plain text.
      if (str(m.text) !== confirmed.dataset.sent || !linksFor(m)) {
        confirmed.dataset.links = linksFor(m) ? '1' : '0';
        fillText(confirmed, str(m.text));
      }
    }
    return;
  }
  const mine = own ? claimPending(id, str(m.text)) : null;
  if (mine) { // the pending bubble becomes the message: one node, one announcement
    confirmPending(mine, id);
    if (str(m.text) !== mine.dataset.sent || !linksFor(m)) {
      mine.dataset.links = linksFor(m) ? '1' : '0';
      fillText(mine, str(m.text));
    }
    mine.dataset.at = str(m.at) || mine.dataset.at;
    delete mine.dataset.acked;
    state.lastId = id;
    clearTyping(nick);
    return;
  }
  const node = renderMessage(m, own);
  state.shown.set(id, node);
  state.lastId = id;
  clearTyping(nick);
  const ignored = node.classList.contains('ignored');
  insertLine(node, { own, notify: !ignored });
  placeInLog(node);
  if (countUnread && !own && !ignored && document.hidden) {
    state.unread += 1;
    updateTitle();
  }
  if (countUnread && !own && !ignored) onIncoming(m, node.classList.contains('mentions-me'));
}

// A message shown already, seen again (history after a rejoin): what changed meanwhile.
function refreshShown(node, m) {
  if (node.classList.contains('deleted')) return;
  if (m.reactions && typeof m.reactions === 'object') setReactions(node, m.reactions);
  if (str(m.edited) && str(m.text) && str(m.text) !== node.dataset.text) {
    fillText(node, str(m.text));
    markEdited(node, m.edited);
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
  addMenu(el);
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
