// `serve`: one or many layouts as a distribution-spec 1.1 registry over node:http. Routing, the
// access log, the server's limits and its graceful shutdown live here; the endpoints in
// listings.ts, manifests.ts and blobs.ts; repository → layout in repositories.ts.
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import type { AddressInfo } from 'node:net';
import { UsageError } from '../errors.js';
import { MAX_MANIFEST_BYTES } from '../media-types.js';
import type { AccessControl } from './auth.js';
import {
  cancelUpload,
  deleteBlobCall,
  finishUpload,
  getBlob,
  patchUpload,
  startUpload,
  uploadStatus,
} from './blobs.js';
import { BlobStreamSlots } from './blob-streams.js';
import type { Call, ServeContext, ServePolicy, VerifyReads } from './context.js';
import { RegistryHttpError, errorReply, type NotFoundKind } from './http-errors.js';
import { API_VERSION, API_VERSION_HEADER } from './http.js';
import { apiBase, catalog, referrers, tagsList } from './listings.js';
import { deleteManifestCall, getManifest, putManifest } from './manifests.js';
import { assertRepositoryName } from './names.js';
import { BlobPins } from './pins.js';
import { Repositories } from './repositories.js';
import { UploadSessions, type UploadLimits } from './uploads.js';
import { VerifiedBlobs } from './verified-blobs.js';
import { VerifiedManifests } from './verified-manifests.js';
import { WEB_ROUTES } from './web.js';

export interface ServeLimits extends UploadLimits {
  /** Largest manifest a PUT may carry (bytes; at most 4 MiB). */
  maxManifestBytes: number;
  /** Longest a request may take to arrive whole, body included (ms; node's requestTimeout). */
  requestTimeoutMs: number;
  /** A connection silent for this long is closed (ms), mid-request included. */
  idleTimeoutMs: number;
  /** Longest the headers of a request may take to arrive (ms). */
  headersTimeoutMs: number;
  /** Open connections at once; more are refused at accept. */
  maxConnections: number;
  /** How long shutdown waits for requests in flight before it cuts them (ms). */
  drainTimeoutMs: number;
  /** How long a pushed blob is kept from gc while no manifest references it (ms). */
  blobGraceMs: number;
  /** Blob bodies streaming at once; more GETs wait their turn (memory grows with open bodies). */
  maxBlobStreams: number;
}

export const DEFAULT_LIMITS: ServeLimits = {
  maxManifestBytes: MAX_MANIFEST_BYTES,
  maxUploadBytes: 16 * 1024 ** 3,
  maxConcurrentUploads: 64,
  uploadIdleMs: 5 * 60_000,
  requestTimeoutMs: 60 * 60_000,
  idleTimeoutMs: 60_000,
  headersTimeoutMs: 30_000,
  maxConnections: 256,
  drainTimeoutMs: 30_000,
  blobGraceMs: 60 * 60_000,
  maxBlobStreams: 64,
};

export interface AccessLogEntry {
  time: string;
  remote: string;
  method: string;
  path: string;
  status: number;
  bytes: number | undefined;
  durationMs: number;
  /** The user who authenticated (never a password or the Authorization header). */
  user?: string | undefined;
  /** The registry error code of a refusal, or what a write did. */
  note?: string | undefined;
}

export interface ServeOptions {
  root: string;
  /** Repository name of a single-layout ROOT. */
  name?: string | undefined;
  readOnly?: boolean | undefined;
  allowDelete?: boolean | undefined;
  lockTimeoutMs?: number | undefined;
  limits?: Partial<ServeLimits> | undefined;
  /** Who may read and write what (auth.ts); without it, every client may do everything. */
  access?: AccessControl | undefined;
  /**
   * Hash a whole blob on every GET (`always`), or once per change of its file (`once`, the
   * default: store/file-version.ts says why that is safe).
   */
  verifyReads?: VerifyReads | undefined;
  /** Serve HTTPS with this PEM certificate (chain) and key. */
  tls?: { cert: string | Buffer; key: string | Buffer } | undefined;
  /** One call per request, when it has ended. */
  onAccess?: ((entry: AccessLogEntry) => void) | undefined;
  /** An unexpected error behind a 500 (with its stack). */
  onInternalError?: ((err: unknown, entry: { method: string; path: string }) => void) | undefined;
}

