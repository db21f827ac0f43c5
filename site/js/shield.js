// The proof-of-work gate (docs/protocol.md, "Proof-of-work gate"). Before every connect the
// client asks GET /api/challenge (a browser cannot read why an upgrade was refused, so it asks
// first); when the gate is on for it, it solves the challenge in a Web Worker (pow-worker.js)
// and connects with ?pow=<solution>. A challenge is asked for and solved ahead while the visitor
// types a nickname, so pressing Join seldom waits; the note "Checking your browser…" shows only
// while a solve runs. A solution opens one connection: each is used once.
const NOTE_ID = 'shield-note';
const USE_MARGIN_MS = 30000;  // a solution this close to its expiry is not used
const ASK_AGAIN_MS = 30000;   // after "not required", the gate is asked again ahead this much later

let ahead = null;      // a solution made ahead: {pass, expiresAt}
let solving = null;    // the solve running now (a promise)
let askedAt = 0;       // when `prepare` last heard "not required"
let preparing = false; // a `prepare` is asking or solving

// Expiry of a challenge, from its salt (`…?expires=<unix seconds>&…`).
function expiry(salt) {
  const m = /[?&]expires=(\d+)/.exec(String(salt));
  return m ? Number(m[1]) * 1000 : 0;
}

const fresh = (solution) => solution !== null && solution.expiresAt - Date.now() > USE_MARGIN_MS;

function note(visible) {
  const el = document.getElementById(NOTE_ID);
  if (el) el.hidden = !visible;
}

async function ask() {
  const res = await fetch('/api/challenge', { cache: 'no-store', headers: { Accept: 'application/json' } });
  if (!res.ok) throw new Error(`HTTP ${res.status}`);
  return res.json();
}

// One worker per challenge, ended with it: answers never cross between challenges.
function runWorker(c) {
  return new Promise((resolve, reject) => {
    const worker = new Worker('/js/pow-worker.js');
    worker.onmessage = (ev) => {
      worker.terminate();
      if (ev.data && Number.isInteger(ev.data.number)) resolve(ev.data.number);
      else reject(new Error((ev.data && ev.data.error) || 'no solution'));
    };
    worker.onerror = (ev) => { worker.terminate(); reject(new Error(ev.message || 'the solver failed')); };
    worker.postMessage({ salt: c.salt, challenge: c.challenge, maxnumber: c.maxnumber });
  });
}

// Solve `c`, showing the note meanwhile; one solve at a time.
function solve(c) {
  const run = (async () => {
    note(true);
    try {
      const number = await runWorker(c);
      const payload = { algorithm: c.algorithm, challenge: c.challenge, number, salt: c.salt, signature: c.signature };
      return { pass: encodeURIComponent(btoa(JSON.stringify(payload))), expiresAt: expiry(c.salt) };
    } finally {
      note(false);
    }
  })();
  // Never rejects: who waits on it only waits for the worker to be free.
  const tracked = run.then(() => {}, () => {}).then(() => { if (solving === tracked) solving = null; });
  solving = tracked;
  return run;
}

// Ask and solve ahead (on load, while the visitor types a nickname), when the gate is on.
export function prepareShield() {
  if (preparing || solving || fresh(ahead) || Date.now() - askedAt < ASK_AGAIN_MS) return;
  preparing = true;
  ask().then((c) => {
    if (!c.required) { askedAt = Date.now(); return null; }
    if (solving) return null; // a connect is solving one already
    return solve(c).then((solution) => { ahead = solution; });
  }).catch(() => { /* asked again at connect */ }).finally(() => { preparing = false; });
}

// The `?pow=` value for the next connect: '' when none is needed (or none could be made: the
// upgrade then refuses with a reason the status check explains).
export async function shieldPass() {
  try {
    const c = await ask();
    if (!c.required) return '';
    if (solving) await solving;
    if (fresh(ahead)) {
      const { pass } = ahead;
      ahead = null;
      return pass;
    }
    return (await solve(c)).pass;
  } catch (e) {
    return '';
  }
}

// A solution was refused (spent, expired): forget what was made ahead.
export function forgetShield() {
  ahead = null;
}
