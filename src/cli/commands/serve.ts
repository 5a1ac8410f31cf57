// `serve`: layouts as an OCI registry (distribution-spec 1.1) until SIGINT/SIGTERM. The library's
// serveLayouts does the work; this file parses flags, reads the htpasswd, access and TLS files,
// writes the access log and handles signals (a graceful stop: requests in flight finish, uploads
// are dropped, leases released).
import { readFileSync } from 'node:fs';
import {
  AccessControl,
  DEFAULT_LIMITS,
  DEFAULT_LISTEN,
  UsageError,
  assertSafeExposure,
  isLoopbackListen,
  parseAccessRules,
  parseHtpasswd,
  parseListen,
  serveLayouts,
  wrapFsError,
  type AccessLogEntry,
  type ServeLimits,
} from '../../internal.js';
import { SIGNAL_EXIT_CODES } from '../signals.js';
import { layoutOptions, type GlobalArgs, type RegisterCommands } from '../context.js';

interface ServeArgs extends GlobalArgs {
  root: string;
  listen: string;
  name: string | undefined;
  'read-only': boolean;
  'allow-delete': boolean;
  'allow-unauthenticated-writes': boolean;
  htpasswd: string | undefined;
  access: string | undefined;
  'tls-cert': string | undefined;
  'tls-key': string | undefined;
  'log-format': 'text' | 'json';
  'max-upload-size': string | undefined;
  'max-manifest-size': string | undefined;
  'max-uploads': number | undefined;
  'max-blob-streams': number | undefined;
  'verify-reads': 'always' | 'once';
  'upload-idle-timeout': number | undefined;
  'request-timeout': number | undefined;
  'idle-timeout': number | undefined;
  'blob-grace': number | undefined;
}

