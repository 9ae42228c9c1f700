// Little DOM helpers, the modal question, and asking to confirm it is you.

import { call, session } from './api.js';
import { LANG, t } from './text.js';
import { passkeysWork, usePasskey } from './webauthn.js';

export function h(tag, attrs = {}, ...children) {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (v === undefined || v === null || v === false) continue;
    if (k.startsWith('on')) el.addEventListener(k.slice(2), v);
    else if (k === 'text') el.textContent = v;
    else el.setAttribute(k, v === true ? '' : v);
  }
  for (const c of children.flat()) if (c !== null && c !== undefined) el.append(c);
  return el;
}

export const view = () => document.getElementById('view');
export const field = (id, label, attrs = {}) => [h('label', { for: id, text: label }), h('input', { id, name: id, ...attrs })];
export const when = (iso) => (iso ? new Date(iso).toLocaleString(LANG === 'zh' ? 'zh-CN' : 'en') : '');

export function problem(r) {
  if (r.status === 429) return t('rateLimited', r.retryAfter || '60');
  return r.msg || `HTTP ${r.status}`;
}

export function table(columns, rows, className = 'wide-table') {
  if (!rows.length) return h('p', { class: 'hint', text: t('nothing') });
  return h('table', { class: className },
    h('thead', {}, h('tr', {}, columns.map(([label]) => h('th', { scope: 'col', text: label })))),
    h('tbody', {}, rows.map((row) => h('tr', {}, columns.map(([label, cell]) => {
      const v = cell(row);
      return h('td', { 'data-label': label }, v instanceof Node ? v : String(v ?? ''));
    })))));
}

// A modal question with a labelled input (the browser's <dialog>: focus and Escape handled).
export function ask(label, type = 'text', initial = '') {
  const dialog = document.getElementById('ask');
  const input = document.getElementById('ask-input');
  document.getElementById('ask-label').textContent = label;
  document.getElementById('ask-ok').textContent = t('ok');
  const cancel = document.getElementById('ask-cancel');
  cancel.textContent = t('cancel');
  input.type = type;
  input.value = initial;
  return new Promise((resolve) => {
    const done = (value) => { dialog.close(); resolve(value); };
    cancel.onclick = () => done(null);
    document.getElementById('ask-form').onsubmit = (e) => { e.preventDefault(); done(input.value); };
    dialog.oncancel = () => resolve(null);
    dialog.showModal();
    input.focus();
  });
}

// Runs an action that may need a recent sign-in: asks once to confirm it is you — with a
// passkey when the account has one, else the password (and the second factor's code, when the
// account has one) — and tries again.
export async function withReauth(action) {
  let r = await action();
  if (r.slug !== 'insufficient_user_authentication') return r;
  // A passkey when the account has one; cancelled, the password (and a code) instead.
  let a = (session.me?.second_factors || []).includes('passkey') && passkeysWork()
    ? await withPasskey()
    : undefined;
  if (a === undefined || a === null) a = await withPassword(r.data?.mfa);
  if (a === null) return r;
  if (!a.ok) return a;
  return action();
}

async function withPasskey() {
  const o = await call('/auth/reauthenticate/options', { method: 'POST' });
  if (!o.ok) return o;
  let webauthn;
  try {
    webauthn = await usePasskey(o.data.options);
  } catch (e) {
    return null;
  }
  return call('/auth/reauthenticate', { method: 'POST', body: { challenge_id: o.data.challenge_id, webauthn } });
}

async function withPassword(mfa) {
  const password = await ask(t('confirmIt'), 'password');
  if (password === null) return null;
  const body = { password };
  if (mfa) {
    const code = await ask(t('mfaCode'));
    if (code === null) return null;
    body.code = code.trim();
  }
  return call('/auth/reauthenticate', { method: 'POST', body });
}
