// Small pure helpers: text and number guards, nickname colours and rules, times, wording.
import { APP_TITLE, INTERESTS_MAX, INTEREST_RE, NICK_RE, state } from './state.js';

export const str = (v) => (typeof v === 'string' ? v : '');
export const num = (v) => (typeof v === 'number' && Number.isFinite(v) ? v : 0);
export const charCount = (s) => Array.from(s).length;
export const inChat = () => state.phase === 'joined' || state.phase === 'rejoining' || state.phase === 'ended';
export const queueing = () => state.phase === 'queueing' || state.phase === 'waiting';
export const roulette = () => state.mode === 'roulette';

export function make(tag, className, text) {
  const node = document.createElement(tag);
  if (className) node.className = className;
  if (text !== undefined) node.textContent = text;
  return node;
}

export function nickHue(nick) {
  let h = 0;
  for (const ch of nick.toLowerCase()) h = (h * 31 + ch.codePointAt(0)) >>> 0;
  return h % 360;
}

export function paintNick(node, nick) {
  node.style.setProperty('--hue', String(nickHue(nick)));
}

export function formatTime(at) {
  const d = new Date(at);
  return Number.isNaN(d.getTime()) ? '' : d.toLocaleTimeString([], { hour: '2-digit', minute: '2-digit' });
}

export function validateNick(nick) {
  const n = charCount(nick);
  const { nick_min: min, nick_max: max } = state.limits;
  if (n === 0) return 'Please choose a nickname.';
  if (n < min) return `Your nickname needs at least ${min} characters.`;
  if (n > max) return `Your nickname can have at most ${max} characters.`;
  if (!NICK_RE.test(nick)) return 'Use only letters, digits, spaces and _ - . in your nickname.';
  return '';
}

