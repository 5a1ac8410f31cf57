// One registry host over node:http(s) (http.ts): scheme policy, auth, retries, and the mapping of
// HTTP failures to typed errors. Everything above speaks in requests and expected statuses.
import { isOcilayoutError, OcilayoutError, RegistryError } from '../errors.js';
import { Authenticator, credentialsHint, type TokenRequest } from './auth.js';
import type { Credentials } from './docker-config.js';
import { apiHost } from './reference.js';
import { bodyChunks, send, type RegistryResponse, type RequestBody } from './http.js';
import {
  DEFAULT_RETRY_POLICY,
  IDLE_TIMEOUT_MS,
  isRetryableNetworkCode,
  isRetryableStatus,
  networkErrorCode,
  parseRetryAfter,
  withRetry,
  type AttemptOutcome,
  type RetryPolicy,
} from './retry.js';
import { isNotTlsError, schemePolicy, type SchemePolicy } from './tls-policy.js';

export interface TransportOptions {
  /** Hosts given with --plain-http (see tls-policy.ts). */
  plainHttp?: readonly string[] | undefined;
  credentials?: Credentials | undefined;
  /** Where the credentials came from, for messages ("~/.docker/config.json", "--username"). */
  credentialsSource?: string | undefined;
  retry?: RetryPolicy | undefined;
  userAgent?: string | undefined;
  onRetry?: ((info: RetryInfo) => void) | undefined;
}

export interface RetryInfo {
  registry: string;
  what: string;
  /** This retry's number (1 = the first retry). */
  attempt: number;
  /** Attempts the policy allows in all (the first one included). */
  attempts?: number | undefined;
  delayMs: number;
  /** The failure: a network code (`ECONNREFUSED`) when there is one, else the error's message. */
  reason: string;
}

export type Method = 'GET' | 'HEAD' | 'PUT' | 'POST' | 'PATCH' | 'DELETE';

export interface RegistryRequest {
  method: Method;
  /** `/v2/...` against the registry, or an absolute/relative URL a server gave us (Location). */
  path: string;
  headers?: Record<string, string> | undefined;
  /**
   * A fresh body per attempt (a stream can be sent once); absent for bodiless requests. An async
   * iterable (a blob) is streamed with backpressure (http.ts).
   */
  body?: (() => RequestBody) | undefined;
  /** Auth scopes the request needs (`repository:NAME:pull`). */
  scopes: string[];
  /** Statuses handed back to the caller; anything else is an error (or retried). */
  expect: readonly number[];
  /** Retry transient failures (default true). Off for steps a caller must restart as a whole. */
  retry?: boolean | undefined;
  /** For messages: "manifest library/alpine:3", "blob sha256:ab… in library/alpine". */
  what: string;
}

const USER_AGENT = 'ocilayout';

/** Why an attempt failed, for RetryInfo: the network code when there is one. */
function retryReason(error: unknown): string {
  if (error instanceof OcilayoutError) return error.message;
  return networkErrorCode(error) ?? (error instanceof Error ? error.message : String(error));
}
const ERROR_BODY_LIMIT = 64 * 1024;

export class RegistryTransport {
  readonly auth: Authenticator;
  private scheme: SchemePolicy;
  /** Settles when the request finding out whether a loopback registry speaks TLS has its answer. */
  private schemeProbe: Promise<void> | undefined;
  private readonly policy: RetryPolicy;

  constructor(
    readonly registry: string,
    private readonly options: TransportOptions = {},
  ) {
    this.scheme = schemePolicy(registry, options.plainHttp);
    this.policy = options.retry ?? DEFAULT_RETRY_POLICY;
    this.auth = new Authenticator(registry, options.credentials, (url, init) =>
      this.tokenFetch(url, init),
    );
  }

  /** The base URL of the registry's API for the scheme currently in use. */
  get origin(): string {
    return `${this.scheme === 'http' ? 'http' : 'https'}://${apiHost(this.registry)}`;
  }

  resolve(path: string): URL {
    return new URL(path, this.origin);
  }

  get retryPolicy(): RetryPolicy {
    return this.policy;
  }

  /** Tell the caller's onRetry about a retry decided above the transport (an upload restart). */
  reportRetry(info: Omit<RetryInfo, 'registry'>): void {
    this.options.onRetry?.({ registry: this.registry, attempts: this.policy.attempts, ...info });
  }

  /**
   * Send `req`; retry transient failures per the policy; answer one 401 by authenticating.
   * Returns the response when its status is in `req.expect` (the caller owns its body).
   * Throws E_UNAUTHORIZED, E_REGISTRY (unexpected status), E_NETWORK (unreachable).
   */
  request(req: RegistryRequest): Promise<RegistryResponse> {
    return this.exchange(req, (res) => Promise.resolve(res));
  }

