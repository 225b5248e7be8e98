// Small DOM helpers: no framework, so the bundle is the SDK and the charts.
import { session } from './session.js';

/** h('div', {class: 'x', onclick: f}, child, 'text') */
export function h(tag, attrs = {}, ...children) {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v == null || v === false) continue;
    if (k.startsWith('on')) el.addEventListener(k.slice(2), v);
    else if (k === 'class') el.className = v;
    else el.setAttribute(k, v === true ? '' : v);
  }
  for (const c of children.flat()) {
    if (c == null || c === false) continue;
    el.append(c instanceof Node ? c : String(c));
  }
  return el;
}

export function clear(el) {
  while (el.firstChild) el.firstChild.remove();
  return el;
}

/** Time as the page shows it: local, to the second. */
export function fmtTime(ms) {
  if (ms == null) return '—';
  return new Date(ms).toLocaleString([], { hour12: false });
}

export function fmtAge(ms) {
  if (ms == null) return '—';
  const s = Math.max(0, Math.round(ms / 1000));
  if (s < 60) return `${s}s`;
  if (s < 3600) return `${Math.floor(s / 60)}m ${s % 60}s`;
  return `${Math.floor(s / 3600)}h ${Math.floor((s % 3600) / 60)}m`;
}

/** A refusal or failure in plain words, in the page's alert region. */
export function showError(err, action = 'That') {
  notice(plainError(err, action), 'error');
}

export function notice(text, kind = 'info') {
  const box = document.getElementById('notices');
  const el = h('p', { class: `notice ${kind}`, role: kind === 'error' ? 'alert' : 'status' }, text,
    h('button', { type: 'button', class: 'link', 'aria-label': 'Dismiss', onclick: () => el.remove() }, '×'));
  box.append(el);
  if (kind !== 'error') setTimeout(() => el.remove(), 6000);
}

export function plainError(err, action = 'That') {
  const code = err && err.code ? String(err.code).replace(/^firestore\//, '') : '';
  switch (code) {
    case 'permission-denied':
      return `${action} was refused by the security rules: ${session().role ? `your role (${session().role})` : 'an account without a role'} may not do that to this task, or the task changed meanwhile.`;
    case 'failed-precondition':
    case 'aborted':
      return `${action} did not happen: the task changed meanwhile. Try again.`;
    case 'unavailable':
      return `${action} did not happen: Firestore cannot be reached.`;
    default:
      return `${action} failed: ${err && err.message ? err.message : err}`;
  }
}
