// The console: users, online sessions, the login log, roles, OpenID clients.

import { call } from './api.js';
import { ask, field, h, problem, table, when, withReauth } from './dom.js';
import { go } from './router.js';
import { t } from './text.js';

const TABS = [['users', 'users'], ['online', 'online'], ['logins', 'loginLog'], ['roles', 'roles'], ['clients', 'clients']];

export async function adminView(main) {
  document.title = `${t('admin')} · Portcullis`;
  const tab = new URLSearchParams(location.search).get('tab') || 'users';
  const tabs = h('div', { class: 'tabs', role: 'tablist', 'aria-label': t('admin') },
    TABS.map(([id, label]) => h('button', {
      type: 'button', role: 'tab', id: `tab-${id}`, 'aria-selected': String(id === tab), text: t(label),
      onclick: () => go(`/admin?tab=${id}`, `#tab-${id}`),
    })));
  const panel = h('section', { role: 'tabpanel', 'aria-labelledby': `tab-${tab}`, id: 'panel' });
  main.append(h('h1', { text: t('admin') }), tabs, panel);
  const panels = { users: usersPanel, online: onlinePanel, logins: loginsPanel, roles: rolesPanel, clients: clientsPanel };
  await (panels[tab] || usersPanel)(panel);
}

async function usersPanel(panel) {
  const msg = h('p', { class: 'error', role: 'alert', id: 'admin-message' });
  const list = h('div', { id: 'user-list' });
  const search = h('form', { class: 'row', role: 'search' },
    h('div', {}, ...field('user-search', t('username'), { type: 'search' })),
    h('button', { type: 'submit', text: t('search') }));
  search.addEventListener('submit', (e) => { e.preventDefault(); load(); });
  const create = h('form', { class: 'card', id: 'create-user' }, h('h2', { text: t('create') }),
    h('div', { class: 'row' },
      h('div', {}, ...field('new-username', t('username'), { autocomplete: 'off' })),
      h('div', {}, ...field('new-password', t('password'), { type: 'password', autocomplete: 'new-password' })),
      h('div', {}, ...field('new-email', t('email'), { type: 'email' })),
      h('button', { type: 'submit', text: t('create') })));
  create.addEventListener('submit', async (e) => {
    e.preventDefault();
    const body = { username: create['new-username'].value.trim(), password: create['new-password'].value };
    if (create['new-email'].value.trim()) body.email = create['new-email'].value.trim();
    const r = await call('/sys/users', { method: 'POST', body });
    msg.textContent = r.ok ? '' : problem(r);
    if (r.ok) { create.reset(); load(); }
  });
  async function act(r) { msg.textContent = r.ok ? '' : problem(r); await load(); }
  async function load() {
    const q = encodeURIComponent(search['user-search'].value.trim());
    const r = await call(`/sys/users?size=50${q ? `&username=${q}` : ''}`);
    if (!r.ok) { msg.textContent = problem(r); return; }
    list.replaceChildren(table([
      ['ID', (u) => u.id],
      [t('username'), (u) => u.username],
      [t('nickname'), (u) => u.nickname],
      [t('status'), (u) => (u.status === 1 ? t('enabled') : t('disabled'))],
      [t('roles'), (u) => (u.roles || []).join(', ')],
      [t('mfaColumn'), (u) => (u.second_factors || []).join(', ') || '—'],
      [t('actions'), (u) => h('div', { class: 'actions' },
        h('button', { type: 'button', class: 'secondary', 'data-user': u.username, 'data-action': 'toggle',
          text: u.status === 1 ? t('disable') : t('enable'),
          'aria-label': `${u.status === 1 ? t('disable') : t('enable')}: ${u.username}`,
          onclick: async () => act(await call(`/sys/users/${u.id}`, { method: 'PUT', body: { status: u.status === 1 ? 0 : 1 } })) }),
        h('button', { type: 'button', class: 'secondary', text: t('resetPassword'), 'aria-label': `${t('resetPassword')}: ${u.username}`, onclick: async () => {
          const password = await ask(t('newPassword'), 'password');
          if (password) act(await call(`/sys/users/${u.id}/password`, { method: 'PUT', body: { password } }));
        } }),
        (u.second_factors || []).length
          ? h('button', { type: 'button', class: 'danger', 'data-mfa-reset': u.username, text: t('mfaReset'),
            'aria-label': `${t('mfaReset')}: ${u.username}`,
            onclick: async () => act(await withReauth(() => call(`/sys/users/${u.id}/mfa`, { method: 'DELETE' }))) })
          : null,
        h('button', { type: 'button', class: 'secondary', text: t('setRoles'), 'aria-label': `${t('roles')}: ${u.username}`, onclick: async () => {
          const roles = (await call('/sys/roles')).data || [];
          const known = roles.map((x) => `${x.id} ${x.name}`).join(', ');
          const current = roles.filter((x) => (u.roles || []).includes(x.name)).map((x) => x.id).join(', ');
          const answer = await ask(t('roleIds', known), 'text', current);
          if (answer === null) return;
          const ids = answer.split(',').map((s) => parseInt(s, 10)).filter((n) => Number.isFinite(n));
          act(await call(`/sys/users/${u.id}/roles`, { method: 'PUT', body: { roles: ids } }));
        } }))],
    ], r.data.items));
  }
  panel.append(search, msg, list, create);
  await load();
}

