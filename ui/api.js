// The API: calls with the access token, renewing it before it expires (the refresh token is
// the HttpOnly cookie), and noticing a session ended elsewhere.

export const API = (document.querySelector('meta[name="portcullis-api"]')?.content || '').replace(/\/$/, '');

// The signed-in session: the access token (in memory only) and the user it belongs to.
export const session = { token: null, me: null };
let renewTimer = null;
let watchTimer = null;
let ended = () => {};
// Read by the browser tests: how many times the access token was renewed.
window.portcullis = { refreshes: 0, signedIn: false };

export async function call(path, { method = 'GET', body, auth = true, retry = true } = {}) {
  const headers = { Accept: 'application/json' };
  if (body !== undefined) headers['Content-Type'] = 'application/json';
  if (auth && session.token) headers.Authorization = `Bearer ${session.token}`;
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
  if (res.status === 401 && auth && session.token && retry && out.slug === 'invalid_token') {
    const renewed = await renew();
    if (renewed === 'ok') return call(path, { method, body, auth, retry: false });
    if (renewed === 'ended') signedOut();
  }
  return out;
}

// `serverNow`: the server's clock when it answered, so that a wrong clock here does not
// make every renewal look overdue (or far off).
export function accept(data, serverNow) {
  session.token = data.access_token;
  if (data.user) session.me = data.user;
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
export async function renew() {
  renewing ??= (async () => {
    const r = await call('/auth/refresh', { method: 'POST', auth: false });
    if (r.ok) {
      accept(r.data, r.serverNow);
      window.portcullis.refreshes += 1;
      return 'ok';
    }
    if (r.status === 400 || r.status === 401 || r.status === 403) return 'ended';
    if (session.token) schedule((Number(r.retryAfter) || 5) * 1000);
    return 'later';
  })();
  try { return await renewing; } finally { renewing = null; }
}

// What the page does once the session is over (the router's sign-in view).
export function onSignedOut(fn) { ended = fn; }

export function signedOut() {
  session.token = null;
  session.me = null;
  window.portcullis.signedIn = false;
  clearTimeout(renewTimer);
  clearInterval(watchTimer);
  watchTimer = null;
  ended();
}

// While signed in, notice a session ended elsewhere (signed out everywhere, kicked out).
export function watch() {
  if (watchTimer) return;
  watchTimer = setInterval(async () => {
    if (!session.token) return;
    const r = await call('/sys/users/me');
    if (r.ok) session.me = r.data;
  }, 3000);
}
