// Editing and deleting one's own message within the edit window (`hello.limits.edit_window_secs`):
// the inline editor (Enter saves, Esc cancels), the delete confirmation, and the `edited` and
// `deleted` frames. A deleted message stays as a "message deleted" placeholder for everyone
// (whoever deleted it: its author or a moderator), so replies to it still make sense.
import { send } from './connection.js';
import { noteAction, settleAction, showActionError } from './actions.js';
import { setMessageText } from './links.js';
import { markMentions } from './mentions.js';
import { setReactions } from './reactions.js';
import { onOriginalGone } from './reply.js';
import { state, ui } from './state.js';
import { charCount, make, str } from './util.js';

let seq = 0;

/** True when `node` is the visitor's own message and still within the edit window. */
export function canChange(node) {
  if (!node.classList.contains('own') || node.classList.contains('deleted') || node.classList.contains('pending')) return false;
  if (!node.dataset.id) return false;
  const secs = Number(state.editWindowSecs) || 0;
  const at = Date.parse(node.dataset.at || '');
  return secs > 0 && Number.isFinite(at) && Date.now() - at < secs * 1000;
}

/** Fills a message's text (links as the message allows, "@me" marked) and remembers it raw. */
export function fillText(node, text) {
  const el = node.querySelector(':scope > .text');
  setMessageText(el, text, node.dataset.links !== '0');
  node.classList.toggle('mentions-me', !node.classList.contains('own') && markMentions(el));
  node.dataset.text = text;
}

// "(edited)" after the time, with when on hover.
export function markEdited(node, at) {
  const meta = node.querySelector(':scope > .meta');
  let mark = meta.querySelector('.edited-mark');
  if (!mark) {
    mark = make('span', 'edited-mark', '(edited)');
    meta.append(mark);
  }
  const d = new Date(at || Date.now());
  if (!Number.isNaN(d.getTime())) mark.title = `Edited ${d.toLocaleString([], { dateStyle: 'medium', timeStyle: 'medium' })}`;
}

function closeEditor(node) {
  const form = node.querySelector(':scope > .edit-form');
  if (form) form.remove();
  node.querySelector(':scope > .text').hidden = false;
  node.classList.remove('editing');
}

export function startEdit(node) {
  if (!canChange(node)) { showActionError(node, 'Too late to edit this message now.'); return; }
  const existing = node.querySelector(':scope > .edit-form textarea');
  if (existing) { existing.focus(); return; }
  const text = node.querySelector(':scope > .text');
  const form = make('form', 'edit-form');
  form.noValidate = true;
  form.setAttribute('aria-live', 'off'); // the log does not read controls out
  const fieldId = `edit-${node.dataset.id}`;
  const label = make('label', 'visually-hidden', 'Edit your message');
  label.htmlFor = fieldId;
  const area = make('textarea');
  area.id = fieldId;
  area.rows = 2;
  area.value = str(node.dataset.text);
  const hint = make('p', 'edit-hint', 'Enter saves · Esc cancels');
  hint.id = `${fieldId}-hint`;
  area.setAttribute('aria-describedby', hint.id);
  const save = make('button', 'button', 'Save');
  save.type = 'submit';
  const cancel = make('button', 'button secondary', 'Cancel');
  cancel.type = 'button';
  const buttons = make('div', 'edit-buttons');
  buttons.append(hint, cancel, save);
  form.append(label, area, buttons);
  text.hidden = true;
  text.after(form);
  node.classList.add('editing');
  form.addEventListener('submit', (event) => { event.preventDefault(); saveEdit(node, area.value); });
  cancel.addEventListener('click', () => { closeEditor(node); focusMenuButton(node); });
  area.addEventListener('keydown', (event) => {
    if (event.isComposing) return;
    if (event.key === 'Escape') {
      event.preventDefault();
      event.stopPropagation(); // not the chat's Esc (leave or skip)
      closeEditor(node);
      focusMenuButton(node);
    } else if (event.key === 'Enter' && !event.shiftKey) {
      event.preventDefault();
      saveEdit(node, area.value);
    }
  });
  area.focus();
  area.setSelectionRange(area.value.length, area.value.length);
}

