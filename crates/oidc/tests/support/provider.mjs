// A real OpenID provider for the tests: the npm `oidc-provider` package with its
// development login pages (any password), two confidential clients (`warden`, `other`),
// accounts whose `groups` claim is in the ID token, and a fresh RS256 key whose id is
// $KEY_ID. Prints "listening <issuer>" when ready. Run by crates/oidc/tests/oidc_login.rs.
import Provider from 'oidc-provider';
import { exportJWK, generateKeyPair } from 'jose';

const port = Number(process.env.PORT);
const issuer = `http://127.0.0.1:${port}`;
const redirect = process.env.REDIRECT_URI;
const { privateKey } = await generateKeyPair('RS256', { extractable: true });
const key = { ...(await exportJWK(privateKey)), kid: process.env.KEY_ID || 'k1', alg: 'RS256', use: 'sig' };

const accounts = {
  alice: { email: 'alice@example.com', groups: ['db-admins', 'staff'] },
  bob: { email: 'bob@example.com', groups: ['contractors'] },
};
const client = (id) => ({
  client_id: id,
  client_secret: `${id}-secret`,
  redirect_uris: [redirect],
  grant_types: ['authorization_code'],
  response_types: ['code'],
});

const provider = new Provider(issuer, {
  clients: [client('warden'), client('other')],
  jwks: { keys: [key] },
  scopes: ['openid', 'email', 'profile', 'groups'],
  claims: { openid: ['sub'], email: ['email'], profile: ['preferred_username'], groups: ['groups'] },
  // Put the requested claims (groups) in the ID token itself.
  conformIdTokenClaims: false,
  pkce: { required: () => true },
  cookies: { keys: ['warden-oidc-test'] },
  findAccount: async (ctx, id) => ({
    accountId: id,
    claims: async () => ({ sub: id, preferred_username: id, ...(accounts[id] || {}) }),
  }),
});
provider.listen(port, '127.0.0.1', () => console.log(`listening ${issuer}`));
