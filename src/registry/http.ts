// Every registry request goes through node:http(s), not fetch. Node 20's fetch (undici) is not in
// Node's start-up snapshot: the first request of a process paid for loading and compiling it, more
// than the rest of a push that mounts every blob (spec-notes/performance.md). Blob bodies were
// already sent here for another reason: Node's fetch reads an async-iterable request body ahead of
// the socket without waiting for it to drain, and a monolithic upload held the whole blob in
// memory. Here a streamed body is piped into the request, so at most a socket buffer's worth is in
// flight, and a caller reads a blob download from the socket's own stream (bodyChunks), with its
// backpressure. Redirects are followed as fetch follows them (`redirect: 'follow'`).
import {
  Agent as HttpAgent,
  request as httpRequest,
  type ClientRequest,
  type IncomingHttpHeaders,
  type IncomingMessage,
} from 'node:http';
import { Agent as HttpsAgent, request as httpsRequest } from 'node:https';
import { Readable } from 'node:stream';
import { finished, pipeline } from 'node:stream/promises';

/** The headers of a response: `get` answers as fetch's Headers does (case-insensitive, joined). */
export interface ResponseHeaders {
  get(name: string): string | null;
}

/**
 * What the transport hands back: the part of fetch's Response the registry code reads, so a
 * Response (tests build some) is one too.
 */
export interface RegistryResponse {
  readonly status: number;
  readonly statusText: string;
  readonly ok: boolean;
  readonly headers: ResponseHeaders;
  /** Absent for a response that has none (HEAD, 204, 205, 304). */
  readonly body: { cancel(): Promise<void> } | null;
  text(): Promise<string>;
  json(): Promise<unknown>;
}

/** A request body: bytes or text sent whole, or a stream (a blob) sent with backpressure. */
export type RequestBody = Uint8Array | string | AsyncIterable<Uint8Array>;

export interface SendOptions {
  method: string;
  headers: Record<string, string>;
  body?: RequestBody | undefined;
  /** The connection is dropped (ETIMEDOUT) after this long without data. */
  idleMs: number;
}

// Kept-alive connections, as fetch keeps them: one push sends many small requests to one host.
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

/** Redirects followed, as many as fetch follows; the 21st is handed back as the answer. */
const MAX_REDIRECTS = 20;
const REDIRECTS: ReadonlySet<number> = new Set([301, 302, 303, 307, 308]);
/** Request headers that describe the body: dropped with it when a redirect turns a request into a GET. */
const BODY_HEADERS = [
  'content-encoding',
  'content-language',
  'content-location',
  'content-type',
  'content-length',
];
/** Headers that carry authority: never sent on to another origin (fetch drops the same ones). */
const CREDENTIAL_HEADERS = ['authorization', 'proxy-authorization', 'cookie'];
/**
 * A body cancelled unread is drained, so its connection can carry the next request, when the
 * server declared at most this much; a longer or undeclared one (a blob) closes the connection.
 */
const DRAIN_LIMIT = 64 * 1024;

/**
 * Send a request; resolves once the response's headers arrive (a server may answer an upload
 * before it has read the whole body). Follows redirects as fetch does: 303 (and 301/302 for a
 * POST) becomes a bodiless GET, 307/308 repeat the request; credentials go only to the origin they
 * were meant for, never to another host a redirect names (a storage URL carries its own
 * authority). A streamed body can be sent once, so its request's redirect is handed back as the
 * answer. Rejects with the socket's error, or with the body's own error (a source blob that failed
 * verification) before any response.
 */
export async function send(url: URL, options: SendOptions): Promise<RegistryResponse> {
  let current = url;
  let { method, headers, body } = options;
  for (let hop = 0; ; hop++) {
    const res = await sendOnce(current, method, headers, body, options.idleMs);
    const status = res.statusCode ?? 0;
    const location = res.headers.location;
    if (
      !REDIRECTS.has(status) ||
      location === undefined ||
      hop >= MAX_REDIRECTS ||
      isStreamBody(body)
    ) {
      const response = new NodeResponse(res, method === 'HEAD');
      // Handed back once its connection is free again, so the next request can take it.
      if (response.body === null) await ended(res);
      return response;
    }
    await ended(res.resume());
    const next = new URL(location, current);
    if (
      (status === 303 && method !== 'GET' && method !== 'HEAD') ||
      (status <= 302 && method === 'POST')
    ) {
      method = 'GET';
      body = undefined;
      headers = without(headers, BODY_HEADERS);
    }
    if (next.origin !== current.origin) headers = without(headers, CREDENTIAL_HEADERS);
    current = next;
  }
}

