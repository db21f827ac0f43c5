// The proof-of-work solver (docs/protocol.md, "Proof-of-work gate"), off the page's thread so
// typing never waits on it: finds the number n ≤ maxnumber whose SHA-256 of salt + n (n in
// decimal) is the challenge (ALTCHA's v1 format). Answers {number, ms} or {error}.
//
// SHA-256 is computed here, in plain JS, rather than with crypto.subtle: every subtle digest is
// a promise, which caps a browser at some tens of thousands of hashes a second, and the salt's
// full 64-byte blocks are the same for every n, so they are hashed once and each try costs one or
// two compressions of the tail. A self-check against crypto.subtle (where there is one) runs
// first; should it ever disagree, the solver uses crypto.subtle instead.

const K = new Uint32Array([
  0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5, 0x3956c25b, 0x59f111f1, 0x923f82a4, 0xab1c5ed5,
  0xd807aa98, 0x12835b01, 0x243185be, 0x550c7dc3, 0x72be5d74, 0x80deb1fe, 0x9bdc06a7, 0xc19bf174,
  0xe49b69c1, 0xefbe4786, 0x0fc19dc6, 0x240ca1cc, 0x2de92c6f, 0x4a7484aa, 0x5cb0a9dc, 0x76f988da,
  0x983e5152, 0xa831c66d, 0xb00327c8, 0xbf597fc7, 0xc6e00bf3, 0xd5a79147, 0x06ca6351, 0x14292967,
  0x27b70a85, 0x2e1b2138, 0x4d2c6dfc, 0x53380d13, 0x650a7354, 0x766a0abb, 0x81c2c92e, 0x92722c85,
  0xa2bfe8a1, 0xa81a664b, 0xc24b8b70, 0xc76c51a3, 0xd192e819, 0xd6990624, 0xf40e3585, 0x106aa070,
  0x19a4c116, 0x1e376c08, 0x2748774c, 0x34b0bcb5, 0x391c0cb3, 0x4ed8aa4a, 0x5b9cca4f, 0x682e6ff3,
  0x748f82ee, 0x78a5636f, 0x84c87814, 0x8cc70208, 0x90befffa, 0xa4506ceb, 0xbef9a3f7, 0xc67178f2,
]);
const H0 = [0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a, 0x510e527f, 0x9b05688c, 0x1f83d9ab, 0x5be0cd19];
const W = new Int32Array(64);

// One compression of the 64 bytes of `block` at `offset` into `state` (8 words).
function compress(state, block, offset) {
  for (let i = 0; i < 16; i++) {
    const j = offset + i * 4;
    W[i] = (block[j] << 24) | (block[j + 1] << 16) | (block[j + 2] << 8) | block[j + 3];
  }
  for (let i = 16; i < 64; i++) {
    const x = W[i - 15];
    const y = W[i - 2];
    const s0 = ((x >>> 7) | (x << 25)) ^ ((x >>> 18) | (x << 14)) ^ (x >>> 3);
    const s1 = ((y >>> 17) | (y << 15)) ^ ((y >>> 19) | (y << 13)) ^ (y >>> 10);
    W[i] = (W[i - 16] + s0 + W[i - 7] + s1) | 0;
  }
  let a = state[0], b = state[1], c = state[2], d = state[3];
  let e = state[4], f = state[5], g = state[6], h = state[7];
  for (let i = 0; i < 64; i++) {
    const s1 = ((e >>> 6) | (e << 26)) ^ ((e >>> 11) | (e << 21)) ^ ((e >>> 25) | (e << 7));
    const t1 = (h + s1 + ((e & f) ^ (~e & g)) + K[i] + W[i]) | 0;
    const s0 = ((a >>> 2) | (a << 30)) ^ ((a >>> 13) | (a << 19)) ^ ((a >>> 22) | (a << 10));
    const t2 = (s0 + ((a & b) ^ (a & c) ^ (b & c))) | 0;
    h = g; g = f; f = e; e = (d + t1) | 0; d = c; c = b; b = a; a = (t1 + t2) | 0;
  }
  state[0] = (state[0] + a) | 0; state[1] = (state[1] + b) | 0; state[2] = (state[2] + c) | 0;
  state[3] = (state[3] + d) | 0; state[4] = (state[4] + e) | 0; state[5] = (state[5] + f) | 0;
  state[6] = (state[6] + g) | 0; state[7] = (state[7] + h) | 0;
}