  /**
   * `request`, then `consume` the response inside the same retry loop: a connection dropped while
   * the body is read is retried like one dropped before the headers (whole small bodies only).
   */
  async exchange<T>(
    req: RegistryRequest,
    consume: (res: RegistryResponse) => Promise<T>,
  ): Promise<T> {
    const scopes = [...req.scopes];
    let authRetried = false;
    const attempt = async (): Promise<AttemptOutcome<T>> => {
      for (;;) {
        let res: RegistryResponse;
        // Concurrent first requests to a loopback registry would each try TLS (a handshake and a
        // connection apiece): one tries, the others wait for what it learns.
        while (this.schemeProbe !== undefined) await this.schemeProbe;
        // Judge the probe by the scheme this request was sent with.
        const probing = this.scheme === 'https-then-http';
        let probed: (() => void) | undefined;
        if (probing) this.schemeProbe = new Promise<void>((r) => (probed = r));
        let sentAuthorization: string | undefined;
        try {
          sentAuthorization = await this.auth.authorization(scopes);
          res = await this.send(req, sentAuthorization);
        } catch (err) {
          const code = networkErrorCode(err);
          if (probing && isNotTlsError(code)) {
            this.scheme = 'http'; // loopback registry without TLS: speak HTTP from now on
            continue;
          }
          if (isOcilayoutError(err)) throw err; // the token service's answer, already typed
          if (req.retry !== false && isRetryableNetworkCode(code))
            return { done: false, error: err };
          throw this.networkError(err, req);
        } finally {
          if (probed !== undefined) {
            this.schemeProbe = undefined;
            probed();
          }
        }
        if (probing && this.scheme === 'https-then-http') this.scheme = 'https';
        if (res.status === 401 && !authRetried) {
          authRetried = true;
          const retry = this.auth.challenged(
            res.headers.get('www-authenticate'),
            scopes,
            sentAuthorization,
          );
          await res.body?.cancel();
          if (retry) continue;
          throw this.unauthorized(req, 401);
        }
        if (res.status === 401 || res.status === 403) {
          await res.body?.cancel();
          throw this.unauthorized(req, res.status);
        }
        if (req.expect.includes(res.status)) {
          try {
            return { done: true, value: await consume(res) };
          } catch (err) {
            if (err instanceof OcilayoutError) throw err;
            const code = networkErrorCode(err);
            if (req.retry !== false && isRetryableNetworkCode(code))
              return { done: false, error: err };
            throw this.networkError(err, req);
          }
        }
        if (req.retry !== false && isRetryableStatus(res.status)) {
          const retryAfterMs = parseRetryAfter(res.headers.get('retry-after'));
          const error = await this.statusError(res, req);
          error.details['attempts'] = this.policy.attempts; // if this is the last one, it is spent
          return { done: false, error, retryAfterMs };
        }
        throw await this.statusError(res, req);
      }
    };
    try {
      return await withRetry(this.policy, attempt, ({ attempt: n, delayMs, error }) =>
        this.options.onRetry?.({
          registry: this.registry,
          what: req.what,
          attempt: n,
          attempts: this.policy.attempts,
          delayMs,
          reason: retryReason(error),
        }),
      );
    } catch (err) {
      if (err instanceof OcilayoutError) throw err;
      throw this.networkError(err, req, this.policy.attempts);
    }
  }

  private send(req: RegistryRequest, authorization: string | undefined): Promise<RegistryResponse> {
    const headers: Record<string, string> = {
      'user-agent': this.options.userAgent ?? USER_AGENT,
      ...req.headers,
    };
    if (authorization !== undefined) headers['authorization'] = authorization;
    return send(this.resolve(req.path), {
      method: req.method,
      headers,
      body: req.body?.(),
      idleMs: this.idleMs,
    });
  }

  private get idleMs(): number {
    return this.policy.idleTimeoutMs ?? IDLE_TIMEOUT_MS;
  }

  private async tokenFetch(url: URL, init: TokenRequest): Promise<RegistryResponse> {
    const res = await withRetry(
      this.policy,
      async (): Promise<AttemptOutcome<RegistryResponse>> => {
        try {
          const r = await send(url, {
            method: init.method,
            headers: { 'user-agent': USER_AGENT, ...init.headers },
            body: init.body,
            idleMs: this.idleMs,
          });
          if (isRetryableStatus(r.status)) {
            await r.body?.cancel();
            return { done: false, error: new Error(`token service answered HTTP ${r.status}`) };
          }
          return { done: true, value: r };
        } catch (err) {
          if (isRetryableNetworkCode(networkErrorCode(err))) return { done: false, error: err };
          throw err;
        }
      },
    ).catch((err: unknown) => {
      throw this.networkError(err, { what: `token from ${url.origin}` }, this.policy.attempts);
    });
    return res;
  }

