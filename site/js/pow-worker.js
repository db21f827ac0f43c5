// The proof-of-work solver (docs/protocol.md, "Proof-of-work gate"), off the page's thread so
// typing never waits on it: finds the number n ≤ maxnumber whose SHA-256 of salt + n (n in
// decimal) is the challenge (ALTCHA's v1 format), hashing a batch of numbers at a time with
// crypto.subtle. Answers {number, ms} or {error}.
const BATCH = 1000;

function hexBytes(hex) {
  const out = new Uint8Array(hex.length / 2);
  for (let i = 0; i < out.length; i++) out[i] = parseInt(hex.substr(i * 2, 2), 16);
  return out;
}

function same(a, b) {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

async function solve(salt, challenge, maxnumber) {
  const target = hexBytes(challenge);
  const encoder = new TextEncoder();
  for (let start = 0; start <= maxnumber; start += BATCH) {
    const end = Math.min(start + BATCH - 1, maxnumber);
    const digests = [];
    for (let n = start; n <= end; n++) digests.push(crypto.subtle.digest('SHA-256', encoder.encode(salt + n)));
    const done = await Promise.all(digests);
    for (let i = 0; i < done.length; i++) {
      if (same(new Uint8Array(done[i]), target)) return start + i;
    }
  }
  return null;
}

self.onmessage = async (ev) => {
  const { salt, challenge, maxnumber } = ev.data || {};
  const started = performance.now();
  try {
    if (!self.crypto || !self.crypto.subtle) throw new Error('this browser cannot compute SHA-256 here (it needs HTTPS)');
    const number = await solve(String(salt), String(challenge), Number(maxnumber));
    if (number === null) self.postMessage({ error: 'the challenge has no solution' });
    else self.postMessage({ number, ms: performance.now() - started });
  } catch (e) {
    self.postMessage({ error: String(e && e.message ? e.message : e) });
  }
};
