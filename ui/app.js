// Portcullis reference frontend: login, account and a small admin console, with no build step.
// The access token lives in this module's memory only; the refresh token is the HttpOnly
// cookie, used to sign in again after a reload and to renew the access token before it expires.

const API = (document.querySelector('meta[name="portcullis-api"]')?.content || '').replace(/\/$/, '');
const LANG = (navigator.languages?.[0] || navigator.language || 'en').toLowerCase().startsWith('zh') ? 'zh' : 'en';
document.documentElement.lang = LANG === 'zh' ? 'zh-CN' : 'en';

const TEXT = {
  en: {
    signIn: 'Sign in', username: 'Username', password: 'Password', captcha: 'Captcha',
    newCaptcha: 'Captcha image: activate for a new one', with: 'Sign in with {0}',
    lockedHint: 'After repeated failures, sign-in from this address is paused for a while.',
    mfaCode: 'Code from your authenticator app, or a recovery code', mfaVerify: 'Verify',
    mfaAgain: 'Sign in again',
    rateLimited: 'Too many attempts. Try again in {0} s.',
    account: 'Account', admin: 'Admin', signOut: 'Sign out', signedInAs: 'Signed in as {0}',
    sessions: 'My sessions', device: 'Device', ip: 'IP', lastUsed: 'Last used', thisDevice: '(this device)',
    signOutDevice: 'Sign out this device', signOutEverywhere: 'Sign out everywhere',
    changePassword: 'Change password', oldPassword: 'Current password', newPassword: 'New password',
    confirmPassword: 'Confirm new password', save: 'Save', saved: 'Saved.',
    confirmIt: 'Please confirm it is you: enter your password', ok: 'OK', cancel: 'Cancel',
    linked: 'Linked accounts', bind: 'Link {0}', unbind: 'Unlink {0}', bound: 'Linked: {0}',
    roles: 'Roles', email: 'Email', nickname: 'Nickname', users: 'Users', online: 'Online sessions',
    loginLog: 'Login log', search: 'Search', create: 'Create user', status: 'Status',
    enabled: 'enabled', disabled: 'disabled', disable: 'Disable', enable: 'Enable',
    resetPassword: 'Reset password', setRoles: 'Roles…', kick: 'Kick out', user: 'User',
    method: 'Method', time: 'Time', result: 'Result', success: 'success', failure: 'failure',
    any: 'any', codes: 'Permission codes', roleIds: 'Role ids, comma-separated ({0})',
    exchanging: 'Signing you in…', nothing: 'Nothing here.', actions: 'Actions',
  },
  zh: {
    signIn: '登录', username: '用户名', password: '密码', captcha: '验证码',
    newCaptcha: '验证码图片：点击换一张', with: '使用 {0} 登录',
    lockedHint: '多次失败后，此地址的登录将暂停一段时间。',
    mfaCode: '身份验证器应用中的验证码，或一个恢复码', mfaVerify: '验证',
    mfaAgain: '重新登录',
    rateLimited: '尝试次数过多，请 {0} 秒后重试。',
    account: '账户', admin: '管理', signOut: '退出登录', signedInAs: '当前用户：{0}',
    sessions: '我的会话', device: '设备', ip: 'IP', lastUsed: '最近使用', thisDevice: '（本设备）',
    signOutDevice: '退出此设备', signOutEverywhere: '退出所有设备',
    changePassword: '修改密码', oldPassword: '当前密码', newPassword: '新密码',
    confirmPassword: '确认新密码', save: '保存', saved: '已保存。',
    confirmIt: '请输入密码以确认身份', ok: '确定', cancel: '取消',
    linked: '已绑定账号', bind: '绑定 {0}', unbind: '解绑 {0}', bound: '已绑定：{0}',
    roles: '角色', email: '邮箱', nickname: '昵称', users: '用户', online: '在线会话',
    loginLog: '登录日志', search: '搜索', create: '创建用户', status: '状态',
    enabled: '启用', disabled: '停用', disable: '停用', enable: '启用',
    resetPassword: '重置密码', setRoles: '角色…', kick: '强制下线', user: '用户',
    method: '方式', time: '时间', result: '结果', success: '成功', failure: '失败',
    any: '全部', codes: '权限标识', roleIds: '角色 ID，逗号分隔（{0}）',
    exchanging: '正在登录…', nothing: '暂无数据。', actions: '操作',
  },
};
const t = (key, ...args) => (TEXT[LANG][key] ?? TEXT.en[key] ?? key).replace(/\{(\d)\}/g, (_, i) => args[i]);

