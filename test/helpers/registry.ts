// A real CNCF distribution registry (Debian `docker-registry`, 2.8.2 here) for integration tests:
// free loopback port, temp storage, generated config, optional htpasswd basic auth; stopped by PID.
// Also a TCP fault proxy that lets a test drop connections or kill the registry mid-transfer, and an
// HTTP proxy that logs each request (what was uploaded, what was mounted).
// The interop judge (test/interop/judge/) pushes and pulls through the same registry.
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import {
  createServer as createHttpServer,
  get as httpGet,
  request as httpRequest,
} from 'node:http';
import { get as httpsGet } from 'node:https';
import { createServer, connect, type Server, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { hasTool } from './tools.js';

export const REGISTRY_BIN = process.env['DOCKER_REGISTRY_BIN'] ?? '/usr/bin/docker-registry';

export interface RegistryOptions {
  /** Require HTTP basic auth with this user (htpasswd file, bcrypt). */
  basicAuth?: { username: string; password: string };
  /** Serve HTTPS with this PEM certificate and key (see selfSignedCertificate). */
  tls?: { certificate: string; key: string };
}

/**
 * A self-signed certificate for 127.0.0.1 and localhost, made with openssl in `dir`: it is its own
 * CA, so a client trusts it only when told to (NODE_EXTRA_CA_CERTS=certificate).
 */
export function selfSignedCertificate(dir: string): { certificate: string; key: string } {
  const certificate = join(dir, 'registry-cert.pem');
  const key = join(dir, 'registry-key.pem');
  const r = spawnSync(
    'openssl',
    [
      'req',
      '-x509',
      '-newkey',
      'rsa:2048',
      '-nodes',
      '-days',
      '2',
      '-keyout',
      key,
      '-out',
      certificate,
      '-subj',
      '/CN=ocilayout test registry',
      '-addext',
      'subjectAltName=IP:127.0.0.1,DNS:localhost',
    ],
    { encoding: 'utf8' },
  );
  if (r.status !== 0) throw new Error(`openssl could not make a certificate: ${r.stderr}`);
  return { certificate, key };
}

export interface RunningRegistry {
  port: number;
  /** `127.0.0.1:PORT` */
  host: string;
  dir: string;
  process: ChildProcess;
  /** SIGKILL, no cleanup: the "registry died" case. */
  kill(): void;
  /** Stop and remove the storage dir. */
  stop(): Promise<void>;
}

export function hasRegistry(): boolean {
  return hasTool(REGISTRY_BIN) || hasTool('docker-registry');
}

export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const addr = s.address();
      const port = typeof addr === 'object' && addr !== null ? addr.port : 0;
      s.close(() => resolve(port));
    });
  });
}

/**
 * A bcrypt htpasswd line, which distribution's htpasswd auth requires. Uses `htpasswd` (Debian
 * apache2-utils) when installed, else Python's crypt module (Debian python3 3.11, libxcrypt).
 */
export function htpasswdLine(username: string, password: string): string {
  if (hasTool('htpasswd')) {
    const r = spawnSync('htpasswd', ['-nbB', '-C', '4', username, password], { encoding: 'utf8' });
    if (r.status === 0) return r.stdout.trim();
  }
  const py = [
    'import crypt,sys',
    "print(sys.argv[1] + ':' + crypt.crypt(sys.argv[2], crypt.mksalt(crypt.METHOD_BLOWFISH, rounds=16)))",
  ].join('\n');
  for (const python of ['/usr/bin/python3', 'python3']) {
    const r = spawnSync(python, ['-W', 'ignore', '-c', py, username, password], {
      encoding: 'utf8',
    });
    if (r.status === 0 && r.stdout.includes(':$2')) return r.stdout.trim();
  }
  throw new Error(
    'cannot make a bcrypt htpasswd: install apache2-utils (htpasswd) or Debian python3 with crypt',
  );
}

/** The registry's answer to GET /v2/ (HTTPS without checking the certificate), or undefined. */
function probe(port: number, tls: boolean): Promise<number | undefined> {
  return new Promise((resolve) => {
    const get = tls ? httpsGet : httpGet;
    const req = get({ host: '127.0.0.1', port, path: '/v2/', rejectUnauthorized: false }, (res) => {
      res.resume();
      resolve(res.statusCode);
    });
    req.on('error', () => resolve(undefined));
  });
}

async function waitReady(port: number, child: ChildProcess, tls: boolean): Promise<boolean> {
  for (let i = 0; i < 200; i++) {
    if (child.exitCode !== null) return false;
    const status = await probe(port, tls);
    if (status === 200 || status === 401) return true;
    await new Promise((r) => setTimeout(r, 50));
  }
  return false;
}

