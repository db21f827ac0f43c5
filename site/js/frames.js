// Server frames: one handler per frame type (unknown types are ignored).
import { showChatError, updateCounter } from './composer.js';
import { dropSocket, enterBanned, onJoinTimeout, send, sendJoin, showBanner, wsOpen } from './connection.js';
import { onRestarting } from './connection.js';
import { showCreateError } from './create.js';
import { showLandingError, showNickError, showRoomError, updateNickHelp } from './landing.js';
import { onActionError } from './actions.js';
import { onDeletedFrame, onEditedFrame } from './edit.js';
import { addMessage, addSystem, confirmPending, scrollToBottom, settleUnsentPending } from './log.js';
import { onReactionsFrame, setOffered } from './reactions.js';
import { clearTyping, renderTyping, setMembers } from './members.js';
import { announceMatch, interestsLine, renderWaitingCounts, sendRoulette, showInterestsError } from './queue.js';
import { applyRoomState, noteRefusal, onRoomUpdated, resetRoomState } from './room-state.js';
import { backToLanding, endRouletteChat, renderChatHeader, showChat } from './screens.js';
import { onMuted, onMutedError, onWarned } from './sanctions.js';
import { noteMessage, notePairEnded, onReportError, onReported, onReportOutcome, renderPartner } from './report.js';
import { onSayRefused, pumpOutbox } from './sending.js';
import { JOIN_TIMEOUT_MS, LEAVE_GRACE_MS, REJOIN_RETRY_MAX, REJOIN_RETRY_MS, REJOIN_TRANSIENT, TYPING_SHOW_MS, state, ui } from './state.js';
import { checkBan } from './status.js';
import { banText, describeError, inChat, num, queueing, roomTitle, roulette, str } from './util.js';

export const HANDLERS = new Map([
  ['hello', onHello], ['joined', onJoined], ['message', onMessage], ['ack', onAck],
  ['presence', onPresence], ['typing', onTyping], ['edited', onEditedFrame], ['deleted', onDeletedFrame],
  ['reactions', onReactionsFrame],
  ['error', onError], ['kicked', onKicked], ['pong', () => {}],
  ['restarting', onRestarting],
  ['waiting', onWaiting], ['matched', onMatched], ['stranger_left', onStrangerLeft], ['created', onCreated],
  ['room_updated', onRoomUpdated], ['resumed', onResumed],
  ['stranger_reconnecting', onStrangerReconnecting], ['stranger_back', onStrangerBack],
  ['muted', onMuted], ['warned', onWarned],
  ['reported', onReported], ['report_outcome', onReportOutcome],
]);

export function onSocketMessage(ev) {
  state.lastFrameAt = Date.now();
  let frame;
  try { frame = JSON.parse(ev.data); } catch (e) { return; }
  if (!frame || typeof frame !== 'object' || typeof frame.type !== 'string') return;
  const handler = HANDLERS.get(frame.type);
  if (!handler) return; // unknown frame types are ignored
  try { handler(frame); } catch (e) { console.error('Failed to handle frame', frame.type, e); }
}

export function onHello(f) {
  const limits = f.limits && typeof f.limits === 'object' ? f.limits : {};
  for (const key of ['nick_min', 'nick_max', 'message_max']) {
    if (num(limits[key]) > 0) state.limits[key] = limits[key];
  }
  // Reactions offered and the window for editing or deleting one's own message.
  if (Array.isArray(limits.reactions)) setOffered(limits.reactions);
  state.editWindowSecs = num(limits.edit_window_secs);
  // The server's `say` bucket, one per connection, full when it opens: ours mirrors it.
  const rate = limits.rate && typeof limits.rate === 'object' ? limits.rate : {};
  if (num(rate.burst) >= 1 && num(rate.per_second) > 0) state.rate = { burst: Math.floor(rate.burst), per_second: rate.per_second };
  state.bucket = { tokens: state.rate.burst, at: Date.now() };
  state.holdUntil = 0;
  updateNickHelp();
  updateCounter();
}