export const registerServe: RegisterCommands = (y, ctx) =>
  y.command(
    'serve <root>',
    'serve layouts as an OCI registry (pull, push, referrers API) until SIGINT/SIGTERM',
    (c) =>
      c
        .positional('root', {
          type: 'string',
          demandOption: true,
          describe:
            'a layout (its own repository, plus a/b for each stored full name HOST/a/b:TAG) or a directory of layouts (ROOT/a/b is repository a/b)',
        })
        .option('listen', {
          type: 'string',
          default: DEFAULT_LISTEN,
          describe:
            'HOST:PORT to listen on (loopback unless told otherwise; port 0: any free port)',
        })
        .option('name', {
          type: 'string',
          describe: "repository name of a single layout's bare tags (default: its directory name)",
        })
        .option('read-only', { type: 'boolean', default: false, describe: 'refuse every write' })
        .option('allow-delete', {
          type: 'boolean',
          default: false,
          describe: 'answer DELETE of tags, manifests and blobs',
        })
        .option('allow-unauthenticated-writes', {
          type: 'boolean',
          default: false,
          describe: 'accept pushes from anyone on a non-loopback address (no --htpasswd)',
        })
        .option('htpasswd', {
          type: 'string',
          describe:
            'require logins (HTTP basic) checked against this file of bcrypt entries (htpasswd -B)',
        })
        .option('access', {
          type: 'string',
          describe:
            'YAML rules: which users (anonymous, "*" or names) read and write which repositories',
        })
        .option('tls-cert', {
          type: 'string',
          describe: 'serve HTTPS with this PEM certificate (chain); needs --tls-key',
        })
        .option('tls-key', { type: 'string', describe: 'the PEM private key of --tls-cert' })
        .option('log-format', {
          choices: ['text', 'json'] as const,
          default: 'text' as const,
          describe: 'access log on stdout: one line per request',
        })
        .option('max-upload-size', {
          type: 'string',
          describe: 'largest blob accepted (e.g. 2GiB; default 16GiB)',
        })
        .option('max-manifest-size', {
          type: 'string',
          describe: 'largest manifest accepted (default and most 4MiB)',
        })
        .option('max-uploads', {
          type: 'number',
          describe: 'upload sessions open at once (default 64)',
        })
        .option('max-blob-streams', {
          type: 'number',
          describe: 'blob downloads streaming at once; more wait their turn (default 64)',
        })
        .option('verify-reads', {
          choices: ['always', 'once'] as const,
          default: 'once' as const,
          describe:
            'hash a blob on every download (always: also catches damage that changes no timestamp, such as a bad disk sector), or once per change of its file (once: a changed file is hashed again)',
        })
        .option('upload-idle-timeout', {
          type: 'number',
          describe: 'seconds before an idle upload session is dropped (default 300)',
        })
        .option('request-timeout', {
          type: 'number',
          describe: 'seconds a request may take to arrive, body included (default 3600)',
        })
        .option('idle-timeout', {
          type: 'number',
          describe: 'seconds a silent connection is kept (default 60)',
        })
        .option('blob-grace', {
          type: 'number',
          describe:
            'seconds a pushed blob is kept from gc before a manifest references it (default 3600)',
        })
        .example('$0 serve ./registry', 'every layout under ./registry, on 127.0.0.1:5000')
        .example('$0 serve ./out --name app --read-only', 'one layout as repository app, pull only')
        .example(
          '$0 serve ./registry --listen 0.0.0.0:5000 --htpasswd users --access rules.yaml --tls-cert c.pem --tls-key k.pem',
          'exposed: HTTPS, logins, per-repository rules',
        )
        .example(
          '$0 serve ./registry --listen 127.0.0.1:0 --json',
          'stdout: a {"listening":{"url":…}} line, then the access log as JSON lines',
        )
        .example(
          'skopeo copy --src-tls-verify=false docker://127.0.0.1:5000/app:v1 oci:copy:v1',
          'pull from it',
        ),
    async (argv) => {
      const args = argv as unknown as ServeArgs;
      const address = parseListen(args.listen);
      const access = accessFrom(args);
      assertSafeExposure(address, {
        readOnly: args['read-only'],
        allowUnauthenticatedWrites: args['allow-unauthenticated-writes'],
        // With rules and no rule for anonymous writes, a write needs a login (or, without
        // --htpasswd, is nobody's).
        writesNeedLogin: access !== undefined && !access.anonymousWrites,
      });
      const tls = tlsFrom(args);
      if (access?.authenticates === true && tls === undefined && !isLoopbackListen(address.host)) {
        ctx.out.warn('passwords cross the network in clear text without --tls-cert/--tls-key');
      }
      const limits = limitsFrom(args);
      // --json: every stdout line is JSON (the listening line, then the access log).
      const json = args['log-format'] === 'json' || args.json;
      const running = await serveLayouts(
        {
          root: args.root,
          name: args.name,
          readOnly: args['read-only'],
          allowDelete: args['allow-delete'],
          lockTimeoutMs: layoutOptions(args).lockTimeoutMs,
          limits,
          verifyReads: args['verify-reads'],
          access,
          tls,
          onAccess: (e) => ctx.io.stdout.write(`${json ? JSON.stringify(e) : textLine(e)}\n`),
          onInternalError: (err) => ctx.out.error(err),
        },
        address,
      );
      const repos = running.repositories;
      if (args.json) {
        // One compact line, first on stdout: a script started with --listen HOST:0 reads the port.
        ctx.io.stdout.write(
          `${JSON.stringify({
            listening: {
              url: running.url,
              host: running.host,
              port: running.port,
              root: repos.root,
              mode: repos.mode,
              ...(repos.singleName === undefined ? {} : { name: repos.singleName }),
              readOnly: args['read-only'],
              tls: tls !== undefined,
              authentication: access?.authenticates === true,
            },
          })}\n`,
        );
      }
      ctx.out.info(
        `serving ${repos.root} (${repos.mode === 'single' ? `repository ${repos.singleName}` : 'a directory of layouts'}${args['read-only'] ? ', read-only' : ''}) on ${running.url}`,
      );
      await untilSignalled(async (signal) => {
        ctx.out.info(`${signal}: finishing requests in flight, then stopping`);
        await running.close();
      });
    },
  );

/**
 * Wait for SIGINT/SIGTERM/SIGHUP, then run `stop`. The CLI's own handlers (exit at once, after the
 * writers' cleanup) are set aside meanwhile and put back after; a second signal during the stop
 * exits at once through them.
 */
function untilSignalled(stop: (signal: string) => Promise<void>): Promise<void> {
  const signals = Object.keys(SIGNAL_EXIT_CODES) as (keyof typeof SIGNAL_EXIT_CODES)[];
  const saved = new Map(signals.map((s) => [s, process.listeners(s)]));
  for (const s of signals) process.removeAllListeners(s);
  return new Promise<void>((resolve, reject) => {
    const restore = (): void => {
      for (const s of signals) {
        process.removeAllListeners(s);
        for (const l of saved.get(s) ?? []) process.on(s, l);
      }
    };
    const onSignal = (signal: keyof typeof SIGNAL_EXIT_CODES): void => {
      restore(); // a second signal: the CLI's exit-now handlers
      stop(signal).then(resolve, reject);
    };
    for (const s of signals) process.once(s, () => onSignal(s));
  });
}

function readOptionFile(file: string, flag: string): Buffer {
  try {
    return readFileSync(file);
  } catch (err) {
    throw wrapFsError(err, `read ${flag} ${file}`, { [flag]: file });
  }
}

