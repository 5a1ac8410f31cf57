// Who may read and write which repository: HTTP basic authentication against an htpasswd file
// (bcrypt entries, as `htpasswd -B` writes them) and per-repository rules from a small YAML file.
// The shape of the rules is ours (see spec-notes/serve.md): an ordered list, the first rule whose
// pattern matches a repository decides, `anonymous` is a client without credentials (and what it
// may, any user may) and `*` any user who authenticated.
//
// bcrypt is slow on purpose (figures: spec-notes/serve.md), and a client sends
// hundreds of requests for one push, each with the same Authorization header. A check that passed
// is therefore remembered for a while, keyed by an HMAC (with a key made at start) of the user and
// password, so the cache holds no password; failed checks are never remembered. Bounds: entries
// live CACHE_TTL_MS, at most CACHE_MAX of them (the oldest go first), costs above MAX_COST are
// refused when the file is read, and at most MAX_CONCURRENT_CHECKS checks run at once with
// MAX_QUEUED_CHECKS waiting (more are 503 TOOMANYREQUESTS), so bad passwords cannot take every core.
import { createHmac, randomBytes } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import bcrypt from 'bcryptjs';
import { parse as parseYaml } from 'yaml';
import { UsageError } from '../errors.js';
import { RegistryHttpError } from './http-errors.js';
import { isValidRepositoryName } from './names.js';

/** A bcrypt cost above this is refused at start: each uncached check would take too long. */
export const MAX_COST = 12;
const CACHE_TTL_MS = 5 * 60_000;
const CACHE_MAX = 1024;
const MAX_CONCURRENT_CHECKS = 2;
const MAX_QUEUED_CHECKS = 32;

export const ANONYMOUS = 'anonymous';
/** In a rule: any user who authenticated. */
export const ANY_USER = '*';

export type Right = 'read' | 'write';

/** The client of one request: a user who authenticated, or anonymous (undefined). */
export interface Principal {
  user: string | undefined;
}

/** `user:$2y$…` lines → user → bcrypt hash. Throws E_USAGE naming the line. */
export function parseHtpasswd(text: string, file: string): Map<string, string> {
  const users = new Map<string, string>();
  for (const [i, raw] of text.split('\n').entries()) {
    const line = raw.replace(/\r$/, '');
    if (line.trim() === '' || line.trimStart().startsWith('#')) continue;
    const colon = line.indexOf(':');
    const user = colon < 0 ? '' : line.slice(0, colon);
    const hash = colon < 0 ? '' : line.slice(colon + 1).trim();
    const where = { file, line: i + 1 };
    if (user === '' || user === ANONYMOUS || user === ANY_USER) {
      throw new UsageError(
        'E_USAGE',
        `${file}:${i + 1}: expected user:hash with a user name`,
        where,
        { hint: `${ANONYMOUS} and ${ANY_USER} are reserved for the access rules` },
      );
    }
    // Only bcrypt: htpasswd's other formats (MD5-crypt, SHA-1, crypt) are too fast to guess at.
    const m = /^\$2[aby]\$(\d\d)\$[./A-Za-z0-9]{53}$/.exec(hash);
    if (m === null) {
      throw new UsageError(
        'E_USAGE',
        `${file}:${i + 1}: user ${JSON.stringify(user)} has no bcrypt hash`,
        where,
        { hint: 'make entries with htpasswd -B (bcrypt); other formats are not accepted' },
      );
    }
    const cost = Number(m[1]);
    if (cost < 4 || cost > MAX_COST) {
      throw new UsageError(
        'E_USAGE',
        `${file}:${i + 1}: bcrypt cost ${cost} for ${JSON.stringify(user)} is outside 4 to ${MAX_COST}`,
        { ...where, cost },
        { hint: `htpasswd -B -C ${Math.min(Math.max(cost, 4), MAX_COST)} …` },
      );
    }
    if (users.has(user)) {
      throw new UsageError(
        'E_USAGE',
        `${file}:${i + 1}: user ${JSON.stringify(user)} twice`,
        where,
      );
    }
    users.set(user, hash);
  }
  return users;
}

export interface AccessRule {
  /** The patterns as written (`team/*`, `**`). */
  repositories: string[];
  read: string[];
  write: string[];
}

const RULE_KEYS = new Set(['repositories', 'read', 'write']);

/**
 * The access file: `rules:`, a list of `{repositories: [patterns], read: [users], write: [users]}`.
 * Throws E_USAGE for anything else (an unknown key is a typo that would silently deny or allow).
 */
