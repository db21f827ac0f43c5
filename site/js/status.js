// Server facts for the landing page: bans (GET /api/status) and settings and house rules (GET /api/info).
import { showAppeal } from './appeal.js';
import { showLandingError } from './landing.js';
import { state, ui } from './state.js';
import { banText, num, str, textHash } from './util.js';

/* Bans: GET /api/status ({ban: {case, reason, expires} | null, mute: … | null}). */

// Asks the server whether a ban covers this visitor's address; resolves to the ban, null when
// there is none, or undefined when the server could not be asked (then nothing changes).
export async function checkBan() {
  try {
    const res = await fetch('/api/status', { cache: 'no-store', headers: { Accept: 'application/json' } });
    if (!res.ok) return undefined;
    const body = await res.json();
    if (!body || typeof body !== 'object') return undefined;
    const ban = body.ban && typeof body.ban === 'object'
      ? { case: typeof body.ban.case === 'number' ? body.ban.case : null, reason: str(body.ban.reason), expires: str(body.ban.expires) }
      : null;
    setBan(ban);
    return ban;
  } catch (e) {
    return undefined;
  }
}

export function setBan(ban) {
  clearTimeout(state.banTimer);
  state.banTimer = null;
  state.ban = ban;
  // Under the notice, the appeal of this ban; once staff decide, ask again what holds.
  showAppeal(ban, () => {
    checkBan().then((still) => {
      if (!ui.landingError.textContent.includes('You are banned')) return;
      if (still === null) showLandingError('');
      else if (still) showLandingError(banText(still));
    });
  });
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

// Asked once; again on each landing refresh only if the server counts who is online (`online`;
// absent while its bus is unreachable).
export async function loadInfo() {
  if (state.infoLoaded && state.online === null) return;
  try {
    const res = await fetch('/api/info', { cache: 'no-store', headers: { Accept: 'application/json' } });
    if (!res.ok) throw new Error(`HTTP ${res.status}`);
    const info = await res.json();
    if (!info || typeof info !== 'object') throw new Error('unexpected info');
    state.online = typeof info.online === 'number' && info.online >= 0 ? Math.floor(info.online) : null;
    state.looking = typeof info.looking === 'number' && info.looking >= 0 ? Math.floor(info.looking) : null;
    if (state.infoLoaded) return;
    state.infoLoaded = true;
    if (num(info.max_room_capacity) >= 2) state.maxCapacity = Math.floor(info.max_room_capacity);
    state.interestWaitSecs = num(info.roulette_interest_wait_secs);
    ui.createCapacity.max = String(state.maxCapacity);
    ui.capacityHelp.textContent = `2–${state.maxCapacity} people, you included.`;
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

export function rulesAccepted() {
  if (!state.rules) return true;
  try { return sessionStorage.getItem(state.rulesKey) === '1'; } catch (e) { return ui.rulesCheck.checked; }
}

export function setRulesAccepted(accepted) {
  if (!state.rules) return;
  ui.rulesCheck.checked = accepted;
  try {
    if (accepted) sessionStorage.setItem(state.rulesKey, '1');
    else sessionStorage.removeItem(state.rulesKey);
  } catch (e) { /* storage may be disabled: the checkbox alone remembers it for this page */ }
}
