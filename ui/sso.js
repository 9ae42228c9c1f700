// Single sign-on: an app that signs in through Portcullis sends its user to /login?oidc=…
// (`fresh=1` when it asked for a new sign-in, `login_hint` the username it suggests). The request id is kept for the tab, so a social
// login's round trip does not lose it; once signed in, the page gives the browser its single
// sign-on cookie and goes back to the provider, which answers the app.

import { API, session } from './api.js';

const KEY = 'portcullis.oidc';

// Keeps the request the address names; whether one is waiting, and whether it wants a new
// sign-in even from a signed-in page.
export function waitingRequest() {
  const params = new URLSearchParams(location.search);
  const id = params.get('oidc');
  if (id) sessionStorage.setItem(KEY, id);
  return {
    waiting: Boolean(sessionStorage.getItem(KEY)),
    fresh: params.get('fresh') === '1',
    loginHint: params.get('login_hint') || '',
  };
}

// After a sign-in: back to the app that asked, if one did. False when none did (or the cookie
// could not be set), for the caller to show the account page.
export async function continueToApp() {
  const id = sessionStorage.getItem(KEY);
  if (!id || !session.token) return false;
  sessionStorage.removeItem(KEY);
  let res;
  try {
    res = await fetch(`${API}/oidc/session`, {
      method: 'POST', headers: { Authorization: `Bearer ${session.token}` }, credentials: 'include',
    });
  } catch {
    return false;
  }
  if (!res.ok) return false;
  location.assign(`${API}/oidc/authorize?resume=${encodeURIComponent(id)}`);
  return true;
}

// A sign-in that no app asked for: nothing is waiting any more.
export function forgetRequest() {
  sessionStorage.removeItem(KEY);
}