export async function startRegistry(options: RegistryOptions = {}): Promise<RunningRegistry> {
  const dir = mkdtempSync(join(tmpdir(), 'ocilayout-registry-'));
  let auth = '';
  if (options.basicAuth !== undefined) {
    writeFileSync(
      join(dir, 'htpasswd'),
      `${htpasswdLine(options.basicAuth.username, options.basicAuth.password)}\n`,
    );
    auth = `auth:\n  htpasswd:\n    realm: ocilayout-test\n    path: ${join(dir, 'htpasswd')}\n`;
  }
  for (let attempt = 0; attempt < 3; attempt++) {
    const port = await freePort();
    const config = [
      'version: 0.1',
      'log:',
      '  level: error',
      '  accesslog:',
      '    disabled: true',
      'storage:',
      '  filesystem:',
      `    rootdirectory: ${join(dir, 'storage')}`,
      '  delete:',
      '    enabled: true',
      '  maintenance:',
      '    uploadpurging:',
      '      enabled: false',
      'http:',
      `  addr: 127.0.0.1:${port}`,
      '  secret: ocilayout-test-secret',
      ...(options.tls === undefined
        ? []
        : ['  tls:', `    certificate: ${options.tls.certificate}`, `    key: ${options.tls.key}`]),
      auth,
    ].join('\n');
    writeFileSync(join(dir, 'config.yml'), config);
    const child = spawn(REGISTRY_BIN, ['serve', join(dir, 'config.yml')], {
      stdio: ['ignore', 'ignore', 'pipe'],
    });
    let log = '';
    child.stderr?.on('data', (b: Buffer) => {
      log = (log + b.toString('utf8')).slice(-4000);
    });
    if (await waitReady(port, child, options.tls !== undefined)) {
      const exited = new Promise<void>((r) => {
        if (child.exitCode !== null || child.signalCode !== null) r();
        else child.once('exit', () => r());
      });
      return {
        port,
        host: `127.0.0.1:${port}`,
        dir,
        process: child,
        kill: () => {
          child.kill('SIGKILL');
        },
        stop: async () => {
          if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
          await exited;
          rmSync(dir, { recursive: true, force: true });
        },
      };
    }
    child.kill('SIGKILL');
    if (attempt === 2) {
      rmSync(dir, { recursive: true, force: true });
      throw new Error(`docker-registry did not start on 127.0.0.1:${port}: ${log}`);
    }
  }
  throw new Error('unreachable');
}

export interface FaultProxy {
  port: number;
  host: string;
  /** Bytes client→server and server→client so far, over all connections. */
  readonly up: number;
  readonly down: number;
  /** Drop every open connection now (both sides, mid-transfer). */
  dropAll(): void;
  close(): Promise<void>;
}

export interface FaultPlan {
  /** Called as bytes flow; may call proxy.dropAll() or kill the registry. */
  onData?: (direction: 'up' | 'down', total: number, proxy: FaultProxy) => void;
}

/** A loopback TCP proxy to `targetPort` that counts bytes and can cut connections on demand. */
export async function startFaultProxy(
  targetPort: number,
  plan: FaultPlan = {},
): Promise<FaultProxy> {
  const sockets = new Set<Socket>();
  let up = 0;
  let down = 0;
  const server: Server = createServer((client) => {
    const upstream = connect(targetPort, '127.0.0.1');
    sockets.add(client);
    sockets.add(upstream);
    const closeBoth = (): void => {
      client.destroy();
      upstream.destroy();
      sockets.delete(client);
      sockets.delete(upstream);
    };
    client.on('data', (b: Buffer) => {
      up += b.byteLength;
      if (!upstream.destroyed) upstream.write(b);
      plan.onData?.('up', up, proxy);
    });
    upstream.on('data', (b: Buffer) => {
      down += b.byteLength;
      if (!client.destroyed) client.write(b);
      plan.onData?.('down', down, proxy);
    });
    client.on('end', () => upstream.end());
    upstream.on('end', () => client.end());
    client.on('error', closeBoth);
    upstream.on('error', closeBoth);
    client.on('close', closeBoth);
    upstream.on('close', closeBoth);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const addr = server.address();
  const port = typeof addr === 'object' && addr !== null ? addr.port : 0;
  const proxy: FaultProxy = {
    port,
    host: `127.0.0.1:${port}`,
    get up() {
      return up;
    },
    get down() {
      return down;
    },
    dropAll() {
      for (const s of sockets) s.destroy();
      sockets.clear();
    },
    close() {
      proxy.dropAll();
      return new Promise((r) => server.close(() => r()));
    },
  };
  return proxy;
}

export interface LoggingProxy {
  port: number;
  /** `127.0.0.1:PORT`: name the registry by this to be logged. */
  host: string;
  /** Every request as `METHOD /path?query`, in the order they arrived. */
  log: string[];
  close(): Promise<void>;
}

/**
 * A loopback HTTP proxy to a registry on `targetPort` that logs every request line, so a test can
 * tell an upload (PATCH/PUT of blob bytes) from a mount. The Host header goes through unchanged,
 * so the registry builds its Location URLs for the proxy.
 */
export async function startLoggingProxy(targetPort: number): Promise<LoggingProxy> {
  const log: string[] = [];
  const server = createHttpServer((req, res) => {
    log.push(`${req.method ?? ''} ${req.url ?? ''}`);
    const upstream = httpRequest(
      {
        host: '127.0.0.1',
        port: targetPort,
        method: req.method,
        path: req.url,
        headers: req.headers,
      },
      (up) => {
        res.writeHead(up.statusCode ?? 502, up.headers);
        up.pipe(res);
      },
    );
    upstream.on('error', () => res.destroy());
    req.pipe(upstream);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const addr = server.address();
  const port = typeof addr === 'object' && addr !== null ? addr.port : 0;
  return {
    port,
    host: `127.0.0.1:${port}`,
    log,
    close: () =>
      new Promise((r) => {
        server.closeAllConnections();
        server.close(() => r());
      }),
  };
}
