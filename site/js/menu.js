// The message menu: one "⋯" button per message (a long press on touch opens it too), a menu of
// what this visitor may do with that message — react, Reply, Edit and Delete (own messages within
// the window), Report, Ignore — reachable and usable by keyboard (arrows, Home/End, Esc).
import { confirmDelete, canChange, startEdit } from './edit.js';
import { ignore } from './ignore.js';
import { mineOn, offeredReactions, toggleReaction } from './reactions.js';
import { startReply } from './reply.js';
import { openReport } from './report.js';
import { state, ui } from './state.js';
import { make, str } from './util.js';

const LONG_PRESS_MS = 550;
let open = null; // { menu, node, button }

/** Adds the menu button to message `node` (not to pending bubbles: they have no id yet). */
export function addMenu(node) {
  if (node.querySelector(':scope > .msg-action')) return;
  const nick = str(node.dataset.nick);
  const button = make('button', 'msg-action');
  button.type = 'button';
  button.setAttribute('aria-haspopup', 'menu');
  button.setAttribute('aria-expanded', 'false');
  button.setAttribute('aria-label', `Actions for this message from ${nick || 'a visitor'}`);
  button.title = 'Reply, react and more';
  button.setAttribute('aria-live', 'off'); // added on an ack too: not announced by the log
  button.addEventListener('click', () => (open && open.node === node ? closeMenu(true) : openMenu(node, button)));
  node.append(button);
  let timer = 0;
  node.addEventListener('pointerdown', (event) => {
    if (event.pointerType !== 'touch' || event.target.closest('button, a, textarea')) return;
    timer = setTimeout(() => openMenu(node, button), LONG_PRESS_MS);
  });
  for (const end of ['pointerup', 'pointercancel', 'pointerleave', 'pointermove']) node.addEventListener(end, () => clearTimeout(timer));
  node.addEventListener('contextmenu', (event) => { if (event.pointerType === 'touch' || open) event.preventDefault(); });
}

function item(label, run, extra = {}) {
  const el = make('button', `menu-item${extra.className ? ` ${extra.className}` : ''}`, label);
  el.type = 'button';
  el.setAttribute('role', extra.role || 'menuitem');
  el.tabIndex = -1;
  if (extra.aria) for (const [k, v] of Object.entries(extra.aria)) el.setAttribute(k, v);
  el.addEventListener('click', () => { closeMenu(!!extra.refocus); run(); });
  return el;
}

// What this visitor may do with `node`, in menu order.
function entries(node) {
  const own = node.classList.contains('own');
  const staff = node.classList.contains('staff');
  const nick = str(node.dataset.nick);
  const live = state.phase === 'joined' && !!node.dataset.id && !node.classList.contains('deleted');
  const list = [];
  if (live) {
    const mine = mineOn(node);
    const row = make('div', 'menu-reactions');
    row.setAttribute('role', 'group');
    row.setAttribute('aria-label', 'React');
    for (const emoji of offeredReactions()) {
      row.append(item(emoji, () => toggleReaction(node, emoji), {
        role: 'menuitemcheckbox', className: 'menu-emoji', refocus: true,
        aria: { 'aria-checked': String(mine.has(emoji)), 'aria-label': `React with ${emoji}` },
      }));
    }
    if (row.childElementCount) list.push(row);
    list.push(item('Reply', () => startReply(node)));
    if (own && canChange(node)) {
      list.push(item('Edit', () => startEdit(node)));
      list.push(item('Delete', () => confirmDelete(node), { className: 'danger-item' }));
    }
  }
  if (!own && !staff && node.dataset.id && !node.classList.contains('deleted')) {
    list.push(item('Report', () => openReport(node.dataset.id, nick), { aria: { 'aria-haspopup': 'dialog' } }));
  }
  if (!own && !staff && nick) list.push(item(`Ignore ${nick}`, () => ignore(nick)));
  return list;
}

function items() {
  return open ? [...open.menu.querySelectorAll('[role^="menuitem"]')] : [];
}

function openMenu(node, button) {
  closeMenu(false);
  const list = entries(node);
  if (!list.length) return;
  const menu = make('div', 'msg-menu');
  menu.setAttribute('role', 'menu');
  menu.setAttribute('aria-label', `Message from ${str(node.dataset.nick) || 'a visitor'}`);
  menu.append(...list);
  ui.chat.append(menu); // inside the chat's landmark (fixed position all the same)
  open = { menu, node, button };
  button.setAttribute('aria-expanded', 'true');
  place(menu, button);
  menu.addEventListener('keydown', onMenuKeydown);
  menu.addEventListener('focusout', (event) => {
    if (open && open.menu === menu && !menu.contains(event.relatedTarget) && event.relatedTarget !== button) closeMenu(false);
  });
  const all = items();
  const first = all.find((el) => el.getAttribute('role') === 'menuitem') || all[0];
  first.focus();
}

// Below the button, or above it when there is no room; kept inside the viewport.
function place(menu, button) {
  const r = button.getBoundingClientRect();
  const m = menu.getBoundingClientRect();
  const vw = document.documentElement.clientWidth;
  const vh = window.innerHeight;
  let top = r.bottom + 4;
  if (top + m.height > vh - 8) top = Math.max(8, r.top - m.height - 4);
  const left = Math.min(Math.max(8, r.right - m.width), vw - m.width - 8);
  menu.style.top = `${Math.round(top)}px`;
  menu.style.left = `${Math.round(Math.max(8, left))}px`;
}

export function closeMenu(refocus) {
  if (!open) return;
  const { menu, button } = open;
  open = null;
  menu.remove();
  button.setAttribute('aria-expanded', 'false');
  if (refocus && button.isConnected) button.focus();
}

function onMenuKeydown(event) {
  const all = items();
  const at = all.indexOf(document.activeElement);
  let next = -1;
  if (event.key === 'ArrowDown' || event.key === 'ArrowRight') next = (at + 1) % all.length;
  else if (event.key === 'ArrowUp' || event.key === 'ArrowLeft') next = (at - 1 + all.length) % all.length;
  else if (event.key === 'Home') next = 0;
  else if (event.key === 'End') next = all.length - 1;
  else if (event.key === 'Escape') {
    event.preventDefault();
    event.stopPropagation(); // closes the menu only, not the chat
    closeMenu(true);
    return;
  } else if (event.key === 'Tab') {
    closeMenu(false);
    return;
  }
  if (next < 0) return;
  event.preventDefault();
  all[next].focus();
}

export function initMenu() {
  document.addEventListener('pointerdown', (event) => {
    if (open && !open.menu.contains(event.target) && event.target !== open.button) closeMenu(false);
  });
  ui.messages.addEventListener('scroll', () => closeMenu(false));
  window.addEventListener('resize', () => closeMenu(false));
}