// ---- state -------------------------------------------------------------------------------------

let token = null;
let me = null;
let renewTimer = null;
let watchTimer = null;
let providers = null;
// Read by the browser tests: how many times the access token was renewed.
window.portcullis = { refreshes: 0, signedIn: false };

// ---- the API -----------------------------------------------------------------------------------

async function call(path, { method = 'GET', body, auth = true, retry = true } = {}) {
  const headers = { Accept: 'application/json' };
  if (body !== undefined) headers['Content-Type'] = 'application/json';
  if (auth && token) headers.Authorization = `Bearer ${token}`;
  let res;
  try {
    res = await fetch(`${API}/api/v1${path}`, {
      method, headers, credentials: 'include',
      body: body === undefined ? undefined : JSON.stringify(body),
    });
  } catch (e) {
    return { status: 0, ok: false, msg: String(e), slug: 'network' };
  }
  let json = null;
  try { json = await res.json(); } catch { /* not JSON */ }
  const out = {
    status: res.status, ok: res.ok, data: json?.data, slug: json?.slug, msg: json?.msg,
    retryAfter: res.headers.get('retry-after'),
    serverNow: Date.parse(res.headers.get('date') || '') || Date.now(),
  };
  if (res.status === 401 && auth && token && retry && out.slug === 'invalid_token') {
    const renewed = await renew();
    if (renewed === 'ok') return call(path, { method, body, auth, retry: false });
    if (renewed === 'ended') signedOut();
  }
  return out;
}

// `serverNow`: the server's clock when it answered, so that a wrong clock here does not
// make every renewal look overdue (or far off).
function accept(data, serverNow) {
  token = data.access_token;
  if (data.user) me = data.user;
  window.portcullis.signedIn = true;
  const left = Date.parse(data.access_token_expire_time) - (serverNow || Date.now());
  // Well before it expires: a minute early for long tokens, at 60 % of short ones.
  schedule(left > 120000 ? left - 60000 : left * 0.6);
}

function schedule(ms) {
  clearTimeout(renewTimer);
  renewTimer = setTimeout(renew, Math.min(Math.max(1000, ms), 2 ** 31 - 1));
}

// 'ok'; 'ended' when the server says the session is over (sign in again); 'later' when it
// could not answer now (network, rate limit, 503): the session stays and renewal retries.
let renewing = null;
async function renew() {
  renewing ??= (async () => {
    const r = await call('/auth/refresh', { method: 'POST', auth: false });
    if (r.ok) {
      accept(r.data, r.serverNow);
      window.portcullis.refreshes += 1;
      return 'ok';
    }
    if (r.status === 400 || r.status === 401 || r.status === 403) return 'ended';
    if (token) schedule((Number(r.retryAfter) || 5) * 1000);
    return 'later';
  })();
  try { return await renewing; } finally { renewing = null; }
}

function signedOut() {
  token = null;
  me = null;
  window.portcullis.signedIn = false;
  clearTimeout(renewTimer);
  clearInterval(watchTimer);
  watchTimer = null;
  if (location.pathname !== '/login') go('/login');
  else render();
}

// While signed in, notice a session ended elsewhere (signed out everywhere, kicked out).
function watch() {
  if (watchTimer) return;
  watchTimer = setInterval(async () => {
    if (!token) return;
    const r = await call('/sys/users/me');
    if (r.ok) me = r.data;
  }, 3000);
}

// ---- little DOM helpers ------------------------------------------------------------------------

