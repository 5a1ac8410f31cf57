// Requests whose body is a blob stream go out through node:http(s), not fetch. Node's fetch reads
// an async-iterable request body ahead of the socket without waiting for it to drain: a 256 MiB
// monolithic upload held all 256 MiB in memory (spec-notes/performance.md). Here the body is piped
// into the request, so at most a socket buffer's worth is in flight. The answer is handed back as
// a fetch Response, so everything above the transport reads both paths the same way.
import { Agent as HttpAgent, request as httpRequest, type IncomingMessage } from 'node:http';
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
): Promise<Response> {
  return new Promise((resolve, reject) => {
    const https = url.protocol === 'https:';
    const req = (https ? httpsRequest : httpRequest)(url, {
      method,
      headers,
      agent: agentFor(https),
    });
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
  return new Response(bodiless ? null : Readable.toWeb(res), {
    status,
    statusText: res.statusMessage ?? '',
    headers,
  });
}