export function onWaiting(f) {
  if (!queueing()) return;
  state.phase = 'waiting';
  state.backoffAttempt = 0;
  showBanner(false);
  const tags = Array.isArray(f.interests) ? f.interests.filter((t) => typeof t === 'string' && t) : state.interests;
  state.interests = tags;
  ui.waitingInterests.textContent = interestsLine(tags);
  renderWaitingCounts(f);
  notePairEnded(); // the last stranger stays reportable for a while
  // After Next, a server that counts says when nobody else is looking (rather than pairing the
  // same two again at once).
  ui.waitingStatus.textContent = f.looking === 0 || f.alone === true
    ? 'You are in the queue. Nobody else is looking right now — we\'ll match you when someone arrives.'
    : 'You are in the queue. The chat opens as soon as someone else is looking.';
}

export function onMatched(f) {
  const room = str(f.room);
  if (str(f.resume)) state.resume = str(f.resume);
  const common = Array.isArray(f.common) ? f.common.filter((t) => typeof t === 'string' && t) : [];
  if (queueing() && room) {
    // `joined` follows: it opens the chat screen.
    Object.assign(state, {
      phase: 'joining', mode: 'roulette', room, stranger: str(f.stranger), common,
      lastId: null, strangerGone: false, invite: '', backoffAttempt: 0,
    });
    showBanner(false);
    ui.waitingStatus.textContent = `Found ${strangerName()}! Opening the chat…`;
    announceMatch();
    clearTimeout(state.joinTimer);
    state.joinTimer = setTimeout(onJoinTimeout, JOIN_TIMEOUT_MS);
  } else if (state.phase === 'joined' && roulette() && room === state.room) {
    // (Should `joined` ever come first.)
    Object.assign(state, { stranger: str(f.stranger) || state.stranger, common });
    renderChatHeader();
  }
}

export function matchSummary() {
  if (state.common.length) return `You both like ${state.common.join(', ')}.`;
  if (state.interests.length) return 'No shared interests — you were paired with someone anyway.';
  return 'You were paired with a random stranger.';
}

// The stranger's name, the same everywhere: their nickname, else "the stranger".
export function strangerName(capital = false) {
  if (state.stranger) return state.stranger;
  return capital ? 'The stranger' : 'the stranger';
}

export function onStrangerLeft() {
  if (!roulette() || state.phase !== 'joined') return;
  endRouletteChat(`${strangerName(true)} has left the chat.`);
}

export function onStrangerReconnecting() {
  if (!roulette() || state.phase !== 'joined') return;
  clearTyping(state.stranger);
  addSystem(`${strangerName(true)} lost their connection — waiting for them to come back…`);
}

export function onStrangerBack() {
  if (!roulette() || state.phase !== 'joined') return;
  addSystem(`${strangerName(true)} is back.`);
}

// The answer to `resume`: the same seat, the messages missed meanwhile (each shown once).
export function onResumed(f) {
  if (state.phase !== 'rejoining') {
    send({ type: 'leave' }); // a late answer to a reconnect we gave up on
    return;
  }
  clearTimeout(state.joinTimer);
  state.resume = str(f.resume) || null;
  Object.assign(state, {
    phase: 'joined', room: str(f.room) || state.room, nick: str(f.nick) || state.nick,
    backoffAttempt: 0, rejoinRetries: 0,
  });
  if (roulette() && str(f.stranger)) state.stranger = str(f.stranger);
  showBanner(false);
  applyRoomState(roomFields(f));
  setMembers(Array.isArray(f.members) ? f.members : []);
  if (f.gap === true) addSystem('You missed some messages while you were away.');
  for (const item of Array.isArray(f.missed) ? f.missed : []) {
    if (item && typeof item === 'object') addMessage(item, true);
  }
  addSystem('Reconnected.');
  settleUnsentPending();
}

export function onCreated(f) {
  if (state.phase !== 'creating' || !state.creating) return;
  const room = str(f.room);
  if (!room) return;
  const c = state.creating;
  state.creating = null;
  ui.create.disabled = false;
  if (!state.rooms.has(room)) {
    state.rooms.set(room, { slug: room, title: c.title, topic: '', members: 0, capacity: c.capacity, locked: false, kind: 'visitor' });
  }
  const invite = str(f.invite);
  Object.assign(state, {
    phase: 'joining', room, lastId: null, rejoinRetries: 0,
    invite: invite.startsWith('/') ? invite : `/?room=${encodeURIComponent(room)}`,
  });
  ui.createTitle.value = '';
  ui.landingStatus.textContent = `Joining ${c.title}…`;
  sendJoin();
}

