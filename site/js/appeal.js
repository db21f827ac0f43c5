// The appeal of a sanction: a form (POST /api/appeals), then the appeal's state and the staff's
// replies (GET /api/appeals/{token}), asked every few seconds while the page is visible and the
// appeal is open. The token is kept in localStorage per case, so a reload shows the same appeal
// again. Text only, node by node: nothing is HTML. `appealPanel(el, words)` makes one over its
// elements, worded for a ban or a mute (`WORDS`, what each refusal code and decision says); the
// ban's lives under the ban notice on the landing page (`showAppeal`), the mute's under the mute
// notice in the chat (`sanctions.js`).
import { $ } from './state.js';
import { humanTime, num, str } from './util.js';

const POLL_MS = 5000;
const KEY = (c) => `chatroulette.appeal.${c}`;

// What the visitor reads, per sanction: refusals of POST /api/appeals and decisions.
export const WORDS = {
  ban: {
    empty: 'Write why the ban should be reconsidered.',
    open: 'This ban already has an open appeal. The moderators will answer it; a new one can be sent once it is decided.',
    gone: 'This ban no longer applies to your connection. Reload the page.',
    lifted: 'The moderators lifted the ban. You can chat again.',
    shortened: (until) => (until ? `The moderators shortened the ban: it now ends ${until}.` : 'The moderators shortened the ban.'),
    denied: 'The moderators kept the ban as it was.',
  },
  mute: {
    empty: 'Write why the mute should be reconsidered.',
    open: 'This mute already has an open appeal. The moderators will answer it; a new one can be sent once it is decided.',
    gone: 'This mute no longer applies to your connection: you may be able to write again.',
    lifted: 'The moderators lifted the mute. You can write again.',
    shortened: (until) => (until ? `The moderators shortened the mute: it now ends ${until}.` : 'The moderators shortened the mute.'),
    denied: 'The moderators kept the mute as it was.',
  },
};

function stored(c) {
  try { return localStorage.getItem(KEY(c)); } catch (e) { return null; }
}

function store(c, token) {
  try {
    if (token) localStorage.setItem(KEY(c), token);
    else localStorage.removeItem(KEY(c));
  } catch (e) { /* storage disabled: the appeal stays readable while this page is open */ }
}

