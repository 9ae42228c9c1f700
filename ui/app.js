// Portcullis reference frontend: login, account and a small admin console, with no build step,
// one module per page (login.js, account.js, admin.js) over the API (api.js), the words
// (text.js), DOM helpers (dom.js) and the router (router.js). The access token lives in memory
// only; the refresh token is the HttpOnly cookie, used to sign in again after a reload and to
// renew the access token before it expires.

import { call, renew, session, signedOut, watch } from './api.js';
import { render } from './router.js';

document.getElementById('sign-out').addEventListener('click', async () => {
  await call('/auth/logout', { method: 'POST' });
  signedOut();
});

(async () => {
  // After a reload the cookie signs us in again (the callback page has its own code to use).
  if (location.pathname !== '/oauth2/callback' && (await renew()) === 'ok') {
    const r = await call('/sys/users/me');
    if (r.ok) session.me = r.data;
    watch();
  }
  render();
})();
