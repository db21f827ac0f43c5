/*
 * Textual Chatroulette — browser client (no framework, no build step).
 *
 * Structure:
 *   1. Constants, DOM references and the single `state` object.
 *   2. Small helpers (text, time, nickname colour, validation).
 *   3. Landing screen: live nickname validation, room list polling, starting a join.
 *   4. Connection: one WebSocket per tab, ping, reconnect with exponential backoff.
 *   5. Server frame handlers, one function per frame type (unknown types are ignored).
 *   6. Chat screen: messages (dedup by id, pending until acked), members, typing,
 *      composer, autoscroll, unread count, leaving.
 *
 * Session phases: 'idle' (landing) → 'joining' (landing, join sent) → 'joined' (chat)
 * ⇄ 'rejoining' (chat, banner shown, reconnecting) → back to 'idle' on leave/kick/failure.
 *
 * Safety: every piece of user-provided text goes through textContent, never innerHTML.
 */
'use strict';

/* ---------- 1. Constants, DOM, state ---------- */

const APP_TITLE = 'Textual Chatroulette';
const NICK_RE = /^[\p{L}\p{M}\p{N} _.\-]+$/u;
const REJOIN_TRANSIENT = new Set(['nick_taken', 'rate_limited', 'unavailable']);
const ROOMS_REFRESH_MS = 5000;
const TYPING_SEND_MS = 3000;
const TYPING_SHOW_MS = 5000;
const PING_MS = 25000;
const SILENCE_LIMIT_MS = 70000;
const JOIN_TIMEOUT_MS = 10000;
const BACKOFF_MIN_MS = 500;
const BACKOFF_MAX_MS = 15000;
const REJOIN_RETRY_MAX = 4;
const REJOIN_RETRY_MS = 1500;
const POLICY_COOLDOWN_MS = 15000;
const CHAT_ERROR_MS = 10000;

const $ = (id) => document.getElementById(id);
const ui = {
  banner: $('banner'), landing: $('landing'), nick: $('nick'), nickHelp: $('nick-help'),
  nickError: $('nick-error'), landingError: $('landing-error'), landingStatus: $('landing-status'),
  rooms: $('rooms'), roomsStatus: $('rooms-status'),
  chat: $('chat'), roomTitle: $('room-title'), roomTopic: $('room-topic'), meNick: $('me-nick'),
  leave: $('leave'), messages: $('messages'), newMessages: $('new-messages'),
  memberPanel: $('member-panel'), membersToggle: $('members-toggle'), memberCount: $('member-count'),
  members: $('members'), typing: $('typing'), chatError: $('chat-error'), composer: $('composer'),
  input: $('input'), counter: $('counter'), send: $('send'),
};
const narrowScreen = window.matchMedia('(max-width: 720px)');

const state = {
  limits: { nick_min: 2, nick_max: 24, message_max: 2000 },
  ws: null, wsOpened: false, lastFrameAt: 0, pingTimer: null,
  phase: 'idle', room: null, nick: null, lastId: null,
  kicked: false, blockedUntil: 0,
  backoffAttempt: 0, reconnectTimer: null, retryTimer: null, rejoinRetries: 0, joinTimer: null,
  rooms: new Map(), roomItems: new Map(), roomsLoading: false,
  members: [],
  shown: new Map(),   // message id -> element (each id shown once)
  pending: new Map(), // client_id -> { text, el, id }
  clientSeq: 0,
  typers: new Map(),  // nick -> expiry timer
  lastTypingSent: 0,
  unread: 0, newBelow: 0, pinned: true, chatErrorTimer: null,
};

/* ---------- 2. Helpers ---------- */

const str = (v) => (typeof v === 'string' ? v : '');
const num = (v) => (typeof v === 'number' && Number.isFinite(v) ? v : 0);
const charCount = (s) => Array.from(s).length;
const inChat = () => state.phase === 'joined' || state.phase === 'rejoining';

function make(tag, className, text) {
  const node = document.createElement(tag);
  if (className) node.className = className;
  if (text !== undefined) node.textContent = text;
  return node;
}

function nickHue(nick) {
  let h = 0;
  for (const ch of nick.toLowerCase()) h = (h * 31 + ch.codePointAt(0)) >>> 0;
  return h % 360;
}

function paintNick(node, nick) {
  node.style.setProperty('--hue', String(nickHue(nick)));
}