// A hasher of `salt + n`: the salt's whole blocks hashed once (the midstate).
function hasher(salt) {
  const bytes = new TextEncoder().encode(salt);
  const whole = bytes.length - (bytes.length % 64);
  const mid = new Int32Array(H0);
  for (let o = 0; o < whole; o += 64) compress(mid, bytes, o);
  const rest = bytes.subarray(whole);
  const tail = new Uint8Array(192);
  const state = new Int32Array(8);
  return (n) => {
    const digits = String(n);
    let len = rest.length;
    tail.set(rest, 0);
    for (let i = 0; i < digits.length; i++) tail[len++] = digits.charCodeAt(i);
    const bits = (bytes.length + digits.length) * 8;
    tail[len++] = 0x80;
    const blocks = len + 8 <= 64 ? 1 : 2;
    tail.fill(0, len, blocks * 64 - 4);
    const end = blocks * 64;
    tail[end - 4] = bits >>> 24; tail[end - 3] = bits >>> 16; tail[end - 2] = bits >>> 8; tail[end - 1] = bits;
    state.set(mid);
    for (let b = 0; b < blocks; b++) compress(state, tail, b * 64);
    return state;
  };
}

function targetWords(hex) {
  const out = new Int32Array(8);
  for (let i = 0; i < 8; i++) out[i] = parseInt(hex.substr(i * 8, 8), 16) | 0;
  return out;
}

function solveHere(salt, challenge, maxnumber) {
  const hash = hasher(salt);
  const t = targetWords(challenge);
  for (let n = 0; n <= maxnumber; n++) {
    const s = hash(n);
    if (s[0] === t[0] && s[1] === t[1] && s[2] === t[2] && s[3] === t[3]
      && s[4] === t[4] && s[5] === t[5] && s[6] === t[6] && s[7] === t[7]) return n;
  }
  return null;
}

const hex = (words) => Array.from(words, (w) => (w >>> 0).toString(16).padStart(8, '0')).join('');
const bytesHex = (buf) => Array.from(new Uint8Array(buf), (b) => b.toString(16).padStart(2, '0')).join('');

// crypto.subtle, a batch of digests at a time: the fallback.
async function solveSubtle(salt, challenge, maxnumber) {
  const encoder = new TextEncoder();
  for (let start = 0; start <= maxnumber; start += 1000) {
    const end = Math.min(start + 999, maxnumber);
    const jobs = [];
    for (let n = start; n <= end; n++) jobs.push(crypto.subtle.digest('SHA-256', encoder.encode(salt + n)));
    const done = await Promise.all(jobs);
    for (let i = 0; i < done.length; i++) if (bytesHex(done[i]) === challenge) return start + i;
  }
  return null;
}

// Whether the hasher here agrees with crypto.subtle on salts of every tail length.
let trusted = null;
async function selfCheck() {
  if (trusted !== null) return trusted;
  if (!self.crypto || !self.crypto.subtle) return (trusted = true);
  const encoder = new TextEncoder();
  trusted = true;
  for (const len of [0, 1, 40, 54, 55, 56, 63, 64, 70, 119, 120, 130]) {
    const salt = 'x'.repeat(len);
    for (const n of [0, 7, 123456]) {
      const want = bytesHex(await crypto.subtle.digest('SHA-256', encoder.encode(salt + n)));
      if (hex(hasher(salt)(n)) !== want) trusted = false;
    }
  }
  return trusted;
}

if (typeof self !== 'undefined') {
  self.onmessage = async (ev) => {
    const { salt, challenge, maxnumber } = ev.data || {};
    const started = performance.now();
    try {
      const args = [String(salt), String(challenge).toLowerCase(), Number(maxnumber)];
      const number = (await selfCheck()) ? solveHere(...args) : await solveSubtle(...args);
      if (number === null) self.postMessage({ error: 'the challenge has no solution' });
      else self.postMessage({ number, ms: performance.now() - started });
    } catch (e) {
      self.postMessage({ error: String(e && e.message ? e.message : e) });
    }
  };
}
