// A real OpenID Connect provider (the npm package oidc-provider) on loopback, for the OAuth2
// tests. Usage: node provider.mjs PORT CLIENT_ID CLIENT_SECRET REDIRECT_URI
// Any login name with any password signs in as that account (oidc-provider's development
// interactions); the account's email is NAME@example.test, verified.
import Provider from 'oidc-provider';

const [port, clientId, clientSecret, redirectUri] = process.argv.slice(2);
const issuer = `http://127.0.0.1:${port}`;

const provider = new Provider(issuer, {
  clients: [{
    client_id: clientId,
    client_secret: clientSecret,
    redirect_uris: [redirectUri],
    grant_types: ['authorization_code'],
    response_types: ['code'],
    token_endpoint_auth_method: 'client_secret_basic',
  }],
  claims: {
    openid: ['sub'],
    email: ['email', 'email_verified'],
    profile: ['name', 'preferred_username', 'picture'],
  },
  async findAccount(ctx, id) {
    return {
      accountId: id,
      async claims() {
        return {
          sub: id,
          email: `${id}@example.test`,
          email_verified: true,
          name: `User ${id}`,
          preferred_username: id,
          picture: `https://avatars.example.test/${id}.png`,
        };
      },
    };
  },
  pkce: { required: () => true },
  features: { devInteractions: { enabled: true } },
  cookies: { keys: ['portcullis-test-cookie-key'] },
});

provider.listen(Number(port), '127.0.0.1', () => {
  console.log(`oidc-provider ready at ${issuer}`);
});
