// The composer: sending a message, the house-rules gate, chat errors, the counter, drafts.
import { wsOpen } from './connection.js';
import { disarmEsc } from './keys.js';
import { refreshRooms } from './landing.js';
import { placeInLog } from './grouping.js';
import { renderMessage, scrollToBottom } from './log.js';
import { maybeSendTyping } from './members.js';
import { takeReply } from './reply.js';
import { pumpOutbox, setNote } from './sending.js';
import { CHAT_ERROR_MS, OUTBOX_MAX, state, ui } from './state.js';
import { rulesAccepted, setRulesAccepted } from './status.js';
import { charCount, inChat, roulette, updateTitle } from './util.js';

export function sendMessage() {
  const text = ui.input.value.trim();
  if (!text) return;
  const max = state.limits.message_max;
  const length = charCount(text);
  if (length > max) { showChatError(`Your message is too long (${length} / ${max} characters).`); return; }
  // While reconnecting to a room, a message waits in the outbox (with its client id) and goes
  // out once, after the rejoin. A roulette chat cannot be rejoined: nothing to wait for.
  const offline = state.phase === 'rejoining' || (state.phase === 'joined' && !wsOpen());
  if (state.phase !== 'joined' && !(offline && !roulette())) {
    showChatError('This chat is not connected. Your message is kept here.');
    return;
  }
  if (!rulesAccepted()) { showRulesGate(); return; }
  if (state.outbox.length >= OUTBOX_MAX) {
    showChatError(`Slow down: ${state.outbox.length} messages are still waiting to be sent; yours stays here until then.`);
    return;
  }
  state.clientSeq += 1;
  const clientId = `c${Date.now().toString(36)}-${state.clientSeq}`;
  const reply = takeReply(); // a reply to a message (shown above it), cleared from the composer
  const node = renderMessage({ nick: state.nick, text, at: new Date().toISOString(), reply_to: reply }, true);
  node.classList.add('pending');
  node.dataset.sent = text;
  ui.messages.appendChild(node);
  placeInLog(node);
  const entry = { text, el: node, id: null, sent: false, resends: 0, replyTo: reply ? reply.id : null };
  state.pending.set(clientId, entry);
  state.outbox.push(clientId);
  if (offline) setNote(entry, 'Waiting for the connection: it goes out once you are back.');
  pumpOutbox();
  ui.input.value = '';
  state.drafts.delete(draftKey());
  saveDrafts();
  state.lastTypingSent = 0;
  autoResize();
  updateCounter();
  showChatError('');
  scrollToBottom();
}

// House rules not accepted yet: they are shown above the composer, the message stays in the
// input and goes out once they are accepted.
export function showRulesGate() {
  ui.rulesGateText.textContent = state.rules || '';
  ui.rulesGate.hidden = false;
  ui.rulesAccept.focus();
}

export function acceptRulesAndSend() {
  setRulesAccepted(true);
  ui.rulesGate.hidden = true;
  ui.input.focus();
  sendMessage();
}

export function showChatError(text) {
  clearTimeout(state.chatErrorTimer);
  ui.chatError.textContent = text;
  ui.chatError.hidden = !text;
  if (text) state.chatErrorTimer = setTimeout(() => showChatError(''), CHAT_ERROR_MS);
}

export function updateCounter() {
  const max = state.limits.message_max;
  const length = charCount(ui.input.value);
  const near = length >= Math.floor(max * 0.8);
  ui.counter.textContent = near ? `${length} / ${max}` : '';
  ui.counter.classList.toggle('over', length > max);
  ui.input.setAttribute('aria-invalid', length > max ? 'true' : 'false');
}

export function autoResize() {
  ui.input.style.height = 'auto';
  if (ui.input.value) ui.input.style.height = `${ui.input.scrollHeight + 2}px`;
}

/* Drafts: what is in the composer, kept per chat (a room, or roulette) for the tab's session. */

export function draftKey() {
  return roulette() ? 'roulette' : `room:${state.room || ''}`;
}

export function onComposerInput() {
  disarmEsc();
  if (inChat()) {
    if (ui.input.value) state.drafts.set(draftKey(), ui.input.value);
    else state.drafts.delete(draftKey());
    saveDrafts();
  }
  autoResize();
  updateCounter();
  maybeSendTyping();
}

export function saveDrafts() {
  try { sessionStorage.setItem('drafts', JSON.stringify([...state.drafts])); } catch (e) { /* storage may be disabled */ }
}

export function loadDrafts() {
  try {
    const list = JSON.parse(sessionStorage.getItem('drafts') || '[]');
    if (Array.isArray(list)) {
      for (const item of list) {
        if (Array.isArray(item) && typeof item[0] === 'string' && typeof item[1] === 'string') state.drafts.set(item[0], item[1]);
      }
    }
  } catch (e) { /* storage may be disabled, or hold something else */ }
}

export function onVisibilityChange() {
  if (document.hidden) return;
  state.unread = 0;
  state.mentions = 0;
  updateTitle();
  if (!ui.landing.hidden) refreshRooms();
}