// An appeal panel over its elements `el` ({card, form, caseName, text, error, send, view, state,
// sent, repliesHeading, replies}), worded by `words` (one of `WORDS`): `show(sanction,
// onDecided)` and `decided()` (staff decided the appeal shown).
export function appealPanel(el, words) {
  const current = { case: null, token: null, timer: null, state: null, onLifted: null };

  // What a refusal of POST /api/appeals means, in the visitor's words.
  function refusalText(code, retryMs) {
    switch (code) {
      case 'empty_text': return words.empty;
      case 'too_long': return 'That is too long: 2 000 characters at most.';
      case 'too_large': return 'That is too long: 2 000 characters at most.';
      case 'appeal_open': return words.open;
      case 'not_your_case': return words.gone;
      case 'rate_limited': return retryMs > 0 ? `Too many appeals from your connection: try again in ${Math.ceil(retryMs / 60000)} minutes.` : 'Too many appeals from your connection: try again later.';
      case 'unavailable': return 'Appeals are unavailable right now: try again in a minute.';
      default: return 'The appeal could not be sent: try again.';
    }
  }

  function showError(text) {
    el.error.textContent = text || '';
    el.error.hidden = !text;
  }

  // What the appeal's state means for the visitor.
  function stateText(appeal) {
    switch (appeal.state) {
      case 'lifted': return words.lifted;
      case 'shortened': return words.shortened(appeal.expires ? humanTime(appeal.expires) : '');
      case 'denied': return words.denied;
      default: return 'Your appeal was sent. The moderators will answer here.';
    }
  }

  function render(appeal) {
    el.form.hidden = true;
    el.view.hidden = false;
    el.state.textContent = stateText(appeal);
    el.sent.textContent = str(appeal.text);
    const replies = Array.isArray(appeal.replies) ? appeal.replies : [];
    el.repliesHeading.hidden = replies.length === 0;
    // Only what is new is added, so a screen reader announces each reply once.
    for (let i = el.replies.children.length; i < replies.length; i += 1) {
      const reply = replies[i] || {};
      const item = document.createElement('li');
      const head = document.createElement('span');
      head.className = 'appeal-reply-head';
      head.append('Staff');
      const at = str(reply.at);
      if (at) {
        const time = document.createElement('time');
        time.dateTime = at;
        time.textContent = humanTime(at);
        head.append(time);
      }
      item.append(head, str(reply.text));
      el.replies.append(item);
    }
  }

  function showForm() {
    el.view.hidden = true;
    el.replies.replaceChildren();
    el.form.hidden = false;
    el.send.disabled = false;
  }

  function stopPolling() {
    clearTimeout(current.timer);
    current.timer = null;
  }

  function schedule() {
    stopPolling();
    if (current.token && current.state === 'open') current.timer = setTimeout(poll, POLL_MS);
  }

  async function poll() {
    const token = current.token;
    if (!token) return;
    if (document.visibilityState === 'hidden') { schedule(); return; }
    try {
      const res = await fetch(`/api/appeals/${encodeURIComponent(token)}`, { cache: 'no-store', headers: { Accept: 'application/json' } });
      if (token !== current.token) return;
      if (res.status === 404) {
        // Forgotten by the server (too old): the visitor may appeal again.
        store(current.case, null);
        current.token = null;
        current.state = null;
        showForm();
        return;
      }
      if (res.ok) {
        const appeal = await res.json();
        if (appeal && typeof appeal === 'object') {
          const was = current.state;
          current.state = str(appeal.state) || 'open';
          render(appeal);
          if (was === 'open' && current.state !== 'open' && current.onLifted) current.onLifted(current.state);
        }
      }
    } catch (e) { /* asked again at the next tick */ }
    schedule();
  }

  async function submit(event) {
    event.preventDefault();
    const text = el.text.value.trim();
    if (!text) { showError(refusalText('empty_text')); el.text.focus(); return; }
    if ([...text].length > 2000) { showError(refusalText('too_long')); el.text.focus(); return; }
    showError('');
    el.send.disabled = true;
    const c = current.case;
    try {
      const res = await fetch('/api/appeals', {
        method: 'POST',
        cache: 'no-store',
        headers: { 'Content-Type': 'application/json', Accept: 'application/json' },
        body: JSON.stringify({ case: c, text }),
      });
      const body = await res.json().catch(() => ({}));
      if (c !== current.case) return;
      if (res.status === 201 && typeof body.token === 'string') {
        current.token = body.token;
        current.state = 'open';
        store(c, body.token);
        el.text.value = '';
        render({ state: 'open', text, replies: [] });
        schedule();
        return;
      }
      showError(refusalText(str(body.code), num(body.retry_after_ms)));
    } catch (e) {
      showError(refusalText('unavailable'));
    }
    el.send.disabled = false;
  }

  // Show the appeal of `ban` (the sanction: {case, …}; null: none). `onDecided(state)` runs
  // once when staff decide while the page watches (the page then asks /api/status again).
  function show(ban, onDecided) {
    current.onLifted = onDecided || null;
    const c = ban && Number.isFinite(ban.case) ? ban.case : null;
    if (c === null) {
      // No ban (any more): a decided appeal stays on screen, an open one goes with its ban.
      if (current.state && current.state !== 'open') return;
      stopPolling();
      current.case = null;
      current.token = null;
      current.state = null;
      el.card.hidden = true;
      return;
    }
    if (c === current.case && !el.card.hidden) return;
    stopPolling();
    current.case = c;
    current.token = stored(c);
    current.state = current.token ? 'open' : null;
    el.caseName.textContent = `case #${c}`;
    el.card.hidden = false;
    showError('');
    if (current.token) {
      el.form.hidden = true;
      el.view.hidden = false;
      el.replies.replaceChildren();
      el.state.textContent = 'Loading your appeal…';
      poll();
    } else {
      showForm();
    }
  }

  el.form.addEventListener('submit', submit);
  document.addEventListener('visibilitychange', () => {
    if (document.visibilityState === 'visible' && current.token && current.state === 'open') poll();
  });
  return { show, decided: () => current.state !== null && current.state !== 'open' };
}

let banPanel = null;

// Show the appeal of `ban` ({case, …}; null: no ban) under the ban notice.
export function showAppeal(ban, onDecided) {
  if (!banPanel) {
    banPanel = appealPanel({
      card: $('appeal'), form: $('appeal-form'), caseName: $('appeal-case'), text: $('appeal-text'),
      error: $('appeal-error'), send: $('appeal-send'), view: $('appeal-view'), state: $('appeal-state'),
      sent: $('appeal-sent'), repliesHeading: $('appeal-replies-heading'), replies: $('appeal-replies'),
    }, WORDS.ban);
  }
  banPanel.show(ban, onDecided);
}
