// Sanctions the server tells this visitor about: a mute (`muted {case, reason, expires}`, or an
// `error {code: "muted"}` refusing something) turns the composer off with a notice saying why and
// until when, and back on by itself at expiry; a warning (`warned {case, reason}`) is a notice and
// a line in the log. No frame tells of a mute lifted early, so while muted the page asks
// `GET /api/status` now and then. A mute with a case can be appealed from its notice
// (`mute-appeal.js`). (A shadow mute is never told: nothing here knows of it.)
import { addSystem } from './log.js';
import { muteAppeal } from './mute-appeal.js';
import { setComposerEnabled } from './screens.js';
import { state, ui } from './state.js';
import { humanTime, make, num, str } from './util.js';

const WARNING_SHOWN_MS = 30000;
// setTimeout's longest delay (about 24.8 days); a later expiry is checked again then.
const TIMER_MAX_MS = 2147483647;
// While muted: how often the page asks whether the mute was lifted early.
const LIFT_CHECK_MS = 10000;

const mute = { until: null, reason: '', case: null, timer: null, poll: null };
let muteNote = null;
let muteBox = null;
let appeal = null;
let warnNote = null;
let warnTimer = null;

function notes() {
  if (!muteNote) {
    // Beside the room's locked note, above the composer.
    muteNote = make('p', 'locked-note mute-note', '');
    muteNote.id = 'mute-note';
    muteNote.setAttribute('role', 'status');
    muteNote.hidden = true;
    warnNote = make('p', 'alert warn-note', '');
    warnNote.id = 'warn-note';
    warnNote.setAttribute('role', 'alert');
    warnNote.hidden = true;
    // The notice, its appeal button and the appeal form, together above the composer.
    appeal = muteAppeal();
    muteBox = make('div', 'mute-box', undefined);
    muteBox.id = 'mute-box';
    muteBox.hidden = true;
    muteBox.append(muteNote, appeal.button, appeal.card);
    ui.lockedNote.before(warnNote, muteBox);
  }
}

// Staff decided the mute's appeal while the page watched: say so, and ask whether it still holds.
function appealDecided(decision) {
  if (decision === 'lifted') addSystem('The moderators lifted your mute after your appeal.');
  if (decision === 'denied') addSystem('The moderators kept your mute after your appeal.');
  checkLifted();
}

// Whether the visitor is muted now (the composer stays off while so).
export function isMuted() {
  return mute.until !== null && (mute.until === Infinity || mute.until > Date.now());
}

function expiryOf(value) {
  if (value === null || value === undefined) return Infinity;
  const at = Date.parse(str(value));
  return Number.isNaN(at) ? Infinity : at;
}

function muteText() {
  const until = mute.until === Infinity ? 'until a moderator lifts it' : `until ${humanTime(new Date(mute.until).toISOString())}`;
  const why = mute.reason ? ` — reason: ${mute.reason}` : '';
  const which = mute.case !== null ? ` (case #${mute.case})` : '';
  return `You are muted ${until}${why}${which}. You can read along, and write again once it ends.`;
}

function apply(until, reason, caseNumber, announce) {
  notes();
  const news = announce && (!isMuted() || until !== mute.until || reason !== mute.reason);
  Object.assign(mute, { until, reason, case: caseNumber });
  clearTimeout(mute.timer);
  if (!isMuted()) { lift(); return; }
  muteNote.textContent = muteText();
  muteNote.hidden = false;
  muteBox.hidden = false;
  appeal.show(mute.case, appealDecided);
  setComposerEnabled(false);
  ui.input.placeholder = 'You are muted';
  if (news) addSystem(muteText());
  if (!mute.poll) mute.poll = setInterval(checkLifted, LIFT_CHECK_MS);
  if (until !== Infinity) {
    mute.timer = setTimeout(() => apply(mute.until, mute.reason, mute.case, false), Math.min(until - Date.now() + 50, TIMER_MAX_MS));
  }
}

function lift() {
  const was = mute.until !== null;
  Object.assign(mute, { until: null, reason: '', case: null });
  clearTimeout(mute.timer);
  clearInterval(mute.poll);
  mute.poll = null;
  if (muteNote) {
    muteNote.hidden = true;
    muteBox.hidden = true;
    appeal.hide();
  }
  if (!was) return;
  if ((state.phase === 'joined' || state.phase === 'rejoining') && !state.locked) setComposerEnabled(true);
  if (state.phase === 'joined') addSystem('Your mute has ended: you can write again.');
}

async function checkLifted() {
  if (!isMuted()) return;
  try {
    const res = await fetch('/api/status', { cache: 'no-store', headers: { Accept: 'application/json' } });
    if (!res.ok) return;
    const body = await res.json();
    if (body && typeof body === 'object' && body.mute === null && isMuted()) lift();
  } catch (e) { /* asked again at the next check */ }
}

// `muted {case, reason, expires}`: on mute, and after every join while it holds.
export function onMuted(f) {
  apply(expiryOf(f.expires), str(f.reason), num(f.case) > 0 ? f.case : null, true);
}

// `error {code: "muted", message, expires}`: something we sent was refused for a mute.
export function onMutedError(f) {
  if (str(f.code) !== 'muted') return;
  apply(expiryOf(f.expires), mute.reason, mute.case, !isMuted());
}

// `warned {case, reason}`: a notice above the composer for a while, and a line in the log.
export function onWarned(f) {
  notes();
  const reason = str(f.reason);
  const which = num(f.case) > 0 ? ` (case #${f.case})` : '';
  const text = `A moderator warned you: ${reason || 'follow the house rules'}${which}. Repeated warnings lead to a mute or a ban.`;
  warnNote.textContent = text;
  warnNote.hidden = false;
  clearTimeout(warnTimer);
  warnTimer = setTimeout(() => { warnNote.hidden = true; }, WARNING_SHOWN_MS);
  addSystem(text, true);
}
