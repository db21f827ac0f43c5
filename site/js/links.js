// Message text with its http(s) URLs as links: built node by node (text nodes and <a>), never
// from HTML, so nothing a visitor writes can become markup.

const URL_RE = /\bhttps?:\/\/[^\s<>"]+/gi;
const TRAILING = /[.,;:!?'’)\]}>»]/;
const LONG_URL = 40; // longer links show their domain only ("example.com/…")

// Where a URL written in running text really ends: trailing punctuation is not part of it,
// except a closing parenthesis that closes one opened inside the URL (Wikipedia links).
function trimUrl(raw) {
  let url = raw;
  while (url && TRAILING.test(url.slice(-1))) {
    const last = url.slice(-1);
    if (last === ')' && (url.match(/\(/g) || []).length >= (url.match(/\)/g) || []).length) break;
    url = url.slice(0, -1);
  }
  return /^https?:\/\/./i.test(url) ? url : '';
}

function linkFor(text) {
  let url;
  try { url = new URL(text); } catch (e) { return null; }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') return null;
  const a = document.createElement('a');
  a.href = url.href;
  a.target = '_blank';
  a.rel = 'noopener noreferrer nofollow ugc';
  a.className = 'msg-link';
  if (text.length > LONG_URL) {
    const rest = (url.pathname + url.search + url.hash).length > 1 ? '/…' : '';
    a.textContent = `${url.hostname.replace(/^www\./, '')}${rest}`;
    a.title = url.href;
  } else {
    a.textContent = text;
  }
  return a;
}

/**
 * Fills `node` with `text`; with `links`, http(s) URLs become <a> (new tab, no referrer, no
 * follow, marked as user content). `node.textContent` afterwards is the text, except that long
 * URLs show their domain (their full address is the link's title).
 */
export function setMessageText(node, text, links = true) {
  node.replaceChildren();
  if (!links) { node.textContent = text; return; }
  let last = 0;
  for (const m of text.matchAll(URL_RE)) {
    const url = trimUrl(m[0]);
    if (!url) continue;
    const a = linkFor(url);
    if (!a) continue;
    if (m.index > last) node.append(text.slice(last, m.index));
    node.append(a);
    last = m.index + url.length;
  }
  if (last < text.length) node.append(text.slice(last));
}
