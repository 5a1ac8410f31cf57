// Blob upload sessions (POST, PATCH, PUT of /v2/<name>/blobs/uploads/): each one a part file in
// the layout's ingest/ and the running hash of what it holds, kept in this process. The part file
// carries our owner token, so gc in another process leaves it alone while we run; an idle session
// expires and its part file goes, and an exit removes every part file (store/exit-cleanup.ts).
// Completion goes through BlobStore.commitHashed: verified digest, then linked into blobs/.
import { randomUUID } from 'node:crypto';
import { closeSync, constants, openSync, unlinkSync } from 'node:fs';
import { open, type FileHandle } from 'node:fs/promises';
import type { Hash } from 'node:crypto';
import { algorithmOf, newHash, type Algorithm, type Digest } from '../digest.js';
import { wrapFsError } from '../errors.js';
import type { Layout } from '../layout/layout.js';
import { cleanupAtExit } from '../store/exit-cleanup.js';
import { hashFd } from '../store/hash-file.js';
import { newPartPath } from '../store/ingest.js';
import type { PutResult } from '../store/blob-store.js';
import { RegistryHttpError } from './http-errors.js';

/** Bytes are gathered into writes of at least this size (one thread-pool hop per MiB). */
const WRITE_BATCH = 1024 * 1024;

export interface UploadLimits {
  /** Largest blob a client may upload (bytes). */
  maxUploadBytes: number;
  /** Upload sessions open at once, over all repositories. */
  maxConcurrentUploads: number;
  /** A session with no request for this long is dropped and its part file removed (ms). */
  uploadIdleMs: number;
}

export class UploadSession {
  readonly id = randomUUID();
  /** Bytes received, written and hashed (the part file holds exactly these). */
  offset = 0;
  lastActive = Date.now();
  /** A request is reading into or completing this session: others must wait their turn. */
  busy = false;
  private hash: Hash = newHash('sha256');
  private readonly forget: () => void;
  private discarded = false;

  constructor(
    readonly repository: string,
    readonly layout: Layout,
    readonly part: string,
  ) {
    this.forget = cleanupAtExit(() => removeQuietly(part));
  }

  /**
   * Append a request body. Only whole batches that were written reach the hash and the offset;
   * a failure part-way (the client went away, the limit was passed) truncates the file back to
   * the offset, so the session stays consistent and can be resumed. Throws SIZE_INVALID (413) past
   * `maxBytes` in total.
   */
  async append(source: AsyncIterable<Uint8Array>, maxBytes: number): Promise<void> {
    let fh: FileHandle | undefined;
    try {
      fh = await open(
        this.part,
        constants.O_WRONLY | constants.O_APPEND | (constants.O_NOFOLLOW ?? 0),
      );
    } catch (err) {
      throw wrapFsError(err, 'open upload part file');
    }
    let batch: Uint8Array[] = [];
    let batched = 0;
    const flush = async (): Promise<void> => {
      const data = batch.length === 1 ? batch[0]! : Buffer.concat(batch, batched);
      batch = [];
      batched = 0;
      // Hash while the thread pool writes (the two used to run one after the other), into a copy
      // of the state: the session's hash takes the batch only once the write succeeded.
      const written = writeFully(fh, data);
      const next = this.hash.copy();
      try {
        next.update(data);
      } finally {
        await written;
      }
      this.hash = next;
      this.offset += data.byteLength;
    };
    try {
      for await (const chunk of source) {
        if (this.offset + batched + chunk.byteLength > maxBytes) {
          throw new RegistryHttpError(413, 'SIZE_INVALID', 'blob upload over the size limit', {
            limit: maxBytes,
          });
        }
        batch.push(chunk);
        batched += chunk.byteLength;
        if (batched >= WRITE_BATCH) await flush();
      }
      if (batched > 0) await flush();
    } catch (err) {
      // A batch may be half written: cut the file back to what the hash has seen.
      await fh.truncate(this.offset).catch(() => undefined);
      throw err;
    } finally {
      this.lastActive = Date.now();
      await fh.close().catch(() => undefined);
    }
  }

  /**
   * Verify the bytes received against `digest` and commit the blob (E_DIGEST_MISMATCH when they
   * differ: nothing becomes visible). Runs inside the caller's layout operation, so the blob is
   * leased from its commit on.
   */
  async commit(digest: Digest): Promise<PutResult> {
    await syncFile(this.part);
    const alg = algorithmOf(digest);
    // The running hash is sha256, the algorithm nearly every client uses; another one is
    // computed from the part file once.
    const hex =
      alg === 'sha256'
        ? this.hash.copy().digest('hex')
        : await hashPart(this.part, alg, this.offset);
    return this.layout.blobs.commitHashed(
      this.part,
      { algorithm: alg, hex, size: this.offset },
      { digest },
    );
  }