export interface RunningRegistry {
  /** `http://host:port` (`https://` with TLS) */
  url: string;
  host: string;
  port: number;
  repositories: Repositories;
  /** Stop: refuse new connections, let requests in flight finish (up to the drain time), then
   * drop upload sessions and their part files and release every lease. Idempotent. */
  close(): Promise<void>;
}

/** Start serving `options.root` on `host:port` (port 0: any free port). */
export async function serveLayouts(
  options: ServeOptions,
  listen: { host: string; port: number },
): Promise<RunningRegistry> {
  const limits: ServeLimits = { ...DEFAULT_LIMITS, ...options.limits };
  limits.maxManifestBytes = Math.min(limits.maxManifestBytes, MAX_MANIFEST_BYTES);
  const repos = Repositories.open({
    root: options.root,
    name: options.name,
    lockTimeoutMs: options.lockTimeoutMs,
  });
  const policy: ServePolicy = {
    readOnly: options.readOnly === true,
    allowDelete: options.allowDelete === true,
    maxManifestBytes: limits.maxManifestBytes,
    maxUploadBytes: limits.maxUploadBytes,
  };
  const ctx: ServeContext = {
    repos,
    uploads: new UploadSessions(limits),
    pins: new BlobPins(limits.blobGraceMs),
    policy,
    access: options.access,
    blobReads: {
      verify: options.verifyReads ?? 'once',
      slots: new BlobStreamSlots(Math.max(1, limits.maxBlobStreams)),
      verified: new VerifiedBlobs(),
      manifests: new VerifiedManifests(),
    },
  };
  // A session that ended without a blob (cancelled, idle, a wrong digest) may leave the layout
  // its POST created empty.
  ctx.uploads.onDropped = (name) =>
    void repos.settle(name, () => ctx.uploads.has(name)).catch(() => undefined);
  const inFlight = new Set<ServerResponse>();
  const onRequest = (req: IncomingMessage, res: ServerResponse): void => {
    inFlight.add(res);
    res.on('close', () => inFlight.delete(res));
    void handle(ctx, req, res, options);
  };
  let server: Server;
  try {
    server =
      options.tls === undefined
        ? createServer(onRequest)
        : // An https.Server is an http.Server over TLS sockets: the same timeouts and shutdown.
          createHttpsServer({ cert: options.tls.cert, key: options.tls.key }, onRequest);
  } catch (err) {
    // Nothing was served: release what the context holds (its sweeper, any lease batches).
    ctx.uploads.close();
    ctx.pins.close();
    // node:tls refuses a bad PEM, or a key that does not match the certificate, here.
    throw new UsageError(
      'E_USAGE',
      `TLS certificate or key not usable: ${(err as Error).message}`,
      {},
      { cause: err, hint: 'PEM files: the certificate (chain) and its private key' },
    );
  }
  server.requestTimeout = limits.requestTimeoutMs;
  server.headersTimeout = Math.min(limits.headersTimeoutMs, limits.requestTimeoutMs || Infinity);
  server.timeout = limits.idleTimeoutMs;
  server.keepAliveTimeout = 5_000;
  server.maxConnections = limits.maxConnections;
  server.maxHeadersCount = 100;
  try {
    await listenOn(server, listen);
  } catch (err) {
    ctx.uploads.close();
    ctx.pins.close();
    throw err;
  }
  const address = server.address() as AddressInfo;
  let closing: Promise<void> | undefined;
  const host = address.family === 'IPv6' ? `[${address.address}]` : address.address;
  return {
    url: `${options.tls === undefined ? 'http' : 'https'}://${host}:${address.port}`,
    host: address.address,
    port: address.port,
    repositories: repos,
    close: () => (closing ??= shutdown(server, inFlight, ctx, limits.drainTimeoutMs)),
  };
}

function listenOn(server: Server, listen: { host: string; port: number }): Promise<void> {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(listen.port, listen.host, () => {
      server.off('error', reject);
      resolve();
    });
  });
}