function formatTime(at) {
  const d = new Date(at);
  return Number.isNaN(d.getTime()) ? '' : d.toLocaleTimeString([], { hour: '2-digit', minute: '2-digit' });
}

function validateNick(nick) {
  const n = charCount(nick);
  const { nick_min: min, nick_max: max } = state.limits;
  if (n === 0) return 'Please choose a nickname.';
  if (n < min) return `Your nickname needs at least ${min} characters.`;
  if (n > max) return `Your nickname can have at most ${max} characters.`;
  if (!NICK_RE.test(nick)) return 'Use only letters, digits, spaces and _ - . in your nickname.';
  return '';
}

function describeError(f) {
  const fallback = {
    rate_limited: 'You are sending messages too fast.', slowmode: 'This room is in slow mode.',
    nick_taken: 'This nickname is already taken in this room.', room_full: 'This room is full.',
    room_locked: 'This room is locked.', unavailable: 'The chat is temporarily unavailable.',
  };
  let text = str(f.message) || fallback[str(f.code)] || 'Something went wrong.';
  const ms = num(f.retry_after_ms);
  if (ms > 0) text = `${text.replace(/[.\s]+$/, '')} — try again in ${Math.ceil(ms / 1000)} s.`;
  return text;
}

function roomTitle(slug) {
  const room = state.rooms.get(slug);
  return (room && str(room.title)) || slug || '';
}

function updateTitle() {
  const base = inChat() ? `${roomTitle(state.room)} — ${APP_TITLE}` : APP_TITLE;
  document.title = state.unread > 0 ? `(${state.unread}) ${base}` : base;
}

/* ---------- 3. Landing screen ---------- */

function showNickError(text) {
  ui.nickError.textContent = text;
  ui.nickError.hidden = !text;
  ui.nick.setAttribute('aria-invalid', text ? 'true' : 'false');
}

function showLandingError(text) {
  ui.landingError.textContent = text || '';
  ui.landingError.hidden = !text;
}

function onNickInput() {
  const nick = ui.nick.value.trim();
  showNickError(validateNick(nick));
  try { sessionStorage.setItem('nick', nick); } catch (e) { /* storage may be disabled */ }
}

function updateNickHelp() {
  const { nick_min: min, nick_max: max } = state.limits;
  // No-break spaces keep "and _ - ." together: a line must not start with a lone "_ - .".
  ui.nickHelp.textContent = `${min}–${max} characters: letters, digits, spaces and\u00a0_\u00a0-\u00a0.`;
}

async function refreshRooms() {
  if (state.roomsLoading) return;
  state.roomsLoading = true;
  const ctrl = new AbortController();
  const timer = setTimeout(() => ctrl.abort(), 4000);
  try {
    const res = await fetch('/api/rooms', { cache: 'no-store', headers: { Accept: 'application/json' }, signal: ctrl.signal });
    if (!res.ok) throw new Error(`HTTP ${res.status}`);
    const list = await res.json();
    if (!Array.isArray(list)) throw new Error('unexpected room list');
    renderRooms(list);
    ui.roomsStatus.textContent = state.roomItems.size ? '' : 'No rooms are open right now.';
  } catch (e) {
    ui.roomsStatus.textContent = 'Could not load the room list — retrying…';
  } finally {
    clearTimeout(timer);
    state.roomsLoading = false;
  }
}

// Updates the list in place (keyed by slug) so focus and hover survive each refresh.
function renderRooms(list) {
  const seen = new Set();
  let pos = 0;
  for (const room of list) {
    const slug = room && str(room.slug);
    if (!slug || seen.has(slug)) continue;
    seen.add(slug);
    state.rooms.set(slug, room);
    let item = state.roomItems.get(slug);
    if (!item) {
      item = createRoomItem(slug);
      state.roomItems.set(slug, item);
    }
    updateRoomItem(item, room);
    const current = ui.rooms.children[pos];
    if (current !== item) ui.rooms.insertBefore(item, current || null);
    pos += 1;
  }
  for (const [slug, item] of state.roomItems) {
    if (!seen.has(slug)) { item.remove(); state.roomItems.delete(slug); }
  }
}

