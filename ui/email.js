// The account's life by email: sign-up, "forgot password", the reset link's page, the
// verification link's page, and the email change on the account page.

import { call, session } from './api.js';
import { field, h, problem, withReauth } from './dom.js';
import { t } from './text.js';

// The captcha as at login: the image, its answer, a new one on demand.
function captchaBlock(error) {
  const img = h('img', { id: 'captcha-img', alt: t('newCaptcha') });
  const input = h('input', { id: 'captcha', name: 'captcha', autocomplete: 'off' });
  let uuid = null;
  const row = h('div', { id: 'captcha-row', hidden: true },
    h('label', { for: 'captcha', text: t('captcha') }),
    h('div', { class: 'captcha' }, input,
      h('button', { type: 'button', id: 'captcha-refresh', 'aria-label': t('newCaptcha'), onclick: () => load() }, img)));
  function show(c) {
    row.hidden = c.is_enabled === false;
    uuid = c.uuid;
    img.src = `data:image/${c.image_type || 'png'};base64,${c.image}`;
    input.value = '';
  }
  async function load() {
    const r = await call('/auth/captcha', { auth: false });
    if (r.ok) show(r.data);
    else error.textContent = problem(r);
  }
  return {
    row,
    load,
    answer: () => (row.hidden ? {} : { uuid, captcha: input.value.trim() }),
    // After a refusal: the fresh captcha it carries, or a new one (any answer spends it).
    again: (r) => (r.slug === 'captcha_invalid' && r.data?.image ? show({ ...r.data, is_enabled: true }) : load()),
  };
}

const back = () => h('p', {}, h('a', { href: '/login', 'data-link': true, id: 'back-to-sign-in', text: t('backToSignIn') }));

function card(id, title, ...children) {
  document.title = `${title} · Portcullis`;
  return h('form', { class: 'card narrow', id, novalidate: true }, h('h1', { text: title }), ...children);
}

// Links under the sign-in form: "forgot password", and "create an account" when sign-up is open.
export async function signInLinks() {
  const links = h('p', { class: 'links', id: 'account-links' },
    h('a', { href: '/forgot', 'data-link': true, id: 'forgot-link', text: t('forgotPassword') }));
  const r = await call('/auth/registration', { auth: false });
  if (r.ok && r.data.enabled) {
    links.append(' · ', h('a', { href: '/signup', 'data-link': true, id: 'signup-link', text: t('signUp') }));
  }
  return links;
}

export async function signUpView(main) {
  const error = h('p', { id: 'signup-error', class: 'error', role: 'alert' });
  const captcha = captchaBlock(error);
  const form = card('signup-form', t('signUp'),
    field('username', t('username'), { autocomplete: 'username', required: true, autocapitalize: 'none' }),
    field('email', t('email'), { type: 'email', autocomplete: 'email', required: true }),
    field('password', t('password'), { type: 'password', autocomplete: 'new-password', required: true }),
    captcha.row, error,
    h('button', { type: 'submit', id: 'signup-submit', text: t('signUp') }), back());
  form.addEventListener('submit', async (e) => {
    e.preventDefault();
    error.textContent = '';
    const body = {
      username: form.username.value.trim(), email: form.email.value.trim(), password: form.password.value,
      ...captcha.answer(),
    };
    const r = await call('/auth/register', { method: 'POST', body, auth: false });
    if (!r.ok) { error.textContent = problem(r); captcha.again(r); return; }
    form.replaceWith(h('div', { class: 'card narrow', id: 'signup-done' },
      h('h1', { text: t('checkMail') }),
      h('p', { text: t(r.data.enabled ? 'signedUpVerify' : 'signedUpPending', r.data.email) }), back()));
  });
  main.append(form);
  form.username.focus();
  captcha.load();
}

export async function forgotView(main) {
  const error = h('p', { id: 'forgot-error', class: 'error', role: 'alert' });
  const captcha = captchaBlock(error);
  const form = card('forgot-form', t('forgotPassword'),
    h('p', { class: 'hint', text: t('forgotHint') }),
    field('username_or_email', t('usernameOrEmail'), { autocomplete: 'username', required: true, autocapitalize: 'none' }),
    captcha.row, error,
    h('button', { type: 'submit', id: 'forgot-submit', text: t('sendLink') }), back());
  form.addEventListener('submit', async (e) => {
    e.preventDefault();
    error.textContent = '';
    const body = { username_or_email: form.username_or_email.value.trim(), ...captcha.answer() };
    const r = await call('/auth/password/forgot', { method: 'POST', body, auth: false });
    if (!r.ok) { error.textContent = problem(r); captcha.again(r); return; }
    form.replaceWith(h('div', { class: 'card narrow', id: 'forgot-done' },
      h('h1', { text: t('checkMail') }), h('p', { text: t('forgotSent') }), back()));
  });
  main.append(form);
  form.username_or_email.focus();
  captcha.load();
}

