// Blob endpoints: GET/HEAD (with Range), DELETE, and uploads: POST (start, monolithic, mount),
// PATCH (chunks), GET (status), PUT (complete), DELETE (cancel). Every write runs as a layout
// operation (its own gc lease), and a committed blob is pinned (pins.ts) until a manifest
// references it.
import { closeSync, fstatSync } from 'node:fs';
import type { IncomingMessage } from 'node:http';
import { SUPPORTED_ALGORITHMS, algorithmOf, digestOf, type Digest } from '../digest.js';
import { isOcilayoutError } from '../errors.js';
import type { Layout } from '../layout/layout.js';
import { deleteBlob } from '../maintenance/delete.js';
import { wallClockNs } from '../store/file-version.js';
import { digestMismatch } from '../store/verify-stream.js';
import {
  allowed,
  assertDeletable,
  assertWritable,
  v2Path,
  type Call,
  type ServeContext,
} from './context.js';
import { sendFileBody } from './blob-streams.js';
import { RegistryHttpError } from './http-errors.js';
import { cappedBody, contentLength, hasBody, sendEmpty } from './http.js';
import { isValidRepositoryName, requestDigest } from './names.js';
import type { UploadSession } from './uploads.js';

const EMPTY = new Uint8Array(0);
/** The digest of the empty content under each algorithm we serve. */
const EMPTY_CONTENT_DIGESTS: ReadonlySet<string> = new Set(
  SUPPORTED_ALGORITHMS.map((alg) => digestOf(EMPTY, alg)),
);

/** GET/HEAD /v2/<name>/blobs/<digest> */
export async function getBlob(ctx: ServeContext, call: Call): Promise<void> {
  const digest = requestDigest(call.tail);
  const layout = ctx.repos.open(call.name);
  const st = layout.blobs.stat(digest);
  if (st === undefined) throw blobUnknown(digest);
  // An empty file holds only the empty content: under any other digest it is a blob truncated
  // (a crash, a full disk), known corrupt without reading it. It fails as a corrupt blob's GET
  // does, E_DIGEST_MISMATCH, a 500 reported in the server's log, for HEAD as well: the layout
  // does hold the blob, damaged, and 404 BLOB_UNKNOWN would tell pullers (and caching proxies)
  // it never existed while the damage went unreported.
  if (st.size === 0 && !EMPTY_CONTENT_DIGESTS.has(digest)) {
    throw digestMismatch(`blob ${digest}`, digest, digestOf(EMPTY, algorithmOf(digest)));
  }
  const { res, req } = call;
  // A size-0 GET has nothing to read or hash: its digest is the empty content's (checked above).
  if (req.method === 'HEAD' || st.size === 0) {
    writeBlobHead(call, digest, st.size);
    res.end();
    return;
  }
  const slot = ctx.blobReads.slots.take();
  // A client that hangs up while its GET waits for a slot leaves the queue.
  res.once('close', slot.release);
  try {
    if (slot.queued) await waitSilently(req, slot.ready);
    if (res.destroyed) return;
    await sendBlob(ctx, call, layout, digest);
  } finally {
    res.off('close', slot.release);
    slot.release();
  }
}

/**
 * Wait for `ready` with the connection's idle timeout off: a GET waiting for its turn is silent
 * because of us, not its client, and must not be cut as idle (under many pulls the wait can
 * outlast the timeout). The timeout is back on once the body may start, where a client that stops
 * reading is again what it catches.
 */
async function waitSilently(req: IncomingMessage, ready: Promise<void>): Promise<void> {
  const socket = req.socket;
  const idleMs = socket.timeout;
  socket.setTimeout(0);
  try {
    await ready;
  } finally {
    if (idleMs !== undefined && idleMs > 0 && !socket.destroyed) socket.setTimeout(idleMs);
  }
}

async function sendBlob(
  ctx: ServeContext,
  call: Call,
  layout: Layout,
  digest: Digest,
): Promise<void> {
  let fd: number;
  try {
    fd = layout.blobs.openFile(digest);
  } catch (err) {
    // Deleted since the stat above.
    if (isOcilayoutError(err, 'E_NOT_FOUND')) throw blobUnknown(digest);
    throw err;
  }
  try {
    // Sizes and identity from the open file itself, not the path: what is read is what is judged.
    const statAtNs = wallClockNs();
    const fst = fstatSync(fd, { bigint: true });
    const size = Number(fst.size);
    const range = writeBlobHead(call, digest, size);
    const { verify, verified, slots } = ctx.blobReads;
    if (range !== undefined) {
      // A part cannot be checked against the digest: ranges are sent as stored.
      const length = range.end - range.start + 1;
      await sendFileBody(call.res, fd, range.start, length, slots, digest, false);
      return;
    }
    if (verify === 'once' && verified.has(digest, fst)) {
      await sendFileBody(call.res, fd, 0, size, slots, digest, false);
      return;
    }
    // Verified while it is sent, the last read checked before it is written: a corrupt file
    // ends the body short, never complete under the digest.
    await sendFileBody(call.res, fd, 0, size, slots, digest, true);
    verified.record(digest, fst, statAtNs);
  } finally {
    closeSync(fd);
  }
}