function createRoomItem(slug) {
  const item = make('li', 'room');
  item.dataset.slug = slug;
  const info = make('div', 'room-info');
  info.append(make('h3', 'room-title'), make('p', 'room-topic'));
  const occ = make('div', 'room-occ');
  const bar = make('div', 'bar');
  bar.setAttribute('aria-hidden', 'true');
  bar.append(make('div', 'bar-fill'));
  occ.append(make('span', 'room-count'), bar);
  const join = make('button', 'join', 'Join');
  join.type = 'button';
  item.append(info, occ, join, make('span', 'room-badge'));
  return item;
}

function updateRoomItem(item, room) {
  const title = str(room.title) || str(room.slug);
  const members = Math.max(0, num(room.members));
  const capacity = Math.max(0, num(room.capacity));
  const locked = room.locked === true;
  const full = capacity > 0 && members >= capacity;
  item.querySelector('.room-title').textContent = title;
  item.querySelector('.room-topic').textContent = str(room.topic);
  const count = item.querySelector('.room-count');
  count.textContent = capacity > 0 ? `${members} / ${capacity}` : String(members);
  count.title = capacity > 0 ? `${members} of ${capacity} places taken` : `${members} people`;
  const ratio = capacity > 0 ? Math.min(1, members / capacity) : 0;
  item.querySelector('.bar-fill').style.width = `${Math.round(ratio * 100)}%`;
  item.querySelector('.bar').classList.toggle('high', ratio >= 0.8);
  const badge = item.querySelector('.room-badge');
  badge.textContent = locked ? 'Locked' : full ? 'Full' : '';
  badge.hidden = !badge.textContent;
  item.classList.toggle('locked', locked);
  item.classList.toggle('full', full);
  const join = item.querySelector('.join');
  join.disabled = locked || full;
  join.setAttribute('aria-label', locked ? `${title} is locked` : full ? `${title} is full` : `Join ${title}`);
}

function onRoomsClick(event) {
  const item = event.target.closest('.room');
  if (!item || !ui.rooms.contains(item)) return;
  if (item.querySelector('.join').disabled) return;
  startJoin(item.dataset.slug);
}

function startJoin(slug) {
  if (state.phase !== 'idle' || !slug) return;
  const nick = ui.nick.value.trim();
  const problem = validateNick(nick);
  if (problem) { showNickError(problem); ui.nick.focus(); return; }
  const wait = state.blockedUntil - Date.now();
  if (wait > 0) { showLandingError(`Please wait ${Math.ceil(wait / 1000)} s before trying again.`); return; }
  showLandingError('');
  Object.assign(state, { phase: 'joining', room: slug, nick, lastId: null, kicked: false, rejoinRetries: 0 });
  ui.landingStatus.textContent = `Joining ${roomTitle(slug)}…`;
  ui.rooms.setAttribute('aria-busy', 'true');
  ensureConnected();
}

/* ---------- 4. Connection ---------- */

const wsOpen = () => state.ws !== null && state.ws.readyState === WebSocket.OPEN;

function send(frame) {
  if (!wsOpen()) return false;
  state.ws.send(JSON.stringify(frame));
  return true;
}

function ensureConnected() {
  if (wsOpen()) { sendJoin(); return; }
  if (state.ws && state.ws.readyState === WebSocket.CONNECTING) return; // join is sent on open
  dropSocket();
  connect();
}

function connect() {
  if (state.ws) return; // one WebSocket per tab
  const proto = location.protocol === 'https:' ? 'wss:' : 'ws:';
  let ws;
  try {
    ws = new WebSocket(`${proto}//${location.host}/ws`);
  } catch (e) {
    onSocketClosed({ code: 1006, reason: '' });
    return;
  }
  state.ws = ws;
  state.wsOpened = false;
  ws.addEventListener('open', () => { if (ws === state.ws) onSocketOpen(); });
  ws.addEventListener('message', (ev) => { if (ws === state.ws) onSocketMessage(ev); });
  ws.addEventListener('close', (ev) => { if (ws === state.ws) onSocketClosed(ev); });
}

// Forget the current socket without triggering the close logic.
function dropSocket() {
  const ws = state.ws;
  state.ws = null;
  stopPing();
  if (ws) { try { ws.close(); } catch (e) { /* already closing */ } }
}

function onSocketOpen() {
  state.wsOpened = true;
  state.lastFrameAt = Date.now();
  startPing();
  if (state.phase === 'joining' || state.phase === 'rejoining') sendJoin();
}

