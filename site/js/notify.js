// Being told while away: mentions counted apart in the title ("(3 · @1) Lobby — …"), a dot on
// the favicon while there are any, and (opt-in, the header's Alerts button) a browser
// notification and a short sound when the tab is hidden and the visitor is mentioned or gets a
// message in a roulette chat. With prefers-reduced-motion the highlight of a mention does not pulse.
import { $, state } from './state.js';
import { roulette, str, updateTitle } from './util.js';

const KEY = 'alerts';
const button = $('alerts');
const status = $('copy-status');
const icon = document.querySelector('link[rel="icon"]');
const PLAIN_ICON = icon ? icon.getAttribute('href') : '/favicon.svg';
const DOT_ICON = '/favicon-dot.svg';
let audio = null;
let on = false;

function setOn(value) {
  on = value;
  button.setAttribute('aria-pressed', String(on));
  button.title = on
    ? 'Alerts on: a notification and a sound when you are mentioned (or a stranger writes) while this tab is hidden. Press to turn off.'
    : 'Alerts off. Press to get a notification and a sound when you are mentioned (or a stranger writes) while this tab is hidden.';
  try { localStorage.setItem(KEY, on ? '1' : '0'); } catch (e) { /* storage may be disabled */ }
}

async function toggle() {
  if (on) { setOn(false); return; }
  setOn(true);
  // Made on the click, so the browser lets it play later.
  if (!audio && window.AudioContext) { try { audio = new AudioContext(); } catch (e) { audio = null; } }
  if (!('Notification' in window)) { say('This browser cannot show notifications: a sound will play instead.'); return; }
  let permission = Notification.permission;
  if (permission === 'default') { try { permission = await Notification.requestPermission(); } catch (e) { permission = 'denied'; } }
  say(permission === 'granted' ? 'Alerts on.' : 'Notifications are blocked for this site: a sound will play instead.');
}

function say(text) {
  status.textContent = text;
  clearTimeout(say.timer);
  say.timer = setTimeout(() => { status.textContent = ''; }, 4000);
}

function ping() {
  if (!audio) return;
  const now = audio.currentTime;
  const osc = audio.createOscillator();
  const gain = audio.createGain();
  osc.frequency.value = 740;
  gain.gain.setValueAtTime(0.0001, now);
  gain.gain.exponentialRampToValueAtTime(0.15, now + 0.02);
  gain.gain.exponentialRampToValueAtTime(0.0001, now + 0.25);
  osc.connect(gain).connect(audio.destination);
  osc.start(now);
  osc.stop(now + 0.27);
}

function setDot(dot) {
  if (icon) icon.setAttribute('href', dot ? DOT_ICON : PLAIN_ICON);
}

/**
 * A message from someone else arrived (not ignored, not from the history of a join). Counts it
 * as a mention while the tab is hidden, and alerts when asked to.
 */
export function onIncoming(m, mentioned) {
  if (!document.hidden) return;
  if (mentioned) {
    state.mentions = (state.mentions || 0) + 1;
    setDot(true);
    updateTitle();
  }
  if (!on || !(mentioned || roulette())) return;
  try { ping(); } catch (e) { /* sound is a nicety */ }
  if (!('Notification' in window) || Notification.permission !== 'granted') return;
  const nick = str(m.nick) || 'Someone';
  const title = mentioned ? `${nick} mentioned you` : `${nick} wrote to you`;
  try {
    const n = new Notification(title, { body: Array.from(str(m.text)).slice(0, 120).join(''), tag: 'chatroulette', silent: true });
    n.onclick = () => { window.focus(); n.close(); };
  } catch (e) { /* some browsers only notify from a service worker */ }
}

function onVisible() {
  if (document.hidden) return;
  state.mentions = 0;
  setDot(false);
  updateTitle();
}

export function initNotify() {
  let saved = false;
  try { saved = localStorage.getItem(KEY) === '1'; } catch (e) { /* storage may be disabled */ }
  setOn(saved && (!('Notification' in window) || Notification.permission !== 'denied'));
  button.addEventListener('click', toggle);
  document.addEventListener('visibilitychange', onVisible);
  // After a reload the sound needs the visitor's first gesture again (browsers' autoplay rule).
  const wake = () => {
    if (on && !audio && window.AudioContext) { try { audio = new AudioContext(); } catch (e) { audio = null; } }
  };
  document.addEventListener('pointerdown', wake, { once: true });
  document.addEventListener('keydown', wake, { once: true });
}
