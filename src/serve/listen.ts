// Where serve listens, and what it may do there. The default address is loopback: nothing is
// exposed unless the operator says so. Without authentication a writable registry on another
// interface would take pushes from anyone who can reach it, so that needs logins (--htpasswd, with
// no rule letting anonymous clients write), --read-only, or an explicit opt-in.
import { isIP } from 'node:net';
import { UsageError } from '../errors.js';

export const DEFAULT_LISTEN = '127.0.0.1:5000';

export interface ListenAddress {
  host: string;
  port: number;
}

/** `HOST:PORT`, `[IPV6]:PORT` or `:PORT` (loopback). Throws E_USAGE. */
export function parseListen(input: string): ListenAddress {
  const m = /^(?:\[([0-9a-fA-F:.]+)\]|([^:[\]]*)):(\d{1,5})$/.exec(input.trim());
  const port = m === null ? Number.NaN : Number(m[3]);
  if (m === null || port > 65535) {
    throw new UsageError(
      'E_USAGE',
      `--listen ${JSON.stringify(input)}: expected HOST:PORT`,
      { listen: input },
      {
        hint: 'e.g. --listen 127.0.0.1:5000, --listen [::1]:5000, or --listen 0.0.0.0:5000 to expose it',
      },
    );
  }
  const host = m[1] ?? (m[2] === '' ? '127.0.0.1' : m[2]!);
  return { host, port };
}

/** Whether `host` names this machine only (127.0.0.0/8, ::1, localhost). */
export function isLoopbackListen(host: string): boolean {
  if (host === 'localhost') return true;
  if (isIP(host) === 4) return host.startsWith('127.');
  if (isIP(host) === 6) return host === '::1' || host.toLowerCase() === '0:0:0:0:0:0:0:1';
  return false;
}

/**
 * Throws E_USAGE for a registry on a non-loopback address that anyone who reaches the port could
 * push to (or, with deletes, delete from), unless the operator opted in. `writesNeedLogin`: writes
 * are for authenticated users only (an htpasswd file, and no rule giving anonymous clients write).
 */
export function assertSafeExposure(
  address: ListenAddress,
  options: { readOnly: boolean; allowUnauthenticatedWrites: boolean; writesNeedLogin?: boolean },
): void {
  if (
    isLoopbackListen(address.host) ||
    options.readOnly ||
    options.allowUnauthenticatedWrites ||
    options.writesNeedLogin === true
  ) {
    return;
  }
  throw new UsageError(
    'E_USAGE',
    `refusing to accept unauthenticated writes on ${address.host}:${address.port} (not loopback)`,
    { host: address.host, port: address.port },
    {
      hint: 'require logins with --htpasswd FILE, serve it --read-only, listen on 127.0.0.1, or pass --allow-unauthenticated-writes if the network is trusted',
    },
  );
}