  /** Remove the part file (idempotent). */
  discard(): void {
    if (this.discarded) return;
    this.discarded = true;
    this.forget();
    removeQuietly(this.part);
  }

  /** The Range header value the spec uses for upload progress: `0-<last byte>`. */
  get range(): string {
    return `0-${Math.max(0, this.offset - 1)}`;
  }
}

export class UploadSessions {
  private readonly sessions = new Map<string, UploadSession>();
  private readonly sweeper: NodeJS.Timeout;

  constructor(readonly limits: UploadLimits) {
    this.sweeper = setInterval(
      () => this.expire(),
      Math.max(50, Math.min(30_000, limits.uploadIdleMs / 2)),
    );
    this.sweeper.unref();
  }

  get size(): number {
    return this.sessions.size;
  }

  /** Open a session in `layout`. Throws TOOMANYREQUESTS (429) at the concurrent-upload limit. */
  create(repository: string, layout: Layout): UploadSession {
    this.expire();
    if (this.sessions.size >= this.limits.maxConcurrentUploads) {
      throw new RegistryHttpError(
        429,
        'TOOMANYREQUESTS',
        'too many uploads in progress',
        { limit: this.limits.maxConcurrentUploads },
        undefined,
        { 'Retry-After': '5' },
      );
    }
    const part = newPartPath(layout.root);
    try {
      closeSync(openSync(part, constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL, 0o644));
    } catch (err) {
      throw wrapFsError(err, 'create upload part file');
    }
    const session = new UploadSession(repository, layout, part);
    this.sessions.set(session.id, session);
    return session;
  }

  /** The session `id` of `repository`. Throws BLOB_UPLOAD_UNKNOWN (404) otherwise. */
  get(repository: string, id: string): UploadSession {
    const s = this.sessions.get(id);
    if (s === undefined || s.repository !== repository) {
      throw new RegistryHttpError(404, 'BLOB_UPLOAD_UNKNOWN', 'blob upload unknown to registry', {
        uuid: id,
      });
    }
    return s;
  }

  /** Take a session for one request; BLOB_UPLOAD_INVALID while another request holds it. */
  acquire(repository: string, id: string): UploadSession {
    const s = this.get(repository, id);
    if (s.busy) {
      throw new RegistryHttpError(
        400,
        'BLOB_UPLOAD_INVALID',
        'another request is using this upload',
        {
          uuid: id,
        },
      );
    }
    s.busy = true;
    s.lastActive = Date.now();
    return s;
  }

  release(s: UploadSession): void {
    s.busy = false;
    s.lastActive = Date.now();
  }

  /** Called after a session ended (the server takes back a repository it came to nothing in). */
  onDropped: ((repository: string) => void) | undefined;

  /** Whether a session of `repository` is open. */
  has(repository: string): boolean {
    for (const s of this.sessions.values()) if (s.repository === repository) return true;
    return false;
  }

  /** End a session: completed, cancelled or failed. */
  drop(s: UploadSession): void {
    this.sessions.delete(s.id);
    s.discard();
    this.onDropped?.(s.repository);
  }

  /** Drop sessions idle for longer than the limit (a request in progress is not idle). */
  expire(now = Date.now()): number {
    let n = 0;
    for (const s of [...this.sessions.values()]) {
      if (!s.busy && now - s.lastActive > this.limits.uploadIdleMs) {
        this.drop(s);
        n++;
      }
    }
    return n;
  }

  /** Drop every session (shutdown, after in-flight requests ended). */
  close(): void {
    clearInterval(this.sweeper);
    this.onDropped = undefined;
    for (const s of [...this.sessions.values()]) this.drop(s);
  }
}

async function writeFully(fh: FileHandle, data: Uint8Array): Promise<void> {
  let off = 0;
  while (off < data.byteLength) {
    const { bytesWritten } = await fh.write(data, off, data.byteLength - off);
    off += bytesWritten;
  }
}

async function syncFile(path: string): Promise<void> {
  let fh: FileHandle | undefined;
  try {
    fh = await open(path, constants.O_RDONLY | (constants.O_NOFOLLOW ?? 0));
    await fh.sync();
  } catch (err) {
    throw wrapFsError(err, 'sync upload part file');
  } finally {
    await fh?.close().catch(() => undefined);
  }
}

async function hashPart(path: string, alg: Algorithm, size: number): Promise<string> {
  const fd = openSync(path, constants.O_RDONLY | (constants.O_NOFOLLOW ?? 0));
  try {
    return (await hashFd(fd, alg, size)).hex;
  } finally {
    closeSync(fd);
  }
}

function removeQuietly(path: string): void {
  try {
    unlinkSync(path);
  } catch {
    /* gone already */
  }
}
