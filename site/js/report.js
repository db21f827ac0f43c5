// Reports: the dialog (opened from the message menu, menu.js, or for the roulette stranger), and
// what the server answers (`reported`, `report_outcome`, refusals). Also the device token the socket
// sends (`/ws?device=`), kept in localStorage and made again when the visitor clears it.
import { send } from './connection.js';
import { addSystem } from './log.js';
import { $, state } from './state.js';
import { humanDelay, num, roulette, str } from './util.js';

const DEVICE_KEY = 'chatroulette.device';
const LAST_STRANGER_MS = 10 * 60 * 1000;
const REFUSALS = {
  unknown_message: 'This message cannot be reported from here: you can report messages you received in this chat (or from your last stranger, for 10 minutes).',
  already_reported: 'You already reported this message.',
  cannot_report_self: 'That is your own message.',
  rate_limited: 'You have sent many reports in a short time.',
  bad_frame: 'The report could not be sent: the note is too long (500 characters at most).',
  unavailable: 'The report could not be sent right now. Please try again shortly.',
};
const OUTCOMES = {
  banned: 'the person you reported was banned',
  muted: 'the person you reported was muted',
  dismissed: 'they took no action this time',
};

const dialog = $('report-dialog');
const form = $('report-form');
const about = $('report-about');
const note = $('report-note');
const error = $('report-error');
const notice = $('report-notice');
const strangerButton = $('report-stranger');
const lastButton = $('report-last');

// The report being written or waiting for its answer: {id, nick}.
let current = null;
let waitingFor = null;
// The roulette stranger's last message: {id, nick, room}; `endedAt` once the pair ended.
let partner = null;

// A random token, 32 hex digits, kept per browser; '' when storage is unavailable.
export function deviceToken() {
  try {
    let token = localStorage.getItem(DEVICE_KEY) || '';
    if (!/^[0-9a-f]{32}$/.test(token)) {
      const bytes = new Uint8Array(16);
      crypto.getRandomValues(bytes);
      token = Array.from(bytes, (b) => b.toString(16).padStart(2, '0')).join('');
      localStorage.setItem(DEVICE_KEY, token);
    }
    return token;
  } catch (e) {
    return '';
  }
}

// A message arrived: remember the roulette stranger's latest.
export function noteMessage(m, own) {
  if (own || !roulette() || m.staff === true || !str(m.id)) return;
  partner = { id: str(m.id), nick: str(m.nick), room: str(m.room) || state.room, endedAt: 0 };
  renderPartner();
}

// The pair ended for us (we are queued again): the last stranger stays reportable a while.
export function notePairEnded() {
  if (partner && !partner.endedAt) partner.endedAt = Date.now();
  renderPartner();
}

function partnerReportable() {
  if (!partner) return false;
  if (!partner.endedAt) return roulette() && partner.room === state.room;
  return Date.now() - partner.endedAt < LAST_STRANGER_MS;
}

export function renderPartner() {
  const ok = partnerReportable();
  const inPair = ok && !partner.endedAt;
  strangerButton.hidden = !inPair;
  lastButton.hidden = !ok || inPair;
  if (ok) lastButton.textContent = `Report ${partner.nick || 'the last stranger'}`;
}

function reportPartner() {
  if (partnerReportable()) openReport(partner.id, partner.nick);
  else renderPartner();
}

// Opens the report dialog for message `id` from `nick` (from the message menu, or the header).
export function openReport(id, nick) {
  current = { id, nick };
  form.reset();
  error.hidden = true;
  about.textContent = `You are reporting a message from ${nick || 'a visitor'}. Moderators will see it with the messages around it.`;
  if (typeof dialog.showModal === 'function') dialog.showModal();
  else dialog.setAttribute('open', '');
}

function closeReport() {
  if (typeof dialog.close === 'function') dialog.close();
  else dialog.removeAttribute('open');
}

function submitReport(event) {
  event.preventDefault();
  if (!current) return;
  const reason = form.elements.reason.value;
  if (!reason) {
    showError('Choose a reason first.');
    return;
  }
  const text = note.value.trim();
  const frame = { type: 'report', id: current.id, reason };
  if (text) frame.note = text;
  if (!send(frame)) {
    showError('You are offline; the report was not sent. Try again once the chat is back.');
    return;
  }
  waitingFor = current;
  error.hidden = true;
  $('report-send').disabled = true;
}

function showError(text) {
  error.textContent = text;
  error.hidden = false;
}

function tell(text) {
  notice.textContent = text;
  notice.hidden = false;
  clearTimeout(tell.timer);
  tell.timer = setTimeout(() => { notice.hidden = true; }, 8000);
  if (state.phase === 'joined' || state.phase === 'ended') addSystem(text);
}

export function onReported(f) {
  $('report-send').disabled = false;
  if (!waitingFor || str(f.id) !== waitingFor.id) return;
  waitingFor = null;
  closeReport();
  tell('Report sent. Thank you: moderators will look at it.');
}

export function onReportOutcome(f) {
  const outcome = OUTCOMES[str(f.outcome)];
  if (outcome) tell(`Moderators reviewed your report: ${outcome}.`);
}

// An `error` while a report waits for its answer is the report's; true when it was handled.
export function onReportError(f) {
  if (!waitingFor || str(f.client_id)) return false;
  const code = str(f.code);
  if (!(code in REFUSALS)) return false;
  waitingFor = null;
  $('report-send').disabled = false;
  let text = REFUSALS[code];
  const ms = num(f.retry_after_ms);
  if (ms > 0) text = `${text.replace(/[.\s]+$/, '')}: try again ${humanDelay(ms)}.`;
  if (dialog.open) showError(text);
  else tell(text);
  return true;
}

export function initReports() {
  form.addEventListener('submit', submitReport);
  $('report-cancel').addEventListener('click', () => { waitingFor = null; closeReport(); });
  dialog.addEventListener('close', () => { current = null; $('report-send').disabled = false; });
  strangerButton.addEventListener('click', reportPartner);
  lastButton.addEventListener('click', reportPartner);
}