// The reset link's page: `?token=` from the mail; a new password, twice.
export function resetView(main) {
  const token = new URLSearchParams(location.search).get('token') || '';
  // The token leaves the address bar (and the history) at once.
  history.replaceState({}, '', '/reset');
  const error = h('p', { id: 'reset-error', class: 'error', role: 'alert' });
  const form = card('reset-form', t('chooseNewPassword'),
    field('new_password', t('newPassword'), { type: 'password', autocomplete: 'new-password', required: true }),
    field('confirm_password', t('confirmPassword'), { type: 'password', autocomplete: 'new-password', required: true }),
    error, h('button', { type: 'submit', id: 'reset-submit', text: t('save') }), back());
  form.addEventListener('submit', async (e) => {
    e.preventDefault();
    error.textContent = '';
    if (form.new_password.value !== form.confirm_password.value) { error.textContent = t('passwordsDiffer'); return; }
    const r = await call('/auth/password/reset', { method: 'POST', body: { token, password: form.new_password.value }, auth: false });
    if (!r.ok) { error.textContent = problem(r); return; }
    form.replaceWith(h('div', { class: 'card narrow', id: 'reset-done' },
      h('h1', { text: t('passwordReset') }), h('p', { text: t('passwordResetDone') }), back()));
  });
  main.append(form);
  form.new_password.focus();
}

// The verification link's page: verifies at once, or takes the code from the same message.
export async function verifyEmailView(main) {
  const token = new URLSearchParams(location.search).get('token');
  history.replaceState({}, '', '/verify-email');
  document.title = `${t('verifyEmail')} · Portcullis`;
  const status = h('p', { id: 'verify-status', role: 'status' });
  const box = h('div', { class: 'card narrow', id: 'verify-email' }, h('h1', { text: t('verifyEmail') }), status);
  main.append(box);
  const done = (r) => {
    if (!r.ok) { status.className = 'error'; status.textContent = problem(r); return; }
    status.className = '';
    status.textContent = t('emailVerified');
    if (session.me) session.me = null;
    box.append(session.token ? h('p', {}, h('a', { href: '/account', 'data-link': true, text: t('account') })) : back());
  };
  if (token) {
    status.textContent = t('verifying');
    done(await call('/auth/email/verify', { method: 'POST', body: { token }, auth: false }));
    return;
  }
  const form = h('form', { id: 'verify-code-form', novalidate: true },
    field('verify-email-address', t('email'), { type: 'email', autocomplete: 'email', required: true }),
    field('verify-code', t('emailCode'), { autocomplete: 'one-time-code', inputmode: 'numeric', required: true }),
    h('button', { type: 'submit', id: 'verify-submit', text: t('mfaVerify') }));
  form.addEventListener('submit', async (e) => {
    e.preventDefault();
    const body = { email: form['verify-email-address'].value.trim(), code: form['verify-code'].value.trim() };
    done(await call('/auth/email/verify', { method: 'POST', body, auth: false }));
  });
  box.append(form);
}

// The account page's email: the address, whether it is verified, and changing it (a recent
// sign-in; the new address counts once its link is opened).
export function emailCard() {
  const { me } = session;
  const status = h('p', { id: 'email-status', role: 'status' });
  const form = h('form', { class: 'card', id: 'email-form', novalidate: true },
    h('h2', { text: t('email') }),
    h('p', { id: 'email-current', text: me.email ? `${me.email} · ${t(me.email_verified ? 'verified' : 'notVerified')}` : t('noEmail') }),
    field('new-email', t('newEmail'), { type: 'email', autocomplete: 'email', required: true }),
    status, h('button', { type: 'submit', id: 'email-submit', text: t('changeEmail') }));
  form.addEventListener('submit', async (e) => {
    e.preventDefault();
    status.className = '';
    status.textContent = '';
    const email = form['new-email'].value.trim();
    const r = await withReauth(() => call('/sys/users/me/email', { method: 'PUT', body: { email } }));
    if (!r.ok) { status.className = 'error'; status.textContent = problem(r); return; }
    status.textContent = t('emailChangeSent', r.data.pending_email);
    form['new-email'].value = '';
  });
  return form;
}
