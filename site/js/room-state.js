// A room's state as its members see it: locked (the composer off, with why), slow mode (a chip
// in the header) and whether links are shown. Changes arrive as system lines.
//
// Sources, best first: a `room_updated` frame (`{room, locked, slowmode_secs, links?}`, sent to
// the room's members when a moderator changes it), the same fields in `joined`, and refusals of
// our own messages (`room_locked`, `slowmode`). Against a server whose `joined` lacks the fields
// (an older gateway during a rolling upgrade), GET /api/rooms/{slug} is polled while in a room.
import { addSystem } from './log.js';
import { setComposerEnabled } from './screens.js';
import { ROOM_POLL_MS, state, ui } from './state.js';
import { isMuted } from './sanctions.js';
import { num, roulette, str } from './util.js';

/** A fresh chat: the room's state as far as known, without announcing it. */
export function resetRoomState(f = {}) {
  // A server that states the room in `joined` announces every change: no need to poll.
  if (typeof f.locked === 'boolean') state.roomUpdates = true;
  const room = state.rooms.get(state.room) || {};
  state.locked = !roulette() && (f.locked === true || (f.locked === undefined && room.locked === true));
  const slow = num(f.slowmode_secs) || num(room.slowmode_secs);
  state.slowmode = roulette() ? 0 : slow;
  state.linksAllowed = f.links !== false && room.links !== false;
  render();
  startRoomPoll();
}

/** A change of state; `announce` adds the system line saying so. */
export function applyRoomState(change, announce = true) {
  if (typeof change.locked === 'boolean' && change.locked !== state.locked) {
    state.locked = change.locked;
    if (announce) {
      addSystem(change.locked
        ? 'This room is locked by moderators: nobody can write for now.'
        : 'This room is unlocked: you can write again.');
    }
  }
  if (change.slowmode_secs !== undefined) {
    const secs = change.slowmode_secs === null ? null : Math.max(0, Math.floor(num(change.slowmode_secs)));
    if (secs !== state.slowmode) {
      state.slowmode = secs;
      if (announce) {
        if (secs === 0) addSystem('Slow mode is off.');
        else addSystem(secs ? `Slow mode is on: one message every ${secs} s.` : 'Slow mode is on.');
      }
    }
  }
  if (typeof change.links === 'boolean') state.linksAllowed = change.links;
  render();
}

/** `room_updated`: a moderator changed the room (lock, unlock, slow mode, links). */
export function onRoomUpdated(f) {
  if (state.phase !== 'joined' || roulette() || (str(f.room) && f.room !== state.room)) return;
  // This server announces changes: polling for them is no longer needed (and would race it).
  state.roomUpdates = true;
  stopRoomPoll();
  applyRoomState({
    locked: typeof f.locked === 'boolean' ? f.locked : undefined,
    slowmode_secs: typeof f.slowmode_secs === 'number' ? f.slowmode_secs : undefined,
    links: typeof f.links === 'boolean' ? f.links : undefined,
  });
}

/** One of our messages was refused for the room's state: the room has changed under us. */
export function noteRefusal(code) {
  if (code === 'room_locked') applyRoomState({ locked: true });
  else if (code === 'slowmode' && state.slowmode === 0) applyRoomState({ slowmode_secs: null }, false);
}

function render() {
  const locked = state.locked && state.phase !== 'ended';
  ui.lockedNote.hidden = !locked;
  if (state.phase === 'joined' || state.phase === 'rejoining') {
    setComposerEnabled(!locked && !isMuted());
    if (locked) ui.input.placeholder = 'This room is locked by moderators';
    else if (isMuted()) ui.input.placeholder = 'You are muted';
  }
  const slow = state.slowmode !== 0 && !roulette();
  ui.slowChip.textContent = state.slowmode ? `Slow mode · ${state.slowmode} s` : 'Slow mode';
  ui.slowChip.hidden = !slow;
}

/* GET /api/rooms/{slug} while in a room, for a server that does not announce changes. */

export function startRoomPoll() {
  stopRoomPoll();
  if (roulette() || state.roomUpdates) return;
  state.roomPollTimer = setInterval(pollRoom, ROOM_POLL_MS);
}

export function stopRoomPoll() {
  clearInterval(state.roomPollTimer);
  state.roomPollTimer = null;
}

async function pollRoom() {
  const slug = state.room;
  if (state.phase !== 'joined' || roulette() || !slug) { if (state.phase === 'idle') stopRoomPoll(); return; }
  try {
    const res = await fetch(`/api/rooms/${encodeURIComponent(slug)}`, { cache: 'no-store', headers: { Accept: 'application/json' } });
    if (!res.ok) return;
    const room = await res.json();
    if (!room || typeof room !== 'object' || state.room !== slug || state.phase !== 'joined') return;
    state.rooms.set(slug, { ...state.rooms.get(slug), ...room, slug });
    applyRoomState({
      locked: typeof room.locked === 'boolean' ? room.locked : undefined,
      slowmode_secs: typeof room.slowmode_secs === 'number' ? room.slowmode_secs : undefined,
      links: typeof room.links === 'boolean' ? room.links : undefined,
    });
  } catch (e) { /* the next poll tries again */ }
}