function without(
  headers: Record<string, string>,
  names: readonly string[],
): Record<string, string> {
  return Object.fromEntries(
    Object.entries(headers).filter(([name]) => !names.includes(name.toLowerCase())),
  );
}

/** A body this module streams: anything async-iterable that is not already bytes or text. */
export function isStreamBody(body: unknown): body is AsyncIterable<Uint8Array> {
  return (
    typeof body === 'object' &&
    body !== null &&
    !(body instanceof Uint8Array) &&
    Symbol.asyncIterator in body
  );
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

function sendOnce(
  url: URL,
  method: string,
  headers: Record<string, string>,
  body: RequestBody | undefined,
  idleMs: number,
): Promise<IncomingMessage> {
  return new Promise((resolve, reject) => {
    const https = url.protocol === 'https:';
    const whole = typeof body === 'string' ? Buffer.from(body, 'utf8') : body;
    const sent =
      whole instanceof Uint8Array &&
      !Object.keys(headers).some((h) => h.toLowerCase() === 'content-length')
        ? { ...headers, 'content-length': String(whole.byteLength) }
        : headers;
    const req = (https ? httpsRequest : httpRequest)(url, {
      method,
      headers: sent,
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
      resolve(res);
    });
    req.on('error', fail);
    if (isStreamBody(whole)) {
      pipeline(Readable.from(whole, { objectMode: false }), req).catch((err: unknown) => {
        fail(err);
        req.destroy();
      });
    } else {
      req.end(whole);
    }
  });
}

/**
 * Resolves when `message` has ended or closed, whichever way. Node's agent frees a kept-alive
 * connection on a tick queued at the end, which runs before anything awaiting this resumes.
 */
function ended(message: IncomingMessage): Promise<void> {
  return finished(message).catch(() => undefined);
}

class NodeHeaders implements ResponseHeaders {
  constructor(private readonly raw: IncomingHttpHeaders) {}

  get(name: string): string | null {
    const value = this.raw[name.toLowerCase()];
    if (value === undefined) return null;
    // Several fields of one name read as one, comma-separated, as fetch's Headers.get reads them.
    return Array.isArray(value) ? value.join(', ') : value;
  }
}

class NodeResponse implements RegistryResponse {
  readonly status: number;
  readonly statusText: string;
  readonly headers: ResponseHeaders;
  readonly body: { cancel(): Promise<void> } | null;

  constructor(
    readonly message: IncomingMessage,
    head: boolean,
  ) {
    this.status = message.statusCode ?? 500;
    this.statusText = message.statusMessage ?? '';
    this.headers = new NodeHeaders(message.headers);
    // These have no body; reading the (empty) stream to its end frees the connection.
    const bodiless = head || this.status === 204 || this.status === 205 || this.status === 304;
    if (bodiless) message.resume();
    this.body = bodiless ? null : { cancel: () => this.discard() };
  }

  get ok(): boolean {
    return this.status >= 200 && this.status <= 299;
  }

  /** Drop the body unread; resolves once the connection is free again (or closed). */
  private discard(): Promise<void> {
    const declared = Number(this.message.headers['content-length'] ?? NaN);
    if (this.message.complete || declared <= DRAIN_LIMIT) this.message.resume();
    else this.message.destroy();
    return ended(this.message);
  }

  async text(): Promise<string> {
    const chunks: Buffer[] = [];
    if (this.body !== null)
      for await (const c of this.message as AsyncIterable<Buffer>) chunks.push(c);
    return Buffer.concat(chunks).toString('utf8');
  }

  async json(): Promise<unknown> {
    return JSON.parse(await this.text()) as unknown;
  }
}

/**
 * A response body as bytes: the socket's own stream for a response made here, else (a fetch
 * Response a test made) its web stream, async-iterable in Node 20.
 */
export function bodyChunks(res: RegistryResponse): AsyncIterable<Uint8Array> {
  if (res instanceof NodeResponse) return res.body === null ? emptyBody() : res.message;
  return (res.body ?? emptyBody()) as AsyncIterable<Uint8Array>;
}

async function* emptyBody(): AsyncIterable<Uint8Array> {
  /* no body */
}
