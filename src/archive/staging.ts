// Where an import keeps verified content until the whole archive has been judged: a private layout
// under the target's ingest/ (same filesystem, so publishing a blob is a hard link). Readers of the
// target never see it; a failed import removes it whole, leaving the target as it was.
import { rmSync, statfsSync } from 'node:fs';
import { join } from 'node:path';
import { algorithmOf, newHash, type Digest } from '../digest.js';
import { UnsafeInputError, wrapFsError } from '../errors.js';
import { Layout } from '../layout/layout.js';
import { MAX_INDEX_BYTES } from '../store/index-store.js';
import { cleanupAtExit } from '../store/exit-cleanup.js';
import { ensureIngestDir, leaseDigest, releaseLease } from '../store/ingest.js';
import { ownedName } from '../store/liveness.js';
import { checkDigest, sizeMismatch } from '../store/verify-stream.js';
import { sniffCompression, type Compression } from './compression.js';
import { transientChunks, type TarEntry as Entry } from './tar-source.js';

/** Entries up to this size are read whole and stored with sync I/O (spec-notes/performance.md). */
const SMALL_ENTRY = 1024 * 1024;
/** Suffix of staging directories in ingest/ (the owner token in the name tells gc if we live). */
const STAGING_SUFFIX = '.import';
/** sniffCompression looks at no more than this many leading bytes. */
const SNIFF_BYTES = 8;
/**
 * All JSON files held in memory together: room for the largest index.json plus the docker files.
 * Each file has its own cap, but candidates are kept for every top folder until the root is known.
 */
const JSON_BUDGET = MAX_INDEX_BYTES + 64 * 1024 * 1024;

export interface StagedFile {
  digest: Digest;
  size: number;
  /** What the content starts with: docker archives may hold gzip or plain layer tars. */
  compression: Compression;
}

export class Staging {
  /** Archive path → verified content. */
  readonly files = new Map<string, StagedFile>();
  /** Archive path of a docker layer alias → archive path it names. */
  readonly aliases = new Map<string, string>();
  /** Archive path → bytes of the small JSON files routed here (index.json, manifest.json...). */
  readonly json = new Map<string, Buffer>();
  /** Declared bytes of the distinct JSON files in `json` (see JSON_BUDGET). */
  private jsonBytes = 0;
  /** Unregisters the exit-time removal (set by open). */
  private forget: () => void = () => undefined;

  private constructor(
    readonly layout: Layout,
    private readonly target: Layout,
  ) {}

  static open(target: Layout): Staging {
    const dir = join(ensureIngestDir(target.root), ownedName(STAGING_SUFFIX));
    const staging = new Staging(Layout.init(dir).layout, target);
    // It can hold as much as the archive: an exit mid-import (a signal) removes it, not only gc.
    staging.forget = cleanupAtExit(() => staging.discard());
    return staging;
  }

  /** Bytes free on the staging filesystem. */
  freeBytes(): number {
    try {
      const s = statfsSync(this.layout.root);
      return s.bavail * s.bsize;
    } catch (err) {
      throw wrapFsError(err, `statfs ${this.layout.root}`);
    }
  }

  /**
   * Verify and keep one file entry. With `expected` (the digest its name claims), the content must
   * hash to it (E_DIGEST_MISMATCH); content the target already holds is verified, then linked, not
   * rewritten. A second entry under the same path must carry the same content (E_UNSAFE_ENTRY or
   * E_DIGEST_MISMATCH), since extractors disagree on which copy wins.
   */
  async stageFile(path: string, body: Entry, size: number, expected?: Digest): Promise<StagedFile> {
    if (this.aliases.has(path)) throw ambiguous(path);
    const prior = this.files.get(path);
    if (expected !== undefined) {
      if (prior !== undefined || this.layout.blobs.stat(expected)?.size === size) {
        return this.record(path, await verifyDrain(body, path, expected, size));
      }
      leaseDigest(this.target.root, expected); // gc protocol: lease, then look
      if (this.target.blobs.stat(expected)?.size === size) {
        const verified = await verifyDrain(body, path, expected, size);
        await this.adoptFromTarget(expected, size);
        return this.record(path, verified);
      }
    }
    const staged = await this.store(body, size, expected);
    if (prior !== undefined && prior.digest !== staged.digest) throw ambiguous(path);
    return this.record(path, staged);
  }