async function shutdown(
  server: Server,
  inFlight: Set<ServerResponse>,
  ctx: ServeContext,
  drainMs: number,
): Promise<void> {
  const closed = new Promise<void>((resolve) => server.close(() => resolve()));
  server.closeIdleConnections();
  const deadline = Date.now() + drainMs;
  while (inFlight.size > 0 && Date.now() < deadline) {
    await new Promise((r) => setTimeout(r, 20));
    server.closeIdleConnections();
  }
  server.closeAllConnections();
  await closed;
  ctx.uploads.close();
  await ctx.repos.settleAll();
  ctx.pins.close();
}

interface Route {
  pattern: RegExp;
  /** What a not-found means on this endpoint. */
  notFound: NotFoundKind;
  methods: Partial<Record<string, (ctx: ServeContext, call: Call) => void | Promise<void>>>;
}

// The name may hold `/`, so each endpoint is recognised by what follows it. Upload paths are
// tried before blob paths (`…/blobs/uploads/` would otherwise read as a blob named `uploads`).
const ROUTES: Route[] = [
  { pattern: /^\/v2\/$/, notFound: 'NAME_UNKNOWN', methods: { GET: apiBase, HEAD: apiBase } },
  { pattern: /^\/v2\/_catalog$/, notFound: 'NAME_UNKNOWN', methods: { GET: catalog } },
  {
    pattern: /^\/v2\/(.+)\/tags\/list$/,
    notFound: 'NAME_UNKNOWN',
    methods: { GET: tagsList },
  },
  {
    pattern: /^\/v2\/(.+)\/manifests\/([^/]+)$/,
    notFound: 'MANIFEST_UNKNOWN',
    methods: {
      GET: getManifest,
      HEAD: getManifest,
      PUT: putManifest,
      DELETE: deleteManifestCall,
    },
  },
  {
    pattern: /^\/v2\/(.+)\/blobs\/uploads\/([^/]*)$/,
    notFound: 'BLOB_UNKNOWN',
    methods: {
      POST: (ctx, call) => (call.tail === '' ? startUpload(ctx, call) : notAllowed()),
      PATCH: patchUpload,
      PUT: finishUpload,
      GET: uploadStatus,
      DELETE: cancelUpload,
    },
  },
  {
    pattern: /^\/v2\/(.+)\/blobs\/([^/]+)$/,
    notFound: 'BLOB_UNKNOWN',
    methods: { GET: getBlob, HEAD: getBlob, DELETE: deleteBlobCall },
  },
  {
    pattern: /^\/v2\/(.+)\/referrers\/([^/]+)$/,
    notFound: 'MANIFEST_UNKNOWN',
    methods: { GET: referrers },
  },
  // The web view (`/`, `/ui/…`): routed like the API, so the same checks apply to it.
  ...WEB_ROUTES,
];