async function onlinePanel(panel) {
  const msg = h('p', { class: 'error', role: 'alert' });
  const list = h('div', { id: 'online-list' });
  async function load() {
    const r = await call('/monitors/online?size=50');
    if (!r.ok) { msg.textContent = problem(r); return; }
    list.replaceChildren(table([
      [t('user'), (s) => s.username],
      [t('method'), (s) => s.method],
      [t('ip'), (s) => s.ip],
      [t('device'), (s) => [s.browser, s.os, s.device].filter(Boolean).join(' · ')],
      [t('lastUsed'), (s) => when(s.last_refresh_at)],
      [t('actions'), (s) => h('button', {
        type: 'button', class: 'danger', 'data-kick': s.username, text: t('kick'),
        'aria-label': `${t('kick')}: ${s.username}, ${s.ip}`,
        onclick: async () => {
          const r2 = await call(`/monitors/online/${s.user_id}?session_uuid=${encodeURIComponent(s.session_uuid)}`, { method: 'DELETE' });
          msg.textContent = r2.ok ? '' : problem(r2);
          load();
        },
      })],
    ], r.data.items));
  }
  panel.append(msg, list);
  await load();
}

async function loginsPanel(panel) {
  const list = h('div', { id: 'login-log' });
  const msg = h('p', { class: 'error', role: 'alert' });
  const statusSelect = h('select', { id: 'log-status', name: 'log-status' },
    h('option', { value: '', text: t('any') }), h('option', { value: 'success', text: t('success') }),
    h('option', { value: 'failure', text: t('failure') }));
  const filters = h('form', { class: 'row', role: 'search' },
    h('div', {}, ...field('log-username', t('username'))),
    h('div', {}, h('label', { for: 'log-status', text: t('result') }), statusSelect),
    h('div', {}, ...field('log-ip', t('ip'))),
    h('button', { type: 'submit', text: t('search') }));
  filters.addEventListener('submit', (e) => { e.preventDefault(); load(); });
  async function load() {
    const q = new URLSearchParams({ size: '50' });
    for (const [k, id] of [['username', 'log-username'], ['status', 'log-status'], ['ip', 'log-ip']]) {
      const v = filters[id].value.trim();
      if (v) q.set(k, v);
    }
    const r = await call(`/logs/login?${q}`);
    if (!r.ok) { msg.textContent = problem(r); return; }
    list.replaceChildren(table([
      [t('time'), (l) => when(l.created_at)],
      [t('username'), (l) => l.username],
      [t('result'), (l) => (l.success ? t('success') : `${t('failure')} (${l.reason})`)],
      [t('method'), (l) => l.method],
      [t('ip'), (l) => l.ip],
    ], r.data.items));
  }
  panel.append(filters, msg, list);
  await load();
}

