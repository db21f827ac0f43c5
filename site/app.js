/*
 * Textual Chatroulette — browser client (no framework, no build step).
 *
 * This file wires the page up; the work is done by ES modules in js/, one job each:
 *   state.js       constants, DOM references (`ui`) and the shared `state` object
 *   util.js        small helpers: guards, nickname rules and colours, times, wording of errors
 *   landing.js     nickname field, live room list, joining a room
 *   queue.js       roulette: interests, the waiting screen
 *   create.js      "New room": opening a visitor room
 *   invite.js      invite links (/?room=SLUG)
 *   status.js      GET /api/status (bans) and GET /api/info (settings, house rules)
 *   appeal.js      the appeal of a ban under its notice: POST /api/appeals, then its state and replies
 *   connection.js  the tab's one WebSocket: ping, reconnect with backoff, refused upgrades
 *   shield.js      the proof-of-work pass (GET /api/challenge, solved in pow-worker.js)
 *   frames.js      one handler per server frame type
 *   screens.js     chat screen and header, a roulette chat ending, back to the landing page
 *   log.js         the message log: order, dedup by id, pending copies, autoscroll
 *   composer.js    sending, house-rules gate, chat errors, counter, drafts
 *   members.js     member list and typing indicator
 *   keys.js        Enter and Esc
 *   sending.js     outbox paced by the server's bucket, refusals kept as bubbles
 *   links.js       http(s) URLs in messages as links, built node by node
 *   room-state.js  lock and slow mode: system lines, the composer off, the chip
 *   theme.js       the light/dark choice beside the system default
 *   report.js      the Report dialog (messages and the roulette stranger); the device token
 *   menu.js        the message menu (⋯ or a long press): react, Reply, Edit, Delete, Report, Ignore
 *   reply.js       replying: the bar above the composer, the quote above a reply, going to the original
 *   reactions.js   the reactions offered, chips under messages, toggling them
 *   edit.js        editing and deleting one's own message within the window; `edited`, `deleted`
 *   actions.js     refusals of a reaction, edit or delete, said next to the message
 *   mentions.js    "@me" in a message, highlighted
 *   notify.js      mentions in the title and favicon; opt-in notification and sound while hidden
 *   ignore.js      hiding one nickname's messages for the session
 *   grouping.js    consecutive messages of one sender grouped; day separators
 *   times.js       relative times ("4 min ago"), the exact time on hover
 *
 * Keys: Enter in the nickname field only checks it (or joins the room of an invite link); in a
 * chat Esc first cancels a reply being written, then the first Esc leaves the composer (the
 * draft stays), a second Esc leaves or skips.
 * Bans: GET /api/status on load, after a refused upgrade and after a kick; a banned visitor is
 * told until when and why, and the page stops trying to connect.
 *
 * Session phases: 'idle' (landing) → 'joining' (landing, join sent) → 'joined' (chat)
 * ⇄ 'rejoining' (chat, banner shown, reconnecting) → back to 'idle' on leave/kick/failure.
 * Roulette: 'idle' → 'queueing' (waiting screen, roulette/next sent) → 'waiting' (server queued
 * us) → 'joining' (matched, joined follows) → 'joined' (chat, mode 'roulette') → 'ended' (chat
 * still shown, composer off: the stranger left or the connection dropped; a pair room cannot be
 * rejoined) → 'queueing' again on Next / Find another. Own room: 'idle' → 'creating' (create
 * sent) → 'joining' once `created` names the room.
 *
 * Safety: every piece of user-provided text goes through textContent, never innerHTML.
 */
import { acceptRulesAndSend, loadDrafts, onComposerInput, onVisibilityChange, sendMessage, updateCounter } from './js/composer.js';
import { reconnectNow } from './js/connection.js';
import { startCreate } from './js/create.js';
import { loadInvite, refreshInvite } from './js/invite.js';
import { disarmEsc, onDocumentKeydown, onInputKeydown } from './js/keys.js';
import { onNickInput, onNickKeydown, onRoomsClick, randomNick, refreshRooms, showLandingError, startJoin, updateNickHelp } from './js/landing.js';
import { onLogScroll, scrollToBottom } from './js/log.js';
import { setMembersExpanded } from './js/members.js';
import { cancelQueue, joinOfferedRoom, loadMatchSound, onMatchSoundChange, showInterestsError, startRoulette, stopFlash } from './js/queue.js';
import { copyInvite, leaveRoom, nextStranger } from './js/screens.js';
import { prepareShield } from './js/shield.js';
import { onMessagesClick } from './js/sending.js';
import { $, LOBBY, ROOMS_REFRESH_MS, coarsePointer, narrowScreen, state, ui } from './js/state.js';
import { initReports } from './js/report.js';
import { initMenu } from './js/menu.js';
import { initNotify } from './js/notify.js';
import { initReply } from './js/reply.js';
import { startRelativeTimes } from './js/times.js';
import { applyTheme, cycleTheme } from './js/theme.js';
import { checkBan, loadInfo, setRulesAccepted } from './js/status.js';
import { banText, parseInterests } from './js/util.js';

