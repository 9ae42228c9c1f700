// The account page's second factors: set up an authenticator app (the QR code and the secret
// for typing in), its first code, the recovery codes shown once; new recovery codes; turning
// it off. Every change needs a recent sign-in (with the factor, once there is one).

import { call, session } from './api.js';
import { ask, field, h, problem, table, when, withReauth } from './dom.js';
import { t } from './text.js';
import { createPasskey, passkeysWork } from './webauthn.js';

// Ten codes, shown once, with what they are for.
export function recoveryCodes(codes) {
  return h('div', { id: 'recovery-codes', class: 'card' },
    h('p', { class: 'notice', text: t('recoveryShown') }),
    h('ol', { class: 'codes' }, codes.map((c) => h('li', {}, h('code', { text: c })))));
}

// A new TOTP secret as the QR code and as text (in groups of four, for typing in), and the
// field for its first code, given to `confirm`.
export function totpForm(e, confirm) {
  const form = h('form', { class: 'card', id: 'totp-form', novalidate: true },
    h('p', { text: t('totpScan') }),
    h('img', { id: 'totp-qr', src: e.qr, alt: t('totpQr'), width: 200, height: 200 }),
    h('p', {}, `${t('totpSecret')} `, h('code', { id: 'totp-secret', text: e.secret.match(/.{1,4}/g).join(' ') })),
    field('totp-code', t('totpFirstCode'), { autocomplete: 'one-time-code', inputmode: 'numeric', required: true }),
    h('button', { type: 'submit', id: 'totp-confirm', text: t('totpConfirm') }));
  form.addEventListener('submit', (ev) => {
    ev.preventDefault();
    confirm(form.querySelector('#totp-code').value.trim());
  });
  return form;
}

export function factorsSection() {
  const section = h('section', { id: 'factors' }, h('h2', { text: t('factors') }));
  const body = h('div');
  const msg = h('p', { class: 'error', role: 'alert', id: 'factors-message' });
  const keys = h('div', { id: 'passkeys' });
  section.append(body, msg, h('h3', { text: t('passkeys') }), keys);

  async function refreshMe() {
    const r = await call('/sys/users/me');
    if (r.ok) session.me = r.data;
  }

  function enrolling(e) {
    const form = totpForm(e, async (code) => {
      const r = await call('/auth/mfa/totp/confirm', { method: 'POST', body: { code } });
      if (!r.ok) { msg.textContent = problem(r); return; }
      msg.textContent = '';
      await refreshMe();
      await load();
      if (r.data.recovery_codes) body.append(recoveryCodes(r.data.recovery_codes));
    });
    body.replaceChildren(form);
    setTimeout(() => form.querySelector('#totp-code').focus());
  }

  async function addPasskey() {
    const name = await ask(t('passkeyName'), 'text', navigator.platform || '');
    if (!name) return;
    const start = await withReauth(() => call('/auth/mfa/passkeys/register/start', { method: 'POST', body: { name } }));
    if (!start.ok) { msg.textContent = problem(start); return; }
    let credential;
    try {
      credential = await createPasskey(start.data.options);
    } catch (e) {
      msg.textContent = t('passkeyCancelled');
      return;
    }
    const r = await call('/auth/mfa/passkeys/register/finish', {
      method: 'POST', body: { challenge_id: start.data.challenge_id, credential },
    });
    if (!r.ok) { msg.textContent = problem(r); return; }
    msg.textContent = '';
    await refreshMe();
    await load();
    if (r.data.recovery_codes) body.append(recoveryCodes(r.data.recovery_codes));
  }

  async function loadPasskeys() {
    const r = await call('/auth/mfa/passkeys');
    if (!r.ok) { msg.textContent = problem(r); return; }
    keys.replaceChildren(
      table([
        [t('passkeyName'), (k) => k.name],
        [t('created'), (k) => when(k.created_at)],
        [t('lastUsed'), (k) => when(k.last_used_at)],
        [t('actions'), (k) => h('button', {
          type: 'button', class: 'secondary', 'data-passkey': k.name, text: t('remove'),
          'aria-label': `${t('remove')}: ${k.name}`,
          onclick: async () => {
            const d = await withReauth(() => call(`/auth/mfa/passkeys/${k.id}`, { method: 'DELETE' }));
            msg.textContent = d.ok ? '' : problem(d);
            await refreshMe();
            await load();
          },
        })],
      ], r.data),
      passkeysWork()
        ? h('button', { type: 'button', id: 'passkey-add', text: t('passkeyAdd'), onclick: addPasskey })
        : h('p', { class: 'hint', text: t('passkeyUnsupported') }));
  }

  async function load() {
    await loadPasskeys();
    const r = await call('/auth/mfa');
    if (!r.ok) { msg.textContent = problem(r); return; }
    const on = r.data.factors.includes('totp');
    // New recovery codes whatever the factor (a passkey alone has them too).
    const recoveryButton = () => h('button', { type: 'button', class: 'secondary', id: 'recovery-new', text: t('recoveryNew'), onclick: async () => {
      const n = await withReauth(() => call('/auth/mfa/recovery-codes', { method: 'POST' }));
      if (!n.ok) { msg.textContent = problem(n); return; }
      msg.textContent = '';
      await load();
      body.append(recoveryCodes(n.data.recovery_codes));
    } });
    if (!on) {
      body.replaceChildren(
        h('p', { id: 'factors-status', text: t('totpOff') }),
        h('div', { class: 'actions' },
          h('button', { type: 'button', id: 'totp-enrol', text: t('totpEnrol'), onclick: async () => {
            const e = await withReauth(() => call('/auth/mfa/totp', { method: 'POST' }));
            if (e.ok) { msg.textContent = ''; enrolling(e.data); } else msg.textContent = problem(e);
          } }),
          r.data.factors.length ? recoveryButton() : null));
      return;
    }
    body.replaceChildren(
      h('p', { id: 'factors-status', text: t('totpOn', r.data.recovery_codes_left) }),
      h('div', { class: 'actions' },
        recoveryButton(),
        h('button', { type: 'button', class: 'danger', id: 'totp-remove', text: t('totpRemove'), onclick: async () => {
          const d = await withReauth(() => call('/auth/mfa/totp', { method: 'DELETE' }));
          msg.textContent = d.ok ? '' : problem(d);
          await refreshMe();
          await load();
        } })));
  }

  return { section, load };
}