  private unauthorized(req: RegistryRequest, status: number): RegistryError {
    const who = this.options.credentialsSource ?? 'the credentials';
    const message =
      status === 403
        ? `${this.registry} denied access to ${req.what} (HTTP 403)`
        : this.auth.hasCredentials
          ? `${this.registry} rejected ${who} for ${req.what} (HTTP 401)`
          : `${this.registry} requires authentication for ${req.what} (HTTP 401) and no credentials were found`;
    return new RegistryError(
      'E_UNAUTHORIZED',
      message,
      { registry: this.registry, status, what: req.what },
      {
        hint:
          status === 403
            ? 'check that the account may read (pull) or write (push) this repository'
            : credentialsHint(this.registry),
      },
    );
  }

  /** E_NETWORK for a transport failure; typed errors (integrity, auth, registry) pass through. */
  networkError(err: unknown, req: { what: string }, attempts?: number): OcilayoutError {
    if (isOcilayoutError(err)) return err;
    // A request body that failed verification (a corrupt source blob) may come wrapped.
    const cause = (err as { cause?: unknown } | undefined)?.cause;
    if (isOcilayoutError(cause)) return cause;
    const code = networkErrorCode(err);
    // A TLS failure's code alone (DEPTH_ZERO_SELF_SIGNED_CERT) is cryptic: say it in words too,
    // from the socket's error (a wrapper's cause, or the error itself).
    const told =
      cause instanceof Error
        ? cause
        : err instanceof Error && (err as { code?: unknown }).code !== undefined
          ? err
          : undefined;
    const said = told !== undefined && told.message !== '' ? told.message : undefined;
    const reason =
      code === undefined
        ? (said ?? String(err))
        : said !== undefined && said !== code && !said.includes(code)
          ? `${said} (${code})`
          : code;
    const tries = attempts !== undefined && attempts > 1 ? ` after ${attempts} attempts` : '';
    const tlsHint =
      code !== undefined && /CERT|SSL|TLS|SELF_SIGNED/.test(code)
        ? 'TLS failed: trust the registry CA with NODE_EXTRA_CA_CERTS=ca.pem, or use --plain-http HOST for a registry without TLS'
        : undefined;
    return new RegistryError(
      'E_NETWORK',
      `cannot reach registry ${this.registry} (${this.origin}) for ${req.what}: ${reason}${tries}`,
      { registry: this.registry, code, what: req.what, attempts: attempts ?? 1 },
      {
        cause: err,
        hint: tlsHint ?? `check that ${this.registry} is up and reachable from here`,
      },
    );
  }

  /** A RegistryError for an unexpected status, with the registry's error codes when it sent some. */
  async statusError(res: RegistryResponse, req: { what: string }): Promise<RegistryError> {
    const detail = await readErrorBody(res);
    return new RegistryError(
      'E_REGISTRY',
      `${this.registry} answered HTTP ${res.status} for ${req.what}${detail.text === '' ? '' : `: ${detail.text}`}`,
      { registry: this.registry, status: res.status, what: req.what, errors: detail.codes },
    );
  }
}

/** `{"errors":[{"code","message"}]}` (distribution-spec error body) → "CODE: message; ...". */
async function readErrorBody(res: RegistryResponse): Promise<{ text: string; codes: string[] }> {
  let raw = '';
  try {
    const dec = new TextDecoder();
    for await (const value of bodyChunks(res)) {
      raw += dec.decode(value, { stream: true });
      if (raw.length > ERROR_BODY_LIMIT) break;
    }
  } catch {
    /* a body we cannot read adds nothing to the message */
  }
  try {
    const json = JSON.parse(raw) as { errors?: { code?: unknown; message?: unknown }[] };
    if (Array.isArray(json.errors)) {
      const codes = json.errors.map((e) => (typeof e.code === 'string' ? e.code : 'UNKNOWN'));
      const text = json.errors
        .map((e, i) => `${codes[i]}: ${typeof e.message === 'string' ? e.message : ''}`)
        .join('; ');
      return { text, codes };
    }
  } catch {
    /* not JSON */
  }
  return { text: raw.trim().slice(0, 200), codes: [] };
}

export { bodyChunks, type RegistryResponse, type ResponseHeaders } from './http.js';