/**
 * The status and headers of a blob response of `size` bytes (206 for a satisfiable Range, 416
 * thrown for one past the end); the range to send, undefined for the whole blob.
 */
function writeBlobHead(
  call: Call,
  digest: Digest,
  size: number,
): { start: number; end: number } | undefined {
  const range = parseRange(call.req.headers.range, size);
  const headers: Record<string, string> = {
    'Content-Type': 'application/octet-stream',
    'Docker-Content-Digest': digest,
    'Accept-Ranges': 'bytes',
  };
  if (range === 'unsatisfiable') {
    throw new RegistryHttpError(
      416,
      'SIZE_INVALID',
      'range not satisfiable',
      { digest },
      undefined,
      {
        'Content-Range': `bytes */${size}`,
      },
    );
  }
  if (range === undefined) {
    call.res.writeHead(200, { ...headers, 'Content-Length': String(size) });
  } else {
    call.res.writeHead(206, {
      ...headers,
      'Content-Length': String(range.end - range.start + 1),
      'Content-Range': `bytes ${range.start}-${range.end}/${size}`,
    });
  }
  return range;
}

/** DELETE /v2/<name>/blobs/<digest> */
export async function deleteBlobCall(ctx: ServeContext, call: Call): Promise<void> {
  assertDeletable(ctx);
  const digest = requestDigest(call.tail);
  const layout = ctx.repos.open(call.name);
  if (!layout.blobs.has(digest)) throw blobUnknown(digest);
  await ctx.pins.unpin(layout.root, digest);
  await deleteBlob(layout, digest);
  sendEmpty(call.res, 202);
}

/** POST /v2/<name>/blobs/uploads/[?digest=…|?mount=…&from=…] */
export async function startUpload(ctx: ServeContext, call: Call): Promise<void> {
  assertWritable(ctx);
  const { query, res } = call;
  const layout = await ctx.repos.openOrCreate(call.name);
  const mount = query.get('mount');
  if (mount !== null) {
    const digest = requestDigest(mount);
    if (await tryMount(ctx, call, layout, digest, query.get('from'))) {
      call.note = 'mounted';
      blobCreated(call, digest);
      return;
    }
    // Not mountable: the spec's answer is an ordinary upload session.
  }
  const monolithic = query.get('digest');
  if (monolithic !== null) {
    const digest = requestDigest(monolithic);
    await layout.operation(async () => {
      const size = contentLength(call.req);
      const body = cappedBody(call.req, ctx.policy.maxUploadBytes);
      try {
        const put = await layout.blobs.put(body, {
          digest,
          ...(size === undefined ? {} : { size }),
        });
        // Present already: put() did not read the body. Read it to its end (capped) so the
        // connection can serve the next request.
        if (put.existed) for await (const _ of body) void _;
      } catch (err) {
        throw clientBytesError(err, digest);
      }
      await ctx.pins.pin(layout.root, digest);
    });
    blobCreated(call, digest);
    return;
  }
  const session = ctx.uploads.create(call.name, layout);
  sendEmpty(res, 202, uploadHeaders(call.name, session));
}

/** PATCH /v2/<name>/blobs/uploads/<id> */
export async function patchUpload(ctx: ServeContext, call: Call): Promise<void> {
  assertWritable(ctx);
  const session = ctx.uploads.acquire(call.name, call.tail);
  try {
    await appendChecked(ctx, call, session);
    sendEmpty(call.res, 202, uploadHeaders(call.name, session));
  } finally {
    ctx.uploads.release(session);
  }
}

/** GET /v2/<name>/blobs/uploads/<id> */
export function uploadStatus(ctx: ServeContext, call: Call): void {
  const session = ctx.uploads.get(call.name, call.tail);
  sendEmpty(call.res, 204, uploadHeaders(call.name, session));
}

/** PUT /v2/<name>/blobs/uploads/<id>?digest=… */
export async function finishUpload(ctx: ServeContext, call: Call): Promise<void> {
  assertWritable(ctx);
  const digest = requestDigest(call.query.get('digest'));
  const session = ctx.uploads.acquire(call.name, call.tail);
  let done = false;
  try {
    if (hasBody(call.req)) await appendChecked(ctx, call, session);
    await session.layout.operation(async () => {
      try {
        await session.commit(digest);
      } catch (err) {
        // A wrong digest ends the session: its bytes are of no use under any other digest.
        if (
          isOcilayoutError(err, 'E_DIGEST_MISMATCH') ||
          isOcilayoutError(err, 'E_SIZE_MISMATCH')
        ) {
          done = true;
        }
        throw clientBytesError(err, digest);
      }
      await ctx.pins.pin(session.layout.root, digest);
    });
    done = true;
  } finally {
    ctx.uploads.release(session);
    if (done) ctx.uploads.drop(session);
  }
  blobCreated(call, digest);
}