export function onJoined(f) {
  if (queueing() && roulette()) {
    // A pair's `joined` before its `matched`: take the stranger from the member list.
    const others = (Array.isArray(f.members) ? f.members : []).filter((m) => typeof m === 'string' && m !== state.nick);
    Object.assign(state, { phase: 'joining', room: str(f.room), stranger: others[0] || '', common: [], strangerGone: false });
  }
  if (state.phase !== 'joining' && state.phase !== 'rejoining') {
    send({ type: 'leave' }); // a late answer to a join we gave up on
    return;
  }
  const fresh = state.phase === 'joining';
  clearTimeout(state.joinTimer);
  state.resume = str(f.resume) || null;
  Object.assign(state, {
    phase: 'joined', room: str(f.room) || state.room, nick: str(f.nick) || state.nick,
    backoffAttempt: 0, rejoinRetries: 0,
  });
  showBanner(false);
  if (fresh) { showChat(); resetRoomState(f); } else applyRoomState(roomFields(f));
  renderPartner();
  setMembers(Array.isArray(f.members) ? f.members : []);
  for (const item of Array.isArray(f.history) ? f.history : []) {
    if (item && typeof item === 'object') addMessage(item, !fresh);
  }
  if (fresh && roulette()) {
    addSystem(`You are chatting with ${strangerName()} as ${state.nick}. ${matchSummary()}`);
    if (state.stranger && state.stranger === state.lastStranger) {
      addSystem(`This is ${state.stranger} again: nobody else was looking. Press Next to wait for someone new.`);
    }
    state.lastStranger = state.stranger;
    scrollToBottom();
  } else if (fresh) {
    addSystem(`You joined ${roomTitle(state.room)} as ${state.nick}.`);
    scrollToBottom();
  } else {
    addSystem('Reconnected.');
    settleUnsentPending();
  }
}

// The room-state fields a `joined` carries (`links` not yet).
function roomFields(f) {
  return {
    locked: typeof f.locked === 'boolean' ? f.locked : undefined,
    slowmode_secs: typeof f.slowmode_secs === 'number' ? f.slowmode_secs : undefined,
    links: typeof f.links === 'boolean' ? f.links : undefined,
  };
}

export function onMessage(f) {
  if (state.phase !== 'joined') return;
  addMessage(f, true);
  noteMessage(f, str(f.nick) === state.nick);
  clearTyping(str(f.nick)); // who sent a message is no longer typing it
}

export function onAck(f) {
  const clientId = str(f.client_id);
  const entry = state.pending.get(clientId);
  if (state.inFlight === clientId) { state.inFlight = null; pumpOutbox(); }
  if (!entry) return;
  const id = str(f.id);
  if (!id) return;
  state.pending.delete(clientId);
  if (state.shown.has(id) && state.shown.get(id) !== entry.el) entry.el.remove(); // shown already
  else confirmPending(entry.el, id); // the bubble is the message now, in place
}

export function onPresence(f) {
  if (state.phase !== 'joined') return;
  const nick = str(f.nick);
  if (!nick || nick === state.nick) return;
  // In a roulette chat the opening line names the stranger and `stranger_left` says goodbye.
  if (f.event === 'join') {
    const known = state.members.includes(nick);
    if (!known) setMembers([...state.members, nick]);
    if (state.leaving.has(nick)) { // back within the grace: their reconnect makes no noise
      clearTimeout(state.leaving.get(nick));
      state.leaving.delete(nick);
    } else if (!roulette()) {
      // A join we already know of (the server may repeat one around our own join) says nothing.
      if (!known) addSystem(`${nick} joined`);
    }
    else if (!known && !state.stranger) { state.stranger = nick; renderChatHeader(); }
  } else if (f.event === 'leave' || f.event === 'kick') {
    setMembers(state.members.filter((m) => m !== nick));
    clearTyping(nick);
    if (roulette()) return;
    if (f.event === 'kick') { addSystem(`${nick} was removed`); return; }
    // "left" waits a moment: someone whose connection blipped is back before it shows.
    clearTimeout(state.leaving.get(nick));
    state.leaving.set(nick, setTimeout(() => {
      state.leaving.delete(nick);
      if (state.phase === 'joined' || state.phase === 'rejoining') addSystem(`${nick} left`);
    }, LEAVE_GRACE_MS));
  }
}

export function onTyping(f) {
  const nick = str(f.nick);
  if (state.phase !== 'joined' || !nick || nick === state.nick) return;
  clearTimeout(state.typers.get(nick));
  state.typers.set(nick, setTimeout(() => clearTyping(nick), TYPING_SHOW_MS));
  renderTyping();
}

