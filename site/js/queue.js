// Roulette on the landing and waiting screens: interests, queueing, the waiting screen.
import { ensureConnected, send, wsOpen } from './connection.js';
import { disarmEsc } from './keys.js';
import { readyNick, startJoin } from './landing.js';
import { clearAllTyping } from './members.js';
import { backToLanding } from './screens.js';
import { resetOutbox } from './sending.js';
import { APP_TITLE, LOBBY, WAIT_OFFER_MS, state, ui } from './state.js';
import { num, parseInterests, queueing, str, updateTitle } from './util.js';

/* Roulette: pairing with one random stranger. */

export function showInterestsError(text) {
  ui.interestsError.textContent = text;
  ui.interestsError.hidden = !text;
  ui.interests.setAttribute('aria-invalid', text ? 'true' : 'false');
}

export function startRoulette() {
  if (state.phase !== 'idle') return;
  const parsed = parseInterests(ui.interests.value);
  if (parsed.error) { showInterestsError(parsed.error); ui.interests.focus(); return; }
  showInterestsError('');
  const nick = readyNick();
  if (!nick) return;
  try { sessionStorage.setItem('interests', ui.interests.value.trim()); } catch (e) { /* storage may be disabled */ }
  Object.assign(state, {
    mode: 'roulette', nick, interests: parsed.tags, kicked: false, room: null, lastId: null, invite: '',
  });
  enterQueue('roulette');
}

// Shows the waiting screen and asks the server for a stranger: `next` from a roulette chat on an
// open socket, else `roulette` (a new connection has no chat to move on from).
export function enterQueue(how) {
  clearTimeout(state.joinTimer);
  state.phase = 'queueing';
  state.stranger = '';
  state.common = [];
  state.strangerGone = false;
  showWaiting();
  if (how === 'next' && wsOpen()) {
    send({ type: 'next' });
  } else if (how === 'block' && wsOpen()) {
    send({ type: 'next', block: true });
  } else if (wsOpen()) {
    sendRoulette();
  } else {
    ensureConnected();
  }
}

export function sendRoulette() {
  const frame = { type: 'roulette', nick: state.nick };
  if (state.interests.length) frame.interests = state.interests;
  send(frame);
}

export function interestsLine(tags) {
  if (!tags.length) return 'No interests given: you will be paired with anyone who is looking.';
  const wait = state.interestWaitSecs > 0 ? ` If nobody does within ${state.interestWaitSecs} s, anyone will do.` : '';
  return `Your interests: ${tags.join(', ')}. Someone who shares one is found first.${wait}`;
}

export function showWaiting() {
  const fromChat = !ui.chat.hidden;
  ui.landing.hidden = true;
  ui.chat.hidden = true;
  ui.waiting.hidden = false;
  document.body.classList.remove('in-chat');
  clearAllTyping();
  state.pending.clear();
  resetOutbox();
  disarmEsc();
  state.unread = 0;
  ui.waitingInterests.textContent = interestsLine(state.interests);
  ui.waitingStatus.textContent = fromChat ? 'Chat ended. Looking for someone new…' : '';
  ui.landingStatus.textContent = '';
  updateTitle();
  startWaitingClock();
  renderWaitingCounts({});
  ui.cancel.focus();
}

/* The waiting screen: elapsed time, live counts, an offer of the Lobby after a while. */

function startWaitingClock() {
  clearInterval(state.waitingTimer);
  state.waitingSince = Date.now();
  ui.waitingOffer.hidden = true;
  tickWaiting();
  state.waitingTimer = setInterval(tickWaiting, 1000);
}

export function stopWaitingClock() {
  clearInterval(state.waitingTimer);
  state.waitingTimer = null;
}

function tickWaiting() {
  if (!queueing()) { stopWaitingClock(); return; }
  const secs = Math.floor((Date.now() - state.waitingSince) / 1000);
  ui.waitingElapsed.textContent = `Looking for ${Math.floor(secs / 60)}:${String(secs % 60).padStart(2, '0')}`;
  if (ui.waitingOffer.hidden && Date.now() - state.waitingSince >= WAIT_OFFER_MS) showWaitingOffer();
}

