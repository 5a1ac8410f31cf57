// Small HTTP helpers the handlers share: replies, capped request bodies, paging links.
import type { IncomingMessage, ServerResponse } from 'node:http';
import { RegistryHttpError } from './http-errors.js';

/** Every response says which protocol it speaks (clients probe GET /v2/ for it). */
export const API_VERSION_HEADER = 'Docker-Distribution-API-Version';
export const API_VERSION = 'registry/2.0';

/** Reply with a JSON body (HEAD: headers only). */
export function sendJson(
  req: IncomingMessage,
  res: ServerResponse,
  status: number,
  body: unknown,
  headers: Record<string, string> = {},
  contentType = 'application/json',
): void {
  sendBytes(req, res, status, Buffer.from(JSON.stringify(body), 'utf8'), contentType, headers);
}

export function sendBytes(
  req: IncomingMessage,
  res: ServerResponse,
  status: number,
  bytes: Buffer,
  contentType: string,
  headers: Record<string, string> = {},
): void {
  res.writeHead(status, {
    ...headers,
    'Content-Type': contentType,
    'Content-Length': String(bytes.byteLength),
  });
  res.end(req.method === 'HEAD' ? undefined : bytes);
}

/** A reply without a body. */
export function sendEmpty(
  res: ServerResponse,
  status: number,
  headers: Record<string, string> = {},
): void {
  res.writeHead(status, { ...headers, 'Content-Length': '0' });
  res.end();
}

/** The request's Content-Length, undefined when absent (chunked). Throws 400 when malformed. */
export function contentLength(req: IncomingMessage): number | undefined {
  const raw = req.headers['content-length'];
  if (raw === undefined) return undefined;
  if (!/^\d{1,15}$/.test(raw)) {
    throw new RegistryHttpError(400, 'SIZE_INVALID', 'malformed Content-Length');
  }
  return Number(raw);
}

/** Whether the request has a body at all (a length over 0, or chunked transfer). */
export function hasBody(req: IncomingMessage): boolean {
  const n = contentLength(req);
  return n !== undefined ? n > 0 : req.headers['transfer-encoding'] !== undefined;
}

/**
 * The request body as it arrives, refused with SIZE_INVALID (413) once past `max` bytes: a
 * declared Content-Length over `max` is refused before a byte is read, a chunked body as soon as
 * it passes.
 */
export async function* cappedBody(
  req: IncomingMessage,
  max: number,
): AsyncGenerator<Buffer, void, undefined> {
  const declared = contentLength(req);
  if (declared !== undefined && declared > max) throw tooLarge(max);
  let seen = 0;
  for await (const chunk of req as AsyncIterable<Buffer>) {
    seen += chunk.byteLength;
    if (seen > max) throw tooLarge(max);
    yield chunk;
  }
}

/** The whole body, at most `max` bytes (manifests). */
export async function readBody(req: IncomingMessage, max: number): Promise<Buffer> {
  const chunks: Buffer[] = [];
  let n = 0;
  for await (const chunk of cappedBody(req, max)) {
    chunks.push(chunk);
    n += chunk.byteLength;
  }
  return Buffer.concat(chunks, n);
}

function tooLarge(max: number): RegistryHttpError {
  return new RegistryHttpError(413, 'SIZE_INVALID', 'request body over the size limit', {
    limit: max,
  });
}

/** `Link: <…>; rel="next"` for a listing page that has a successor. */
export function nextLink(path: string, n: number | undefined, last: string): string {
  const q = new URLSearchParams();
  if (n !== undefined) q.set('n', String(n));
  q.set('last', last);
  return `<${path}?${q.toString()}>; rel="next"`;
}
