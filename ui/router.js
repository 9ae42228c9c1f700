// Which view a path shows, and moving between them without reloading.

import { call, onSignedOut, session } from './api.js';
import { h, problem, view } from './dom.js';
import { accountView } from './account.js';
import { adminView } from './admin.js';
import { forgotView, resetView, signUpView, verifyEmailView } from './email.js';
import { callbackView, loginView, stopAutofill } from './login.js';
import { continueToApp, forgetRequest, waitingRequest } from './sso.js';
import { t } from './text.js';

// Navigates, then moves focus to the new view's heading (or `focus`), as a page load would.
export async function go(path, focus) {
  history.pushState({}, '', path);
  await render();
  const target = (focus && document.querySelector(focus)) || view().querySelector('h1');
  if (target && !view().contains(document.activeElement)) {
    if (!target.hasAttribute('tabindex') && target.tagName === 'H1') target.setAttribute('tabindex', '-1');
    target.focus();
  }
}

document.addEventListener('click', (e) => {
  const a = e.target.closest('a[data-link]');
  if (a && !e.ctrlKey && !e.metaKey && !e.shiftKey) { e.preventDefault(); go(a.getAttribute('href')); }
});
window.addEventListener('popstate', render);

export function canAdmin() {
  const { me } = session;
  if (!me) return false;
  return me.is_superuser || (me.permissions || []).some((c) => /^(sys:user|monitor:online|log:login|sys:role)/.test(c));
}

export async function render() {
  stopAutofill();
  const path = location.pathname;
  const nav = document.getElementById('nav');
  nav.hidden = !session.token;
  document.getElementById('nav-account').textContent = t('account');
  const adminLink = document.getElementById('nav-admin');
  adminLink.textContent = t('admin');
  adminLink.hidden = !canAdmin();
  document.getElementById('sign-out').textContent = t('signOut');
  const main = view();
  main.replaceChildren();
  if (path === '/oauth2/callback') return callbackView(main);
  // An app's sign-in request: a signed-in page answers it at once, unless it asks for a new
  // sign-in.
  if (path === '/login' && location.search.includes('oidc=')) {
    const { fresh, loginHint } = waitingRequest();
    if (session.token && !fresh && (await continueToApp())) return undefined;
    return loginView(main, loginHint);
  }
  if (path === '/login') forgetRequest();
  // The mailed links' pages work signed in or not.
  if (path === '/reset') return resetView(main);
  if (path === '/verify-email') return verifyEmailView(main);
  if (!session.token && path === '/signup') return signUpView(main);
  if (!session.token && path === '/forgot') return forgotView(main);
  if (!session.token) {
    if (path !== '/login') history.replaceState({}, '', '/login');
    return loginView(main);
  }
  if (!session.me) {
    const r = await call('/sys/users/me');
    if (!r.ok) {
      main.append(h('p', { class: 'error', role: 'alert', text: problem(r) }));
      return undefined;
    }
    session.me = r.data;
  }
  if (path === '/admin' && canAdmin()) return adminView(main);
  if (path !== '/account') history.replaceState({}, '', '/account');
  return accountView(main);
}

onSignedOut(() => (location.pathname !== '/login' ? go('/login') : render()));