async function rolesPanel(panel) {
  const r = await call('/sys/roles');
  panel.append(r.ok
    ? table([
      ['ID', (x) => x.id],
      [t('roles'), (x) => x.name],
      [t('status'), (x) => (x.status === 1 ? t('enabled') : t('disabled'))],
      [t('codes'), (x) => (x.codes || []).join(', ')],
    ], r.data)
    : h('p', { class: 'error', text: problem(r) }));
}

// OpenID clients: register, new secret, delete. A secret is shown once, in the notice.
async function clientsPanel(panel) {
  const msg = h('p', { class: 'error', role: 'alert', id: 'client-message' });
  const list = h('div', { id: 'client-list' });
  const say = (r, notice) => {
    msg.className = r.ok ? 'notice' : 'error';
    msg.textContent = r.ok ? (notice || '') : problem(r);
  };
  const shown = (id, secret) => (secret ? t('clientSecret', id, secret) : '');
  const lines = (v) => v.split('\n').map((s) => s.trim()).filter(Boolean);
  const create = h('form', { class: 'card', id: 'create-client' }, h('h2', { text: t('registerClient') }),
    h('div', { class: 'row' },
      h('div', {}, ...field('client-id', t('clientId'), { autocomplete: 'off', required: true })),
      h('div', {}, h('label', { for: 'client-redirects', text: t('redirectUris') }),
        h('textarea', { id: 'client-redirects', name: 'client-redirects', rows: '2' })),
      h('div', {}, ...field('client-backchannel', t('backchannel'), { type: 'url' })),
      h('div', {}, h('label', {}, h('input', { type: 'checkbox', id: 'client-public', name: 'client-public' }), ` ${t('publicClient')}`)),
      h('div', {}, h('label', {}, h('input', { type: 'checkbox', id: 'client-first-party', name: 'client-first-party' }), ` ${t('firstParty')}`)),
      h('button', { type: 'submit', text: t('registerClient') })));
  create.addEventListener('submit', async (e) => {
    e.preventDefault();
    const body = {
      client_id: create['client-id'].value.trim(),
      redirect_uris: lines(create['client-redirects'].value),
      public: create['client-public'].checked,
      first_party: create['client-first-party'].checked,
    };
    const bc = create['client-backchannel'].value.trim();
    if (bc) body.backchannel_logout_uri = bc;
    const r = await withReauth(() => call('/sys/oidc-clients', { method: 'POST', body }));
    say(r, r.ok ? shown(r.data.client.client_id, r.data.client_secret) : '');
    if (r.ok) { create.reset(); load(); }
  });
  async function load() {
    const r = await call('/sys/oidc-clients');
    if (!r.ok) { say(r); return; }
    list.replaceChildren(table([
      [t('clientId'), (c) => c.client_id],
      [t('status'), (c) => [c.public ? t('publicKind') : t('confidential'), c.first_party ? t('firstParty') : null].filter(Boolean).join(', ')],
      [t('redirectUris'), (c) => c.redirect_uris.join(' ')],
      [t('grants'), (c) => c.grant_types.join(' ')],
      [t('scopes'), (c) => c.scopes.join(' ')],
      [t('actions'), (c) => h('div', { class: 'actions' },
        c.public ? null : h('button', { type: 'button', class: 'secondary', 'data-rotate': c.client_id, text: t('rotateSecret'),
          'aria-label': `${t('rotateSecret')}: ${c.client_id}`,
          onclick: async () => {
            const r2 = await withReauth(() => call(`/sys/oidc-clients/${encodeURIComponent(c.client_id)}/secret`, { method: 'POST' }));
            say(r2, r2.ok ? shown(c.client_id, r2.data.client_secret) : '');
          } }),
        h('button', { type: 'button', class: 'danger', 'data-delete-client': c.client_id, text: t('deleteClient'),
          'aria-label': `${t('deleteClient')}: ${c.client_id}`,
          onclick: async () => {
            const r2 = await call(`/sys/oidc-clients/${encodeURIComponent(c.client_id)}`, { method: 'DELETE' });
            say(r2);
            load();
          } }))],
    ], r.data));
  }
  panel.append(msg, list, create);
  await load();
}
