// Replies: "Replying to Kiki: …" above the composer (with Cancel; Esc clears it first, the draft
// kept), `say {reply_to}`, the quote above a reply, and going to the original from it.
import { timedNote } from './actions.js';
import { $, state, ui } from './state.js';
import { make, paintNick, str } from './util.js';

const EXCERPT = 80;
const bar = $('reply-bar');
const barText = $('reply-bar-text');
let replyTo = null; // { id, nick, excerpt }

function excerptOf(text) {
  const chars = Array.from(str(text).replace(/\s+/g, ' ').trim());
  return chars.length > EXCERPT ? `${chars.slice(0, EXCERPT).join('')}…` : chars.join('');
}

/** Starts a reply to message `node` (a confirmed one). */
export function startReply(node) {
  const id = str(node.dataset.id);
  if (!id || node.classList.contains('deleted')) return;
  replyTo = { id, nick: str(node.dataset.nick), excerpt: excerptOf(node.dataset.text) };
  const who = make('strong', 'nick', replyTo.nick);
  paintNick(who, replyTo.nick);
  barText.replaceChildren('Replying to ', who, `: ${replyTo.excerpt}`);
  bar.hidden = false;
  ui.input.setAttribute('aria-describedby', `reply-bar-text ${ui.input.getAttribute('aria-describedby').replace('reply-bar-text', '').trim()}`.trim());
  ui.input.focus();
}

/** Clears the reply being written; true when there was one. */
export function cancelReply() {
  if (!replyTo) return false;
  replyTo = null;
  bar.hidden = true;
  barText.textContent = '';
  ui.input.setAttribute('aria-describedby', ui.input.getAttribute('aria-describedby').replace('reply-bar-text', '').trim());
  return true;
}

/** The reply to send with the next message (then cleared), or null. */
export function takeReply() {
  const r = replyTo && !replyTo.gone ? replyTo : null;
  cancelReply();
  return r;
}

/** Message `id` was deleted: a reply being written to it says so (and goes out as a plain message). */
export function onOriginalGone(id) {
  if (!replyTo || replyTo.id !== id) return;
  replyTo.gone = true;
  barText.textContent = `The message from ${replyTo.nick} you were replying to was deleted: yours will be sent as a plain message.`;
}

/** The quote above a reply: a button that goes to the original (or says it is gone). */
export function quoteFor(ref) {
  if (!ref || typeof ref !== 'object' || !str(ref.id)) return null;
  const nick = str(ref.nick);
  const quote = make('button', 'reply-quote');
  quote.type = 'button';
  quote.dataset.replyTo = ref.id;
  quote.append(make('span', 'visually-hidden', 'In reply to '));
  const who = make('span', 'quote-nick', nick);
  paintNick(who, nick);
  quote.append(make('span', 'reply-arrow', '↪'), who, make('span', 'excerpt', str(ref.excerpt)), make('span', 'visually-hidden', '. '));
  quote.title = 'Go to the original message';
  quote.addEventListener('click', () => goToOriginal(quote));
  return quote;
}

function sayNear(quote, text) {
  timedNote(quote.parentElement, 'reply-note', 'status', text, 6000, (note) => quote.after(note));
}

function goToOriginal(quote) {
  const original = state.shown.get(quote.dataset.replyTo);
  if (!original || !original.isConnected) { sayNear(quote, 'The original message is no longer in this chat.'); return; }
  if (original.classList.contains('deleted')) { sayNear(quote, 'The original message was deleted.'); return; }
  if (original.classList.contains('ignored')) { sayNear(quote, 'The original is from someone you ignore.'); return; }
  const smooth = !window.matchMedia('(prefers-reduced-motion: reduce)').matches;
  original.scrollIntoView({ block: 'center', behavior: smooth ? 'smooth' : 'auto' });
  original.tabIndex = -1;
  original.focus({ preventScroll: true });
  original.classList.remove('flash');
  void original.offsetWidth; // restart the highlight
  original.classList.add('flash');
  setTimeout(() => original.classList.remove('flash'), 2000);
}

export function initReply() {
  $('reply-cancel').addEventListener('click', () => { cancelReply(); ui.input.focus(); });
}
