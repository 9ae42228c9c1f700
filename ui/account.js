// The account page: who, sessions, password, linked accounts, second factors, apps with access.

import { call, session, signedOut } from './api.js';
import { field, h, problem, table, when, withReauth } from './dom.js';
import { emailCard } from './email.js';
import { factorsSection } from './factors.js';
import { listProviders } from './login.js';
import { t } from './text.js';

export async function accountView(main) {
  const { me } = session;
  document.title = `${t('account')} · Portcullis`;
  const info = h('section', { id: 'me' },
    h('h1', { id: 'whoami', text: t('signedInAs', me.nickname || me.username) }),
    h('p', {}, `${t('username')}: `, h('strong', { id: 'me-username', text: me.username })),
    me.email ? h('p', { text: `${t('email')}: ${me.email}` }) : null,
    h('p', { text: `${t('roles')}: ${(me.roles || []).join(', ') || '—'}` }));

  const sessions = h('section', { id: 'sessions' }, h('h2', { text: t('sessions') }));
  const sessionList = h('div');
  const everywhere = h('button', {
    type: 'button', class: 'danger', id: 'sign-out-everywhere', text: t('signOutEverywhere'),
    onclick: async () => {
      await call('/auth/logout/all', { method: 'POST' });
      signedOut();
    },
  });
  sessions.append(sessionList, everywhere);
  async function loadSessions() {
    const r = await call('/auth/sessions');
    if (!r.ok) return;
    sessionList.replaceChildren(table([
      [t('device'), (s) => `${[s.browser, s.os, s.device].filter(Boolean).join(' · ') || s.method}${s.current ? ` ${t('thisDevice')}` : ''}`],
      [t('ip'), (s) => s.ip],
      [t('lastUsed'), (s) => when(s.last_refresh_at)],
      [t('actions'), (s) => h('button', {
        type: 'button', class: 'secondary', text: t('signOutDevice'),
        'aria-label': `${t('signOutDevice')}: ${[s.browser, s.os].filter(Boolean).join(' · ') || s.method}, ${s.ip}`,
        onclick: async () => {
          await call(`/auth/sessions/${encodeURIComponent(s.session_uuid)}`, { method: 'DELETE' });
          if (s.current) signedOut(); else loadSessions();
        },
      })],
    ], r.data));
  }

  const pwMsg = h('p', { class: 'error', role: 'alert', id: 'password-message' });
  const pwForm = h('form', { class: 'card', id: 'password-form' },
    h('h2', { text: t('changePassword') }),
    me.has_password === false ? null : field('old_password', t('oldPassword'), { type: 'password', autocomplete: 'current-password' }),
    field('new_password', t('newPassword'), { type: 'password', autocomplete: 'new-password' }),
    field('confirm_password', t('confirmPassword'), { type: 'password', autocomplete: 'new-password' }),
    pwMsg, h('button', { type: 'submit', text: t('save') }));
  pwForm.addEventListener('submit', async (e) => {
    e.preventDefault();
    const body = {
      old_password: pwForm.old_password?.value || '',
      new_password: pwForm.new_password.value,
      confirm_password: pwForm.confirm_password.value,
    };
    const r = await withReauth(() => call('/sys/users/me/password', { method: 'PUT', body }));
    pwMsg.className = r.ok ? 'notice' : 'error';
    pwMsg.textContent = r.ok ? t('saved') : problem(r);
    if (r.ok) { pwForm.reset(); loadSessions(); }
  });

  const linked = h('section', { id: 'bindings' }, h('h2', { text: t('linked') }));
  const linkedList = h('div');
  const linkMsg = h('p', { class: 'error', role: 'alert' });
  linked.append(linkedList, linkMsg);
  async function loadBindings() {
    const [r, all] = await Promise.all([call('/oauth2/me/bindings'), listProviders()]);
    if (!r.ok) return;
    const bound = new Map(r.data.map((b) => [b.provider, b]));
    linkedList.replaceChildren(...all.map((p) => h('p', { class: 'row' },
      h('span', { text: bound.has(p.name) ? t('bound', p.display_name) : p.display_name }),
      bound.has(p.name)
        ? h('button', { type: 'button', class: 'secondary', text: t('unbind', p.display_name), onclick: async () => {
            const u = await call(`/oauth2/me/bindings/${encodeURIComponent(p.name)}`, { method: 'DELETE' });
            linkMsg.textContent = u.ok ? '' : problem(u);
            loadBindings();
          } })
        : h('button', { type: 'button', class: 'secondary', text: t('bind', p.display_name), onclick: async () => {
            const b = await withReauth(() => call(`/oauth2/${encodeURIComponent(p.name)}/bind`));
            if (b.ok) location.assign(b.data); else linkMsg.textContent = problem(b);
          } }))));
  }

  // The OpenID clients the user let in: revoking one ends its sessions (and so its tokens).
  const apps = h('section', { id: 'apps' }, h('h2', { text: t('apps') }));
  const appList = h('div', { id: 'app-list' });
  const appMsg = h('p', { class: 'error', role: 'alert' });
  apps.append(appList, appMsg);
  async function loadApps() {
    const r = await call('/auth/apps');
    if (!r.ok) { appMsg.textContent = problem(r); return; }
    appList.replaceChildren(r.data.length ? table([
      [t('clientId'), (a) => a.client_id],
      [t('scopes'), (a) => a.scopes.join(' ')],
      [t('consentedAt'), (a) => (a.consented_at ? when(a.consented_at) : t('firstParty'))],
      [t('lastUsed'), (a) => when(a.last_used_at)],
      [t('actions'), (a) => h('button', {
        type: 'button', class: 'danger', 'data-revoke-app': a.client_id, text: t('revokeApp'),
        'aria-label': `${t('revokeApp')}: ${a.client_id}`,
        onclick: async () => {
          const d = await call(`/auth/apps/${encodeURIComponent(a.client_id)}`, { method: 'DELETE' });
          appMsg.textContent = d.ok ? '' : problem(d);
          await Promise.all([loadApps(), loadSessions()]);
        },
      })],
    ], r.data) : h('p', { class: 'hint', text: t('appsNone') }));
  }

  const factors = factorsSection();
  main.append(info, sessions, pwForm, emailCard(), factors.section, linked, apps);
  const bound = new URLSearchParams(location.search).get('bound');
  if (bound) linkMsg.className = 'notice', linkMsg.textContent = t('bound', bound);
  await Promise.all([loadSessions(), loadBindings(), factors.load(), loadApps()]);
}
