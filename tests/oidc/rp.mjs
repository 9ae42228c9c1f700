// A relying party on openid-client (OpenID-certified), driven by tests/api/sso_rp.rs:
//   node rp.mjs ISSUER CLIENT_ID CLIENT_SECRET REDIRECT_URI POST_LOGOUT_URI
// It runs discovery and prints {"authorize": URL}; the test plays the browser and writes back
// the URL the provider redirected to; the RP then exchanges the code (PKCE, state, nonce and
// RFC 9207's iss checked), reads userinfo, refreshes (and retries inside the grace window),
// revokes, tries the code again, asks for a client_credentials token, and prints what it saw as one
// JSON line.

import * as client from 'openid-client';
import { createInterface } from 'node:readline';

const [issuer, clientId, clientSecret, redirectUri, postLogout] = process.argv.slice(2);
const lines = createInterface({ input: process.stdin })[Symbol.asyncIterator]();
const say = (o) => process.stdout.write(`${JSON.stringify(o)}\n`);

try {
  const config = await client.discovery(new URL(issuer), clientId, clientSecret, undefined, {
    execute: [client.allowInsecureRequests],
  });
  const verifier = client.randomPKCECodeVerifier();
  const state = client.randomState();
  const nonce = client.randomNonce();
  const authorize = client.buildAuthorizationUrl(config, {
    redirect_uri: redirectUri,
    scope: 'openid profile email offline_access',
    code_challenge: await client.calculatePKCECodeChallenge(verifier),
    code_challenge_method: 'S256',
    state,
    nonce,
  });
  say({ authorize: authorize.href });
  const callback = (await lines.next()).value;
  const tokens = await client.authorizationCodeGrant(config, new URL(callback), {
    pkceCodeVerifier: verifier,
    expectedState: state,
    expectedNonce: nonce,
    idTokenExpected: true,
  });
  const claims = tokens.claims();
  const info = await client.fetchUserInfo(config, tokens.access_token, claims.sub);
  const refreshed = await client.refreshTokenGrant(config, tokens.refresh_token);
  // The old token again, inside the grace window: the same new token (a retried refresh).
  const replay = await client.refreshTokenGrant(config, tokens.refresh_token);
  await client.tokenRevocation(config, refreshed.refresh_token);
  const afterRevoke = await client.refreshTokenGrant(config, refreshed.refresh_token)
    .then(() => 'accepted', (e) => e.error ?? e.code ?? String(e));
  const codeAgain = await client.authorizationCodeGrant(config, new URL(callback), {
    pkceCodeVerifier: verifier, expectedState: state, expectedNonce: nonce,
  }).then(() => 'accepted', (e) => e.error ?? e.code ?? String(e));
  // The client acting for itself.
  const service = await client.clientCredentialsGrant(config, { scope: 'profile' });
  const end = client.buildEndSessionUrl(config, {
    id_token_hint: tokens.id_token,
    post_logout_redirect_uri: postLogout,
    state: 'bye',
  });
  say({
    sub: claims.sub,
    sid: claims.sid,
    username: claims.preferred_username,
    email: claims.email,
    userinfo_sub: info.sub,
    userinfo_username: info.preferred_username,
    refreshed: typeof refreshed.access_token === 'string' && refreshed.refresh_token !== tokens.refresh_token,
    replayed_same: replay.refresh_token === refreshed.refresh_token,
    after_revoke: afterRevoke,
    code_again: codeAgain,
    end_session: end.href,
    client_credentials: { scope: service.scope, refresh: service.refresh_token ?? null, id_token: service.id_token ?? null,
      token: service.access_token },
  });
} catch (e) {
  say({ error: String(e), code: e.code ?? null, cause: e.cause ? String(e.cause) : null });
}
process.exit(0);
