// Reactions: the set offered (`hello.limits.reactions`), the chips under a message (counts, mine
// highlighted, moderators' marked), toggled by click or keyboard with `react {id, emoji}`, and
// the `reactions` frame. Chip changes are not announced (the log's live region ignores them).
import { send } from './connection.js';
import { noteAction, settleAction } from './actions.js';
import { state } from './state.js';
import { make, num, str } from './util.js';

const DEFAULT = ['👍', '❤️', '😂', '😮', '😢', '👎'];
const MAX_OFFERED = 20;
const MAX_CHIPS = 40;   // a bound on what one message shows
let offered = DEFAULT;
const data = new WeakMap(); // message node -> { counts: Map, staff: Set, mine: Set }

/** From `hello.limits.reactions`: the emoji `react` accepts. */
export function setOffered(list) {
  if (!Array.isArray(list)) return;
  const clean = [...new Set(list.filter((e) => typeof e === 'string' && e && e.length <= 32))].slice(0, MAX_OFFERED);
  offered = clean;
}

export function offeredReactions() {
  return offered;
}

function read(raw) {
  const counts = new Map();
  const staff = new Set();
  if (raw && typeof raw === 'object') {
    const c = raw.counts && typeof raw.counts === 'object' ? raw.counts : {};
    for (const [emoji, n] of Object.entries(c).slice(0, MAX_CHIPS)) {
      if (emoji && num(n) > 0) counts.set(emoji, Math.floor(n));
    }
    for (const emoji of Array.isArray(raw.staff) ? raw.staff.slice(0, MAX_CHIPS) : []) {
      if (typeof emoji === 'string' && emoji) staff.add(emoji);
    }
  }
  return { counts, staff };
}

/** The emoji this visitor has on message `node`. */
export function mineOn(node) {
  const d = data.get(node);
  return d ? d.mine : new Set();
}

/** Shows `raw` ({counts, staff}) on `node`; `mine` (a list) when the server says it. */
export function setReactions(node, raw, mine) {
  const { counts, staff } = read(raw);
  const before = data.get(node);
  let mineSet = before ? before.mine : new Set();
  if (Array.isArray(mine)) mineSet = new Set(mine.filter((e) => typeof e === 'string'));
  for (const emoji of [...mineSet]) if (!counts.has(emoji)) mineSet.delete(emoji);
  data.set(node, { counts, staff, mine: mineSet });
  render(node);
}

function chipLabel(emoji, count, mine, staff) {
  const parts = [`${emoji} ${count}`];
  if (mine) parts.push('including you');
  if (staff) parts.push('moderators reacted too');
  return parts.join(', ');
}

function render(node) {
  const d = data.get(node);
  let box = node.querySelector(':scope > .reactions');
  const emojis = d ? [...new Set([...d.counts.keys(), ...d.staff])] : [];
  if (!emojis.length || node.classList.contains('deleted')) { if (box) box.remove(); return; }
  if (!box) {
    box = make('div', 'reactions');
    box.setAttribute('role', 'group');
    box.setAttribute('aria-label', 'Reactions');
    box.setAttribute('aria-live', 'off');
    const after = node.querySelector(':scope > .text');
    after.after(box);
  }
  const id = node.dataset.id;
  box.replaceChildren(...emojis.map((emoji) => {
    const count = d.counts.get(emoji) || 0;
    const mine = d.mine.has(emoji);
    const staff = d.staff.has(emoji);
    const canToggle = offered.includes(emoji) && !!id;
    const chip = make(canToggle ? 'button' : 'span', 'reaction');
    chip.classList.toggle('mine', mine);
    chip.classList.toggle('staff', staff);
    chip.dataset.emoji = emoji;
    chip.append(make('span', 'emoji', emoji));
    if (count > 0) chip.append(make('span', 'n', String(count)));
    if (staff) chip.append(make('span', 'staff-mark', 'staff'));
    if (canToggle) {
      chip.type = 'button';
      chip.setAttribute('aria-pressed', String(mine));
      chip.setAttribute('aria-label', `${chipLabel(emoji, count, mine, staff)}. ${mine ? 'Remove your reaction' : 'React with it too'}`);
      chip.addEventListener('click', () => toggleReaction(node, emoji));
    } else {
      chip.setAttribute('role', 'img');
      chip.setAttribute('aria-label', staff && !count ? `${emoji} from the moderators` : chipLabel(emoji, count, false, staff));
    }
    chip.title = staff ? 'Moderators reacted with this in Discord' : (mine ? 'You reacted with this' : '');
    return chip;
  }));
}

/** Toggles this visitor's `emoji` on message `node`. */
export function toggleReaction(node, emoji) {
  const id = str(node.dataset.id);
  if (!id || !offered.includes(emoji)) return;
  if (!send({ type: 'react', id, emoji })) return;
  noteAction('react', node);
}

/** `reactions {id, counts, staff?, mine?}` */
export function onReactionsFrame(f) {
  const node = state.shown.get(str(f.id));
  if (!node) return;
  setReactions(node, f, f.mine);
  if (Array.isArray(f.mine)) settleAction('react', node);
}