function sendJoin() {
  const frame = { type: 'join', room: state.room, nick: state.nick };
  if (state.phase === 'rejoining' && state.lastId) frame.since = state.lastId;
  send(frame);
  clearTimeout(state.joinTimer);
  state.joinTimer = setTimeout(onJoinTimeout, JOIN_TIMEOUT_MS);
}

function onJoinTimeout() {
  if (state.phase === 'joining') backToLanding('The chat server did not answer. Please try again.');
  else if (state.phase === 'rejoining' && state.ws) { dropSocket(); onSocketClosed({ code: 1006, reason: '' }, true); }
}

function onSocketClosed(ev, opened = state.wsOpened) {
  state.ws = null;
  state.wsOpened = false;
  stopPing();
  clearTimeout(state.joinTimer);
  if (state.kicked) return;
  if (ev.code === 1008 || ev.code === 4003) {
    state.blockedUntil = Date.now() + POLICY_COOLDOWN_MS;
    const reason = str(ev.reason);
    backToLanding(`The server refused the connection${reason ? `: ${reason}` : '.'} Please wait a moment before trying again.`);
  } else if (state.phase === 'joining') {
    backToLanding(opened
      ? 'The connection closed before you could join. Please try again.'
      : 'Could not reach the chat server. Please try again in a moment.');
  } else if (inChat()) {
    if (state.phase === 'joined') addSystem('Connection lost — reconnecting…', true);
    state.phase = 'rejoining';
    showBanner(true);
    clearAllTyping();
    scheduleReconnect();
  }
}

function showBanner(visible) {
  if (visible && ui.banner.hidden) ui.banner.textContent = 'Connection lost — reconnecting…';
  ui.banner.hidden = !visible;
}

function scheduleReconnect() {
  clearTimeout(state.reconnectTimer);
  const base = Math.min(BACKOFF_MAX_MS, BACKOFF_MIN_MS * 2 ** Math.min(state.backoffAttempt, 10));
  const delay = Math.min(BACKOFF_MAX_MS, base * (0.75 + Math.random() * 0.5));
  state.backoffAttempt += 1;
  state.reconnectTimer = setTimeout(() => {
    state.reconnectTimer = null;
    if (state.phase === 'rejoining') connect();
  }, delay);
}

function reconnectNow() {
  if (state.phase === 'rejoining' && !state.ws && state.reconnectTimer) {
    clearTimeout(state.reconnectTimer);
    state.reconnectTimer = null;
    connect();
  }
}

function startPing() {
  stopPing();
  state.pingTimer = setInterval(() => {
    if (!wsOpen()) return;
    if (Date.now() - state.lastFrameAt > SILENCE_LIMIT_MS) { // half-open connection
      dropSocket();
      onSocketClosed({ code: 1006, reason: '' }, true);
      return;
    }
    send({ type: 'ping' });
  }, PING_MS);
}

function stopPing() {
  clearInterval(state.pingTimer);
  state.pingTimer = null;
}

/* ---------- 5. Server frames ---------- */

const HANDLERS = new Map([
  ['hello', onHello], ['joined', onJoined], ['message', onMessage], ['ack', onAck],
  ['presence', onPresence], ['typing', onTyping], ['edited', onEdited], ['deleted', onDeleted],
  ['error', onError], ['kicked', onKicked], ['pong', () => {}],
]);

function onSocketMessage(ev) {
  state.lastFrameAt = Date.now();
  let frame;
  try { frame = JSON.parse(ev.data); } catch (e) { return; }
  if (!frame || typeof frame !== 'object' || typeof frame.type !== 'string') return;
  const handler = HANDLERS.get(frame.type);
  if (!handler) return; // unknown frame types are ignored
  try { handler(frame); } catch (e) { console.error('Failed to handle frame', frame.type, e); }
}

function onHello(f) {
  const limits = f.limits && typeof f.limits === 'object' ? f.limits : {};
  for (const key of ['nick_min', 'nick_max', 'message_max']) {
    if (num(limits[key]) > 0) state.limits[key] = limits[key];
  }
  updateNickHelp();
  updateCounter();
}