/** DELETE /v2/<name>/blobs/uploads/<id> */
export function cancelUpload(ctx: ServeContext, call: Call): void {
  assertWritable(ctx);
  const session = ctx.uploads.acquire(call.name, call.tail);
  ctx.uploads.drop(session);
  sendEmpty(call.res, 204);
}

/**
 * Append the request body to the session, after checking Content-Range: a chunk must start where
 * the upload stands (416 with the current Range otherwise) and its length must match
 * Content-Length. A PATCH without Content-Range is a streamed chunk (the spec allows it).
 */
async function appendChecked(ctx: ServeContext, call: Call, session: UploadSession): Promise<void> {
  const rawRange = call.req.headers['content-range'];
  const length = contentLength(call.req);
  if (rawRange !== undefined) {
    const m = /^(?:bytes[ =])?(\d{1,15})-(\d{1,15})$/.exec(rawRange.trim());
    if (m === null) {
      throw new RegistryHttpError(400, 'BLOB_UPLOAD_INVALID', 'malformed Content-Range', {
        'content-range': rawRange,
      });
    }
    const start = Number(m[1]);
    const end = Number(m[2]);
    if (start !== session.offset || end < start) {
      throw new RegistryHttpError(
        416,
        'BLOB_UPLOAD_INVALID',
        'chunk out of order',
        { expectedStart: session.offset },
        undefined,
        uploadHeaders(call.name, session),
      );
    }
    if (length !== undefined && length !== end - start + 1) {
      throw new RegistryHttpError(
        400,
        'SIZE_INVALID',
        'Content-Length does not match Content-Range',
      );
    }
  }
  await session.append(call.req as AsyncIterable<Uint8Array>, ctx.policy.maxUploadBytes);
}

/**
 * Mount `digest` from repository `from` into `layout`: a hard link where the filesystem allows,
 * else a verified copy. False when there is nothing to mount (no such repository or blob): the
 * caller opens an upload session instead.
 */
async function tryMount(
  ctx: ServeContext,
  call: Call,
  layout: Layout,
  digest: Digest,
  from: string | null,
): Promise<boolean> {
  if (from === null || !isValidRepositoryName(from)) return false;
  // A repository the client may not read is not mountable (and its answer says nothing about it).
  if (!allowed(ctx, call, from, 'read')) return false;
  let source: Layout;
  try {
    source = ctx.repos.open(from);
  } catch {
    return false;
  }
  const st = source.blobs.stat(digest);
  if (st === undefined) return false;
  await layout.operation(async () => {
    const linked = layout.blobs.linkFrom(source.blobs.path(digest), digest, st.size);
    if (linked === false) {
      await layout.blobs.put(source.blobs.open(digest, { verify: true, size: st.size }), {
        digest,
        size: st.size,
      });
    }
    await ctx.pins.pin(layout.root, digest);
  });
  return true;
}

function blobCreated(call: Call, digest: Digest): void {
  sendEmpty(call.res, 201, {
    Location: v2Path(call.name, 'blobs', digest),
    'Docker-Content-Digest': digest,
  });
}

function uploadHeaders(name: string, session: UploadSession): Record<string, string> {
  return {
    Location: v2Path(name, 'blobs', 'uploads', session.id),
    Range: session.range,
    'Docker-Upload-UUID': session.id,
  };
}

/** The client's bytes did not match what it said: DIGEST_INVALID / SIZE_INVALID, 400. */
function clientBytesError(err: unknown, digest: Digest): unknown {
  if (isOcilayoutError(err, 'E_DIGEST_MISMATCH')) {
    return new RegistryHttpError(
      400,
      'DIGEST_INVALID',
      'content does not match the digest',
      { digest },
      err,
    );
  }
  if (isOcilayoutError(err, 'E_SIZE_MISMATCH')) {
    return new RegistryHttpError(
      400,
      'SIZE_INVALID',
      'content length does not match',
      { digest },
      err,
    );
  }
  return err;
}

function blobUnknown(digest: Digest): RegistryHttpError {
  return new RegistryHttpError(404, 'BLOB_UNKNOWN', 'blob unknown to registry', { digest });
}

/**
 * A single `bytes=` range of a `size`-byte blob: undefined to send it whole (no header, several
 * ranges, or a form we do not serve), 'unsatisfiable' for a range past the end (RFC 9110 14.1).
 */
export function parseRange(
  header: string | undefined,
  size: number,
): { start: number; end: number } | 'unsatisfiable' | undefined {
  if (header === undefined) return undefined;
  const m = /^bytes=(\d{0,15})-(\d{0,15})$/.exec(header.trim());
  if (m === null) return undefined;
  const [, a, b] = m as unknown as [string, string, string];
  if (a === '' && b === '') return undefined;
  if (a === '') {
    // A suffix: the last b bytes.
    const n = Number(b);
    if (n === 0) return 'unsatisfiable';
    return { start: Math.max(0, size - n), end: size - 1 };
  }
  const start = Number(a);
  const end = b === '' ? size - 1 : Math.min(Number(b), size - 1);
  if (b !== '' && Number(b) < start) return undefined; // invalid: ignored, as RFC 9110 says
  if (start >= size) return 'unsatisfiable';
  return { start, end };
}
