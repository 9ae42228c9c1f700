// Signing in: the password (with the captcha), the second step, social login and its return.

import { accept, call, watch } from './api.js';
import { field, h, problem } from './dom.js';
import { signInLinks } from './email.js';
import { recoveryCodes, totpForm } from './factors.js';
import { autofillWorks, passkeysWork, usePasskey } from './webauthn.js';
import { go, render } from './router.js';
import { continueToApp } from './sso.js';
import { t } from './text.js';

// Where a sign-in leads: back to the app that asked for it, else the account page.
async function signedIn() {
  if (!(await continueToApp())) go('/account');
}

export async function loginView(main, username = '') {
  document.title = `${t('signIn')} · Portcullis`;
  const error = h('p', { id: 'login-error', class: 'error', role: 'alert' });
  const hint = h('p', { id: 'login-hint', class: 'hint' });
  const img = h('img', { id: 'captcha-img', alt: t('newCaptcha') });
  const captchaRow = h('div', { id: 'captcha-row', hidden: true },
    h('label', { for: 'captcha', text: t('captcha') }),
    h('div', { class: 'captcha' },
      h('input', { id: 'captcha', name: 'captcha', autocomplete: 'off', inputmode: 'text' }),
      h('button', { type: 'button', id: 'captcha-refresh', 'aria-label': t('newCaptcha'), onclick: loadCaptcha }, img)));
  let captchaUuid = null;
  function showCaptcha(c) {
    captchaRow.hidden = !c.is_enabled && c.is_enabled !== undefined;
    captchaUuid = c.uuid;
    img.src = `data:image/${c.image_type || 'png'};base64,${c.image}`;
    document.getElementById('captcha').value = '';
  }
  async function loadCaptcha() {
    const r = await call('/auth/captcha', { auth: false });
    if (r.ok) showCaptcha(r.data);
    else error.textContent = problem(r);
  }
  const form = h('form', { class: 'card narrow', id: 'login-form', novalidate: true },
    h('h1', { text: t('signIn') }),
    field('username', t('username'), { autocomplete: 'username webauthn', required: true, autocapitalize: 'none', value: username || undefined }),
    field('password', t('password'), { type: 'password', autocomplete: 'current-password', required: true }),
    captchaRow, error, hint,
    h('button', { type: 'submit', id: 'login-submit', text: t('signIn') }),
    passkeysWork() ? h('button', { type: 'button', class: 'secondary', id: 'passkey-login', text: t('passkeySignIn'), onclick: () => withPasskey(false) }) : null,
    h('div', { class: 'social', id: 'social' }));
  // Signing in with a passkey alone: from the button, or from the username field's autofill
  // (a pending conditional request, given up when the button is used or the view changes).
  async function withPasskey(conditional) {
    stopAutofill();
    const controller = conditional ? new AbortController() : null;
    autofill = controller;
    const o = await call('/auth/passkey/options', { method: 'POST', auth: false });
    if (!o.ok) { if (!conditional) error.textContent = problem(o); return; }
    // Given up while the options came (the button, a password sign-in, another view).
    if (conditional && autofill !== controller) return;
    let credential;
    try {
      credential = await usePasskey(o.data.options, conditional ? { mediation: 'conditional', signal: controller.signal } : {});
    } catch (e) {
      if (!conditional) error.textContent = t('passkeyFailed');
      return;
    }
    const r = await call('/auth/passkey/login', { method: 'POST', body: { challenge_id: o.data.challenge_id, credential }, auth: false });
    if (r.ok) {
      accept(r.data, r.serverNow);
      watch();
      signedIn();
      return;
    }
    error.textContent = problem(r);
  }
  form.addEventListener('submit', async (e) => {
    e.preventDefault();
    stopAutofill();
    error.textContent = '';
    hint.textContent = '';
    const body = {
      username: form.username.value.trim(),
      password: form.password.value,
    };
    if (!captchaRow.hidden) Object.assign(body, { uuid: captchaUuid, captcha: form.captcha.value.trim() });
    const r = await call('/auth/login', { method: 'POST', body, auth: false });
    if (r.ok && r.data?.mfa_required) {
      form.replaceWith(r.data.enrolment_required ? await enrolStep(r.data) : secondStep(r.data));
      return undefined;
    }
    if (r.ok) {
      accept(r.data, r.serverNow);
      watch();
      return signedIn();
    }
    error.textContent = problem(r);
    if (r.slug === 'invalid_credentials') hint.textContent = t('lockedHint');
    // A wrong captcha answers with a fresh one; any other failure spends the old one too.
    if (r.slug === 'captcha_invalid' && r.data?.image) showCaptcha({ ...r.data, is_enabled: true });
    else if (!captchaRow.hidden) loadCaptcha();
  });
  main.append(form);
  form.username.focus();
  loadCaptcha();
  signInLinks().then((links) => form.isConnected && form.append(links));
  // Not once the form has gone (a password sign-in while this was being asked).
  if ((await autofillWorks()) && form.isConnected) withPasskey(true);
  const social = form.querySelector('#social');
  for (const p of await listProviders()) {
    social.append(h('button', {
      type: 'button', class: 'secondary', 'data-provider': p.name, text: t('with', p.display_name),
      onclick: async () => {
        const r = await call(`/oauth2/${encodeURIComponent(p.name)}`, { auth: false });
        if (r.ok) location.assign(r.data);
        else error.textContent = problem(r);
      },
    }));
  }
}

