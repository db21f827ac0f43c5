// The one WebSocket of the tab: open, ping, close handling, reconnect with backoff, bans, and
// the proof-of-work pass each connect may need (shield.js).
import { deviceToken } from './report.js';
import { sendCreate } from './create.js';
import { onSocketMessage } from './frames.js';
import { addSystem } from './log.js';
import { clearAllTyping } from './members.js';
import { sendRoulette } from './queue.js';
import { backToLanding, endRouletteChat } from './screens.js';
import { forgetShield, shieldPass } from './shield.js';
import { BACKOFF_MAX_MS, BACKOFF_MIN_MS, JOIN_TIMEOUT_MS, PING_MS, POLICY_COOLDOWN_MS, SILENCE_LIMIT_MS, state, ui } from './state.js';
import { checkBan } from './status.js';
import { banText, inChat, queueing, roulette, str } from './util.js';

export const wsOpen = () => state.ws !== null && state.ws.readyState === WebSocket.OPEN;

// A restarting server says `restarting {retry_after_ms}` (jittered per socket), then closes with
// 1012: the client waits that long (plus a little jitter of its own) and reconnects, saying so
// rather than showing an error. Without the frame, a 1012 close waits RESTART_DEFAULT_MS.
const SERVICE_RESTART = 1012;
const RESTART_DEFAULT_MS = 2000;
const RESTART_MAX_MS = 30000;
const RESTART_TEXT = 'Server restarting — reconnecting…';
let restartAfterMs = null;
let restarting = false; // said until a socket opens again

export function onRestarting(f) {
  const ms = Number(f.retry_after_ms);
  restartAfterMs = Number.isFinite(ms) && ms >= 0 ? Math.min(ms, RESTART_MAX_MS) : RESTART_DEFAULT_MS;
}

export function send(frame) {
  if (!wsOpen()) return false;
  state.ws.send(JSON.stringify(frame));
  return true;
}

export function ensureConnected() {
  state.askedToConnect = true; // a visitor's own action: a refused upgrade is worth explaining
  if (wsOpen()) { sendForPhase(); return; }
  if (state.ws && state.ws.readyState === WebSocket.CONNECTING) return; // sent on open
  if (connecting !== null) return; // the pass is being made; sent on open
  dropSocket();
  connect();
}

// A connect waiting for its proof-of-work pass (a number, bumped by `dropSocket` to cancel it).
let connecting = null;
let connectSeq = 0;
// Whether the socket opening now carries a pass, and whether a refused one was retried already
// (a solution the server refused, as spent or expired, is replaced once with a fresh one).
let withPass = false;
let passRetried = false;

export function connect() {
  if (state.ws || connecting !== null) return; // one WebSocket per tab
  const seq = ++connectSeq;
  connecting = seq;
  shieldPass().then((pass) => {
    if (connecting !== seq) return; // cancelled meanwhile
    connecting = null;
    if (!state.ws) openSocket(pass);
  });
}

