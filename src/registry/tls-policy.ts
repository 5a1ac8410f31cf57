// Which scheme we speak to a registry. TLS with verification by default; plain HTTP only for hosts
// the user names with --plain-http, and for loopback, where nothing leaves the machine. For
// loopback we still try TLS first and drop to HTTP only when the server does not speak TLS at all,
// as docker does for its default insecure range. See spec-notes/registry.md "TLS policy".
import { isIP } from 'node:net';
import { hostName } from './reference.js';

export type SchemePolicy =
  /** HTTPS only; certificate errors are errors. */
  | 'https'
  /** Plain HTTP only (explicit --plain-http). */
  | 'http'
  /** HTTPS; if the server answers the TLS hello with plain HTTP, use HTTP from then on. */
  | 'https-then-http';

export function isLoopbackHost(registry: string): boolean {
  const name = hostName(registry).toLowerCase();
  if (name === 'localhost' || name.endsWith('.localhost')) return true;
  if (isIP(name) === 4) return name.startsWith('127.');
  if (isIP(name) === 6) return name === '::1' || name === '0:0:0:0:0:0:0:1';
  return false;
}

/**
 * The policy for `registry` (host[:port]). `plainHttp` lists hosts given with --plain-http; an
 * entry without a port matches every port of that host.
 */
export function schemePolicy(registry: string, plainHttp: readonly string[] = []): SchemePolicy {
  const lower = registry.toLowerCase();
  const name = hostName(lower);
  if (plainHttp.some((h) => h.toLowerCase() === lower || h.toLowerCase() === name)) return 'http';
  return isLoopbackHost(registry) ? 'https-then-http' : 'https';
}

/** Node/OpenSSL codes meaning "the peer answered the TLS hello with something that is not TLS". */
const NOT_TLS_CODES: ReadonlySet<string> = new Set([
  'ERR_SSL_WRONG_VERSION_NUMBER',
  'ERR_SSL_PACKET_LENGTH_TOO_LONG',
  'ERR_SSL_HTTP_REQUEST',
  'EPROTO',
]);

export function isNotTlsError(code: string | undefined): boolean {
  return code !== undefined && NOT_TLS_CODES.has(code);
}
