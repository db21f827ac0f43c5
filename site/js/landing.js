// The landing screen: nickname field, the room list (polled), joining a room.
import { ensureConnected } from './connection.js';
import { LOBBY, state, ui } from './state.js';
import { banText, make, num, roomTitle, str, validateNick } from './util.js';

export function showNickError(text) {
  ui.nickError.textContent = text;
  ui.nickError.hidden = !text;
  ui.nick.setAttribute('aria-invalid', text ? 'true' : 'false');
}

export function showLandingError(text) {
  ui.landingError.textContent = text || '';
  ui.landingError.hidden = !text;
}

export function onNickInput() {
  const nick = ui.nick.value.trim();
  if (state.phase === 'idle') ui.landingStatus.textContent = '';
  clearRoomErrors();
  showNickError(validateNick(nick));
  try { sessionStorage.setItem('nick', nick); } catch (e) { /* storage may be disabled */ }
}

// Enter in the nickname field has one meaning: with an invite link, join that room (the page's
// one action); otherwise only check the nickname and say what comes next. It never moves focus
// to a Join button, which would take the same keypress and put the visitor in a room.
export function onNickKeydown(event) {
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

export function updateNickHelp() {
  const { nick_min: min, nick_max: max } = state.limits;
  // No-break spaces keep "and _ - ." together: a line must not start with a lone "_ - .".
  ui.nickHelp.textContent = `${min}–${max} characters: letters, digits, spaces and\u00a0_\u00a0-\u00a0.`;
}

export async function refreshRooms() {
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
    renderOnline(list);
  } catch (e) {
    ui.roomsStatus.textContent = 'Could not load the room list — retrying…';
  } finally {
    clearTimeout(timer);
    state.roomsLoading = false;
  }
}

// "N people online" when the server counts everyone (GET /api/info `online`), else the people
// in the listed rooms, said as such.
export function renderOnline(list = [...state.rooms.values()]) {
  let text = '';
  if (state.online !== null) {
    text = `${state.online} ${state.online === 1 ? 'person' : 'people'} online now`;
  } else {
    const inRooms = list.reduce((sum, room) => sum + Math.max(0, num(room && room.members)), 0);
    if (inRooms > 0) text = `${inRooms} ${inRooms === 1 ? 'person is' : 'people are'} chatting in the rooms below`;
  }
  ui.onlineCount.textContent = text;
  ui.online.hidden = !text;
  const lobby = state.rooms.get(LOBBY);
  ui.joinLobby.hidden = !lobby || !state.roomItems.has(LOBBY);
  ui.joinLobby.disabled = !!lobby && (lobby.locked === true || (num(lobby.capacity) > 0 && num(lobby.members) >= num(lobby.capacity)));
}

// The Lobby first, then rooms by how many people are in them (then by name).
function roomOrder(a, b) {
  if ((a.slug === LOBBY) !== (b.slug === LOBBY)) return a.slug === LOBBY ? -1 : 1;
  const byMembers = Math.max(0, num(b.members)) - Math.max(0, num(a.members));
  if (byMembers) return byMembers;
  return (str(a.title) || a.slug).localeCompare(str(b.title) || b.slug, undefined, { sensitivity: 'base' });
}

// Updates the list in place (keyed by slug) so focus and hover survive each refresh.
export function renderRooms(list) {
  const seen = new Set();
  let pos = 0;
  const sorted = list.filter((room) => room && str(room.slug)).sort(roomOrder);
  for (const room of sorted) {
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

export function createRoomItem(slug) {
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
  const error = make('p', 'room-error');
  error.hidden = true;
  item.append(info, occ, join, make('span', 'room-badge'), error);
  return item;
}

export function updateRoomItem(item, room) {
  const title = str(room.title) || str(room.slug);
  const members = Math.max(0, num(room.members));
  const capacity = Math.max(0, num(room.capacity));
  const locked = room.locked === true;
  const full = capacity > 0 && members >= capacity;
  const blocked = locked || full;
  if (item.dataset.blocked === 'true' && !blocked) showRoomError(str(room.slug), ''); // joinable again
  item.dataset.blocked = String(blocked);
  const visitor = room.kind === 'visitor';
  item.classList.toggle('visitor', visitor);
  const heading = item.querySelector('.room-title');
  heading.textContent = title;
  if (visitor) heading.append(make('span', 'kind-tag', 'Visitor room'));
  item.querySelector('.room-topic').textContent = str(room.topic);
  const count = item.querySelector('.room-count');
  count.textContent = capacity > 0 ? `${members} / ${capacity}` : String(members);
  count.title = capacity > 0 ? `${members} of ${capacity} people` : `${members} people`;
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
  // (The visible "Join" leads the name, as speech-input users say what they see.)
  join.setAttribute('aria-label', locked ? `Join ${title}: locked` : full ? `Join ${title}: full` : `Join ${title}`);
}

// An error about one room (full, locked, gone) shows on that room, and goes when it changes,
// when the nickname changes, or when another join starts.
export function showRoomError(slug, text) {
  const item = state.roomItems.get(slug);
  if (!item) return false;
  const error = item.querySelector('.room-error');
  error.textContent = text;
  error.hidden = !text;
  if (text) error.setAttribute('role', 'alert'); else error.removeAttribute('role');
  return true;
}

export function clearRoomErrors() {
  for (const slug of state.roomItems.keys()) showRoomError(slug, '');
}

const ADJECTIVES = ['Quiet', 'Sunny', 'Brave', 'Curious', 'Gentle', 'Lucky', 'Witty', 'Calm', 'Bold', 'Merry', 'Swift', 'Cosy'];
const ANIMALS = ['Otter', 'Fox', 'Heron', 'Panda', 'Lynx', 'Robin', 'Badger', 'Koala', 'Moth', 'Owl', 'Seal', 'Wren'];

// A nickname that follows the rules ("Quiet Otter 42"), so a visit can start in one click.
export function randomNick() {
  const pick = (list) => list[Math.floor(Math.random() * list.length)];
  ui.nick.value = `${pick(ADJECTIVES)} ${pick(ANIMALS)} ${10 + Math.floor(Math.random() * 90)}`;
  onNickInput();
  ui.nick.focus();
}

export function onRoomsClick(event) {
  const item = event.target.closest('.room');
  if (!item || !ui.rooms.contains(item)) return;
  if (item.querySelector('.join').disabled) return;
  startJoin(item.dataset.slug);
}

// The nickname typed on the landing screen, or null (with the error shown) when it cannot be used.
export function readyNick() {
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
export function invitePath(slug) {
  const room = state.rooms.get(slug);
  const visitor = room ? room.kind === 'visitor' : slug.startsWith('v-');
  if (visitor || (state.invited && state.invited.slug === slug)) return `/?room=${encodeURIComponent(slug)}`;
  return '';
}

export function startJoin(slug, invite = '') {
  if (state.phase !== 'idle' || !slug) return;
  const nick = readyNick();
  if (!nick) return;
  Object.assign(state, {
    phase: 'joining', mode: 'room', room: slug, nick, lastId: null, kicked: false, rejoinRetries: 0,
    invite: invite || invitePath(slug),
  });
  clearRoomErrors();
  ui.landingStatus.textContent = `Joining ${roomTitle(slug)}…`;
  ui.rooms.setAttribute('aria-busy', 'true');
  ensureConnected();
}