  /** Record a docker layer alias (a symlink entry, never materialised). */
  addAlias(path: string, target: string): void {
    const prior = this.aliases.get(path);
    if (this.files.has(path) || (prior !== undefined && prior !== target)) throw ambiguous(path);
    this.aliases.set(path, target);
  }

  /** Keep a small JSON file in memory, refusing more than `limit` bytes (E_TOO_LARGE). */
  async bufferJson(path: string, body: Entry, size: number, limit: number): Promise<void> {
    if (size > limit) {
      throw new UnsafeInputError(
        'E_TOO_LARGE',
        `archive entry ${path} is ${size} bytes, over the ${limit}-byte limit for ${path.split('/').pop()}`,
        { entry: path, size, limit },
      );
    }
    const prior = this.json.get(path);
    if (prior === undefined && this.jsonBytes + size > JSON_BUDGET) {
      throw new UnsafeInputError(
        'E_TOO_LARGE',
        `archive entry ${path} takes the JSON files held in memory past ${JSON_BUDGET} bytes`,
        { entry: path, size, limit: JSON_BUDGET },
      );
    }
    const bytes = await readAll(body);
    if (prior !== undefined && !prior.equals(bytes)) throw ambiguous(path);
    if (prior === undefined) this.jsonBytes += size;
    this.json.set(path, bytes);
  }

  /** Remove the staging layout and its lease. Idempotent. */
  discard(): void {
    this.forget();
    releaseLease(this.layout.root);
    rmSync(this.layout.root, { recursive: true, force: true });
  }

  private record(path: string, staged: StagedFile): StagedFile {
    this.files.set(path, staged);
    return staged;
  }

  private async store(body: Entry, size: number, expected?: Digest): Promise<StagedFile> {
    const blobs = this.layout.blobs;
    if (size <= SMALL_ENTRY) {
      const bytes = await readAll(body);
      const r = blobs.putBytes(bytes, { digest: expected, size }, { deferFileSync: true });
      return { digest: r.digest, size, compression: sniffCompression(bytes) };
    }
    const head = new Head();
    async function* sniffing(): AsyncGenerator<Buffer> {
      for await (const chunk of transientChunks(body)) {
        head.add(chunk);
        yield chunk;
      }
    }
    // put() is done with each chunk by the time it asks for the chunk after the next one, so the
    // archive reader may reuse its memory.
    const r = await blobs.put(
      sniffing(),
      { digest: expected, size },
      { deferFileSync: true, transientChunks: true },
    );
    return { digest: r.digest, size, compression: sniffCompression(head.bytes) };
  }

  /** Make the staging layout self-contained for a blob the target already has (link, else copy). */
  private async adoptFromTarget(digest: Digest, size: number): Promise<void> {
    const linked = this.layout.blobs.linkFrom(this.target.blobs.path(digest), digest, size);
    if (linked !== false) return;
    await this.layout.blobs.put(
      this.target.blobs.open(digest, { verify: true, size }),
      { digest, size },
      { deferDirSync: true },
    );
  }
}

function ambiguous(path: string): UnsafeInputError {
  return new UnsafeInputError(
    'E_UNSAFE_ENTRY',
    `archive holds two different entries named ${JSON.stringify(path)}`,
    { entry: path },
    { hint: 'tar tools disagree on which copy wins; the archive is ambiguous' },
  );
}

async function readAll(body: Entry): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of body) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks);
}

/** Hash an entry without keeping it; throws unless it is `size` bytes hashing to `expected`. */
async function verifyDrain(
  body: Entry,
  path: string,
  expected: Digest,
  size: number,
): Promise<StagedFile> {
  const hash = newHash(algorithmOf(expected));
  let seen = 0;
  const head = new Head();
  for await (const chunk of transientChunks(body)) {
    head.add(chunk);
    seen += chunk.byteLength;
    hash.update(chunk);
  }
  const what = `archive entry ${path}`;
  if (seen !== size) throw sizeMismatch(what, size, seen, false);
  checkDigest(what, expected, hash.digest('hex'));
  return { digest: expected, size, compression: sniffCompression(head.bytes) };
}

/**
 * The first bytes of a body, for sniffCompression, however the parser split them into chunks:
 * behind a gunzip or a pipe the first chunk can be a single byte.
 */
class Head {
  bytes: Buffer = Buffer.alloc(0);
  add(chunk: Buffer): void {
    if (this.bytes.byteLength >= SNIFF_BYTES) return;
    this.bytes = Buffer.concat([
      this.bytes,
      chunk.subarray(0, SNIFF_BYTES - this.bytes.byteLength),
    ]);
  }
}
