// An archive (oci-archive or docker-archive tar, a file or a stream) as a destination. writeArchive
// is the sink itself: what a plan carries, from a layout, as one deterministic tar (names in byte
// order, blobs streamed and re-hashed, a file written to a temp name and renamed only once
// complete, so a failure at any step leaves no archive at the destination path). `export` plans
// a layout's refs and writes them straight from it (export.ts). A copy from any source lands first
// in a private layout (ArchiveSink: the layout sink, hard links from a layout source on the same
// filesystem, else the verifying ingest; ONE index.json commit), then exported whole; close() (or
// an exit) removes the private layout.
import { closeSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import type { Writable } from 'node:stream';
import { algorithmOf, newHash, type Digest } from '../digest.js';
import { NotFoundError, wrapFsError } from '../errors.js';
import { Layout } from '../layout/layout.js';
import { IMAGE_LAYOUT_VERSION } from '../schema/layout-files.js';
import { OUTPUT_TMP_PREFIX, assertReplaceable, writeFileAtomic } from '../output/file.js';
import { writeToStream } from '../output/stream.js';
import { cleanupAtExit } from '../store/exit-cleanup.js';
import { blobRelPath } from '../store/paths.js';
import { ChunkRing, fdChunks } from '../store/fd-chunks.js';
import { WORKER_MIN_BYTES, hashFd } from '../store/hash-file.js';
import { checkDigest, sizeMismatch } from '../store/verify-stream.js';
import { pickImage } from '../archive/docker-export.js';
import type { ArchiveContents } from '../archive/export-entries.js';
import { tarChunks, type TarWriter } from '../archive/tar-writer.js';
import { gzipChunks, newZstdCompress, sniffCompression } from '../archive/compression.js';
import { throughCodec } from '../archive/streams.js';
import { parsePlatform } from '../layout/platform.js';
import type { Descriptor } from '../schema/descriptor.js';
import type { ParsedManifest } from '../schema/manifest.js';
import type { CopyPlan } from './plan.js';

export type ArchiveFormat = 'oci' | 'docker';

export interface ArchiveDestination {
  kind: 'archive';
  format: ArchiveFormat;
  /** A file path (written atomically), or a stream (stdout; left open). */
  output: string | Writable;
  /** `oci-archive:FILE` or `docker-archive:FILE`, for results and messages. */
  label: string;
  /** The tag inside the archive (default: the source tag). */
  tag?: string | undefined;
  /** docker: repository for RepoTags. */
  name?: string | undefined;
}

export class ArchiveSink {
  private constructor(
    readonly layout: Layout,
    private readonly dispose: () => void,
  ) {}

  /**
   * Create the private layout: beside a file destination (the same filesystem as the archive, so
   * the space it needs is where the archive goes anyway), in the temp directory for a stream.
   * Throws E_UNSAFE_ENTRY when the destination is a directory, a symlink or a device, E_IO.
   */
  static open(destination: ArchiveDestination): ArchiveSink {
    const file = destination.output;
    if (typeof file === 'string') assertReplaceable(file);
    const parent = typeof file === 'string' ? dirname(file) : tmpdir();
    let host: string;
    try {
      host = mkdtempSync(join(parent, `${OUTPUT_TMP_PREFIX}archive-`));
    } catch (err) {
      throw wrapFsError(err, `create a temporary layout in ${parent}`, { path: parent });
    }
    const remove = (): void => rmSync(host, { recursive: true, force: true });
    const forget = cleanupAtExit(remove);
    try {
      const layout = Layout.init(host).layout;
      return new ArchiveSink(layout, () => {
        forget();
        remove();
      });
    } catch (err) {
      forget();
      remove();
      throw err;
    }
  }

  /**
   * Before anything is placed: a docker destination needs one image, which the plan already holds
   * (`export`'s own choice, pickImage, asked of the planned manifests). Throws E_USAGE for a
   * multi-platform index (add --platform), E_UNSUPPORTED_MEDIA_TYPE for an artifact.
   */
  static check(
    destination: ArchiveDestination,
    plan: CopyPlan,
    tag: string | undefined,
    platform: string | undefined,
  ): void {
    if (destination.format !== 'docker') return;
    const docs = new Map(plan.docs.map((d) => [d.descriptor.digest, d.parsed]));
    const planned = {
      readManifest: (desc: Descriptor): ParsedManifest => {
        const parsed = docs.get(desc.digest);
        // Every manifest the root reaches is planned; anything else is not part of this copy.
        if (parsed === undefined) {
          throw new NotFoundError('E_NOT_FOUND', `${desc.digest} is not in the copy plan`, {
            digest: desc.digest,
          });
        }
        return parsed;
      },
    };
    pickImage(
      planned,
      { tag, entry: plan.root.descriptor },
      platform === undefined ? undefined : parsePlatform(platform),
    );
  }

  /** Remove the private layout (idempotent). */
  close(): void {
    this.dispose();
  }
}

export interface WriteOptions {
  /** Re-hash every blob while writing it (default true): never archive a corrupt blob. */
  verify?: boolean | undefined;
  /** gzip the whole archive; blobs compressed already are stored in it, not deflated again. */
  gzip?: boolean | undefined;
  gzipLevel?: number | undefined;
  /** zstd the whole archive (level 3, one frame). */
  zstd?: boolean | undefined;
  /** Content bytes written so far, and the total. */
  onProgress?: ((done: number, total: number) => void) | undefined;
}

export interface Written {
  /** Bytes of content (blobs and JSON files), before tar framing and compression. */
  contentBytes: number;
  /** Bytes of the archive as written. */
  archiveBytes: number;
  /** With gzip: blobs already compressed, stored without deflating them again. */
  precompressed?: { blobs: number; bytes: number } | undefined;
}

/**
 * Write `plan` (its blobs read from `layout`, or memory) to `destination`: a file path (written
 * atomically) or a stream (left open). Throws E_NOT_FOUND / E_DIGEST_MISMATCH / E_SIZE_MISMATCH
 * (a missing or corrupt blob; a file destination is then left untouched), E_IO.
 */
export async function writeArchive(
  layout: Layout,
  plan: ArchiveContents,
  destination: string | Writable,
  options: WriteOptions = {},
): Promise<Written> {
  const total = contentTotal(plan);
  let done = 0;
  const progress = (n: number): void => {
    done += n;
    options.onProgress?.(done, total);
  };
  const compressed = new CompressedChunks();
  const ring = new ChunkRing();
  let chunks: AsyncIterable<Buffer> = tarChunks(
    (w) => writeEntries(w, layout, plan, options.verify !== false, progress, compressed, ring),
    // Copied into a coalesced chunk, a read buffer is free whatever the destination.
    (piece) => ring.release(piece),
  );
  if (options.gzip === true) {
    chunks = gzipChunks(chunks, {
      level: options.gzipLevel,
      stored: (chunk) => compressed.has(chunk),
    });
  } else if (options.zstd === true) chunks = throughCodec(chunks, newZstdCompress());
  // A blob's chunks reach the file writer as they were read (tarChunks passes big ones through),
  // and writeFileAtomic awaits each write before it asks for the next chunk: so once it asks, the
  // chunk is nowhere any more and its buffer can be read into again. Not so for a stream (a
  // Writable may queue the chunk) nor through a compressor (zlib reads it later): those get fresh
  // buffers, the ring is only never told.
  const reuse = typeof destination === 'string' && options.gzip !== true && options.zstd !== true;
  let archiveBytes = 0;
  const counted = async function* (): AsyncGenerator<Buffer> {
    for await (const c of chunks) {
      archiveBytes += c.byteLength;
      yield c;
      if (reuse) ring.release(c);
    }
  };
  if (typeof destination === 'string') {
    await writeFileAtomic(destination, counted(), { syncEvery: ARCHIVE_SYNC_EVERY });
  } else await writeToStream(counted(), destination, 'the archive stream');
  return {
    contentBytes: total,
    archiveBytes,
    ...(options.gzip === true
      ? { precompressed: { blobs: compressed.blobs, bytes: compressed.bytes } }
      : {}),
  };
}

/** Background fdatasync of the archive file every this many bytes (writeFileAtomic's syncEvery). */
const ARCHIVE_SYNC_EVERY = 64 * 1024 * 1024;
/** Blobs up to this size are read whole with readFileSync-style I/O (spec-notes/performance.md). */
const SMALL_BLOB = 256 * 1024;
const OCI_LAYOUT_BYTES = Buffer.from(JSON.stringify({ imageLayoutVersion: IMAGE_LAYOUT_VERSION }));

/**
 * The chunks of blobs that are compressed already, recognised by their magic bytes (a gzip or
 * zstd layer, whatever its media type says), so the gzip stage stores them. It knows them by
 * identity: tar-stream passes a body's Buffers through unchanged, and tarChunks yields those of
 * 64 KiB and more as they are. A chunk that loses its identity (a blob's short last chunk,
 * coalesced with the next header) is only deflated like the rest: slower, never wrong.
 */
class CompressedChunks {
  private readonly chunks = new WeakSet<Buffer>();
  blobs = 0;
  bytes = 0;

  /** True when `head` (a blob's first bytes) starts a compressed stream; counts the blob. */
  blob(head: Uint8Array, size: number): boolean {
    if (sniffCompression(head) === 'none') return false;
    this.blobs += 1;
    this.bytes += size;
    return true;
  }

  add(chunk: Buffer): void {
    this.chunks.add(chunk);
  }

  has(chunk: Buffer): boolean {
    return this.chunks.has(chunk);
  }
}

function contentTotal(plan: ArchiveContents): number {
  let total = OCI_LAYOUT_BYTES.byteLength + plan.indexBytes.byteLength;
  for (const size of plan.blobs.values()) total += size;
  for (const bytes of plan.extraFiles.values()) total += bytes.byteLength;
  return total;
}

/** Every entry in byte order of its name (the order skopeo writes too): blobs/, index.json, oci-layout. */
async function writeEntries(
  w: TarWriter,
  layout: Layout,
  plan: ArchiveContents,
  verify: boolean,
  progress: (n: number) => void,
  compressed: CompressedChunks,
  ring: ChunkRing,
): Promise<void> {
  type Item = { name: string; write: () => Promise<void> };
  const items: Item[] = [];
  const dirs = new Set<string>(['blobs/']);
  for (const [digest, size] of plan.blobs) {
    const rel = blobRelPath(digest);
    dirs.add(`${rel.slice(0, rel.lastIndexOf('/'))}/`);
    items.push({
      name: rel,
      write: () =>
        writeBlob(
          w,
          layout,
          rel,
          digest,
          size,
          plan.memoryBlobs,
          verify,
          progress,
          compressed,
          ring,
        ),
    });
  }
  for (const d of dirs) items.push({ name: d, write: () => w.directory(d) });
  const files = new Map<string, Buffer>([
    ['oci-layout', OCI_LAYOUT_BYTES],
    ['index.json', plan.indexBytes],
    ...plan.extraFiles,
  ]);
  for (const [name, bytes] of files) {
    items.push({
      name,
      write: async () => (await w.file(name, bytes), progress(bytes.byteLength)),
    });
  }
  items.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  for (const item of items) await item.write();
}

async function writeBlob(
  w: TarWriter,
  layout: Layout,
  name: string,
  digest: Digest,
  size: number,
  memoryBlobs: ReadonlyMap<Digest, Buffer>,
  verify: boolean,
  progress: (n: number) => void,
  compressed: CompressedChunks,
  ring: ChunkRing,
): Promise<void> {
  const inMemory = memoryBlobs.get(digest);
  if (inMemory !== undefined) {
    await w.file(name, inMemory);
    progress(size);
    return;
  }
  if (size <= SMALL_BLOB) {
    const bytes = layout.blobs.readBytes(digest, SMALL_BLOB, { verify });
    if (bytes.byteLength !== size)
      throw sizeMismatch(`blob ${digest}`, size, bytes.byteLength, false);
    if (compressed.blob(bytes, size)) compressed.add(bytes);
    await w.file(name, bytes);
    progress(size);
    return;
  }
  const what = `blob ${digest}`;
  const fd = layout.blobs.openFile(digest);
  // A big blob is hashed on a worker (another core) from this same fd while the main thread streams
  // it into the tar; a smaller one as it streams, here (a worker's start-up would cost more).
  // Hashing a second read of the file is as safe as hashing the streamed bytes: a blob file is
  // immutable once linked into blobs/ (written under a lease to a private part, fsync'd, verified,
  // then linked), and a rename or unlink of the path (gc, a peer's re-write) cannot swap the inode
  // this fd holds open. Only an in-place write into the blob file could make the two reads differ,
  // and that is at-rest corruption, fsck's to find, which the streamed hash cannot rule out either
  // (a byte changed behind a read already done).
  const hashing =
    verify && size >= WORKER_MIN_BYTES
      ? hashFd(fd, algorithmOf(digest), size).then(
          (hash) => ({ hash }),
          (error: unknown) => ({ error }),
        )
      : undefined;
  const inline = verify && hashing === undefined ? newHash(algorithmOf(digest)) : undefined;
  let first = true;
  let isCompressed = false;
  async function* body(): AsyncGenerator<Buffer> {
    try {
      for await (const chunk of fdChunks(fd, ring, { size, what })) {
        if (first) isCompressed = compressed.blob(chunk, size);
        first = false;
        if (isCompressed) compressed.add(chunk);
        inline?.update(chunk);
        progress(chunk.byteLength);
        yield chunk;
      }
    } catch (err) {
      throw wrapFsError(err, `read ${what}`, { digest });
    }
  }
  try {
    await w.stream(name, size, body());
  } finally {
    // The worker reads this fd: it must be done with it before the fd is closed (and its number
    // reused), even when the stream failed first.
    await hashing;
    closeSync(fd);
  }
  // The entry is in the tar but the archive is not finished: a mismatch still means no archive at
  // a file destination (writeFileAtomic renames only after the last chunk), and the tar stops
  // right after the bad blob, as when the streamed bytes were hashed.
  let hex: string;
  if (hashing !== undefined) {
    const outcome = await hashing;
    if ('error' in outcome) throw wrapFsError(outcome.error, `read ${what}`, { digest });
    if (outcome.hash.size !== size) throw sizeMismatch(what, size, outcome.hash.size, false);
    hex = outcome.hash.hex;
  } else if (inline !== undefined) {
    hex = inline.digest('hex');
  } else return;
  checkDigest(what, digest, hex);
}