// "Music, #go ,, old films" → ['music', 'go', 'old-films'] (or an error text): spaces inside an
// interest become hyphens. The server has the same rules (up to 5 tags of 1–24 letters, digits,
// - and _, lowercased) and has the last word.
export function parseInterests(raw) {
  const tags = [];
  for (const part of raw.split(',')) {
    const tag = part.trim().replace(/^#/, '').replace(/\s+/g, '-').toLowerCase();
    if (!tag || tags.includes(tag)) continue;
    if (!INTEREST_RE.test(tag)) {
      return { error: `"${tag}" is not a valid interest: use 1–24 letters, digits, spaces, - or _.` };
    }
    tags.push(tag);
  }
  if (tags.length > INTERESTS_MAX) return { error: `At most ${INTERESTS_MAX} interests, please.` };
  return { tags };
}

// A short, stable key for a text (cyrb53): acceptance of the house rules is remembered per
// version of the rules, so changed rules are asked for again.
export function textHash(text) {
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

// The client's own words for each error code, in sentence case; the server's `message` only
// where it carries details the code cannot (which nickname rule, which field), or for a code
// this client does not know yet.
const ERROR_TEXT = {
  rate_limited: 'You are going a little fast.',
  slowmode: 'This room is in slow mode.',
  nick_taken: 'Someone in this room already uses this nickname (or one that looks like it). Try another.',
  room_full: 'This room is full right now.',
  room_locked: 'This room is locked by moderators.',
  unavailable: 'The chat is having trouble right now. Please try again in a moment.',
  too_many_rooms: 'You already have as many rooms open as one visitor may. Close one first, or wait until an empty one closes.',
  unknown_room: 'This room does not exist any more.',
  too_many_seats: 'Your connection already holds as many places in this room as it may.',
  filtered: 'That contains something this chat does not allow.',
  too_long: 'That is too long.',
  empty_message: 'There is nothing to send.',
  not_in_room: 'You are not in a room right now.',
  banned: 'You are banned from this chat.',
  muted: 'You are muted: you can read along, but not write for now.',
  // The trust tier for new visitors (their first minutes or messages here).
  links_not_yet: 'New visitors cannot post links in this room yet. Chat a little first, then try again.',
  paste_not_yet: 'New visitors cannot send long pastes yet: keep it under 300 characters and 6 lines for now.',
  repeated: 'You just sent that. Say something new.',
};
const SERVER_DETAILS = new Set(['invalid_nick', 'bad_frame']);

export function describeError(f) {
  const code = str(f.code);
  const server = str(f.message).trim();
  let text = (SERVER_DETAILS.has(code) && server) ? sentenceCase(server) : ERROR_TEXT[code] || sentenceCase(server) || 'Something went wrong. Please try again.';
  const ms = num(f.retry_after_ms);
  if (ms > 0) text = `${text.replace(/[.\s]+$/, '')}: try again ${humanDelay(ms)}.`;
  return text;
}

function sentenceCase(text) {
  if (!text) return '';
  const first = text.charAt(0).toUpperCase() + text.slice(1);
  return /[.!?]$/.test(first) ? first : `${first}.`;
}

// 1 500 → "in 2 seconds", 300 000 → "in 5 minutes", later than an hour → "at 17:23".
export function humanDelay(ms) {
  const secs = Math.max(1, Math.ceil(ms / 1000));
  if (secs < 60) return `in ${secs} second${secs === 1 ? '' : 's'}`;
  const mins = Math.round(secs / 60);
  if (mins < 60) return `in ${mins} minute${mins === 1 ? '' : 's'}`;
  return `at ${new Date(Date.now() + ms).toLocaleTimeString([], { hour: '2-digit', minute: '2-digit' })}`;
}

// "17:23" today, "Fri 4 Dec, 17:23" another day (the visitor's own locale and time zone).
export function humanTime(iso) {
  const d = new Date(iso);
  if (Number.isNaN(d.getTime())) return '';
  const time = d.toLocaleTimeString([], { hour: '2-digit', minute: '2-digit' });
  if (d.toDateString() === new Date().toDateString()) return time;
  return `${d.toLocaleDateString([], { weekday: 'short', day: 'numeric', month: 'short' })}, ${time}`;
}

// "You are banned until 17:23 — reason: spam links" (from GET /api/status).
export function banText(ban) {
  const until = ban.expires ? humanTime(ban.expires) : '';
  const head = until ? `You are banned until ${until}` : 'You are banned from this chat';
  return ban.reason ? `${head} — reason: ${ban.reason}` : `${head}.`;
}

// Why one of our messages was not sent, per error code, written for the person who wrote it.
export function notSentReason(code) {
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
    case 'muted': return 'you are muted';
    case 'lost': return 'the connection dropped before it was confirmed';
    case 'unknown_message': return 'the message it replies to is gone';
    case 'links_not_yet': return 'new visitors cannot post links in this room yet; chat a little first';
    case 'paste_not_yet': return 'new visitors cannot send long pastes yet (300 characters, 6 lines at most)';
    case 'repeated': return 'you just sent the same message';
    default: return 'the server refused it';
  }
}

export function roomTitle(slug) {
  const room = state.rooms.get(slug);
  return (room && str(room.title)) || slug || '';
}

export function chatTitle() {
  if (roulette()) return state.stranger ? `Chat with ${state.stranger}` : 'Chat with a stranger';
  return roomTitle(state.room);
}

export function updateTitle() {
  let base = APP_TITLE;
  if (inChat()) base = `${chatTitle()} — ${APP_TITLE}`;
  else if (queueing()) base = `Looking for a stranger… — ${APP_TITLE}`;
  // Mentions are counted apart, beside the unread count: "(3 · @1) Lobby — …".
  const mentions = state.mentions > 0 ? `@${state.mentions}` : '';
  const counts = [state.unread > 0 ? String(state.unread) : '', mentions].filter(Boolean).join(' · ');
  document.title = counts ? `(${counts}) ${base}` : base;
}
