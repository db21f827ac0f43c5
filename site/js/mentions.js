// Mentions: "@nick" of the visitor in a message's text, highlighted for that visitor only (a
// <mark> around each occurrence, built from text nodes: nothing becomes markup).
import { state } from './state.js';
import { make } from './util.js';

function escapeRe(s) {
  return s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

// "@Kiki" (any case) not inside a longer word: "@Kiki," and "(@kiki)" count, "@Kikis" does not.
function mentionRe(nick) {
  return new RegExp(`(^|[^\\p{L}\\p{N}_@])(@${escapeRe(nick)})(?![\\p{L}\\p{N}_])`, 'giu');
}

/** True when `text` mentions `nick` (default: the visitor's own nickname). */
export function mentions(text, nick = state.nick) {
  if (!nick || typeof text !== 'string' || !text.includes('@')) return false;
  return mentionRe(nick).test(text);
}

/**
 * Wraps every "@me" in the text nodes of `node` (a message's `.text`, links included) in
 * <mark class="mention">; returns whether there was one.
 */
export function markMentions(node) {
  const nick = state.nick;
  if (!nick || !node.textContent.includes('@')) return false;
  let found = false;
  const walker = document.createTreeWalker(node, NodeFilter.SHOW_TEXT);
  const texts = [];
  for (let t = walker.nextNode(); t; t = walker.nextNode()) texts.push(t);
  for (const t of texts) {
    const value = t.nodeValue;
    const re = mentionRe(nick);
    let last = 0;
    const parts = [];
    for (const m of value.matchAll(re)) {
      const start = m.index + m[1].length;
      if (start > last) parts.push(value.slice(last, start));
      parts.push(make('mark', 'mention', m[2]));
      last = start + m[2].length;
    }
    if (!parts.length) continue;
    found = true;
    if (last < value.length) parts.push(value.slice(last));
    t.replaceWith(...parts);
  }
  return found;
}