function onJoined(f) {
  if (state.phase !== 'joining' && state.phase !== 'rejoining') {
    send({ type: 'leave' }); // a late answer to a join we gave up on
    return;
  }
  const fresh = state.phase === 'joining';
  clearTimeout(state.joinTimer);
  Object.assign(state, {
    phase: 'joined', room: str(f.room) || state.room, nick: str(f.nick) || state.nick,
    backoffAttempt: 0, rejoinRetries: 0,
  });
  showBanner(false);
  if (fresh) showChat();
  setMembers(Array.isArray(f.members) ? f.members : []);
  for (const item of Array.isArray(f.history) ? f.history : []) {
    if (item && typeof item === 'object') addMessage(item, !fresh);
  }
  if (fresh) {
    addSystem(`You joined ${roomTitle(state.room)} as ${state.nick}.`);
    scrollToBottom();
  } else {
    addSystem('Reconnected.');
    settleUnsentPending();
  }
}

function onMessage(f) {
  if (state.phase !== 'joined') return;
  addMessage(f, true);
}

function onAck(f) {
  const clientId = str(f.client_id);
  const entry = state.pending.get(clientId);
  if (!entry) return;
  const id = str(f.id);
  if (id && state.shown.has(id)) { // the message itself arrived first
    entry.el.remove();
    state.pending.delete(clientId);
  } else {
    entry.id = id;
  }
}

function onPresence(f) {
  if (state.phase !== 'joined') return;
  const nick = str(f.nick);
  if (!nick || nick === state.nick) return;
  if (f.event === 'join') {
    if (!state.members.includes(nick)) setMembers([...state.members, nick]);
    addSystem(`${nick} joined`);
  } else if (f.event === 'leave' || f.event === 'kick') {
    setMembers(state.members.filter((m) => m !== nick));
    clearTyping(nick);
    addSystem(f.event === 'kick' ? `${nick} was removed` : `${nick} left`);
  }
}

function onTyping(f) {
  const nick = str(f.nick);
  if (state.phase !== 'joined' || !nick || nick === state.nick) return;
  clearTimeout(state.typers.get(nick));
  state.typers.set(nick, setTimeout(() => clearTyping(nick), TYPING_SHOW_MS));
  renderTyping();
}

function onEdited(f) {
  const node = state.shown.get(str(f.id));
  if (!node || node.classList.contains('deleted')) return;
  node.querySelector('.text').textContent = str(f.text);
  if (!node.querySelector('.edited-mark')) node.querySelector('.meta').append(make('span', 'edited-mark', '(edited)'));
}

function onDeleted(f) {
  const node = state.shown.get(str(f.id));
  if (!node) return;
  node.classList.add('deleted');
  node.querySelector('.text').textContent = 'message removed by a moderator';
  const mark = node.querySelector('.edited-mark');
  if (mark) mark.remove();
}

function onError(f) {
  const text = describeError(f);
  const clientId = str(f.client_id);
  const entry = clientId ? state.pending.get(clientId) : null;
  if (entry) { // a `say` was refused: give the text back
    state.pending.delete(clientId);
    entry.el.remove();
    restoreInput(entry.text);
    showChatError(text);
  } else if (state.phase === 'joining' || state.phase === 'rejoining') {
    onJoinFailed(f, text);
  } else if (inChat()) {
    showChatError(text);
  } else if (f.code !== 'not_in_room') {
    showLandingError(text);
  }
}

function onJoinFailed(f, text) {
  clearTimeout(state.joinTimer);
  const code = str(f.code);
  // After a reconnect our old seat may linger briefly: retry a few times.
  if (state.phase === 'rejoining' && REJOIN_TRANSIENT.has(code) && state.rejoinRetries < REJOIN_RETRY_MAX) {
    state.rejoinRetries += 1;
    const delay = Math.max(num(f.retry_after_ms), REJOIN_RETRY_MS * state.rejoinRetries);
    clearTimeout(state.retryTimer);
    state.retryTimer = setTimeout(() => { if (state.phase === 'rejoining' && wsOpen()) sendJoin(); }, delay);
    return;
  }
  backToLanding(text);
  if (code === 'invalid_nick' || code === 'nick_taken') {
    showNickError(text);
    ui.nick.focus();
  }
}

function onKicked(f) {
  const reason = str(f.reason);
  state.kicked = true; // no auto-reconnect
  dropSocket();
  backToLanding(reason ? `You were removed from the room: ${reason}` : 'You were removed from the room.');
}

/* ---------- 6. Chat screen ---------- */

