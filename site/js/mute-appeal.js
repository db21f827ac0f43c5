// The appeal of a mute, under the mute notice in the chat: an "Appeal this mute" button (a real
// button, so keyboard reachable; it says whether the form is open) that opens the same appeal
// form and view as the ban's (`appeal.js`), worded for a mute. Built once, on the first mute.
import { WORDS, appealPanel } from './appeal.js';
import { make } from './util.js';

// The button and the card, not yet in the page; `show(case, onDecided)` and `hide()`.
export function muteAppeal() {
  const id = (name) => `mute-appeal-${name}`;
  const button = make('button', 'link-button mute-appeal-open', 'Appeal this mute');
  button.type = 'button';
  button.id = id('open');
  button.setAttribute('aria-controls', 'mute-appeal');
  button.setAttribute('aria-expanded', 'false');

  const card = make('section', 'appeal-card mute-appeal');
  card.id = 'mute-appeal';
  card.setAttribute('aria-labelledby', id('heading'));
  card.hidden = true;
  const heading = make('h2', '', 'Appeal the mute');
  heading.id = id('heading');
  const form = make('form', 'stack');
  form.id = id('form');
  form.noValidate = true;
  const label = make('label', '', 'Why should the moderators reconsider ');
  label.htmlFor = id('text');
  const caseName = make('span', '', '');
  caseName.id = id('case');
  label.append(caseName, '?');
  const text = make('textarea');
  text.id = id('text');
  text.rows = 3;
  text.maxLength = 2000;
  text.setAttribute('aria-describedby', `${id('help')} ${id('error')}`);
  const help = make('p', 'help', 'Up to 2 000 characters. Moderators read it and may answer here while this page is open.');
  help.id = id('help');
  const error = make('p', 'field-error', '');
  error.id = id('error');
  error.setAttribute('aria-live', 'polite');
  error.hidden = true;
  const send = make('button', 'button', 'Send appeal');
  send.id = id('send');
  send.type = 'submit';
  form.append(label, text, help, error, send);

  const view = make('div', 'appeal-view');
  view.id = id('view');
  view.hidden = true;
  const stateLine = make('p', 'appeal-state', '');
  stateLine.id = id('state');
  stateLine.setAttribute('role', 'status');
  const sent = make('blockquote', 'appeal-sent', '');
  sent.id = id('sent');
  const repliesHeading = make('h3', 'appeal-replies-heading', 'Replies');
  repliesHeading.id = id('replies-heading');
  repliesHeading.hidden = true;
  const replies = make('ol', 'appeal-replies');
  replies.id = id('replies');
  replies.setAttribute('aria-labelledby', id('replies-heading'));
  replies.setAttribute('aria-live', 'polite');
  view.append(stateLine, sent, repliesHeading, replies);
  card.append(heading, form, view);

  const panel = appealPanel({
    card, form, caseName, text, error, send, view, state: stateLine, sent, repliesHeading, replies,
  }, WORDS.mute);
  let current = null;
  let decided = null;

  function setOpen(open) {
    if (open) panel.show({ case: current }, (state) => { if (decided) decided(state); });
    else card.hidden = true;
    button.setAttribute('aria-expanded', String(open));
  }
  button.addEventListener('click', () => {
    const open = card.hidden;
    setOpen(open);
    if (open && !form.hidden) text.focus();
  });

  return {
    button,
    card,
    // The mute of case `c` (null: a mute without a case, which cannot be appealed).
    show(c, onDecided) {
      decided = onDecided;
      if (c !== current) {
        current = c;
        setOpen(false);
      }
      button.hidden = c === null;
    },
    // The mute ended: the button and the card go (a decision was told in the log).
    hide() {
      button.hidden = true;
      setOpen(false);
    },
  };
}