// The username field's pending passkey autofill: the browser allows one WebAuthn request at a
// time, so it is given up before any other (and whenever the view changes).
let autofill = null;
export function stopAutofill() {
  autofill?.abort();
  autofill = null;
}

// The second step of a sign-in for a user with a second factor: the ticket the first step gave
// and a TOTP or recovery code. A failed ticket (used up, expired) means starting over.
function secondStep(first) {
  const error = h('p', { id: 'mfa-error', class: 'error', role: 'alert' });
  const again = h('button', { type: 'button', class: 'secondary', id: 'mfa-again', text: t('mfaAgain'), onclick: () => render() });
  const passkey = first.webauthn && passkeysWork()
    ? h('button', { type: 'button', id: 'mfa-passkey', text: t('passkeyUse'), onclick: async (e) => {
      stopAutofill();
      error.textContent = '';
      let webauthn;
      try { webauthn = await usePasskey(first.webauthn); } catch (err) { error.textContent = t('passkeyFailed'); return; }
      const r = await call('/auth/mfa/verify', { method: 'POST', body: { ticket: first.mfa_ticket, webauthn }, auth: false });
      // The ticket's passkey options are spent: a code, or signing in again.
      if (!r.ok) e.target.hidden = true;
      finish(r);
    } })
    : null;
  const form = h('form', { class: 'card narrow', id: 'mfa-form', novalidate: true },
    h('h1', { text: t('signIn') }),
    passkey,
    field('mfa-code', t('mfaCode'), { autocomplete: 'one-time-code', inputmode: 'text', required: true, autocapitalize: 'none' }),
    error,
    h('button', { type: 'submit', id: 'mfa-submit', text: t('mfaVerify') }),
    again);
  function finish(r) {
    if (r.ok) {
      accept(r.data, r.serverNow);
      watch();
      return signedIn();
    }
    error.textContent = problem(r);
    return undefined;
  }
  form.addEventListener('submit', async (e) => {
    e.preventDefault();
    error.textContent = '';
    const code = form.querySelector('#mfa-code').value.trim();
    return finish(await call('/auth/mfa/verify', { method: 'POST', body: { ticket: first.mfa_ticket, code }, auth: false }));
  });
  setTimeout(() => form.querySelector('#mfa-code').focus());
  return form;
}

// A user who must have a second factor and has none: the ticket enrols an authenticator app,
// and its first code signs in; the recovery codes are shown before going on.
async function enrolStep(first) {
  const error = h('p', { id: 'mfa-error', class: 'error', role: 'alert' });
  const card = h('section', { class: 'card narrow', id: 'mfa-enrol' },
    h('h1', { text: t('signIn') }), h('p', { class: 'notice', text: t('mfaMustEnrol') }), error);
  const e = await call('/auth/mfa/enrol/totp', { method: 'POST', body: { ticket: first.mfa_ticket }, auth: false });
  if (!e.ok) {
    error.textContent = problem(e);
    card.append(h('button', { type: 'button', class: 'secondary', id: 'mfa-again', text: t('mfaAgain'), onclick: () => render() }));
    return card;
  }
  const form = totpForm(e.data, async (code) => {
    const r = await call('/auth/mfa/enrol/totp/confirm', { method: 'POST', body: { ticket: first.mfa_ticket, code }, auth: false });
    if (!r.ok) { error.textContent = problem(r); return; }
    accept(r.data, r.serverNow);
    watch();
    card.replaceChildren(h('h1', { text: t('signIn') }), recoveryCodes(r.data.recovery_codes || []),
      h('button', { type: 'button', id: 'mfa-continue', text: t('continue'), onclick: signedIn }));
  });
  card.append(form);
  setTimeout(() => form.querySelector('#totp-code').focus());
  return card;
}

let providers = null;
export async function listProviders() {
  if (!providers) {
    const r = await call('/oauth2/providers', { auth: false });
    providers = r.ok ? r.data : [];
  }
  return providers;
}

export async function callbackView(main) {
  const params = new URLSearchParams(location.search);
  const status = h('p', { role: 'status', text: t('exchanging') });
  main.append(h('section', {}, status));
  if (params.get('error')) {
    status.textContent = params.get('error');
    return;
  }
  const code = params.get('code');
  const r = await call('/oauth2/exchange', { method: 'POST', body: { code }, auth: false });
  if (!r.ok) {
    status.className = 'error';
    status.textContent = problem(r);
    return;
  }
  if (r.data?.mfa_required) {
    history.replaceState({}, '', '/login');
    main.replaceChildren(r.data.enrolment_required ? await enrolStep(r.data) : secondStep(r.data));
    return;
  }
  accept(r.data, r.serverNow);
  watch();
  if (await continueToApp()) return;
  history.replaceState({}, '', '/account');
  render();
}