async function handle(
  ctx: ServeContext,
  req: IncomingMessage,
  res: ServerResponse,
  options: ServeOptions,
): Promise<void> {
  const started = Date.now();
  const method = req.method ?? 'GET';
  const rawUrl = req.url ?? '/';
  const q = rawUrl.indexOf('?');
  // The raw path, not a URL object's: WHATWG parsing would resolve `..` and `%2e%2e` segments
  // before our checks could see (and refuse) them.
  const path = q < 0 ? rawUrl : rawUrl.slice(0, q);
  const call: Call = {
    req,
    res,
    query: new URLSearchParams(q < 0 ? '' : rawUrl.slice(q + 1)),
    name: '',
    tail: '',
    principal: { user: undefined },
  };
  res.setHeader(API_VERSION_HEADER, API_VERSION);
  // Node detaches the socket from the request once the response is done: keep our own handle.
  const socket = req.socket;
  const remote = socket.remoteAddress ?? '';
  // A response sent before the request body was read whole (a refusal, a blob already present):
  // the rest of the body is not read on (Node would read, and drop, an endless one).
  res.on('finish', () => {
    if (!req.complete) socket.destroy();
  });
  res.on('close', () => {
    const length = res.getHeader('content-length');
    options.onAccess?.({
      time: new Date(started).toISOString(),
      remote,
      method,
      path: rawUrl,
      status: res.statusCode,
      bytes: length === undefined || method === 'HEAD' ? undefined : Number(length),
      durationMs: Date.now() - started,
      user: call.principal.user,
      note: call.note,
    });
  });
  let notFound: NotFoundKind = 'NAME_UNKNOWN';
  let entered = '';
  try {
    const { route, match } = findRoute(path);
    notFound = route.notFound;
    const handler = Object.hasOwn(route.methods, method) ? route.methods[method] : undefined;
    if (handler === undefined) notAllowed(Object.keys(route.methods));
    if (match[1] !== undefined) {
      call.name = assertRepositoryName(match[1]);
      ctx.repos.enter((entered = call.name));
    }
    if (match[2] !== undefined) call.tail = decodeSegment(match[2]);
    if (ctx.access !== undefined) {
      call.principal = await ctx.access.authenticate(req);
      // Reads are GET and HEAD; every other method on a repository writes (deletes included).
      const right = method === 'GET' || method === 'HEAD' ? 'read' : 'write';
      if (call.name !== '') ctx.access.require(call.principal, call.name, right);
    }
    await handler(ctx, call);
  } catch (err) {
    if (clientGone(err, res)) {
      // The client hung up (or was cut off as idle) mid-request: nothing to answer, nothing wrong
      // here. What it sent of an upload stays in its session (uploads.ts).
      call.note = 'client gone';
      res.destroy();
      return;
    }
    const reply = errorReply(err, notFound);
    call.note = reply.body.errors[0]?.code;
    if (reply.internal) options.onInternalError?.(err, { method, path: rawUrl });
    if (res.headersSent) {
      // Mid-body (a blob that failed verification while streaming): the client must see a cut
      // response, never a complete-looking wrong one.
      res.destroy();
      return;
    }
    // A refusal before the body was read: do not read (or wait for) the rest of it.
    const unread = !req.complete;
    res.writeHead(reply.status, {
      ...reply.headers,
      'Content-Type': 'application/json',
      ...(unread ? { Connection: 'close' } : {}),
    });
    res.end(method === 'HEAD' ? undefined : JSON.stringify(reply.body));
  } finally {
    if (entered !== '') {
      ctx.repos.leave(entered);
      if (method !== 'GET' && method !== 'HEAD') {
        // 201: something was stored (blob, mount, manifest): the repository stays. Anything else
        // may have left a layout this server created with nothing in it: take it back.
        if (res.statusCode === 201) ctx.repos.keep(entered);
        else void ctx.repos.settle(entered, () => ctx.uploads.has(entered)).catch(() => undefined);
      }
    }
  }
}

/**
 * Errors that mean the connection is gone, not that the server failed. ECANCELED: a write queued
 * on a socket the peer closed (Node 22 reports it where Node 20 reports EPIPE or nothing).
 */
const CONNECTION_GONE = new Set([
  'ECONNRESET',
  'EPIPE',
  'ECANCELED',
  'ERR_STREAM_PREMATURE_CLOSE',
  'ECONNABORTED',
]);

function clientGone(err: unknown, res: ServerResponse): boolean {
  const code = (err as { code?: unknown } | null)?.code;
  return (typeof code === 'string' && CONNECTION_GONE.has(code)) || res.destroyed;
}

function findRoute(path: string): { route: Route; match: RegExpExecArray } {
  for (const route of ROUTES) {
    const match = route.pattern.exec(path);
    if (match !== null) return { route, match };
  }
  throw new RegistryHttpError(404, 'NAME_UNKNOWN', 'no such endpoint', { path });
}

function notAllowed(allow: string[] = []): never {
  throw new RegistryHttpError(405, 'UNSUPPORTED', 'method not allowed here', {}, undefined, {
    ...(allow.length > 0 ? { Allow: allow.join(', ') } : {}),
  });
}

/** A percent-decoded path segment (clients may encode the `:` of a digest). */
function decodeSegment(segment: string): string {
  try {
    return decodeURIComponent(segment);
  } catch {
    throw new RegistryHttpError(400, 'UNSUPPORTED', 'malformed percent-encoding in path');
  }
}
