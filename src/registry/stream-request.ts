// Requests that carry a blob, either way, go through node:http(s), not fetch. Node's fetch reads an
// async-iterable request body ahead of the socket without waiting for it to drain: a monolithic
// upload held the whole blob in memory (spec-notes/performance.md). Here the body is piped
// into the request, so at most a socket buffer's worth is in flight. A blob download read through
// fetch's web stream costs a promise and a copy per network chunk; here the caller iterates the
// socket's own stream (bodyChunks), with its backpressure. The answer is handed back as a fetch
// Response, so everything above the transport reads both paths the same way.
import {
  Agent as HttpAgent,
  request as httpRequest,
  type ClientRequest,
  type IncomingMessage,
} from 'node:http';
import { Agent as HttpsAgent, request as httpsRequest } from 'node:https';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';

// Kept-alive connections, as fetch keeps them: a chunked upload sends many requests to one host.
// Made on first use, not at load: the CLI's bundle defers loading node:http(s) until a command
// reaches for them (src/cli/bin.ts), and most commands never do.
let agents: { http: HttpAgent; https: HttpsAgent } | undefined;
function agentFor(https: boolean): HttpAgent {
  agents ??= {
    http: new HttpAgent({ keepAlive: true }),
    https: new HttpsAgent({ keepAlive: true }),
  };
  return https ? agents.https : agents.http;
}

/** Redirects a streamed GET follows, as many as fetch would. */
const MAX_REDIRECTS = 20;
const REDIRECTS: ReadonlySet<number> = new Set([301, 302, 303, 307, 308]);

/** The node stream behind a Response made here: bodyChunks reads it directly. */
const nodeBodies = new WeakMap<Response, IncomingMessage>();

/** The socket stream of a Response from this module, if it is one (undefined for fetch's). */
export function nodeBody(res: Response): AsyncIterable<Buffer> | undefined {
  return nodeBodies.get(res);
}

/**
 * Without a deadline a peer that stops sending (a stalled CDN, a hung registry) would hold a pull or
 * push for ever. The socket's idle timer covers the wait for headers and every gap in the body
 * after them; ETIMEDOUT is a retryable code, so the download resumes with Range.
 */
function dropWhenIdle(req: ClientRequest, idleMs: number): void {
  req.setTimeout(idleMs, () => {
    req.destroy(Object.assign(new Error(`no data for ${idleMs} ms`), { code: 'ETIMEDOUT' }));
  });
}

/** A body this module sends: anything async-iterable that is not already a buffer or string. */
export function isStreamBody(body: unknown): body is AsyncIterable<Uint8Array> {
  return (
    typeof body === 'object' &&
    body !== null &&
    Symbol.asyncIterator in body &&
    !(body instanceof ReadableStream)
  );
}

/**
 * Send `body` to `url` with backpressure; resolves with the response once its headers arrive
 * (the server may answer before it has read the whole body). Rejects with the socket's error, or
 * with the body's own error (a source blob that failed verification), before any response.
 */
export function sendStreaming(
  url: URL,
  method: string,
  headers: Record<string, string>,
  body: AsyncIterable<Uint8Array>,
  idleMs: number,
): Promise<Response> {
  return new Promise((resolve, reject) => {
    const https = url.protocol === 'https:';
    const req = (https ? httpsRequest : httpRequest)(url, {
      method,
      headers,
      agent: agentFor(https),
    });
    dropWhenIdle(req, idleMs);
    let settled = false;
    const fail = (err: unknown): void => {
      if (settled) return;
      settled = true;
      reject(err instanceof Error ? err : new Error(String(err)));
    };
    req.on('response', (res) => {
      if (settled) {
        res.resume();
        return;
      }
      settled = true;
      resolve(toResponse(res));
    });
    req.on('error', fail);
    pipeline(Readable.from(body, { objectMode: false }), req).catch((err: unknown) => {
      fail(err);
      req.destroy();
    });
  });
}

/**
 * GET `url` (a blob: registries often redirect it to storage elsewhere). Follows redirects as
 * fetch does; the Authorization header goes only to the origin it was meant for, never to the
 * storage host a redirect names (whose signed URL carries its own authority).
 */
export async function getStreaming(
  url: URL,
  headers: Record<string, string>,
  idleMs: number,
): Promise<Response> {
  let current = url;
  let sent = headers;
  for (let hop = 0; ; hop++) {
    const res = await getOnce(current, sent, idleMs);
    const location = res.headers.location;
    if (!REDIRECTS.has(res.statusCode ?? 0) || location === undefined || hop >= MAX_REDIRECTS) {
      return toResponse(res);
    }
    res.resume();
    const next = new URL(location, current);
    if (next.origin !== current.origin) {
      sent = Object.fromEntries(
        Object.entries(sent).filter(([name]) => name.toLowerCase() !== 'authorization'),
      );
    }
    current = next;
  }
}

function getOnce(
  url: URL,
  headers: Record<string, string>,
  idleMs: number,
): Promise<IncomingMessage> {
  return new Promise((resolve, reject) => {
    const https = url.protocol === 'https:';
    const req = (https ? httpsRequest : httpRequest)(url, {
      method: 'GET',
      headers,
      agent: agentFor(https),
    });
    dropWhenIdle(req, idleMs);
    req.on('response', resolve);
    req.on('error', reject);
    req.end();
  });
}

function toResponse(res: IncomingMessage): Response {
  const status = res.statusCode ?? 500;
  const headers = new Headers();
  for (const [name, value] of Object.entries(res.headers)) {
    if (value === undefined) continue;
    for (const v of Array.isArray(value) ? value : [value]) headers.append(name, v);
  }
  // A Response for these statuses must not have a body (and a 1xx never reaches here).
  const bodiless = status === 204 || status === 205 || status === 304;
  if (bodiless) res.resume();
  const response = new Response(bodiless ? null : lazyWebBody(res), {
    status,
    statusText: res.statusMessage ?? '',
    headers,
  });
  if (!bodiless) nodeBodies.set(response, res);
  return response;
}

/**
 * A web stream over `res` that reads nothing until it is read (Readable.toWeb would start the
 * data flowing at once, racing a caller that iterates the node stream itself).
 */
function lazyWebBody(res: IncomingMessage): ReadableStream<Uint8Array> {
  let chunks: AsyncIterator<Buffer> | undefined;
  return new ReadableStream<Uint8Array>(
    {
      async pull(controller) {
        chunks ??= (res as AsyncIterable<Buffer>)[Symbol.asyncIterator]();
        const next = await chunks.next();
        if (next.done === true) controller.close();
        else controller.enqueue(new Uint8Array(next.value));
      },
      cancel() {
        res.destroy();
      },
    },
    { highWaterMark: 0 },
  );
}