// The room to offer instead of waiting on: the Lobby, else the busiest open room.
function fallbackRoom() {
  const open = [...state.rooms.values()].filter((r) => r && r.kind !== 'visitor' && r.locked !== true
    && !(num(r.capacity) > 0 && num(r.members) >= num(r.capacity)));
  return open.find((r) => r.slug === LOBBY) || open.sort((a, b) => num(b.members) - num(a.members))[0] || null;
}

function showWaitingOffer() {
  const room = fallbackRoom();
  if (!room) return;
  const title = str(room.title) || room.slug;
  const people = num(room.members);
  ui.waitingOfferText.textContent = people > 0
    ? `Nobody yet. ${people} ${people === 1 ? 'person is' : 'people are'} talking in ${title} right now.`
    : `Nobody yet. Rather wait in ${title}, where everyone can talk?`;
  ui.waitingJoin.textContent = `Join ${title} instead`;
  ui.waitingJoin.dataset.slug = room.slug;
  ui.waitingOffer.hidden = false;
}

export function joinOfferedRoom() {
  const slug = ui.waitingJoin.dataset.slug;
  if (!slug || !queueing()) return;
  cancelQueue();
  startJoin(slug);
}

// "3 looking now · 57 online", from the `waiting` frame or GET /api/info when the server gives
// these counts (absent while its bus is unreachable); a count not given is left out, never made up.
export function renderWaitingCounts(f) {
  const looking = typeof f.looking === 'number' ? f.looking : state.looking;
  const online = typeof f.online === 'number' ? f.online : state.online;
  const parts = [];
  if (typeof looking === 'number') parts.push(`${looking} looking now`);
  if (typeof online === 'number') parts.push(`${online} online`);
  ui.waitingCounts.textContent = parts.join(' · ');
  ui.waitingCounts.hidden = parts.length === 0;
}

/* A match found: the title flashes while the tab is hidden, and a sound plays if asked for. */

let audio = null;

export function onMatchSoundChange() {
  try { localStorage.setItem('match-sound', ui.matchSound.checked ? '1' : '0'); } catch (e) { /* storage may be disabled */ }
  // Made on the click, so the browser lets it play later.
  if (ui.matchSound.checked && !audio && window.AudioContext) audio = new AudioContext();
}

export function loadMatchSound() {
  try { ui.matchSound.checked = localStorage.getItem('match-sound') === '1'; } catch (e) { /* storage may be disabled */ }
}

function chime() {
  if (!audio) return;
  const now = audio.currentTime;
  for (const [i, freq] of [660, 880].entries()) {
    const osc = audio.createOscillator();
    const gain = audio.createGain();
    osc.frequency.value = freq;
    gain.gain.setValueAtTime(0.0001, now + i * 0.15);
    gain.gain.exponentialRampToValueAtTime(0.2, now + i * 0.15 + 0.02);
    gain.gain.exponentialRampToValueAtTime(0.0001, now + i * 0.15 + 0.3);
    osc.connect(gain).connect(audio.destination);
    osc.start(now + i * 0.15);
    osc.stop(now + i * 0.15 + 0.32);
  }
}

export function announceMatch() {
  stopWaitingClock();
  if (ui.matchSound.checked) { try { chime(); } catch (e) { /* sound is a nicety */ } }
  if (!document.hidden) return;
  clearInterval(state.flashTimer);
  let on = false;
  state.flashTimer = setInterval(() => {
    if (!document.hidden) { stopFlash(); return; }
    on = !on;
    if (on) document.title = `★ Stranger found! — ${APP_TITLE}`;
    else updateTitle();
  }, 1000);
}

export function stopFlash() {
  if (!state.flashTimer) return;
  clearInterval(state.flashTimer);
  state.flashTimer = null;
  updateTitle();
}

export function cancelQueue() {
  if (!queueing()) return;
  stopWaitingClock();
  send({ type: 'leave' });
  backToLanding('');
}
