// Invite links (/?room=SLUG): looking the room up and showing the invite card.
import { SLUG_RE, state, ui } from './state.js';
import { num, str } from './util.js';

/* Invite links: /?room=SLUG. */

export async function loadInvite() {
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

export function showInvite(room, focus = true) {
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
  const blocked = room.locked === true || (capacity > 0 && members >= capacity);
  ui.inviteCount.textContent = blocked ? count : `${count} Choose a nickname and press Join.`;
  ui.inviteError.hidden = true;
  ui.invite.hidden = false;
  ui.inviteJoin.hidden = false;
  ui.inviteJoin.disabled = room.locked === true || (capacity > 0 && members >= capacity);
  ui.inviteJoin.setAttribute('aria-label', `Join ${title}`);
  if (focus) ui.nick.focus();
}

// With the landing page's refresh: a full or locked room's card (and its Join) follow the room.
export async function refreshInvite() {
  const slug = state.invited && state.invited.slug;
  if (!slug || state.phase !== 'idle') return;
  try {
    const res = await fetch(`/api/rooms/${encodeURIComponent(slug)}`, { cache: 'no-store', headers: { Accept: 'application/json' } });
    if (!res.ok) return;
    const room = await res.json();
    if (room && typeof room === 'object') showInvite({ ...room, slug }, false);
  } catch (e) { /* the next refresh tries again */ }
}
