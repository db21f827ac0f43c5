/*
 * Textual Chatroulette — browser client (no framework, no build step).
 *
 * Structure:
 *   1. Constants, DOM references and the single `state` object.
 *   2. Small helpers (text, time, nickname colour, validation).
 *   3. Landing screen: live nickname validation, room list polling, starting a join, roulette,
 *      opening a room of one's own, invite links (/?room=SLUG), house rules (GET /api/info).
 *   4. Connection: one WebSocket per tab, ping, reconnect with exponential backoff.
 *   5. Server frame handlers, one function per frame type (unknown types are ignored).
 *   6. Chat screen: messages (dedup by id, pending until acked), members, typing,
 *      composer, autoscroll, unread count, leaving.
 *   7. Sending: an outbox paced by the server's own token bucket (`hello`'s limits.rate), one
 *      `say` in flight at a time, a countdown on Send; refused messages stay bubbles of their
 *      own (sent again after `retry_after_ms`, or "Not sent" with Retry) and never go back into
 *      the input someone may be typing in.
 *
 * Keys: Enter in the nickname field only checks it (or joins the room of an invite link); the
 * first Esc in a chat leaves the composer (the draft stays), a second Esc leaves or skips.
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
const INTEREST_RE = /^[A-Za-z0-9_\-]{1,24}$/;
const INTERESTS_MAX = 5;
const SLUG_RE = /^[a-z0-9-]{2,32}$/;
const TITLE_MAX = 60;
const COPIED_MS = 4000;
const OUTBOX_MAX = 10;        // messages waiting to be sent before Enter says "slow down"
const AUTO_RESEND_MAX = 5;    // refusals (rate limit, slow mode) of one message resent by themselves
const RATE_MARGIN = 0.9;      // the client's bucket refills a little slower than the server's

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
  invite: $('invite'), inviteTitle: $('invite-title'), inviteTopic: $('invite-topic'),
  inviteCount: $('invite-count'), inviteError: $('invite-error'), inviteJoin: $('invite-join'),
  rulesCard: $('rules-card'), rulesText: $('rules-text'), rulesCheck: $('rules-check'),
  rouletteForm: $('roulette-form'), interests: $('interests'), interestsError: $('interests-error'),
  roulette: $('roulette'),
  createForm: $('create-form'), createTitle: $('create-title'), createCapacity: $('create-capacity'),
  capacityHelp: $('capacity-help'), createListed: $('create-listed'), createError: $('create-error'),
  create: $('create'),
  waiting: $('waiting'), waitingTitle: $('waiting-title'), waitingInterests: $('waiting-interests'),
  waitingStatus: $('waiting-status'), cancel: $('cancel'),
  copyStatus: $('copy-status'), copyInvite: $('copy-invite'), next: $('next'), block: $('block'),
  inviteBar: $('invite-bar'), inviteUrl: $('invite-url'),
  ended: $('ended'), endedText: $('ended-text'), findAnother: $('find-another'),
  rulesGate: $('rules-gate'), rulesGateText: $('rules-gate-text'), rulesAccept: $('rules-accept'),
  sendWait: $('send-wait'), escHint: $('esc-hint'),
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
  mode: 'room',       // 'room' or 'roulette' (a pair made by the matchmaker)
  stranger: '', common: [], interests: [], strangerGone: false,
  invite: '',         // path of the current room's invite link, when it has one
  creating: null,     // { title, capacity, listed } while a `create` is unanswered
  invited: null,      // the room of a /?room=SLUG link, once looked up
  rules: null, rulesKey: '', infoLoaded: false, maxCapacity: 25, interestWaitSecs: 0,
  copiedTimer: null,
  // Sending (section 7): the server's `say` bucket as announced in `hello`, our copy of it, the
  // client ids waiting to go out (in order), the one sent and not yet answered, and a pause
  // after a refusal.
  rate: { burst: 8, per_second: 1 }, bucket: { tokens: 8, at: 0 },
  outbox: [], inFlight: null, holdUntil: 0, pumpTimer: null, countdownTimer: null,
  drafts: new Map(),  // chat key (room slug, or 'roulette') -> unsent text of the composer
  escArmed: false,    // a first Esc was pressed in the chat: the next one leaves or skips
  askedToConnect: false, // the socket being opened was asked for by the visitor (Join, Roulette…)
  ban: null, banTimer: null, // { reason, expires } from GET /api/status while banned
};

/* ---------- 2. Helpers ---------- */