function init() {
  applyTheme();
  initReports();
  initMenu();
  initReply();
  initNotify();
  startRelativeTimes();
  ui.themeToggle.addEventListener('click', cycleTheme);
  ui.randomNick.addEventListener('click', randomNick);
  ui.joinLobby.addEventListener('click', () => startJoin(LOBBY));
  ui.waitingJoin.addEventListener('click', joinOfferedRoom);
  loadMatchSound();
  ui.matchSound.addEventListener('change', onMatchSoundChange);
  ui.retryNow.addEventListener('click', () => { ui.bannerText.textContent = 'Trying again now…'; reconnectNow(); });
  ui.membersOpen.addEventListener('click', () => {
    setMembersExpanded(ui.membersOpen.getAttribute('aria-expanded') !== 'true');
    if (ui.membersOpen.getAttribute('aria-expanded') === 'true') ui.membersToggle.focus();
  });
  document.addEventListener('visibilitychange', stopFlash);
  try { ui.nick.value = sessionStorage.getItem('nick') || ''; } catch (e) { /* storage may be disabled */ }
  loadDrafts();
  ui.nick.addEventListener('input', onNickInput);
  // The proof-of-work pass, when the gate is on, is made while the visitor types (shield.js).
  ui.nick.addEventListener('focus', prepareShield);
  ui.nick.addEventListener('input', prepareShield);
  ui.nick.addEventListener('keydown', onNickKeydown);
  try { ui.interests.value = sessionStorage.getItem('interests') || ''; } catch (e) { /* storage may be disabled */ }
  ui.rooms.addEventListener('click', onRoomsClick);
  ui.leave.addEventListener('click', leaveRoom);
  ui.inviteJoin.addEventListener('click', () => { if (state.invited) startJoin(state.invited.slug, `/?room=${encodeURIComponent(state.invited.slug)}`); });
  ui.rouletteForm.addEventListener('submit', (event) => { event.preventDefault(); startRoulette(); });
  ui.interests.addEventListener('input', () => { if (!ui.interestsError.hidden) showInterestsError(parseInterests(ui.interests.value).error || ''); });
  ui.createForm.addEventListener('submit', (event) => { event.preventDefault(); startCreate(); });
  ui.rulesCheck.addEventListener('change', () => setRulesAccepted(ui.rulesCheck.checked));
  ui.cancel.addEventListener('click', cancelQueue);
  ui.next.addEventListener('click', () => nextStranger(false));
  ui.block.addEventListener('click', () => nextStranger(true));
  ui.findAnother.addEventListener('click', () => nextStranger(false));
  ui.copyInvite.addEventListener('click', copyInvite);
  ui.rulesAccept.addEventListener('click', acceptRulesAndSend);
  ui.composer.addEventListener('submit', (event) => { event.preventDefault(); sendMessage(); });
  ui.input.addEventListener('keydown', onInputKeydown);
  ui.input.addEventListener('input', onComposerInput);
  ui.input.addEventListener('focus', disarmEsc);
  ui.messages.addEventListener('click', onMessagesClick);
  ui.messages.addEventListener('scroll', onLogScroll);
  // Keep the log pinned to the bottom when it shrinks (growing textarea, resized window).
  new ResizeObserver(() => { if (state.pinned) ui.messages.scrollTop = ui.messages.scrollHeight; }).observe(ui.messages);
  ui.newMessages.addEventListener('click', () => { scrollToBottom(); ui.input.focus(); });
  ui.membersToggle.addEventListener('click', () => {
    setMembersExpanded(ui.membersToggle.getAttribute('aria-expanded') !== 'true');
  });
  narrowScreen.addEventListener('change', (event) => setMembersExpanded(!event.matches));
  document.addEventListener('keydown', onDocumentKeydown);
  document.addEventListener('visibilitychange', onVisibilityChange);
  window.addEventListener('online', reconnectNow);
  updateNickHelp();
  updateCounter();
  refreshRooms();
  loadInfo();
  loadInvite();
  prepareShield();
  if (coarsePointer.matches) $('input-hint').textContent = 'Enter starts a new line; the Send button sends.';
  // The nickname is the first thing to fill in: focused on desktop (on a phone that would open
  // the keyboard over the page before it was read).
  if (!coarsePointer.matches && !new URLSearchParams(location.search).has('room')) ui.nick.focus();
  checkBan().then((ban) => { if (ban && state.phase === 'idle') showLandingError(banText(ban)); });
  setInterval(() => {
    if (ui.landing.hidden || document.hidden) return;
    refreshRooms();
    loadInfo();
    refreshInvite();
  }, ROOMS_REFRESH_MS);
}

init();