function openSocket(pass) {
  const proto = location.protocol === 'https:' ? 'wss:' : 'ws:';
  let ws;
  withPass = pass !== '';
  try {
    const params = [];
    const device = deviceToken(); // only its keyed hash is kept by the server
    if (device) params.push(`device=${device}`);
    if (withPass) params.push(`pow=${pass}`);
    ws = new WebSocket(`${proto}//${location.host}/ws${params.length ? `?${params.join('&')}` : ''}`);
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
export function dropSocket() {
  connecting = null;
  const ws = state.ws;
  state.ws = null;
  stopPing();
  if (ws) { try { ws.close(); } catch (e) { /* already closing */ } }
}

export function onSocketOpen() {
  restartAfterMs = null;
  restarting = false;
  passRetried = false;
  state.wsOpened = true;
  state.askedToConnect = false;
  state.lastFrameAt = Date.now();
  startPing();
  sendForPhase();
}

// What a (re)opened socket must say for the current phase.
export function sendForPhase() {
  if (state.phase === 'rejoining' && state.resume) sendResume();
  else if (state.phase === 'joining' || state.phase === 'rejoining') sendJoin();
  else if (queueing()) sendRoulette();
  else if (state.phase === 'creating') sendCreate();
}

export function sendJoin() {
  const frame = { type: 'join', room: state.room, nick: state.nick };
  if (state.phase === 'rejoining' && state.lastId) frame.since = state.lastId;
  send(frame);
  clearTimeout(state.joinTimer);
  state.joinTimer = setTimeout(onJoinTimeout, JOIN_TIMEOUT_MS);
}

// Take the dropped session back (same room, nickname, stranger, and what was missed): the first
// frame of the new socket. Tokens are single-use: `resumed` brings the next one.
export function sendResume() {
  const frame = { type: 'resume', token: state.resume };
  if (state.lastId) frame.since = state.lastId;
  state.resume = null;
  send(frame);
  clearTimeout(state.joinTimer);
  state.joinTimer = setTimeout(onJoinTimeout, JOIN_TIMEOUT_MS);
}

export function onJoinTimeout() {
  if (state.phase === 'joining') backToLanding('The chat server did not answer. Please try again.');
  else if (state.phase === 'rejoining' && state.ws) { dropSocket(); onSocketClosed({ code: 1006, reason: '' }, true); }
}

export function onSocketClosed(ev, opened = state.wsOpened) {
  state.ws = null;
  state.wsOpened = false;
  state.inFlight = null;
  clearTimeout(state.pumpTimer);
  stopPing();
  clearTimeout(state.joinTimer);
  if (state.kicked) return;
  if (!opened && withPass && !passRetried) {
    // Refused with a pass (most likely `challenge_failed`: spent or expired): once, at once,
    // with a fresh challenge.
    passRetried = true;
    withPass = false;
    forgetShield();
    connect();
    return;
  }
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
export function enterBanned(ban) {
  if (state.ws) dropSocket();
  backToLanding(banText(ban));
}

export function afterSocketClosed(ev, opened) {
  if (ev.code === 4001) { // this session was resumed on another connection (another tab)
    state.resume = null;
    backToLanding('This chat continued in another tab or window.');
    return;
  }
  const restartMs = restartAfterMs !== null ? restartAfterMs : ev.code === SERVICE_RESTART ? RESTART_DEFAULT_MS : null;
  restartAfterMs = null;
  // A pair room cannot be joined again, only resumed: a roulette chat comes back only with a token.
  const canRejoin = inChat() && (!roulette() || (state.resume && (state.phase === 'joined' || state.phase === 'rejoining')));
  if (restartMs !== null && (queueing() || canRejoin)) {
    // Back after the server's own delay; should it not be up yet, the usual backoff follows.
    restarting = true;
    if (queueing()) {
      state.phase = 'queueing';
      ui.waitingStatus.textContent = RESTART_TEXT;
    } else {
      if (state.phase === 'joined') addSystem(RESTART_TEXT, true);
      state.phase = 'rejoining';
      clearAllTyping();
    }
    showBanner(true);
    ui.bannerText.textContent = RESTART_TEXT;
    state.backoffAttempt = 0;
    scheduleReconnect(restartMs * (1 + Math.random() * 0.25));
    return;
  }
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
    ui.waitingStatus.textContent = restarting ? RESTART_TEXT : 'Connection lost — reconnecting…';
    scheduleReconnect();
  } else if (roulette() && inChat() && !(state.resume && (state.phase === 'joined' || state.phase === 'rejoining'))) {
    // A pair room cannot be joined again, only resumed: without a token this chat is over.
    if (state.phase === 'joined' || state.phase === 'rejoining') endRouletteChat('Connection lost — this chat has ended.');
  } else if (inChat()) {
    if (state.phase === 'joined') addSystem('Connection lost — reconnecting…', true);
    state.phase = 'rejoining';
    showBanner(true);
    clearAllTyping();
    scheduleReconnect();
  }
}

export function showBanner(visible) {
  if (visible && ui.banner.hidden) ui.bannerText.textContent = 'Connection lost — reconnecting…';
  ui.banner.hidden = !visible;
}

// Reconnect after `after` ms when given (a restart), else after the next backoff step.
export function scheduleReconnect(after = null) {
  clearTimeout(state.reconnectTimer);
  const base = Math.min(BACKOFF_MAX_MS, BACKOFF_MIN_MS * 2 ** Math.min(state.backoffAttempt, 10));
  const delay = after !== null ? after : Math.min(BACKOFF_MAX_MS, base * (0.75 + Math.random() * 0.5));
  if (after === null) state.backoffAttempt += 1;
  state.reconnectTimer = setTimeout(() => {
    state.reconnectTimer = null;
    if (state.phase === 'rejoining' || queueing()) connect();
  }, delay);
}

export function reconnectNow() {
  if ((state.phase === 'rejoining' || queueing()) && !state.ws && state.reconnectTimer) {
    clearTimeout(state.reconnectTimer);
    state.reconnectTimer = null;
    connect();
  }
}

export function startPing() {
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

export function stopPing() {
  clearInterval(state.pingTimer);
  state.pingTimer = null;
}