export function parseAccessRules(text: string, file: string): AccessRule[] {
  const bad = (message: string, details: Record<string, unknown> = {}): never => {
    throw new UsageError(
      'E_USAGE',
      `${file}: ${message}`,
      { file, ...details },
      {
        hint: 'expected rules: [{repositories: ["team/**"], read: [anonymous, "*"], write: [alice]}]',
      },
    );
  };
  let doc: unknown;
  try {
    doc = parseYaml(text);
  } catch (err) {
    return bad(`not YAML: ${(err as Error).message}`);
  }
  if (typeof doc !== 'object' || doc === null || Array.isArray(doc)) return bad('not a mapping');
  const extra = Object.keys(doc).filter((k) => k !== 'rules');
  if (extra.length > 0) bad(`unknown key ${JSON.stringify(extra[0])}`);
  const rules = (doc as { rules?: unknown }).rules;
  if (!Array.isArray(rules)) return bad('`rules` must be a list');
  const strings = (v: unknown, what: string, i: number): string[] => {
    if (v === undefined || v === null) return [];
    if (!Array.isArray(v) || !v.every((s): s is string => typeof s === 'string')) {
      return bad(`rule ${i + 1}: ${what} must be a list of strings`);
    }
    return v;
  };
  return rules.map((r: unknown, i): AccessRule => {
    if (typeof r !== 'object' || r === null || Array.isArray(r)) {
      return bad(`rule ${i + 1} is not a mapping`);
    }
    const unknown = Object.keys(r).find((k) => !RULE_KEYS.has(k));
    if (unknown !== undefined) bad(`rule ${i + 1}: unknown key ${JSON.stringify(unknown)}`);
    const rule = r as Record<string, unknown>;
    const repositories = strings(rule['repositories'], 'repositories', i);
    if (repositories.length === 0) bad(`rule ${i + 1}: no repositories`);
    for (const p of repositories)
      patternRegExp(p, () => bad(`rule ${i + 1}: bad pattern ${JSON.stringify(p)}`));
    return {
      repositories,
      read: strings(rule['read'], 'read', i),
      write: strings(rule['write'], 'write', i),
    };
  });
}

/**
 * A repository pattern: name components, where `*` in a component matches within it and a `**`
 * component matches any number of components (`team/**` is team's repositories at any depth,
 * `**` every repository).
 */
function patternRegExp(pattern: string, bad: () => never): RegExp {
  if (pattern === '**') return /^.+$/;
  const parts = pattern.split('/');
  const out: string[] = [];
  for (const [i, part] of parts.entries()) {
    if (part === '**') {
      // Zero or more components: `a/**` matches a/b and a/b/c (a itself too).
      out.push(i === 0 ? '(?:[^/]+/)*' : '(?:/[^/]+)*');
      continue;
    }
    const probe = part.replaceAll('*', 'x');
    if (!isValidRepositoryName(probe) || probe.includes('/')) bad();
    const body = part
      .split('*')
      .map((s) => s.replace(/[.+?^${}()|[\]\\-]/g, '\\$&'))
      .join('[^/]*');
    // A leading `**` brings its own `/`; every other component after the first needs one.
    out.push(i === 0 || (i === 1 && parts[0] === '**') ? body : `/${body}`);
  }
  return new RegExp(`^${out.join('')}$`);
}

export interface AccessControlOptions {
  /** user → bcrypt hash; without it every client is anonymous. */
  users?: Map<string, string> | undefined;
  /** Without them: every authenticated user reads and writes everything, anonymous nothing. */
  rules?: AccessRule[] | undefined;
  realm?: string | undefined;
}

interface CompiledRule {
  patterns: RegExp[];
  read: Set<string>;
  write: Set<string>;
}

export class AccessControl {
  private readonly users: Map<string, string>;
  private readonly rules: CompiledRule[];
  private readonly realm: string;
  /** HMAC(user, password) → when it stops being trusted. Insertion order is age order. */
  private readonly verified = new Map<string, number>();
  private readonly cacheKey = randomBytes(32);
  /** A hash to check unknown users against, so their answer takes as long as a known one's. */
  private readonly decoy: string;
  private running = 0;
  private readonly waiting: (() => void)[] = [];

  constructor(options: AccessControlOptions) {
    this.users = options.users ?? new Map<string, string>();
    this.realm = options.realm ?? 'ocilayout';
    const rules = options.rules ?? [{ repositories: ['**'], read: [ANY_USER], write: [ANY_USER] }];
    for (const r of rules) {
      for (const who of [...r.read, ...r.write]) {
        if (who !== ANONYMOUS && who !== ANY_USER && !this.users.has(who)) {
          throw new UsageError(
            'E_USAGE',
            `access rules name user ${JSON.stringify(who)}, who is not in the htpasswd file`,
            { user: who },
            {
              hint: `${ANONYMOUS}: clients without credentials; "${ANY_USER}": any user who logged in`,
            },
          );
        }
      }
    }
    this.rules = rules.map((r) => ({
      patterns: r.repositories.map((p) =>
        patternRegExp(p, () => {
          throw new UsageError('E_USAGE', `bad repository pattern ${JSON.stringify(p)}`);
        }),
      ),
      read: new Set(r.read),
      write: new Set(r.write),
    }));
    const costs = [...this.users.values()].map((h) => bcrypt.getRounds(h));
    this.decoy = bcrypt.hashSync(randomBytes(16).toString('hex'), Math.max(4, ...costs));
  }

