// Registry authentication: anonymous, Basic, and the Bearer token flow that a 401's
// WWW-Authenticate starts (realm/service/scope → token endpoint → cached per scope).
// See spec-notes/registry.md "Auth flow".
import { z } from 'zod';
import { RegistryError } from '../errors.js';
import type { Credentials } from './docker-config.js';
import type { RegistryResponse } from './http.js';

export interface Challenge {
  /** Lowercased scheme: `basic`, `bearer`, ... */
  scheme: string;
  params: Record<string, string>;
}

/**
 * Parse a WWW-Authenticate value (RFC 7235): one or more `Scheme k=v, k="quoted, with \"escapes\""`
 * challenges separated by commas. Parameter names are lowercased; token68 values are ignored;
 * unknown schemes are kept for the caller to skip.
 */
export function parseChallenges(header: string): Challenge[] {
  const out: Challenge[] = [];
  for (const raw of splitOutsideQuotes(header)) {
    let item = raw.trim();
    if (item === '') continue;
    if (!PARAM_START.test(item)) {
      const m = SCHEME_START.exec(item);
      if (m === null) continue;
      out.push({ scheme: m[1]!.toLowerCase(), params: {} });
      item = item.slice(m[0].length).trim();
      if (!PARAM_START.test(item)) continue; // nothing, or a token68
    }
    const current = out[out.length - 1];
    if (current === undefined) continue; // a parameter before any scheme: malformed, skip
    const eq = item.indexOf('=');
    current.params[item.slice(0, eq).trim().toLowerCase()] = unquote(item.slice(eq + 1).trim());
  }
  return out;
}

const TOKEN = "[!#$%&'*+.^_`|~0-9A-Za-z-]+";
const PARAM_START = new RegExp(`^${TOKEN}\\s*=(?!=*$)`);
const SCHEME_START = new RegExp(`^(${TOKEN})(?:\\s+|$)`);

/** Split on commas that are not inside a quoted string. */
function splitOutsideQuotes(s: string): string[] {
  const parts: string[] = [];
  let cur = '';
  let quoted = false;
  for (let i = 0; i < s.length; i++) {
    const c = s[i]!;
    if (quoted && c === '\\' && i + 1 < s.length) {
      cur += c + s[++i]!;
      continue;
    }
    if (c === '"') quoted = !quoted;
    if (c === ',' && !quoted) {
      parts.push(cur);
      cur = '';
    } else cur += c;
  }
  parts.push(cur);
  return parts;
}

function unquote(v: string): string {
  if (!v.startsWith('"')) return v;
  let out = '';
  for (let i = 1; i < v.length; i++) {
    const c = v[i]!;
    if (c === '\\' && i + 1 < v.length) out += v[++i]!;
    else if (c === '"') break;
    else out += c;
  }
  return out;
}

/** `repository:NAME:pull[,push]` — the scope grammar of the distribution token spec. */
export function repositoryScope(repository: string, actions: readonly string[]): string {
  return `repository:${repository}:${actions.join(',')}`;
}

const TokenResponseSchema = z.lazy(() =>
  z.looseObject({
    token: z.string().optional(),
    access_token: z.string().optional(),
    expires_in: z.number().optional(),
  }),
);

/** How the token endpoint is asked (a GET with Basic credentials, or the OAuth2 form POST). */
export interface TokenRequest {
  method: 'GET' | 'POST';
  headers: Record<string, string>;
  body?: string | undefined;
}

/** Asks the token endpoint (the transport's own requests; tests answer in-process). */
export type TokenFetch = (url: URL, init: TokenRequest) => Promise<RegistryResponse>;

interface CachedToken {
  header: string;
  expiresAt: number;
}

/** Tokens live 60 s unless the server says otherwise (token spec); renew 10 s early. */
const DEFAULT_TOKEN_LIFETIME_S = 60;
const RENEW_EARLY_MS = 10_000;

/**
 * Per-registry auth state. The transport asks `authorization()` before each request; on a 401 it
 * calls `challenged()` with the WWW-Authenticate header and retries once when that returns true.
 */
export class Authenticator {
  private scheme: 'none' | 'basic' | 'bearer' = 'none';
  private bearer: Record<string, string> = {};
  private readonly tokens = new Map<string, CachedToken>();

  constructor(
    readonly registry: string,
    private readonly credentials: Credentials | undefined,
    private readonly fetchToken: TokenFetch,
    private readonly now: () => number = Date.now,
  ) {}

  get hasCredentials(): boolean {
    return this.credentials !== undefined;
  }