function showChat() {
  ui.messages.replaceChildren();
  state.shown.clear();
  state.pending.clear();
  state.lastId = null;
  state.unread = 0;
  state.newBelow = 0;
  ui.newMessages.hidden = true;
  showChatError('');
  clearAllTyping();
  ui.input.value = '';
  autoResize();
  updateCounter();
  ui.roomTitle.textContent = roomTitle(state.room);
  const room = state.rooms.get(state.room);
  ui.roomTopic.textContent = room ? str(room.topic) : '';
  ui.meNick.textContent = state.nick;
  setMembersExpanded(!narrowScreen.matches);
  ui.landing.hidden = true;
  ui.chat.hidden = false;
  document.body.classList.add('in-chat');
  ui.landingStatus.textContent = '';
  ui.rooms.removeAttribute('aria-busy');
  updateTitle();
  ui.input.focus();
}

function backToLanding(message) {
  for (const timer of ['joinTimer', 'retryTimer', 'reconnectTimer']) {
    clearTimeout(state[timer]);
    state[timer] = null;
  }
  state.phase = 'idle';
  state.pending.clear();
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

function leaveRoom() {
  if (!inChat()) return;
  if (state.phase === 'joined') send({ type: 'leave' });
  backToLanding('');
}

function isNearBottom() {
  const m = ui.messages;
  return m.scrollHeight - m.scrollTop - m.clientHeight < 48;
}

function onLogScroll() {
  state.pinned = isNearBottom();
  if (state.pinned) { state.newBelow = 0; ui.newMessages.hidden = true; }
}

function scrollToBottom() {
  ui.messages.scrollTop = ui.messages.scrollHeight;
  state.pinned = true;
  state.newBelow = 0;
  ui.newMessages.hidden = true;
}

// Confirmed lines go before the first pending message, so pending ones stay at the bottom.
function insertLine(node, { own = false, notify = false } = {}) {
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

function addSystem(text, isError = false) {
  insertLine(make('div', isError ? 'system error' : 'system', text));
}

function renderMessage(m, own) {
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
  const time = make('time', 'time', formatTime(at));
  if (time.textContent) {
    time.dateTime = at;
    time.title = new Date(at).toLocaleString();
  }
  meta.append(time);
  node.append(meta, make('div', 'text', str(m.text)));
  return node;
}

function addMessage(m, countUnread) {
  const id = str(m.id);
  if (!id || state.shown.has(id)) return; // each id is shown once
  if (str(m.room) && m.room !== state.room) return;
  const nick = str(m.nick);
  const own = nick === state.nick;
  if (own) claimPending(id, str(m.text));
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

// Removes the pending copy of one of our messages: matched by acked id, else by text.
function claimPending(id, text) {
  let match = null;
  for (const [clientId, entry] of state.pending) {
    if (entry.id === id) { match = clientId; break; }
  }
  if (!match) {
    for (const [clientId, entry] of state.pending) {
      if (!entry.id && entry.text.trim() === text.trim()) { match = clientId; break; }
    }
  }
  if (match) {
    state.pending.get(match).el.remove();
    state.pending.delete(match);
  }
}

// After a rejoin: acked messages that history did not repeat are kept; unacked ones go back to the input.
function settleUnsentPending() {
  let restored = false;
  for (const [clientId, entry] of state.pending) {
    if (entry.id) {
      entry.el.classList.remove('pending');
      entry.el.dataset.id = entry.id;
      state.shown.set(entry.id, entry.el);
    } else {
      entry.el.remove();
      restoreInput(entry.text);
      restored = true;
    }
    state.pending.delete(clientId);
  }
  if (restored) showChatError('The connection dropped before your message was confirmed. Its text is back in the input box.');
}

function sendMessage() {
  const text = ui.input.value.trim();
  if (!text) return;
  const max = state.limits.message_max;
  const length = charCount(text);
  if (length > max) { showChatError(`Your message is too long (${length} / ${max} characters).`); return; }
  if (state.phase !== 'joined' || !wsOpen()) {
    showChatError('Not connected right now. Your message is kept — send it again once reconnected.');
    return;
  }
  state.clientSeq += 1;
  const clientId = `c${Date.now().toString(36)}-${state.clientSeq}`;
  const node = renderMessage({ nick: state.nick, text, at: new Date().toISOString() }, true);
  node.classList.add('pending');
  ui.messages.appendChild(node);
  state.pending.set(clientId, { text, el: node, id: null });
  send({ type: 'say', text, client_id: clientId });
  ui.input.value = '';
  state.lastTypingSent = 0;
  autoResize();
  updateCounter();
  showChatError('');
  scrollToBottom();
}

function restoreInput(text) {
  const current = ui.input.value;
  if (current.includes(text)) return;
  ui.input.value = current.trim() ? `${current}\n${text}` : text;
  autoResize();
  updateCounter();
}

function showChatError(text) {
  clearTimeout(state.chatErrorTimer);
  ui.chatError.textContent = text;
  ui.chatError.hidden = !text;
  if (text) state.chatErrorTimer = setTimeout(() => showChatError(''), CHAT_ERROR_MS);
}

function setMembers(list) {
  state.members = [...new Set(list.filter((m) => typeof m === 'string' && m))];
  const sorted = [...state.members].sort((a, b) => {
    if (a === state.nick) return -1;
    if (b === state.nick) return 1;
    return a.localeCompare(b, undefined, { sensitivity: 'base' });
  });
  ui.members.replaceChildren(...sorted.map((nick) => {
    const li = make('li', nick === state.nick ? 'me' : '', nick);
    paintNick(li, nick);
    return li;
  }));
  ui.memberCount.textContent = String(state.members.length);
}

function setMembersExpanded(expanded) {
  ui.membersToggle.setAttribute('aria-expanded', String(expanded));
  ui.memberPanel.classList.toggle('collapsed', !expanded);
}

function clearTyping(nick) {
  if (!state.typers.has(nick)) return;
  clearTimeout(state.typers.get(nick));
  state.typers.delete(nick);
  renderTyping();
}

function clearAllTyping() {
  for (const timer of state.typers.values()) clearTimeout(timer);
  state.typers.clear();
  renderTyping();
}

function renderTyping() {
  const names = [...state.typers.keys()];
  let text = '';
  if (names.length === 1) text = `${names[0]} is typing…`;
  else if (names.length === 2) text = `${names[0]} and ${names[1]} are typing…`;
  else if (names.length > 2) text = `${names.length} people are typing…`;
  ui.typing.textContent = text;
}

function maybeSendTyping() {
  const now = Date.now();
  if (state.phase !== 'joined' || !ui.input.value.trim() || now - state.lastTypingSent < TYPING_SEND_MS) return;
  if (send({ type: 'typing' })) state.lastTypingSent = now;
}

function updateCounter() {
  const max = state.limits.message_max;
  const length = charCount(ui.input.value);
  const near = length >= Math.floor(max * 0.8);
  ui.counter.textContent = near ? `${length} / ${max}` : '';
  ui.counter.classList.toggle('over', length > max);
  ui.input.setAttribute('aria-invalid', length > max ? 'true' : 'false');
}

function autoResize() {
  ui.input.style.height = 'auto';
  if (ui.input.value) ui.input.style.height = `${ui.input.scrollHeight + 2}px`;
}

function onInputKeydown(event) {
  if (event.key !== 'Enter' || event.shiftKey || event.isComposing || event.keyCode === 229) return;
  event.preventDefault();
  sendMessage();
}

function onDocumentKeydown(event) {
  if (event.key === 'Escape' && !event.isComposing && !ui.chat.hidden) {
    event.preventDefault();
    leaveRoom();
  }
}

function onVisibilityChange() {
  if (document.hidden) return;
  state.unread = 0;
  updateTitle();
  if (!ui.landing.hidden) refreshRooms();
}

/* ---------- Wiring ---------- */

function init() {
  try { ui.nick.value = sessionStorage.getItem('nick') || ''; } catch (e) { /* storage may be disabled */ }
  ui.nick.addEventListener('input', onNickInput);
  ui.nick.addEventListener('keydown', (event) => {
    if (event.key !== 'Enter') return;
    const first = ui.rooms.querySelector('.join:not(:disabled)');
    if (first) first.focus();
  });
  ui.rooms.addEventListener('click', onRoomsClick);
  ui.leave.addEventListener('click', leaveRoom);
  ui.composer.addEventListener('submit', (event) => { event.preventDefault(); sendMessage(); });
  ui.input.addEventListener('keydown', onInputKeydown);
  ui.input.addEventListener('input', () => { autoResize(); updateCounter(); maybeSendTyping(); });
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
  setInterval(() => { if (!ui.landing.hidden && !document.hidden) refreshRooms(); }, ROOMS_REFRESH_MS);
}

init();
