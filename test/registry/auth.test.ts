import { afterEach, describe, expect, it } from 'vitest';
import { Authenticator, parseChallenges, repositoryScope } from '../../src/registry/auth.js';
import { RegistryClient } from '../../src/registry/client.js';
import { startReferrersServer, type ReferrersServer } from '../helpers/referrers-server.js';

describe('parseChallenges', () => {
  it('reads a Bearer challenge with quoted params, commas inside quotes and escapes', () => {
    const [c] = parseChallenges(
      'Bearer realm="https://auth.example/token",service="registry.example",scope="repository:a/b:pull,push",error="insufficient_scope"',
    );
    expect(c).toEqual({
      scheme: 'bearer',
      params: {
        realm: 'https://auth.example/token',
        service: 'registry.example',
        scope: 'repository:a/b:pull,push',
        error: 'insufficient_scope',
      },
    });
    expect(parseChallenges('Basic realm="say \\"hi\\""')[0]!.params['realm']).toBe('say "hi"');
  });

  it('splits several challenges and lowercases schemes and parameter names', () => {
    const cs = parseChallenges('Negotiate abc==, BASIC Realm=r1 , Bearer realm="x", service=s');
    expect(cs.map((c) => c.scheme)).toEqual(['negotiate', 'basic', 'bearer']);
    expect(cs[0]!.params).toEqual({});
    expect(cs[1]!.params).toEqual({ realm: 'r1' });
    expect(cs[2]!.params).toEqual({ realm: 'x', service: 's' });
  });

  it('survives junk', () => {
    expect(parseChallenges('')).toEqual([]);
    expect(parseChallenges('=,,="')).toEqual([]);
  });
});

describe('Authenticator', () => {
  const tokenResponse = (body: unknown, status = 200): Response =>
    new Response(JSON.stringify(body), { status, headers: { 'content-type': 'application/json' } });

  it('fetches a bearer token per scope set, with basic credentials, and caches it until expiry', async () => {
    const calls: { url: string; auth: string | undefined }[] = [];
    let now = 1_000_000;
    const auth = new Authenticator(
      'reg.example',
      { kind: 'basic', username: 'u', password: 'p' },
      (url, init) => {
        calls.push({
          url: url.toString(),
          auth: init.headers['authorization'],
        });
        return Promise.resolve(
          tokenResponse({ access_token: `tok${calls.length}`, expires_in: 60 }),
        );
      },
      () => now,
    );
    const scopes = [repositoryScope('a/b', ['pull'])];
    expect(await auth.authorization(scopes)).toBeUndefined(); // nothing known yet: anonymous first
    expect(auth.challenged('Bearer realm="https://auth.example/token",service="svc"', scopes)).toBe(
      true,
    );
    expect(await auth.authorization(scopes)).toBe('Bearer tok1');
    expect(await auth.authorization(scopes)).toBe('Bearer tok1');
    expect(calls).toHaveLength(1);
    expect(calls[0]!.url).toBe(
      'https://auth.example/token?service=svc&scope=repository%3Aa%2Fb%3Apull',
    );
    expect(calls[0]!.auth).toBe(`Basic ${Buffer.from('u:p').toString('base64')}`);
    expect(await auth.authorization([repositoryScope('a/b', ['pull', 'push'])])).toBe(
      'Bearer tok2',
    );
    now += 55_000; // within 10 s of expiry: renew
    expect(await auth.authorization(scopes)).toBe('Bearer tok3');
  });

  it('uses the OAuth2 refresh-token grant for an identity token', async () => {
    let body = '';
    const auth = new Authenticator(
      'reg.example',
      { kind: 'identity-token', token: 'refresh' },
      (_url, init) => {
        body = init.body as string;
        expect(init.method).toBe('POST');
        return Promise.resolve(tokenResponse({ token: 'T' }));
      },
    );
    auth.challenged('Bearer realm="https://auth.example/token",service="svc"', []);
    expect(await auth.authorization(['repository:x:pull'])).toBe('Bearer T');
    expect(new URLSearchParams(body).get('grant_type')).toBe('refresh_token');
    expect(new URLSearchParams(body).get('refresh_token')).toBe('refresh');
    expect(new URLSearchParams(body).get('scope')).toBe('repository:x:pull');
  });

  it('answers a Basic challenge only with basic credentials it has not sent yet', () => {
    const none = new Authenticator('r', undefined, () => Promise.reject(new Error('no')));
    expect(none.challenged('Basic realm="r"', [])).toBe(false);
    const withCreds = new Authenticator('r', { kind: 'basic', username: 'u', password: 'p' }, () =>
      Promise.reject(new Error('no')),
    );
    expect(withCreds.challenged('Basic realm="r"', [])).toBe(true);
    // Another request that went out before we knew: it may retry too...
    expect(withCreds.challenged('Basic realm="r"', [])).toBe(true);
    // ...but one refused with the credentials themselves may not.
    const sent = `Basic ${Buffer.from('u:p').toString('base64')}`;
    expect(withCreds.challenged('Basic realm="r"', [], sent)).toBe(false);
  });

  it('maps a refused token request to E_UNAUTHORIZED', async () => {
    const auth = new Authenticator(
      'reg.example',
      { kind: 'basic', username: 'u', password: 'bad' },
      () => Promise.resolve(tokenResponse({}, 401)),
    );
    auth.challenged('Bearer realm="https://auth.example/token"', []);
    await expect(auth.authorization([])).rejects.toMatchObject({ code: 'E_UNAUTHORIZED' });
  });
});

describe('auth against a test registry', () => {
  let server: ReferrersServer | undefined;
  afterEach(async () => {
    await server?.close();
    server = undefined;
  });

  it('runs the bearer token flow from a 401 and reuses the token', async () => {
    server = await startReferrersServer({ auth: { kind: 'bearer', username: 'u', password: 'p' } });
    const client = new RegistryClient(server.host, {
      credentials: { kind: 'basic', username: 'u', password: 'p' },
    });
    expect(await client.listTags('team/app')).toEqual([]);
    expect(await client.listTags('team/app')).toEqual([]);
    expect(server.tokenRequests).toHaveLength(1);
    expect(server.tokenRequests[0]).toContain('scope=repository%3Ateam%2Fapp%3Apull');
    expect(server.tokenRequests[0]).toContain('service=test-registry');
  });

  it('says E_UNAUTHORIZED with a hint when no credentials are given or they are wrong', async () => {
    server = await startReferrersServer({ auth: { kind: 'basic', username: 'u', password: 'p' } });
    const anonymous = new RegistryClient(server.host);
    const err: unknown = await anonymous.listTags('a').catch((e: unknown) => e);
    expect(err).toMatchObject({ code: 'E_UNAUTHORIZED' });
    expect(String((err as Error).message)).toContain('requires authentication');
    expect((err as { hint?: string }).hint).toContain('--password-stdin');
    const wrong = new RegistryClient(server.host, {
      credentials: { kind: 'basic', username: 'u', password: 'nope' },
    });
    await expect(wrong.listTags('a')).rejects.toMatchObject({ code: 'E_UNAUTHORIZED' });
    const right = new RegistryClient(server.host, {
      credentials: { kind: 'basic', username: 'u', password: 'p' },
    });
    expect(await right.listTags('a')).toEqual([]);
  });
});
