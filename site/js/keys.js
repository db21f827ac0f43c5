// Keyboard: Enter in the composer, Esc twice to leave or skip.
import { sendMessage } from './composer.js';
import { setMembersExpanded } from './members.js';
import { cancelQueue } from './queue.js';
import { cancelReply } from './reply.js';
import { leaveRoom, nextStranger } from './screens.js';
import { coarsePointer, narrowScreen, state, ui } from './state.js';
import { roulette } from './util.js';

export function onInputKeydown(event) {
  if (event.key !== 'Enter' || event.shiftKey || event.isComposing || event.keyCode === 229) return;
  // On a touch screen Enter starts a new line (the keyboard's own key says "send", and the Send
  // button sends): a thumb cannot reach Shift+Enter.
  if (coarsePointer.matches) return;
  event.preventDefault();
  sendMessage();
}

// Esc in a chat: a reply being written is cancelled first (the draft stays); then the first one
// only leaves the composer (the draft stays) and says what a second
// one does; the second leaves a room, or is Next in a roulette chat. Typing again disarms it.
// While looking for a stranger, Esc cancels.
export function onDocumentKeydown(event) {
  if (event.key !== 'Escape' || event.isComposing) return;
  if (!ui.chat.hidden) {
    event.preventDefault();
    if (narrowScreen.matches && ui.membersOpen.getAttribute('aria-expanded') === 'true') {
      setMembersExpanded(false); // the member sheet closes first
      ui.membersOpen.focus();
      return;
    }
    if (cancelReply()) { ui.input.focus(); return; } // a reply being written is cleared first, the draft kept
    if (!state.escArmed) { armEsc(); return; }
    disarmEsc();
    if (roulette()) nextStranger();
    else leaveRoom();
  } else if (!ui.waiting.hidden) {
    event.preventDefault();
    cancelQueue();
  }
}

export function armEsc() {
  state.escArmed = true;
  if (document.activeElement === ui.input) ui.input.blur();
  let action = 'leave the room';
  if (roulette()) action = state.phase === 'ended' ? 'find another stranger' : 'skip this stranger';
  const draft = ui.input.value.trim() ? ' Your draft is kept.' : '';
  ui.escHint.textContent = `Press Esc again to ${action}.${draft}`;
  ui.escHint.hidden = false;
}

export function disarmEsc() {
  state.escArmed = false;
  ui.escHint.textContent = '';
  ui.escHint.hidden = true;
}
