// Switching screens: the chat screen and its header, a roulette chat ending, back to the landing page.
import { autoResize, draftKey, showChatError, updateCounter } from './composer.js';
import { send, showBanner } from './connection.js';
import { matchSummary, strangerName } from './frames.js';
import { disarmEsc } from './keys.js';
import { refreshRooms, showLandingError } from './landing.js';
import { addSystem } from './log.js';
import { clearAllTyping, setMembersExpanded } from './members.js';
import { enterQueue, stopWaitingClock } from './queue.js';
import { cancelReply } from './reply.js';
import { stopRoomPoll } from './room-state.js';
import { resetOutbox } from './sending.js';
import { COPIED_MS, coarsePointer, narrowScreen, state, ui } from './state.js';
import { chatTitle, inChat, roulette, str, updateTitle } from './util.js';

export function showChat() {
  for (const timer of state.leaving.values()) clearTimeout(timer);
  state.leaving.clear();
  ui.messages.replaceChildren();
  state.shown.clear();
  cancelReply();
  state.pending.clear();
  state.lastId = null;
  state.unread = 0;
  state.mentions = 0;
  state.newBelow = 0;
  ui.newMessages.hidden = true;
  showChatError('');
  clearAllTyping();
  resetOutbox();
  disarmEsc();
  ui.input.value = state.drafts.get(draftKey()) || '';
  autoResize();
  updateCounter();
  renderChatHeader();
  ui.meNick.textContent = state.nick;
  setComposerEnabled(true);
  ui.ended.hidden = true;
  ui.rulesGate.hidden = true;
  ui.inviteBar.hidden = true;
  ui.copyStatus.textContent = '';
  setMembersExpanded(!narrowScreen.matches);
  ui.landing.hidden = true;
  ui.waiting.hidden = true;
  ui.chat.hidden = false;
  document.body.classList.add('in-chat');
  ui.landingStatus.textContent = '';
  ui.rooms.removeAttribute('aria-busy');
  updateTitle();
  ui.input.focus();
}

// The header differs by kind: a roulette chat has Next and Block, a room with an invite link
// has "Copy invite link".
export function renderChatHeader() {
  const pair = roulette();
  ui.roomTitle.textContent = chatTitle();
  if (pair) {
    ui.roomTopic.textContent = matchSummary();
  } else {
    const room = state.rooms.get(state.room);
    ui.roomTopic.textContent = room ? str(room.topic) : '';
  }
  ui.next.hidden = !pair || state.phase === 'ended'; // then "Find another" is the one button
  ui.block.hidden = !pair;
  ui.copyInvite.hidden = pair || !state.invite;
  ui.copyInvite.textContent = canShare() ? 'Share invite link' : 'Copy invite link';
  ui.leave.title = pair ? 'Stop chatting and go back to the start' : 'Leave the room (Esc twice)';
  ui.chat.classList.toggle('pair', pair);
  updateTitle();
}

export function setComposerEnabled(enabled) {
  ui.input.disabled = !enabled;
  ui.send.disabled = !enabled;
  ui.input.placeholder = enabled
    ? 'Write a message…'
    : 'This chat has ended.';
}

// The roulette chat is over (stranger left, or our connection dropped): the log stays readable,
// the composer is off, "Find another" queues again.
export function endRouletteChat(text) {
  const hadFocus = ui.chat.contains(document.activeElement) && document.activeElement !== ui.messages;
  state.phase = 'ended';
  state.strangerGone = true;
  clearTimeout(state.joinTimer);
  clearAllTyping();
  for (const [clientId, entry] of state.pending) { // never confirmed: the stranger did not get them
    entry.el.remove();
    state.pending.delete(clientId);
  }
  resetOutbox();
  addSystem(text);
  ui.endedText.textContent = text.startsWith('Connection') ? text : `${strangerName(true)} has left`;
  ui.ended.hidden = false;
  ui.rulesGate.hidden = true;
  setComposerEnabled(false);
  ui.lockedNote.hidden = true;
  ui.block.hidden = true;
  ui.next.hidden = true;
  if (hadFocus || document.activeElement === document.body) ui.findAnother.focus();
}

export function nextStranger(block = false) {
  if (!roulette() || !(inChat() || state.phase === 'joining')) return;
  enterQueue(block ? 'block' : 'next');
}

// Where the system share sheet exists and the pointer is a finger (a phone), the invite is
// shared through it; elsewhere it is copied.
export function canShare() {
  return typeof navigator.share === 'function' && coarsePointer.matches;
}

export async function copyInvite() {
  if (!state.invite) return;
  const url = new URL(state.invite, location.origin).href;
  ui.inviteUrl.value = url;
  if (canShare()) {
    try {
      await navigator.share({ title: chatTitle(), text: `Join me in ${chatTitle()}`, url });
      return;
    } catch (e) {
      if (e && e.name === 'AbortError') return; // the visitor closed the share sheet
    }
  }
  let copied = false;
  if (navigator.clipboard && window.isSecureContext) {
    try {
      await navigator.clipboard.writeText(url);
      copied = true;
    } catch (e) { /* permission refused: fall back to the field */ }
  }
  if (!copied) {
    // Show the link in a read-only field, selected, so it can be copied by hand (or execCommand).
    ui.inviteBar.hidden = false;
    ui.inviteUrl.focus();
    ui.inviteUrl.select();
    try { copied = document.execCommand('copy'); } catch (e) { copied = false; }
  }
  clearTimeout(state.copiedTimer);
  ui.copyStatus.textContent = copied ? 'Copied' : 'Press Ctrl+C (or ⌘C) to copy the link';
  state.copiedTimer = setTimeout(() => { ui.copyStatus.textContent = ''; }, COPIED_MS);
}

export function backToLanding(message) {
  for (const timer of ['joinTimer', 'retryTimer', 'reconnectTimer']) {
    clearTimeout(state[timer]);
    state[timer] = null;
  }
  state.phase = 'idle';
  state.mode = 'room';
  stopRoomPoll();
  stopWaitingClock();
  for (const timer of state.leaving.values()) clearTimeout(timer);
  state.leaving.clear();
  ui.slowChip.hidden = true;
  ui.lockedNote.hidden = true;
  state.creating = null;
  ui.create.disabled = false;
  ui.waiting.hidden = true;
  state.pending.clear();
  resetOutbox();
  disarmEsc();
  clearAllTyping();
  showBanner(false);
  ui.chat.hidden = true;
  ui.landing.hidden = false;
  document.body.classList.remove('in-chat');
  ui.landingStatus.textContent = '';
  ui.rooms.removeAttribute('aria-busy');
  state.unread = 0;
  updateTitle();
  showLandingError(message || '');
  refreshRooms();
  ui.nick.focus();
}

export function leaveRoom() {
  if (!inChat()) return;
  if (state.phase === 'joined' || state.phase === 'ended') send({ type: 'leave' });
  backToLanding('');
}
