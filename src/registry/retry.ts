// Retry policy for registry requests: bounded attempts, exponential backoff with full jitter,
// Retry-After honoured (capped). Which failures are worth retrying lives here too, in one place.
// See spec-notes/registry.md "Retries".

export interface RetryPolicy {
  /** Total attempts including the first (1 = no retry). */
  attempts: number;
  /** Backoff before retry n (n = 1, 2, ...) is random in [0, min(maxDelayMs, baseDelayMs * 2^(n-1))]. */
  baseDelayMs: number;
  maxDelayMs: number;
  /** A server's Retry-After longer than this is cut to it (a stuck server must not hang us for hours). */
  maxRetryAfterMs: number;
  /**
   * A request whose connection carries nothing for this long (no headers, no body bytes) is
   * dropped as ETIMEDOUT and retried (default IDLE_TIMEOUT_MS, the limit fetch has).
   */
  idleTimeoutMs?: number | undefined;
  /** Injected for tests. */
  random?: () => number;
  sleep?: (ms: number) => Promise<void>;
}

/** fetch (undici) gives up on a silent connection after five minutes: every request does the same. */
export const IDLE_TIMEOUT_MS = 300_000;

export const DEFAULT_RETRY_POLICY: RetryPolicy = {
  attempts: 5,
  baseDelayMs: 250,
  maxDelayMs: 8000,
  maxRetryAfterMs: 60_000,
};

/**
 * Statuses worth another try: request timeout, too many requests, and the transient server
 * errors (the set oras-go and containers/image retry). 501 and 505 are permanent.
 */
const RETRYABLE_STATUS: ReadonlySet<number> = new Set([408, 429, 500, 502, 503, 504]);

export function isRetryableStatus(status: number): boolean {
  return RETRYABLE_STATUS.has(status);
}

/**
 * Network failures worth another try: the connection was refused (registry restarting), reset or
 * dropped mid-transfer, or timed out. DNS failures and TLS certificate errors are not retried:
 * they will not fix themselves in seconds.
 */
const RETRYABLE_NETWORK: ReadonlySet<string> = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'ECONNABORTED',
  'EPIPE',
  'ETIMEDOUT',
  'EAI_AGAIN',
  'ENETUNREACH',
  'EHOSTUNREACH',
  'UND_ERR_SOCKET',
  'UND_ERR_CLOSED',
  'UND_ERR_CONNECT_TIMEOUT',
  'UND_ERR_HEADERS_TIMEOUT',
  'UND_ERR_BODY_TIMEOUT',
  'UND_ERR_ABORTED',
]);

export function isRetryableNetworkCode(code: string | undefined): boolean {
  return code !== undefined && RETRYABLE_NETWORK.has(code);
}

/** The code of a network failure: node:http's own, or the `cause` a wrapper (fetch's TypeError) carries. */
export function networkErrorCode(err: unknown): string | undefined {
  let e: unknown = err;
  for (let depth = 0; depth < 4 && typeof e === 'object' && e !== null; depth++) {
    const code = (e as { code?: unknown }).code;
    if (typeof code === 'string') return code;
    // "terminated": undici's body-stream abort after the socket closed, without a code of its own.
    if (e instanceof Error && e.message === 'terminated' && e.cause === undefined) {
      return 'UND_ERR_SOCKET';
    }
    e = (e as { cause?: unknown }).cause;
  }
  return undefined;
}

/** Retry-After is either delta-seconds or an HTTP date; undefined when absent or unreadable. */
export function parseRetryAfter(
  value: string | null | undefined,
  now = Date.now(),
): number | undefined {
  if (value === null || value === undefined || value.trim() === '') return undefined;
  const trimmed = value.trim();
  if (/^\d+$/.test(trimmed)) return Number(trimmed) * 1000;
  const at = Date.parse(trimmed);
  return Number.isNaN(at) ? undefined : Math.max(0, at - now);
}

/** Delay before retry number `retry` (1-based); a server's Retry-After wins, capped. */
export function backoffDelay(policy: RetryPolicy, retry: number, retryAfterMs?: number): number {
  if (retryAfterMs !== undefined) return Math.min(retryAfterMs, policy.maxRetryAfterMs);
  const ceiling = Math.min(policy.maxDelayMs, policy.baseDelayMs * 2 ** Math.max(0, retry - 1));
  return Math.floor((policy.random ?? Math.random)() * ceiling);
}

export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** What one attempt tells the retry loop. */
export type AttemptOutcome<T> =
  { done: true; value: T } | { done: false; error: unknown; retryAfterMs?: number | undefined };

/**
 * Run `attempt` until it is done or the policy is exhausted; then throw the last error.
 * `attempt` decides what is retryable by returning `done: false` (and throws for the rest).
 */
export async function withRetry<T>(
  policy: RetryPolicy,
  attempt: (n: number) => Promise<AttemptOutcome<T>>,
  onRetry?: (info: { attempt: number; delayMs: number; error: unknown }) => void,
): Promise<T> {
  let last: unknown;
  for (let n = 1; n <= Math.max(1, policy.attempts); n++) {
    const outcome = await attempt(n);
    if (outcome.done) return outcome.value;
    last = outcome.error;
    if (n === policy.attempts) break;
    const delayMs = backoffDelay(policy, n, outcome.retryAfterMs);
    onRetry?.({ attempt: n, delayMs, error: outcome.error });
    await (policy.sleep ?? sleep)(delayMs);
  }
  throw last;
}