  /** Whether clients can log in at all (then a refusal of anonymous is a 401 challenge). */
  get authenticates(): boolean {
    return this.users.size > 0;
  }

  /** Whether some rule lets anonymous clients write. */
  get anonymousWrites(): boolean {
    return this.rules.some((r) => r.write.has(ANONYMOUS));
  }

  /**
   * The request's client. Throws 401 UNAUTHORIZED for credentials that do not check out (or are
   * not Basic), 503 when too many checks wait. An empty user and password (what some clients send
   * when they have no credentials for a Basic challenge) is anonymous.
   */
  async authenticate(req: IncomingMessage): Promise<Principal> {
    const header = req.headers.authorization;
    if (header === undefined) return { user: undefined };
    const m = /^Basic\s+([A-Za-z0-9+/=]*)\s*$/i.exec(header);
    const decoded = m === null ? undefined : Buffer.from(m[1]!, 'base64').toString('utf8');
    const colon = decoded === undefined ? -1 : decoded.indexOf(':');
    if (decoded === undefined || colon < 0) throw this.unauthorized('malformed credentials');
    const user = decoded.slice(0, colon);
    const password = decoded.slice(colon + 1);
    if (user === '' && password === '') return { user: undefined };
    if (!(await this.check(user, password))) throw this.unauthorized('invalid credentials');
    return { user };
  }

  /** Whether `who` may use `right` on repository `name` (write includes read). */
  can(who: Principal, name: string, right: Right): boolean {
    const rule = this.rules.find((r) => r.patterns.some((p) => p.test(name)));
    if (rule === undefined) return false;
    // What anonymous clients may, users who logged in may too: clients that have credentials
    // send them on every request, and a login must not lose access.
    const holds = (set: Set<string>): boolean =>
      set.has(ANONYMOUS) || (who.user !== undefined && (set.has(who.user) || set.has(ANY_USER)));
    return holds(rule.write) || (right === 'read' && holds(rule.read));
  }

  /** Throws 401 (anonymous, when logging in could help) or 403 DENIED unless `can`. */
  require(who: Principal, name: string, right: Right): void {
    if (this.can(who, name, right)) return;
    if (who.user === undefined && this.authenticates) {
      throw this.unauthorized('authentication required', { name });
    }
    throw new RegistryHttpError(403, 'DENIED', `no ${right} access to this repository`, { name });
  }

  /** GET /v2/: a login server tells anonymous clients to authenticate, so they learn the scheme. */
  requireLoginProbe(who: Principal): void {
    if (who.user === undefined && this.authenticates) {
      throw this.unauthorized('authentication required');
    }
  }

  unauthorized(message: string, detail: Record<string, unknown> = {}): RegistryHttpError {
    return new RegistryHttpError(401, 'UNAUTHORIZED', message, detail, undefined, {
      'WWW-Authenticate': `Basic realm="${this.realm}", charset="UTF-8"`,
    });
  }

  private async check(user: string, password: string): Promise<boolean> {
    const key = createHmac('sha256', this.cacheKey)
      .update(user)
      .update('\0')
      .update(password)
      .digest('base64');
    const now = Date.now();
    const until = this.verified.get(key);
    if (until !== undefined && until > now) return true;
    if (until !== undefined) this.verified.delete(key);
    const hash = this.users.get(user);
    await this.slot();
    let ok: boolean;
    try {
      // bcrypt.compare compares in constant time; an unknown user is checked against the decoy.
      ok = (await bcrypt.compare(password, hash ?? this.decoy)) && hash !== undefined;
    } finally {
      // The slot passes straight to the next waiter (so a newcomer cannot take it in between).
      const next = this.waiting.shift();
      if (next === undefined) this.running--;
      else next();
    }
    if (ok) {
      if (this.verified.size >= CACHE_MAX) {
        for (const [k, t] of this.verified) {
          if (this.verified.size < CACHE_MAX && t > now) break;
          this.verified.delete(k);
        }
      }
      this.verified.set(key, now + CACHE_TTL_MS);
    }
    return ok;
  }

  private async slot(): Promise<void> {
    if (this.running < MAX_CONCURRENT_CHECKS) {
      this.running++;
      return;
    }
    if (this.waiting.length >= MAX_QUEUED_CHECKS) {
      throw new RegistryHttpError(
        503,
        'TOOMANYREQUESTS',
        'too many logins at once, retry',
        {},
        undefined,
        {
          'Retry-After': '1',
        },
      );
    }
    await new Promise<void>((resolve) => this.waiting.push(resolve));
  }
}