/** --htpasswd and --access → the access control, or undefined when neither is given. */
function accessFrom(args: ServeArgs): AccessControl | undefined {
  if (args.htpasswd === undefined && args.access === undefined) return undefined;
  const users =
    args.htpasswd === undefined
      ? undefined
      : parseHtpasswd(readOptionFile(args.htpasswd, '--htpasswd').toString('utf8'), args.htpasswd);
  if (users !== undefined && users.size === 0) {
    throw new UsageError('E_USAGE', `--htpasswd ${args.htpasswd}: no users in the file`, {
      htpasswd: args.htpasswd,
    });
  }
  const rules =
    args.access === undefined
      ? undefined
      : parseAccessRules(readOptionFile(args.access, '--access').toString('utf8'), args.access);
  return new AccessControl({ users, rules });
}

function tlsFrom(args: ServeArgs): { cert: Buffer; key: Buffer } | undefined {
  const certFile = args['tls-cert'];
  const keyFile = args['tls-key'];
  if (certFile === undefined && keyFile === undefined) return undefined;
  if (certFile === undefined || keyFile === undefined) {
    throw new UsageError('E_USAGE', '--tls-cert and --tls-key go together');
  }
  return {
    cert: readOptionFile(certFile, '--tls-cert'),
    key: readOptionFile(keyFile, '--tls-key'),
  };
}

function limitsFrom(args: ServeArgs): Partial<ServeLimits> {
  const out: Partial<ServeLimits> = {};
  if (args['max-upload-size'] !== undefined) {
    out.maxUploadBytes = parseSize(args['max-upload-size'], '--max-upload-size');
  }
  if (args['max-manifest-size'] !== undefined) {
    out.maxManifestBytes = parseSize(args['max-manifest-size'], '--max-manifest-size');
    if (out.maxManifestBytes > DEFAULT_LIMITS.maxManifestBytes) {
      throw new UsageError(
        'E_USAGE',
        '--max-manifest-size: at most 4MiB (manifests are read into memory)',
      );
    }
  }
  const count = (v: number | undefined, flag: string): number | undefined => {
    if (v === undefined) return undefined;
    if (!Number.isInteger(v) || v < 1)
      throw new UsageError('E_USAGE', `${flag}: expected a whole number from 1`);
    return v;
  };
  const seconds = (v: number | undefined, flag: string): number | undefined => {
    if (v === undefined) return undefined;
    if (!Number.isFinite(v) || v < 0 || v > 7 * 24 * 3600) {
      throw new UsageError('E_USAGE', `${flag}: expected seconds from 0 to 604800`);
    }
    return Math.round(v * 1000);
  };
  const set = <K extends keyof ServeLimits>(k: K, v: ServeLimits[K] | undefined): void => {
    if (v !== undefined) out[k] = v;
  };
  set('maxConcurrentUploads', count(args['max-uploads'], '--max-uploads'));
  set('maxBlobStreams', count(args['max-blob-streams'], '--max-blob-streams'));
  set('uploadIdleMs', seconds(args['upload-idle-timeout'], '--upload-idle-timeout'));
  set('requestTimeoutMs', seconds(args['request-timeout'], '--request-timeout'));
  set('idleTimeoutMs', seconds(args['idle-timeout'], '--idle-timeout'));
  set('blobGraceMs', seconds(args['blob-grace'], '--blob-grace'));
  return out;
}

const UNITS: Record<string, number> = {
  '': 1,
  b: 1,
  k: 1024,
  kib: 1024,
  m: 1024 ** 2,
  mib: 1024 ** 2,
  g: 1024 ** 3,
  gib: 1024 ** 3,
  t: 1024 ** 4,
  tib: 1024 ** 4,
};

/** `1048576`, `512KiB`, `2GiB`, `1g` → bytes. Throws E_USAGE. */
export function parseSize(input: string, flag: string): number {
  const m = /^(\d+(?:\.\d+)?)\s*([a-zA-Z]*)$/.exec(input.trim());
  const unit = m === null ? undefined : UNITS[m[2]!.toLowerCase()];
  const bytes = m === null || unit === undefined ? Number.NaN : Math.floor(Number(m[1]) * unit);
  if (!Number.isSafeInteger(bytes) || bytes < 1) {
    throw new UsageError(
      'E_USAGE',
      `${flag} ${JSON.stringify(input)}: expected a size like 512MiB or 2GiB`,
      {
        [flag]: input,
      },
    );
  }
  return bytes;
}

/** `127.0.0.1 "PUT /v2/app/manifests/v1" 201 0 12ms tag v1` */
function textLine(e: AccessLogEntry): string {
  const note = e.note === undefined ? '' : ` ${e.note}`;
  // The path is the client's: quotes and control characters are escaped so a line stays one entry.
  const path = [...e.path]
    .map((c) => (c === '"' || c === '\\' || c < ' ' || c === '\x7f' ? encodeURIComponent(c) : c))
    .join('');
  return `${e.time} ${e.remote}${e.user === undefined ? '' : ` ${e.user}`} "${e.method} ${path}" ${e.status} ${e.bytes ?? '-'} ${e.durationMs}ms${note}`;
}