export function onError(f) {
  if (onReportError(f)) return; // a refused report is said in its dialog
  if (onActionError(f)) return; // a refused reaction, edit or delete is said next to its message
  const text = describeError(f);
  const clientId = str(f.client_id);
  const entry = clientId ? state.pending.get(clientId) : null;
  onMutedError(f);
  if (str(f.code) === 'banned') { // (the socket is closed with 4003 next) say until when and why
    checkBan().then((ban) => { if (ban) enterBanned(ban); });
  }
  if (entry) { // a `say` was refused: its bubble says so; the input is left alone
    noteRefusal(str(f.code));
    onSayRefused(clientId, entry, f);
  } else if (state.phase === 'joining' || state.phase === 'rejoining') {
    onJoinFailed(f, text);
  } else if (queueing()) {
    onQueueFailed(f, text);
  } else if (state.phase === 'creating') {
    onCreateFailed(f, text);
  } else if (inChat()) {
    noteRefusal(str(f.code));
    if (!(str(f.code) === 'room_locked' && state.locked)) showChatError(text); // the lock shows already
  } else if (f.code !== 'not_in_room') {
    showLandingError(text);
  }
}

export function onJoinFailed(f, text) {
  clearTimeout(state.joinTimer);
  const code = str(f.code);
  if (code === 'resume_expired' && state.phase === 'rejoining') {
    // The session is over (too long away, or revoked): a pair cannot be joined again; a room can.
    state.resume = null;
    if (roulette()) endRouletteChat('Connection lost — this chat has ended.');
    else sendJoin();
    return;
  }
  // After a reconnect our old seat may linger briefly: retry a few times.
  if (state.phase === 'rejoining' && REJOIN_TRANSIENT.has(code) && state.rejoinRetries < REJOIN_RETRY_MAX) {
    state.rejoinRetries += 1;
    const delay = Math.max(num(f.retry_after_ms), REJOIN_RETRY_MS * state.rejoinRetries);
    clearTimeout(state.retryTimer);
    state.retryTimer = setTimeout(() => { if (state.phase === 'rejoining' && wsOpen()) sendJoin(); }, delay);
    return;
  }
  // Each error once, next to what it concerns: the nickname, the room, else the page.
  const slug = state.room;
  backToLanding('');
  if (code === 'invalid_nick' || code === 'nick_taken') {
    showNickError(text);
    ui.nick.focus();
  } else if (!ROOM_ERRORS.has(code) || !showRoomError(slug, text)) {
    showLandingError(text);
  }
}

const ROOM_ERRORS = new Set(['room_full', 'room_locked', 'unknown_room', 'too_many_seats']);

export function onQueueFailed(f, text) {
  const code = str(f.code);
  if (code === 'not_in_room' && state.phase === 'queueing') { // `next` with no chat to end: queue afresh
    sendRoulette();
    return;
  }
  if (code === 'rate_limited' && num(f.retry_after_ms) > 0 && num(f.retry_after_ms) < 10000) {
    ui.waitingStatus.textContent = text;
    clearTimeout(state.retryTimer);
    state.retryTimer = setTimeout(() => { if (state.phase === 'queueing' && wsOpen()) sendRoulette(); }, f.retry_after_ms);
    return;
  }
  backToLanding(code === 'bad_frame' || code === 'invalid_nick' ? '' : text);
  if (code === 'invalid_nick' || code === 'nick_taken') {
    showNickError(text);
    ui.nick.focus();
  } else if (code === 'bad_frame') {
    showInterestsError(text);
    ui.interests.focus();
  }
}

export function onCreateFailed(f, text) {
  const code = str(f.code);
  backToLanding('');
  if (code === 'invalid_nick') {
    showNickError(text);
    ui.nick.focus();
  } else {
    showCreateError(text);
    ui.createTitle.focus();
  }
}

export function onKicked(f) {
  const reason = str(f.reason);
  state.kicked = true; // no auto-reconnect
  dropSocket();
  backToLanding(reason ? `You were removed from the room: ${reason}` : 'You were removed from the room.');
  // A ban closes with a kick: say until when, and stop new attempts.
  checkBan().then((ban) => {
    if (ban && state.phase === 'idle') showLandingError(`You were removed from the room. ${banText(ban)}`);
  });
}