function focusMenuButton(node) {
  const button = node.querySelector('.msg-action');
  if (button) button.focus();
  else ui.input.focus();
}

function saveEdit(node, raw) {
  const text = raw.trim();
  if (text === str(node.dataset.text).trim()) { closeEditor(node); focusMenuButton(node); return; }
  if (!text) { showActionError(node, 'There is nothing left to save. To take the message back, use Delete.'); return; }
  const max = state.limits.message_max;
  if (charCount(text) > max) { showActionError(node, `That is too long (${charCount(text)} / ${max} characters).`); return; }
  seq += 1;
  const clientId = `e${Date.now().toString(36)}-${seq}`;
  if (!send({ type: 'edit', id: node.dataset.id, text, client_id: clientId })) {
    showActionError(node, 'Not connected right now. Try again once the chat is back.');
    return;
  }
  noteAction('edit', node, clientId);
  const form = node.querySelector(':scope > .edit-form');
  if (form) for (const el of form.elements) el.disabled = true;
}

export function confirmDelete(node) {
  if (!canChange(node)) { showActionError(node, 'Too late to delete this message now.'); return; }
  if (node.querySelector(':scope > .confirm-delete')) { node.querySelector('.confirm-delete .danger').focus(); return; }
  const bar = make('div', 'confirm-delete');
  bar.setAttribute('aria-live', 'off');
  bar.setAttribute('role', 'group');
  bar.setAttribute('aria-label', 'Delete this message?');
  const yes = make('button', 'button danger', 'Delete');
  yes.type = 'button';
  const no = make('button', 'button secondary', 'Keep');
  no.type = 'button';
  bar.append(make('span', '', 'Delete this message for everyone?'), no, yes);
  node.append(bar);
  const close = () => { bar.remove(); focusMenuButton(node); };
  no.addEventListener('click', close);
  bar.addEventListener('keydown', (event) => {
    if (event.key !== 'Escape') return;
    event.preventDefault();
    event.stopPropagation();
    close();
  });
  yes.addEventListener('click', () => {
    if (!send({ type: 'delete', id: node.dataset.id })) {
      showActionError(node, 'Not connected right now. Try again once the chat is back.');
      return;
    }
    noteAction('delete', node);
    yes.disabled = true;
    no.disabled = true;
  });
  yes.focus();
}

// A refused edit or delete: its controls work again (the refusal is said next to it).
document.addEventListener('chat:action-refused', (event) => {
  const { node } = event.detail;
  for (const el of node.querySelectorAll('.edit-form button, .edit-form textarea, .confirm-delete button')) el.disabled = false;
  const bar = node.querySelector(':scope > .confirm-delete');
  if (bar && event.detail.kind === 'delete') bar.remove();
});

/** `edited {id, text, at?}`: the new text, "(edited)" with its time. */
export function onEditedFrame(f) {
  const node = state.shown.get(str(f.id));
  if (!node || node.classList.contains('deleted')) return;
  const hadFocus = node.contains(document.activeElement);
  settleAction('edit', node);
  closeEditor(node);
  fillText(node, str(f.text));
  markEdited(node, str(f.at));
  if (hadFocus) focusMenuButton(node);
}

/** The placeholder a deleted message leaves, the same for everyone. */
export function markDeleted(node) {
  const hadFocus = node.contains(document.activeElement);
  node.classList.add('deleted');
  node.classList.remove('editing', 'mentions-me');
  for (const el of node.querySelectorAll(':scope > .edit-form, :scope > .confirm-delete, :scope > .reply-quote, :scope > .msg-action, :scope > .msg-error, .edited-mark')) el.remove();
  const text = node.querySelector(':scope > .text');
  text.hidden = false;
  text.textContent = 'message deleted';
  node.dataset.text = '';
  setReactions(node, null, []);
  onOriginalGone(node.dataset.id);
  if (hadFocus) ui.messages.focus();
}

/** `deleted {id}` */
export function onDeletedFrame(f) {
  const node = state.shown.get(str(f.id));
  if (!node) return;
  settleAction('delete', node);
  markDeleted(node);
}
