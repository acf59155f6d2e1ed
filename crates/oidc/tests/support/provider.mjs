// A real OpenID provider for the tests: the npm `oidc-provider` package with its
// development login pages (any password), two confidential clients (`warden`, `other`),
// accounts whose `groups` claim is in the ID token, and a fresh RS256 key whose id is
// $KEY_ID. Prints "listening <issuer>" when ready. Run by crates/oidc/tests/oidc_login.rs
// and tests/oidc_serve.rs.
//
// The accounts `tamper-signature`, `tamper-audience` and `tamper-expired` sign in like
// anyone, but the token endpoint hands Warden a defective ID token for them: the
// signature altered, or the token signed again by the provider's own key for another
// client, or already expired — what a broken or malicious provider path would send.
import Provider from 'oidc-provider';
import { decodeJwt, exportJWK, generateKeyPair, SignJWT } from 'jose';

const port = Number(process.env.PORT);
const issuer = `http://127.0.0.1:${port}`;
const redirect = process.env.REDIRECT_URI;
const { privateKey } = await generateKeyPair('RS256', { extractable: true });
const key = { ...(await exportJWK(privateKey)), kid: process.env.KEY_ID || 'k1', alg: 'RS256', use: 'sig' };

const accounts = {
  alice: { email: 'alice@example.com', groups: ['db-admins', 'staff'] },
  bob: { email: 'bob@example.com', groups: ['contractors'] },
  'tamper-signature': { groups: ['staff'] },
  'tamper-audience': { groups: ['staff'] },
  'tamper-expired': { groups: ['staff'] },
};

const resign = (claims) =>
  new SignJWT(claims).setProtectedHeader({ alg: 'RS256', kid: key.kid }).sign(privateKey);

async function tamper(idToken) {
  const claims = decodeJwt(idToken);
  switch (claims.sub) {
    case 'tamper-signature': {
      const [h, p, sig] = idToken.split('.');
      return `${h}.${p}.${sig[0] === 'A' ? 'B' : 'A'}${sig.slice(1)}`;
    }
    case 'tamper-audience':
      return resign({ ...claims, aud: 'other' });
    case 'tamper-expired': {
      const now = Math.floor(Date.now() / 1000);
      return resign({ ...claims, iat: now - 7200, exp: now - 3600 });
    }
    default:
      return idToken;
  }
}
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
provider.use(async (ctx, next) => {
  await next();
  if (ctx.path === '/token' && ctx.body && typeof ctx.body.id_token === 'string') {
    ctx.body = { ...ctx.body, id_token: await tamper(ctx.body.id_token) };
  }
});
provider.listen(port, '127.0.0.1', () => console.log(`listening ${issuer}`));