  /** The Authorization header for a request needing `scopes`, if we know one is needed. */
  async authorization(scopes: readonly string[]): Promise<string | undefined> {
    if (this.scheme === 'basic') return this.basicHeader();
    if (this.scheme !== 'bearer') return undefined;
    const key = [...new Set(scopes)].sort().join(' ');
    const cached = this.tokens.get(key);
    if (cached !== undefined && cached.expiresAt - RENEW_EARLY_MS > this.now())
      return cached.header;
    const fresh = await this.requestToken([...new Set(scopes)].sort());
    this.tokens.set(key, fresh);
    return fresh.header;
  }

  /**
   * Learn from a 401 to a request that carried `sent` as its Authorization (or none). Returns true
   * when a retry can do better: a Basic challenge with basic credentials the request did not carry
   * yet, or a Bearer challenge (anonymous tokens exist; a refused token is dropped from the cache).
   * Requests run concurrently, so the answer depends on what THIS request sent, not on what the
   * authenticator learnt from another one meanwhile. `scopes` gains the challenge's own `scope`.
   */
  challenged(header: string | null, scopes: string[], sent?: string): boolean {
    const challenges = parseChallenges(header ?? '');
    const bearer = challenges.find((c) => c.scheme === 'bearer');
    if (bearer !== undefined && bearer.params['realm'] !== undefined) {
      this.scheme = 'bearer';
      this.bearer = bearer.params;
      const wanted = bearer.params['scope'];
      if (wanted !== undefined) for (const s of wanted.split(' ')) if (s !== '') scopes.push(s);
      if (sent !== undefined) {
        for (const [key, t] of this.tokens) if (t.header === sent) this.tokens.delete(key);
      }
      return true;
    }
    if (challenges.some((c) => c.scheme === 'basic')) {
      const basic = this.basicHeader();
      if (basic === undefined || sent === basic) return false;
      this.scheme = 'basic';
      return true;
    }
    return false;
  }

  private basicHeader(): string | undefined {
    if (this.credentials?.kind !== 'basic') return undefined;
    const { username, password } = this.credentials;
    return `Basic ${Buffer.from(`${username}:${password}`).toString('base64')}`;
  }

  private async requestToken(scopes: string[]): Promise<CachedToken> {
    const realm = this.bearer['realm']!;
    let url: URL;
    try {
      url = new URL(realm);
    } catch {
      throw new RegistryError('E_REGISTRY', `${this.registry}: invalid token realm ${realm}`, {
        registry: this.registry,
      });
    }
    const service = this.bearer['service'];
    let init: TokenRequest;
    if (this.credentials?.kind === 'identity-token') {
      // OAuth2 refresh-token grant (distribution token spec, "oauth.md").
      const form = new URLSearchParams({
        grant_type: 'refresh_token',
        refresh_token: this.credentials.token,
        client_id: 'ocilayout',
      });
      if (service !== undefined) form.set('service', service);
      if (scopes.length > 0) form.set('scope', scopes.join(' '));
      init = {
        method: 'POST',
        headers: { 'content-type': 'application/x-www-form-urlencoded' },
        body: form.toString(),
      };
    } else {
      if (service !== undefined) url.searchParams.set('service', service);
      for (const s of scopes) url.searchParams.append('scope', s);
      const basic = this.basicHeader();
      init = { method: 'GET', headers: basic === undefined ? {} : { authorization: basic } };
    }
    const res = await this.fetchToken(url, init);
    if (res.status === 401 || res.status === 403) {
      await res.body?.cancel();
      throw new RegistryError(
        'E_UNAUTHORIZED',
        `${this.registry}: the token service ${url.origin} refused ${this.credentials === undefined ? 'anonymous access' : 'the credentials'} (HTTP ${res.status})`,
        { registry: this.registry, status: res.status, scopes },
        { hint: credentialsHint(this.registry) },
      );
    }
    if (!res.ok) {
      await res.body?.cancel();
      throw new RegistryError(
        'E_REGISTRY',
        `${this.registry}: token service ${url.origin} answered HTTP ${res.status}`,
        { registry: this.registry, status: res.status },
      );
    }
    const parsed = TokenResponseSchema.safeParse(await res.json().catch(() => undefined));
    const token = parsed.success ? (parsed.data.token ?? parsed.data.access_token) : undefined;
    if (token === undefined || token === '') {
      throw new RegistryError(
        'E_REGISTRY',
        `${this.registry}: token service ${url.origin} returned no token`,
        { registry: this.registry },
      );
    }
    const lifetime = parsed.success ? (parsed.data.expires_in ?? DEFAULT_TOKEN_LIFETIME_S) : 0;
    return { header: `Bearer ${token}`, expiresAt: this.now() + lifetime * 1000 };
  }
}

export function credentialsHint(registry: string): string {
  return `pass --username USER --password-stdin, or run \`docker login ${registry}\` (credentials are read from ~/.docker/config.json or $DOCKER_CONFIG)`;
}