const str = (v) => (typeof v === 'string' ? v : '');
const num = (v) => (typeof v === 'number' && Number.isFinite(v) ? v : 0);
const charCount = (s) => Array.from(s).length;
const inChat = () => state.phase === 'joined' || state.phase === 'rejoining' || state.phase === 'ended';
const queueing = () => state.phase === 'queueing' || state.phase === 'waiting';
const roulette = () => state.mode === 'roulette';

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

// "Music, #go ,, films" → ['music', 'go', 'films'] (or an error text). The server has the same
// rules (up to 5 tags of 1–24 letters, digits, - and _, lowercased) and has the last word.
function parseInterests(raw) {
  const tags = [];
  for (const part of raw.split(',')) {
    const tag = part.trim().replace(/^#/, '').toLowerCase();
    if (!tag || tags.includes(tag)) continue;
    if (!INTEREST_RE.test(tag)) {
      return { error: `"${tag}" is not a valid interest: use 1–24 letters, digits, - or _ (no spaces).` };
    }
    tags.push(tag);
  }
  if (tags.length > INTERESTS_MAX) return { error: `At most ${INTERESTS_MAX} interests, please.` };
  return { tags };
}

// A short, stable key for a text (cyrb53): acceptance of the house rules is remembered per
// version of the rules, so changed rules are asked for again.
function textHash(text) {
  let h1 = 0xdeadbeef;
  let h2 = 0x41c6ce57;
  for (let i = 0; i < text.length; i += 1) {
    const c = text.charCodeAt(i);
    h1 = Math.imul(h1 ^ c, 2654435761);
    h2 = Math.imul(h2 ^ c, 1597334677);
  }
  h1 = Math.imul(h1 ^ (h1 >>> 16), 2246822507) ^ Math.imul(h2 ^ (h2 >>> 13), 3266489909);
  h2 = Math.imul(h2 ^ (h2 >>> 16), 2246822507) ^ Math.imul(h1 ^ (h1 >>> 13), 3266489909);
  return (4294967296 * (2097151 & h2) + (h1 >>> 0)).toString(36);
}

function describeError(f) {
  const fallback = {
    rate_limited: 'You are sending messages too fast.', slowmode: 'This room is in slow mode.',
    nick_taken: 'This nickname is already taken in this room.', room_full: 'This room is full.',
    room_locked: 'This room is locked.', unavailable: 'The chat is temporarily unavailable.',
    too_many_rooms: 'You have opened too many rooms for now.', unknown_room: 'This room does not exist (any more).',
    too_many_seats: 'Your address already holds as many seats in this room as it may.',
  };
  let text = str(f.message) || fallback[str(f.code)] || 'Something went wrong.';
  const ms = num(f.retry_after_ms);
  if (ms > 0) text = `${text.replace(/[.\s]+$/, '')} — try again in ${Math.ceil(ms / 1000)} s.`;
  return text;
}

// "17:23" today, "Fri 4 Dec, 17:23" another day (the visitor's own locale and time zone).
function humanTime(iso) {
  const d = new Date(iso);
  if (Number.isNaN(d.getTime())) return '';
  const time = d.toLocaleTimeString([], { hour: '2-digit', minute: '2-digit' });
  if (d.toDateString() === new Date().toDateString()) return time;
  return `${d.toLocaleDateString([], { weekday: 'short', day: 'numeric', month: 'short' })}, ${time}`;
}

// "You are banned until 17:23 — reason: spam links" (from GET /api/status).
function banText(ban) {
  const until = ban.expires ? humanTime(ban.expires) : '';
  const head = until ? `You are banned until ${until}` : 'You are banned from this chat';
  return ban.reason ? `${head} — reason: ${ban.reason}` : `${head}.`;
}

// Why one of our messages was not sent, per error code, written for the person who wrote it.
function notSentReason(code) {
  switch (code) {
    case 'rate_limited': return 'you are sending messages too fast';
    case 'slowmode': return 'this room is in slow mode';
    case 'room_locked': return 'this room is locked by the moderators';
    case 'filtered': return 'it contains something this chat does not allow';
    case 'too_long': return 'it is too long';
    case 'empty_message': return 'it is empty';
    case 'unavailable': return 'the chat is temporarily unavailable';
    case 'not_in_room': return 'you are no longer in this room';
    case 'banned': return 'you are banned';
    case 'lost': return 'the connection dropped before it was confirmed';
    default: return 'the server refused it';
  }
}

function roomTitle(slug) {
  const room = state.rooms.get(slug);
  return (room && str(room.title)) || slug || '';
}

function chatTitle() {
  if (roulette()) return state.stranger ? `Chat with ${state.stranger}` : 'Chat with a stranger';
  return roomTitle(state.room);
}

function updateTitle() {
  let base = APP_TITLE;
  if (inChat()) base = `${chatTitle()} — ${APP_TITLE}`;
  else if (queueing()) base = `Looking for a stranger… — ${APP_TITLE}`;
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
  if (state.phase === 'idle') ui.landingStatus.textContent = '';
  showNickError(validateNick(nick));
  try { sessionStorage.setItem('nick', nick); } catch (e) { /* storage may be disabled */ }
}

// Enter in the nickname field has one meaning: with an invite link, join that room (the page's
// one action); otherwise only check the nickname and say what comes next. It never moves focus
// to a Join button, which would take the same keypress and put the visitor in a room.
function onNickKeydown(event) {
  if (event.key !== 'Enter' || event.isComposing || event.keyCode === 229) return;
  event.preventDefault();
  if (state.invited && !ui.inviteJoin.hidden && !ui.inviteJoin.disabled) {
    ui.inviteJoin.click();
    return;
  }
  if (state.phase !== 'idle') return;
  const nick = ui.nick.value.trim();
  const problem = validateNick(nick);
  showNickError(problem);
  if (problem) { ui.landingStatus.textContent = ''; return; }
  if (state.ban) { showLandingError(banText(state.ban)); return; }
  ui.landingStatus.textContent = `Nickname ${nick} is ready. Press Roulette, join a room below, or open your own.`;
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

// The nickname typed on the landing screen, or null (with the error shown) when it cannot be used.
function readyNick() {
  const nick = ui.nick.value.trim();
  const problem = validateNick(nick);
  if (problem) { showNickError(problem); ui.nick.focus(); return null; }
  if (state.ban) { showLandingError(banText(state.ban)); return null; }
  const wait = state.blockedUntil - Date.now();
  if (wait > 0) { showLandingError(`Please wait ${Math.ceil(wait / 1000)} s before trying again.`); return null; }
  showLandingError('');
  return nick;
}

// The invite path of a room: visitor rooms and the room of the link we came by.
function invitePath(slug) {
  const room = state.rooms.get(slug);
  const visitor = room ? room.kind === 'visitor' : slug.startsWith('v-');
  if (visitor || (state.invited && state.invited.slug === slug)) return `/?room=${encodeURIComponent(slug)}`;
  return '';
}

function startJoin(slug, invite = '') {
  if (state.phase !== 'idle' || !slug) return;
  const nick = readyNick();
  if (!nick) return;
  Object.assign(state, {
    phase: 'joining', mode: 'room', room: slug, nick, lastId: null, kicked: false, rejoinRetries: 0,
    invite: invite || invitePath(slug),
  });
  ui.landingStatus.textContent = `Joining ${roomTitle(slug)}…`;
  ui.rooms.setAttribute('aria-busy', 'true');
  ensureConnected();
}

/* Roulette: pairing with one random stranger. */

function showInterestsError(text) {
  ui.interestsError.textContent = text;
  ui.interestsError.hidden = !text;
  ui.interests.setAttribute('aria-invalid', text ? 'true' : 'false');
}

function startRoulette() {
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
function enterQueue(how) {
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

function sendRoulette() {
  const frame = { type: 'roulette', nick: state.nick };
  if (state.interests.length) frame.interests = state.interests;
  send(frame);
}

function interestsLine(tags) {
  if (!tags.length) return 'No interests given: you will be paired with anyone who is looking.';
  const wait = state.interestWaitSecs > 0 ? ` If nobody does within ${state.interestWaitSecs} s, anyone will do.` : '';
  return `Your interests: ${tags.join(', ')}. Someone who shares one is found first.${wait}`;
}

function showWaiting() {
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
  ui.cancel.focus();
}

function cancelQueue() {
  if (!queueing()) return;
  send({ type: 'leave' });
  backToLanding('');
}

/* A room of one's own. */

function showCreateError(text) {
  ui.createError.textContent = text;
  ui.createError.hidden = !text;
}

function startCreate() {
  if (state.phase !== 'idle') return;
  const title = ui.createTitle.value.trim();
  const capacity = Number(ui.createCapacity.value);
  const max = state.maxCapacity;
  ui.createTitle.setAttribute('aria-invalid', 'false');
  ui.createCapacity.setAttribute('aria-invalid', 'false');
  if (!title || charCount(title) > TITLE_MAX) {
    showCreateError(title ? `The room name can have at most ${TITLE_MAX} characters.` : 'Please give your room a name.');
    ui.createTitle.setAttribute('aria-invalid', 'true');
    ui.createTitle.focus();
    return;
  }
  if (!Number.isInteger(capacity) || capacity < 2 || capacity > max) {
    showCreateError(`Places must be a whole number from 2 to ${max}.`);
    ui.createCapacity.setAttribute('aria-invalid', 'true');
    ui.createCapacity.focus();
    return;
  }
  showCreateError('');
  const nick = readyNick();
  if (!nick) return;
  Object.assign(state, {
    phase: 'creating', mode: 'room', nick, kicked: false, room: null, lastId: null, invite: '',
    creating: { title, capacity, listed: ui.createListed.checked },
  });
  ui.create.disabled = true;
  ui.landingStatus.textContent = `Opening ${title}…`;
  ensureConnected();
}

function sendCreate() {
  const c = state.creating;
  if (!c) return;
  send({ type: 'create', title: c.title, capacity: c.capacity, listed: c.listed });
  clearTimeout(state.joinTimer);
  state.joinTimer = setTimeout(() => {
    if (state.phase === 'creating') backToLanding('The chat server did not answer. Please try again.');
  }, JOIN_TIMEOUT_MS);
}

/* Invite links: /?room=SLUG. */

async function loadInvite() {
  const slug = new URLSearchParams(location.search).get('room');
  if (slug === null) return;
  const fail = (text) => {
    ui.invite.hidden = true;
    ui.inviteJoin.hidden = true;
    ui.inviteError.textContent = text;
    ui.inviteError.hidden = false;
  };
  if (!SLUG_RE.test(slug)) { fail('This invite link is not valid. Pick a room below or try roulette.'); return; }
  try {
    const res = await fetch(`/api/rooms/${encodeURIComponent(slug)}`, { cache: 'no-store', headers: { Accept: 'application/json' } });
    if (res.status === 404) {
      fail('The room of this invite link no longer exists. Pick another room below, open your own, or try roulette.');
      return;
    }
    if (!res.ok) throw new Error(`HTTP ${res.status}`);
    const room = await res.json();
    if (!room || typeof room !== 'object') throw new Error('unexpected room');
    showInvite({ ...room, slug });
  } catch (e) {
    fail('Could not look up the room of this invite link. Reload the page to try again.');
  }
}

function showInvite(room) {
  state.invited = room;
  if (!state.rooms.has(room.slug)) state.rooms.set(room.slug, room);
  const title = str(room.title) || room.slug;
  const members = Math.max(0, num(room.members));
  const capacity = Math.max(0, num(room.capacity));
  ui.inviteTitle.textContent = title;
  ui.inviteTopic.textContent = str(room.topic);
  ui.inviteTopic.hidden = !ui.inviteTopic.textContent;
  let count = capacity > 0 ? `${members} of ${capacity} places taken.` : `${members} people here.`;
  if (room.locked === true) count += ' The room is locked right now.';
  else if (capacity > 0 && members >= capacity) count += ' It is full right now — try again in a moment.';
  ui.inviteCount.textContent = `${count} Choose a nickname and press Join.`;
  ui.inviteError.hidden = true;
  ui.invite.hidden = false;
  ui.inviteJoin.hidden = false;
  ui.inviteJoin.disabled = room.locked === true;
  ui.inviteJoin.setAttribute('aria-label', `Join ${title}`);
  ui.nick.focus();
}

/* Bans: GET /api/status ({ban: {case, reason, expires} | null, mute: … | null}). */

// Asks the server whether a ban covers this visitor's address; resolves to the ban, null when
// there is none, or undefined when the server could not be asked (then nothing changes).
async function checkBan() {
  try {
    const res = await fetch('/api/status', { cache: 'no-store', headers: { Accept: 'application/json' } });
    if (!res.ok) return undefined;
    const body = await res.json();
    if (!body || typeof body !== 'object') return undefined;
    const ban = body.ban && typeof body.ban === 'object' ? { reason: str(body.ban.reason), expires: str(body.ban.expires) } : null;
    setBan(ban);
    return ban;
  } catch (e) {
    return undefined;
  }
}

function setBan(ban) {
  clearTimeout(state.banTimer);
  state.banTimer = null;
  state.ban = ban;
  if (!ban || !ban.expires) return;
  // When it lapses, ask again (and clear the notice if nothing else holds).
  const ms = Date.parse(ban.expires) - Date.now();
  state.banTimer = setTimeout(async () => {
    const shown = ui.landingError.textContent;
    const still = await checkBan();
    if (still === null && shown.includes('You are banned')) showLandingError('');
  }, Math.min(Math.max(ms, 0) + 1000, 2 ** 31 - 1));
}

/* House rules and server settings: GET /api/info. */

async function loadInfo() {
  if (state.infoLoaded) return;
  try {
    const res = await fetch('/api/info', { cache: 'no-store', headers: { Accept: 'application/json' } });
    if (!res.ok) throw new Error(`HTTP ${res.status}`);
    const info = await res.json();
    if (!info || typeof info !== 'object') throw new Error('unexpected info');
    state.infoLoaded = true;
    if (num(info.max_room_capacity) >= 2) state.maxCapacity = Math.floor(info.max_room_capacity);
    state.interestWaitSecs = num(info.roulette_interest_wait_secs);
    ui.createCapacity.max = String(state.maxCapacity);
    ui.capacityHelp.textContent = `2–${state.maxCapacity} people.`;
    const rules = str(info.house_rules).trim();
    state.rules = rules || null;
    state.rulesKey = rules ? `rules-accepted:${textHash(rules)}` : '';
    ui.rulesText.textContent = rules;
    ui.rulesGateText.textContent = rules;
    ui.rulesCard.hidden = !rules;
    ui.rulesCheck.checked = rulesAccepted();
  } catch (e) {
    /* retried with the next room-list refresh */
  }
}

function rulesAccepted() {
  if (!state.rules) return true;
  try { return sessionStorage.getItem(state.rulesKey) === '1'; } catch (e) { return ui.rulesCheck.checked; }
}

function setRulesAccepted(accepted) {
  if (!state.rules) return;
  ui.rulesCheck.checked = accepted;
  try {
    if (accepted) sessionStorage.setItem(state.rulesKey, '1');
    else sessionStorage.removeItem(state.rulesKey);
  } catch (e) { /* storage may be disabled: the checkbox alone remembers it for this page */ }
}

/* ---------- 4. Connection ---------- */

const wsOpen = () => state.ws !== null && state.ws.readyState === WebSocket.OPEN;

function send(frame) {
  if (!wsOpen()) return false;
  state.ws.send(JSON.stringify(frame));
  return true;
}

function ensureConnected() {
  state.askedToConnect = true; // a visitor's own action: a refused upgrade is worth explaining
  if (wsOpen()) { sendForPhase(); return; }
  if (state.ws && state.ws.readyState === WebSocket.CONNECTING) return; // sent on open
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
  state.askedToConnect = false;
  state.lastFrameAt = Date.now();
  startPing();
  sendForPhase();
}

// What a (re)opened socket must say for the current phase.
function sendForPhase() {
  if (state.phase === 'joining' || state.phase === 'rejoining') sendJoin();
  else if (queueing()) sendRoulette();
  else if (state.phase === 'creating') sendCreate();
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
  state.inFlight = null;
  clearTimeout(state.pumpTimer);
  stopPing();
  clearTimeout(state.joinTimer);
  if (state.kicked) return;
  const asked = state.askedToConnect;
  state.askedToConnect = false;
  if ((!opened && asked) || ev.code === 4003) {
    // A refused upgrade (the browser does not say why) after the visitor pressed Join, Roulette
    // or Create, or a ban's close: ask whether a ban is the reason before retrying or blaming
    // the network. (Not on every failed retry of an automatic reconnect: while the server is
    // down each ask would fail too, and a ban in force closes open sockets with 4003 anyway.)
    checkBan().then((ban) => {
      if (ban) enterBanned(ban);
      else if (!state.ws) afterSocketClosed(ev, opened);
    });
    return;
  }
  afterSocketClosed(ev, opened);
}

// Banned: back to the landing page with the ban's expiry and reason; no more retries.
function enterBanned(ban) {
  if (state.ws) dropSocket();
  backToLanding(banText(ban));
}

function afterSocketClosed(ev, opened) {
  if (ev.code === 1008 || ev.code === 4003) {
    state.blockedUntil = Date.now() + POLICY_COOLDOWN_MS;
    const reason = str(ev.reason);
    backToLanding(`The server refused the connection${reason ? `: ${reason}` : '.'} Please wait a moment before trying again.`);
  } else if (state.phase === 'joining' || state.phase === 'creating') {
    backToLanding(opened
      ? 'The connection closed before you could join. Please try again.'
      : 'Could not reach the chat server. Please try again in a moment.');
  } else if (queueing()) {
    // Queue again on a new connection (`roulette`), after a backoff.
    state.phase = 'queueing';
    showBanner(true);
    ui.waitingStatus.textContent = 'Connection lost — reconnecting…';
    scheduleReconnect();
  } else if (roulette() && inChat()) {
    // A pair room cannot be rejoined: this chat is over.
    if (state.phase === 'joined') endRouletteChat('Connection lost — this chat has ended.');
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
    if (state.phase === 'rejoining' || queueing()) connect();
  }, delay);
}

function reconnectNow() {
  if ((state.phase === 'rejoining' || queueing()) && !state.ws && state.reconnectTimer) {
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
  ['waiting', onWaiting], ['matched', onMatched], ['stranger_left', onStrangerLeft], ['created', onCreated],
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
  // The server's `say` bucket, one per connection, full when it opens: ours mirrors it.
  const rate = limits.rate && typeof limits.rate === 'object' ? limits.rate : {};
  if (num(rate.burst) >= 1 && num(rate.per_second) > 0) state.rate = { burst: Math.floor(rate.burst), per_second: rate.per_second };
  state.bucket = { tokens: state.rate.burst, at: Date.now() };
  state.holdUntil = 0;
  updateNickHelp();
  updateCounter();
}

function onWaiting(f) {
  if (!queueing()) return;
  state.phase = 'waiting';
  state.backoffAttempt = 0;
  showBanner(false);
  const tags = Array.isArray(f.interests) ? f.interests.filter((t) => typeof t === 'string' && t) : state.interests;
  state.interests = tags;
  ui.waitingInterests.textContent = interestsLine(tags);
  ui.waitingStatus.textContent = 'You are in the queue. The chat opens as soon as someone else is looking.';
}

function onMatched(f) {
  const room = str(f.room);
  const common = Array.isArray(f.common) ? f.common.filter((t) => typeof t === 'string' && t) : [];
  if (queueing() && room) {
    // `joined` follows: it opens the chat screen.
    Object.assign(state, {
      phase: 'joining', mode: 'roulette', room, stranger: str(f.stranger), common,
      lastId: null, strangerGone: false, invite: '', backoffAttempt: 0,
    });
    showBanner(false);
    ui.waitingStatus.textContent = `Found ${state.stranger || 'a stranger'}! Opening the chat…`;
    clearTimeout(state.joinTimer);
    state.joinTimer = setTimeout(onJoinTimeout, JOIN_TIMEOUT_MS);
  } else if (state.phase === 'joined' && roulette() && room === state.room) {
    // (Should `joined` ever come first.)
    Object.assign(state, { stranger: str(f.stranger) || state.stranger, common });
    renderChatHeader();
  }
}

function matchSummary() {
  if (state.common.length) return `You both like ${state.common.join(', ')}.`;
  if (state.interests.length) return 'No shared interests — you were paired with someone anyway.';
  return 'You were paired with a random stranger.';
}

function onStrangerLeft() {
  if (!roulette() || state.phase !== 'joined') return;
  endRouletteChat(`${state.stranger || 'The stranger'} has left the chat.`);
}

function onCreated(f) {
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

function onJoined(f) {
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
  if (fresh && roulette()) {
    addSystem(`You are chatting with ${state.stranger || 'a stranger'} as ${state.nick}. ${matchSummary()}`);
    scrollToBottom();
  } else if (fresh) {
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
  if (state.inFlight === clientId) { state.inFlight = null; pumpOutbox(); }
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
  // In a roulette chat the opening line names the stranger and `stranger_left` says goodbye.
  if (f.event === 'join') {
    const known = state.members.includes(nick);
    if (!known) setMembers([...state.members, nick]);
    if (!roulette()) addSystem(`${nick} joined`);
    else if (!known && !state.stranger) { state.stranger = nick; renderChatHeader(); }
  } else if (f.event === 'leave' || f.event === 'kick') {
    setMembers(state.members.filter((m) => m !== nick));
    clearTyping(nick);
    if (!roulette()) addSystem(f.event === 'kick' ? `${nick} was removed` : `${nick} left`);
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
  if (str(f.code) === 'banned') { // (the socket is closed with 4003 next) say until when and why
    checkBan().then((ban) => { if (ban) enterBanned(ban); });
  }
  if (entry) { // a `say` was refused: its bubble says so; the input is left alone
    onSayRefused(clientId, entry, f);
  } else if (state.phase === 'joining' || state.phase === 'rejoining') {
    onJoinFailed(f, text);
  } else if (queueing()) {
    onQueueFailed(f, text);
  } else if (state.phase === 'creating') {
    onCreateFailed(f, text);
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

function onQueueFailed(f, text) {
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

function onCreateFailed(f, text) {
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

function onKicked(f) {
  const reason = str(f.reason);
  state.kicked = true; // no auto-reconnect
  dropSocket();
  backToLanding(reason ? `You were removed from the room: ${reason}` : 'You were removed from the room.');
  // A ban closes with a kick: say until when, and stop new attempts.
  checkBan().then((ban) => {
    if (ban && state.phase === 'idle') showLandingError(`You were removed from the room. ${banText(ban)}`);
  });
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
function renderChatHeader() {
  const pair = roulette();
  ui.roomTitle.textContent = chatTitle();
  if (pair) {
    ui.roomTopic.textContent = matchSummary();
  } else {
    const room = state.rooms.get(state.room);
    ui.roomTopic.textContent = room ? str(room.topic) : '';
  }
  ui.next.hidden = !pair;
  ui.block.hidden = !pair;
  ui.copyInvite.hidden = pair || !state.invite;
  ui.leave.title = pair ? 'Stop chatting and go back to the start' : 'Leave the room (Esc twice)';
  ui.chat.classList.toggle('pair', pair);
  updateTitle();
}

function setComposerEnabled(enabled) {
  ui.input.disabled = !enabled;
  ui.send.disabled = !enabled;
  ui.input.placeholder = enabled
    ? 'Write a message…'
    : 'This chat has ended.';
}

// The roulette chat is over (stranger left, or our connection dropped): the log stays readable,
// the composer is off, "Find another" queues again.
function endRouletteChat(text) {
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
  ui.endedText.textContent = text.startsWith('Connection') ? text : 'Stranger has left';
  ui.ended.hidden = false;
  ui.rulesGate.hidden = true;
  setComposerEnabled(false);
  ui.block.hidden = true;
  if (hadFocus || document.activeElement === document.body) ui.findAnother.focus();
}

function nextStranger(block = false) {
  if (!roulette() || !(inChat() || state.phase === 'joining')) return;
  enterQueue(block ? 'block' : 'next');
}

async function copyInvite() {
  if (!state.invite) return;
  const url = new URL(state.invite, location.origin).href;
  ui.inviteUrl.value = url;
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

function backToLanding(message) {
  for (const timer of ['joinTimer', 'retryTimer', 'reconnectTimer']) {
    clearTimeout(state[timer]);
    state[timer] = null;
  }
  state.phase = 'idle';
  state.mode = 'room';
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

function leaveRoom() {
  if (!inChat()) return;
  if (state.phase === 'joined' || state.phase === 'ended') send({ type: 'leave' });
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
      if (!entry.id && entry.sent && entry.text.trim() === text.trim()) { match = clientId; break; }
    }
  }
  if (match) {
    state.pending.get(match).el.remove();
    state.pending.delete(match);
    if (state.inFlight === match) { state.inFlight = null; pumpOutbox(); }
  }
}

// After a rejoin: acked messages that history did not repeat are kept; ones sent but never
// answered become "Not sent" bubbles (with Retry); ones still waiting in the outbox go out now.
function settleUnsentPending() {
  for (const [clientId, entry] of state.pending) {
    if (entry.id) {
      entry.el.classList.remove('pending');
      entry.el.dataset.id = entry.id;
      state.shown.set(entry.id, entry.el);
      state.pending.delete(clientId);
    } else if (entry.sent) {
      markNotSent(clientId, entry, 'lost');
    }
  }
  pumpOutbox();
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
  if (!rulesAccepted()) { showRulesGate(); return; }
  if (state.outbox.length >= OUTBOX_MAX) {
    showChatError(`Slow down: ${state.outbox.length} messages are still waiting to be sent; yours stays here until then.`);
    return;
  }
  state.clientSeq += 1;
  const clientId = `c${Date.now().toString(36)}-${state.clientSeq}`;
  const node = renderMessage({ nick: state.nick, text, at: new Date().toISOString() }, true);
  node.classList.add('pending');
  ui.messages.appendChild(node);
  state.pending.set(clientId, { text, el: node, id: null, sent: false, resends: 0 });
  state.outbox.push(clientId);
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
function showRulesGate() {
  ui.rulesGateText.textContent = state.rules || '';
  ui.rulesGate.hidden = false;
  ui.rulesAccept.focus();
}

function acceptRulesAndSend() {
  setRulesAccepted(true);
  ui.rulesGate.hidden = true;
  ui.input.focus();
  sendMessage();
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

// Esc in a chat: the first one only leaves the composer (the draft stays) and says what a second
// one does; the second leaves a room, or is Next in a roulette chat. Typing again disarms it.
// While looking for a stranger, Esc cancels.
function onDocumentKeydown(event) {
  if (event.key !== 'Escape' || event.isComposing) return;
  if (!ui.chat.hidden) {
    event.preventDefault();
    if (!state.escArmed) { armEsc(); return; }
    disarmEsc();
    if (roulette()) nextStranger();
    else leaveRoom();
  } else if (!ui.waiting.hidden) {
    event.preventDefault();
    cancelQueue();
  }
}

function armEsc() {
  state.escArmed = true;
  if (document.activeElement === ui.input) ui.input.blur();
  let action = 'leave the room';
  if (roulette()) action = state.phase === 'ended' ? 'find another stranger' : 'skip this stranger';
  const draft = ui.input.value.trim() ? ' Your draft is kept.' : '';
  ui.escHint.textContent = `Press Esc again to ${action}.${draft}`;
  ui.escHint.hidden = false;
}

function disarmEsc() {
  state.escArmed = false;
  ui.escHint.textContent = '';
  ui.escHint.hidden = true;
}

/* Drafts: what is in the composer, kept per chat (a room, or roulette) for the tab's session. */

function draftKey() {
  return roulette() ? 'roulette' : `room:${state.room || ''}`;
}

function onComposerInput() {
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

function saveDrafts() {
  try { sessionStorage.setItem('drafts', JSON.stringify([...state.drafts])); } catch (e) { /* storage may be disabled */ }
}

function loadDrafts() {
  try {
    const list = JSON.parse(sessionStorage.getItem('drafts') || '[]');
    if (Array.isArray(list)) {
      for (const item of list) {
        if (Array.isArray(item) && typeof item[0] === 'string' && typeof item[1] === 'string') state.drafts.set(item[0], item[1]);
      }
    }
  } catch (e) { /* storage may be disabled, or hold something else */ }
}

function onVisibilityChange() {
  if (document.hidden) return;
  state.unread = 0;
  updateTitle();
  if (!ui.landing.hidden) refreshRooms();
}

/* ---------- 7. Sending: outbox, pacing, refusals ---------- */

// Our copy of the server's per-connection `say` bucket, refilled a little slower than the real
// one so that what we send is never early.
function bucketWait(now) {
  const b = state.bucket;
  const rate = state.rate.per_second * RATE_MARGIN;
  b.tokens = Math.min(state.rate.burst, b.tokens + ((now - b.at) / 1000) * rate);
  b.at = now;
  return b.tokens >= 1 ? 0 : Math.ceil(((1 - b.tokens) / rate) * 1000);
}

// How long until the next message may go: a pause after a refusal, or an empty bucket.
function sendWait(now) {
  return Math.max(0, state.holdUntil - now, bucketWait(now));
}

function resetOutbox() {
  state.outbox = [];
  state.inFlight = null;
  state.holdUntil = 0;
  clearTimeout(state.pumpTimer);
  state.pumpTimer = null;
  updateSendCountdown();
}

// Sends what waits in the outbox, in order, one `say` in flight at a time, when the bucket has
// a token; else comes back when it will.
function pumpOutbox() {
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
    send({ type: 'say', text: entry.text, client_id: clientId });
  }
  for (const clientId of state.outbox) {
    const entry = state.pending.get(clientId);
    if (entry) entry.el.classList.add('queued');
  }
  updateSendCountdown();
}

// The Send button counts down while the next message would have to wait ("Send · 3 s").
function updateSendCountdown() {
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

function setNote(entry, text) {
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
function onSayRefused(clientId, entry, f) {
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
function markNotSent(clientId, entry, code) {
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

function onMessagesClick(event) {
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

/* ---------- Wiring ---------- */

function init() {
  try { ui.nick.value = sessionStorage.getItem('nick') || ''; } catch (e) { /* storage may be disabled */ }
  loadDrafts();
  ui.nick.addEventListener('input', onNickInput);
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
  checkBan().then((ban) => { if (ban && state.phase === 'idle') showLandingError(banText(ban)); });
  setInterval(() => {
    if (ui.landing.hidden || document.hidden) return;
    refreshRooms();
    loadInfo();
  }, ROOMS_REFRESH_MS);
}

init();