function h(tag, attrs = {}, ...children) {
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

const view = () => document.getElementById('view');
const field = (id, label, attrs = {}) => [h('label', { for: id, text: label }), h('input', { id, name: id, ...attrs })];
const when = (iso) => (iso ? new Date(iso).toLocaleString(LANG === 'zh' ? 'zh-CN' : 'en') : '');

function problem(r) {
  if (r.status === 429) return t('rateLimited', r.retryAfter || '60');
  return r.msg || `HTTP ${r.status}`;
}

function table(columns, rows, className = 'wide-table') {
  if (!rows.length) return h('p', { class: 'hint', text: t('nothing') });
  return h('table', { class: className },
    h('thead', {}, h('tr', {}, columns.map(([label]) => h('th', { scope: 'col', text: label })))),
    h('tbody', {}, rows.map((row) => h('tr', {}, columns.map(([label, cell]) => {
      const v = cell(row);
      return h('td', { 'data-label': label }, v instanceof Node ? v : String(v ?? ''));
    })))));
}

// A modal question with a labelled input (the browser's <dialog>: focus and Escape handled).
function ask(label, type = 'text', initial = '') {
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

// Runs an action that may need a recent sign-in: asks for the password (and the second
// factor's code, when the account has one) once and tries again.
async function withReauth(action) {
  let r = await action();
  if (r.slug === 'insufficient_user_authentication') {
    const password = await ask(t('confirmIt'), 'password');
    if (password === null) return r;
    const body = { password };
    if (r.data?.mfa) {
      const code = await ask(t('mfaCode'));
      if (code === null) return r;
      body.code = code.trim();
    }
    const a = await call('/auth/reauthenticate', { method: 'POST', body });
    if (!a.ok) return a;
    r = await action();
  }
  return r;
}

// ---- routing -----------------------------------------------------------------------------------

// Navigates, then moves focus to the new view's heading (or `focus`), as a page load would.
async function go(path, focus) {
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

function canAdmin() {
  if (!me) return false;
  return me.is_superuser || (me.permissions || []).some((c) => /^(sys:user|monitor:online|log:login|sys:role)/.test(c));
}

async function render() {
  const path = location.pathname;
  const nav = document.getElementById('nav');
  nav.hidden = !token;
  document.getElementById('nav-account').textContent = t('account');
  const adminLink = document.getElementById('nav-admin');
  adminLink.textContent = t('admin');
  adminLink.hidden = !canAdmin();
  document.getElementById('sign-out').textContent = t('signOut');
  const main = view();
  main.replaceChildren();
  if (path === '/oauth2/callback') return callbackView(main);
  if (!token) {
    if (path !== '/login') history.replaceState({}, '', '/login');
    return loginView(main);
  }
  if (!me) {
    const r = await call('/sys/users/me');
    if (!r.ok) {
      main.append(h('p', { class: 'error', role: 'alert', text: problem(r) }));
      return undefined;
    }
    me = r.data;
  }
  if (path === '/admin' && canAdmin()) return adminView(main);
  if (path !== '/account') history.replaceState({}, '', '/account');
  return accountView(main);
}

// ---- login -------------------------------------------------------------------------------------

async function loginView(main) {
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
    field('username', t('username'), { autocomplete: 'username', required: true, autocapitalize: 'none' }),
    field('password', t('password'), { type: 'password', autocomplete: 'current-password', required: true }),
    captchaRow, error, hint,
    h('button', { type: 'submit', id: 'login-submit', text: t('signIn') }),
    h('div', { class: 'social', id: 'social' }));
  form.addEventListener('submit', async (e) => {
    e.preventDefault();
    error.textContent = '';
    hint.textContent = '';
    const body = {
      username: form.username.value.trim(),
      password: form.password.value,
    };
    if (!captchaRow.hidden) Object.assign(body, { uuid: captchaUuid, captcha: form.captcha.value.trim() });
    const r = await call('/auth/login', { method: 'POST', body, auth: false });
    if (r.ok && r.data?.mfa_required) {
      form.replaceWith(secondStep(r.data));
      return undefined;
    }
    if (r.ok) {
      accept(r.data, r.serverNow);
      watch();
      return go('/account');
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

// The second step of a sign-in for a user with a second factor: the ticket the first step gave
// and a TOTP or recovery code. A failed ticket (used up, expired) means starting over.
function secondStep(first) {
  const error = h('p', { id: 'mfa-error', class: 'error', role: 'alert' });
  const again = h('button', { type: 'button', class: 'secondary', id: 'mfa-again', text: t('mfaAgain'), onclick: () => render() });
  const form = h('form', { class: 'card narrow', id: 'mfa-form', novalidate: true },
    h('h1', { text: t('signIn') }),
    field('mfa-code', t('mfaCode'), { autocomplete: 'one-time-code', inputmode: 'text', required: true, autocapitalize: 'none' }),
    error,
    h('button', { type: 'submit', id: 'mfa-submit', text: t('mfaVerify') }),
    again);
  form.addEventListener('submit', async (e) => {
    e.preventDefault();
    error.textContent = '';
    const code = form.querySelector('#mfa-code').value.trim();
    const r = await call('/auth/mfa/verify', { method: 'POST', body: { ticket: first.mfa_ticket, code }, auth: false });
    if (r.ok) {
      accept(r.data, r.serverNow);
      watch();
      return go('/account');
    }
    error.textContent = problem(r);
    return undefined;
  });
  setTimeout(() => form.querySelector('#mfa-code').focus());
  return form;
}

async function listProviders() {
  if (!providers) {
    const r = await call('/oauth2/providers', { auth: false });
    providers = r.ok ? r.data : [];
  }
  return providers;
}

async function callbackView(main) {
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
    main.replaceChildren(secondStep(r.data));
    return;
  }
  accept(r.data, r.serverNow);
  watch();
  history.replaceState({}, '', '/account');
  render();
}

// ---- account -----------------------------------------------------------------------------------

async function accountView(main) {
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

  main.append(info, sessions, pwForm, linked);
  const bound = new URLSearchParams(location.search).get('bound');
  if (bound) linkMsg.className = 'notice', linkMsg.textContent = t('bound', bound);
  await Promise.all([loadSessions(), loadBindings()]);
}

// ---- admin -------------------------------------------------------------------------------------

const TABS = [['users', 'users'], ['online', 'online'], ['logins', 'loginLog'], ['roles', 'roles']];

async function adminView(main) {
  document.title = `${t('admin')} · Portcullis`;
  const tab = new URLSearchParams(location.search).get('tab') || 'users';
  const tabs = h('div', { class: 'tabs', role: 'tablist', 'aria-label': t('admin') },
    TABS.map(([id, label]) => h('button', {
      type: 'button', role: 'tab', id: `tab-${id}`, 'aria-selected': String(id === tab), text: t(label),
      onclick: () => go(`/admin?tab=${id}`, `#tab-${id}`),
    })));
  const panel = h('section', { role: 'tabpanel', 'aria-labelledby': `tab-${tab}`, id: 'panel' });
  main.append(h('h1', { text: t('admin') }), tabs, panel);
  const panels = { users: usersPanel, online: onlinePanel, logins: loginsPanel, roles: rolesPanel };
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
      [t('actions'), (u) => h('div', { class: 'actions' },
        h('button', { type: 'button', class: 'secondary', 'data-user': u.username, 'data-action': 'toggle',
          text: u.status === 1 ? t('disable') : t('enable'),
          'aria-label': `${u.status === 1 ? t('disable') : t('enable')}: ${u.username}`,
          onclick: async () => act(await call(`/sys/users/${u.id}`, { method: 'PUT', body: { status: u.status === 1 ? 0 : 1 } })) }),
        h('button', { type: 'button', class: 'secondary', text: t('resetPassword'), 'aria-label': `${t('resetPassword')}: ${u.username}`, onclick: async () => {
          const password = await ask(t('newPassword'), 'password');
          if (password) act(await call(`/sys/users/${u.id}/password`, { method: 'PUT', body: { password } }));
        } }),
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

// ---- start -------------------------------------------------------------------------------------

document.getElementById('sign-out').addEventListener('click', async () => {
  await call('/auth/logout', { method: 'POST' });
  signedOut();
});

(async () => {
  // After a reload the cookie signs us in again (the callback page has its own code to use).
  if (location.pathname !== '/oauth2/callback' && (await renew()) === 'ok') {
    const r = await call('/sys/users/me');
    if (r.ok) me = r.data;
    watch();
  }
  render();
})();
