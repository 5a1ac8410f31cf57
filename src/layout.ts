// Layout: one OCI Image Layout directory. Opens any peer's layout, composes the blob store and the
// index store, and offers the verbs on references and manifests. Knows nothing of referrer conventions.
import { lstatSync, mkdirSync, readdirSync } from 'node:fs';
import { join, resolve as resolvePath } from 'node:path';
import { algorithmOf, digestOf, parseDigest, type Digest } from './digest.js';
import {
  ConflictError,
  IntegrityError,
  NotFoundError,
  UnsafeInputError,
  UsageError,
  errnoCode,
  isOcilayoutError,
  wrapFsError,
} from './errors.js';
import { MAX_MANIFEST_BYTES, MediaType } from './media-types.js';
import type { ManifestSource } from './graph.js';
import { successors } from './graph.js';
import { assertValidTag } from './refs.js';
import { canonicalDescriptor, type Descriptor } from './schema/descriptor.js';
import { IMAGE_LAYOUT_VERSION, OciLayoutSchema, type IndexFile } from './schema/layout-files.js';
import {
  parseJson,
  parseManifest,
  effectiveArtifactType,
  type ParsedManifest,
} from './schema/manifest.js';
import { BlobStore } from './store/blob-store.js';
import { writeFileDurable } from './store/durable.js';
import { IndexStore, readCappedText, serializeIndex } from './store/index-store.js';
import { leaseDigest, releaseLease, ingestDir } from './store/ingest.js';
import { digestMismatch } from './store/verify-stream.js';
import type { HeldLock } from './store/lock.js';
import { BLOBS_DIR, INDEX_FILE, INDEX_LOCK, INGEST_DIR, OCI_LAYOUT_FILE } from './store/paths.js';
import { findTagged, listTags, removeTag, setTag } from './tags.js';

export interface LayoutOptions {
  /** How long index.json writers wait for the lock (ms). */
  lockTimeoutMs?: number | undefined;
}

/** A reference already split: a tag or a digest (see refs.ts). */
export interface Target {
  tag?: string | undefined;
  digest?: Digest | string | undefined;
}

export interface StoredManifest {
  descriptor: Descriptor;
  bytes: Buffer;
  parsed: ParsedManifest;
}

export interface PutManifestOptions {
  /** Tag to point at the manifest. Without one, an untagged entry lists it (so gc keeps it). */
  tag?: string | undefined;
  /** Media type when the document has no `mediaType` field. */
  mediaType?: string | undefined;
  /** Accept a manifest whose config/layers/children are not in the layout (sparse layouts). */
  allowMissing?: boolean | undefined;
  /** Do not list it in index.json (the caller records it, e.g. a referrer convention). */
  unlisted?: boolean | undefined;
}

const LAYOUT_FILES = new Set([OCI_LAYOUT_FILE, INDEX_FILE, BLOBS_DIR, INGEST_DIR, INDEX_LOCK]);

export function emptyIndex(): IndexFile {
  return { schemaVersion: 2, mediaType: MediaType.ImageIndex, manifests: [] };
}

export class Layout implements ManifestSource {
  readonly root: string;
  readonly blobs: BlobStore;
  readonly index: IndexStore;

  private constructor(root: string, options: LayoutOptions) {
    this.root = root;
    this.blobs = new BlobStore(root);
    this.index = new IndexStore(
      root,
      options.lockTimeoutMs === undefined ? {} : { timeoutMs: options.lockTimeoutMs },
      () => this.blobs.flush(),
    );
  }

  /**
   * Create a layout, or accept an existing one unchanged (idempotent). Refuses (E_CONFLICT) a
   * non-empty directory that is not a layout. Finishes a layout left half-created by a crash.
   */
  static init(dir: string, options: LayoutOptions = {}): { layout: Layout; created: boolean } {
    const root = resolvePath(dir);
    let entries: string[] = [];
    try {
      entries = readdirSync(root);
    } catch (err) {
      if (errnoCode(err) === 'ENOTDIR')
        throw new ConflictError('E_CONFLICT', `${dir} exists and is not a directory`, {
          layout: dir,
        });
      if (errnoCode(err) !== 'ENOENT') throw wrapFsError(err, `read ${dir}`);
    }
    const isLayout = entries.includes(OCI_LAYOUT_FILE) && entries.includes(INDEX_FILE);
    if (isLayout) return { layout: Layout.open(root, options), created: false };
    // init writes oci-layout before index.json, so index.json alone is no half-made layout of
    // ours: it is someone else's directory, and writing an oci-layout into it would change it.
    if (entries.includes(INDEX_FILE)) {
      throw new NotFoundError(
        'E_NOT_A_LAYOUT',
        `${dir} has an index.json but no oci-layout file; not treating it as a layout`,
        { layout: dir },
        { hint: `if it is one, add ${OCI_LAYOUT_FILE} with {"imageLayoutVersion":"1.0.0"}` },
      );
    }
    const foreign = entries.filter((e) => !LAYOUT_FILES.has(e) && !e.startsWith('.tmp-'));
    if (foreign.length > 0) {
      throw new ConflictError(
        'E_CONFLICT',
        `${dir} is not empty and not an OCI layout (found ${foreign.slice(0, 3).join(', ')})`,
        {
          layout: dir,
          found: foreign.slice(0, 10),
        },
        { hint: 'choose an empty or new directory' },
      );
    }
    try {
      mkdirSync(join(root, BLOBS_DIR), { recursive: true });
    } catch (err) {
      throw wrapFsError(err, `create ${dir}`);
    }
    // Both files are created exclusively: a concurrent init (or a writer that ran after one) may
    // have made them meanwhile, and their content must not be replaced.
    const madeHeader = writeFileDurable(
      join(root, OCI_LAYOUT_FILE),
      JSON.stringify({ imageLayoutVersion: IMAGE_LAYOUT_VERSION }),
      { exclusive: true },
    );
    // index.json last: its presence is what makes the directory a layout.
    const madeIndex = writeFileDurable(join(root, INDEX_FILE), serializeIndex(emptyIndex()), {
      exclusive: true,
    });
    return { layout: Layout.open(root, options), created: madeHeader || madeIndex };
  }

  /**
   * Open an existing layout written by any tool. Throws E_NOT_A_LAYOUT when `oci-layout` or
   * index.json is missing or `imageLayoutVersion` is not 1.0.0; E_INVALID_JSON/E_SCHEMA for a bad
   * oci-layout. index.json itself is validated on each read.
   */
  static open(dir: string, options: LayoutOptions = {}): Layout {
    const root = resolvePath(dir);
    let text: string;
    try {
      text = readCappedText(join(root, OCI_LAYOUT_FILE), 64 * 1024);
    } catch (err) {
      // ENOTDIR: `dir` (or a parent) is a regular file, e.g. a tar given where a layout belongs.
      if (
        err instanceof NotFoundError ||
        (isOcilayoutError(err) && err.details['errno'] === 'ENOTDIR')
      ) {
        throw new NotFoundError(
          'E_NOT_A_LAYOUT',
          `${dir} is not an OCI layout (no oci-layout file)`,
          { layout: dir },
          {
            hint: `create one with \`ocilayout init ${dir}\``,
          },
        );
      }
      throw err;
    }
    const header = OciLayoutSchema.safeParse(parseJson(text, join(root, OCI_LAYOUT_FILE)));
    if (!header.success) {
      throw new IntegrityError(
        'E_SCHEMA',
        `${join(dir, OCI_LAYOUT_FILE)} has no imageLayoutVersion`,
        { layout: dir },
      );
    }
    if (header.data.imageLayoutVersion !== IMAGE_LAYOUT_VERSION) {
      throw new NotFoundError(
        'E_NOT_A_LAYOUT',
        `${dir} has imageLayoutVersion ${JSON.stringify(header.data.imageLayoutVersion)}; only ${IMAGE_LAYOUT_VERSION} is defined`,
        { layout: dir, version: header.data.imageLayoutVersion },
      );
    }
    try {
      if (!lstatSync(join(root, INDEX_FILE)).isFile()) throw new Error('not a file');
    } catch {
      throw new NotFoundError('E_NOT_A_LAYOUT', `${dir} is not an OCI layout (no index.json)`, {
        layout: dir,
      });
    }
    return new Layout(root, options);
  }

  /** index.json, validated (E_INVALID_JSON / E_SCHEMA name the file). */
  readIndex(): IndexFile {
    return this.index.read().index;
  }

  /** Change index.json under the lock (see IndexStore.update). */
  updateIndex<T>(
    fn: (
      index: IndexFile,
      held: HeldLock,
    ) =>
      | Promise<{ index: IndexFile | undefined; result: T }>
      | { index: IndexFile | undefined; result: T },
  ): Promise<T> {
    return this.index.update(fn);
  }

  /**
   * Resolve a tag (exact ref.name, then full-reference suffix) or a digest to a descriptor.
   * A digest resolves to its index.json entry when listed, else to the blob (a child manifest).
   * Throws E_NOT_FOUND.
   */
  resolve(target: Target, index: IndexFile = this.readIndex()): Descriptor {
    if (target.digest !== undefined) {
      const digest = parseDigest(target.digest);
      const listed = index.manifests.find((e) => e.digest === digest);
      if (listed !== undefined) return listed;
      return this.describeBlob(digest);
    }
    if (target.tag === undefined) {
      if (index.manifests.length === 1) return index.manifests[0]!;
      throw new UsageError(
        'E_INVALID_REFERENCE',
        `${this.root} holds ${index.manifests.length} entries; name a tag or digest`,
        {
          layout: this.root,
        },
      );
    }
    const found = findTagged(index, target.tag);
    if (found === undefined) {
      throw new NotFoundError(
        'E_NOT_FOUND',
        `tag ${target.tag} not found in ${this.root}`,
        { tag: target.tag, layout: this.root },
        {
          hint: `list tags with \`ocilayout tags ${this.root}\``,
        },
      );
    }
    return found;
  }

  /** A descriptor for a stored manifest blob that no index.json entry lists. */
  describeBlob(digest: Digest): Descriptor {
    const stat = this.blobs.stat(digest);
    if (stat === undefined) {
      throw new NotFoundError('E_NOT_FOUND', `${digest} not found in ${this.root}`, {
        digest,
        layout: this.root,
      });
    }
    const bytes = this.blobs.readBytes(digest, MAX_MANIFEST_BYTES);
    const parsed = parseManifest(bytes, `manifest ${digest}`);
    const desc: Descriptor = { mediaType: parsed.mediaType, digest, size: stat.size };
    const at = effectiveArtifactType(parsed);
    if (parsed.doc.artifactType !== undefined && at !== undefined) desc.artifactType = at;
    return desc;
  }

  /**
   * Read a manifest/index: size-capped (E_TOO_LARGE), size-checked before hashing
   * (E_SIZE_MISMATCH), digest-verified (E_DIGEST_MISMATCH), schema-validated (E_INVALID_JSON,
   * E_SCHEMA). Throws E_NOT_FOUND when the blob is absent.
   */
  readManifest(desc: Descriptor): ParsedManifest {
    const { digest, bytes } = this.readManifestBytes(desc);
    return parseManifest(bytes, `manifest ${digest}`, desc.mediaType);
  }

  /** Resolve and read a manifest, with the same checks as readManifest. */
  getManifest(target: Target): StoredManifest {
    const descriptor = this.resolve(target);
    const { digest, bytes } = this.readManifestBytes(descriptor);
    const parsed = parseManifest(bytes, `manifest ${digest}`, descriptor.mediaType);
    return { descriptor, bytes, parsed };
  }

  /** The bytes a manifest descriptor names, checked as image-spec advises: size, then digest. */
  private readManifestBytes(desc: Descriptor): { digest: Digest; bytes: Buffer } {
    const digest = parseDigest(desc.digest);
    if (desc.size > MAX_MANIFEST_BYTES) {
      throw new UnsafeInputError(
        'E_TOO_LARGE',
        `descriptor for ${digest} claims ${desc.size} bytes, over the 4 MiB manifest limit`,
        { digest, size: desc.size, limit: MAX_MANIFEST_BYTES },
      );
    }
    const bytes = this.blobs.readBytes(digest, MAX_MANIFEST_BYTES, { verify: false });
    if (bytes.byteLength !== desc.size) {
      throw new IntegrityError(
        'E_SIZE_MISMATCH',
        `manifest ${digest}: descriptor says ${desc.size} bytes, blob has ${bytes.byteLength}`,
        { digest, expected: desc.size, found: bytes.byteLength },
        { hint: `run \`ocilayout fsck ${this.root}\`` },
      );
    }
    const found = digestOf(bytes, algorithmOf(digest));
    if (found !== digest) throw digestMismatch(`manifest ${digest}`, digest, found);
    return { digest, bytes };
  }

  /**
   * Validate and store manifest bytes, then tag them (or list them untagged). Throws E_SCHEMA,
   * E_INVALID_JSON, E_TOO_LARGE, E_NOT_FOUND for a missing config/layer/child (unless allowMissing).
   */
  async putManifest(bytes: Uint8Array, options: PutManifestOptions = {}): Promise<Descriptor> {
    if (options.tag !== undefined) assertValidTag(options.tag);
    const parsed = parseManifest(bytes, 'manifest', options.mediaType);
    if (options.allowMissing !== true) await this.confirmSuccessorsPresent(parsed);
    const stored = this.blobs.putBytes(bytes);
    const descriptor = manifestDescriptor(parsed, stored.digest, stored.size);
    if (options.unlisted === true) {
      this.blobs.flush();
      return descriptor;
    }
    await this.updateIndex((index) => {
      if (options.tag !== undefined) {
        setTag(index, options.tag, descriptor);
      } else if (!index.manifests.some((e) => e.digest === descriptor.digest)) {
        index.manifests.push(canonicalDescriptor({ ...descriptor }));
      }
      return { index, result: undefined };
    });
    return descriptor;
  }

  /**
   * Throws E_NOT_FOUND naming the first config/layer/child that is not stored. Leases each digest
   * before looking (the gc protocol, spec-notes/concurrency.md), so a blob seen here is still
   * there when the caller commits under the index lock. A negative answer outside the lock may be
   * a blob gc has parked for a moment; confirmSuccessorsPresent re-checks under the lock.
   */
  assertSuccessorsPresent(parsed: ParsedManifest): void {
    for (const d of successors(parsed)) {
      const digest = parseDigest(d.digest);
      leaseDigest(this.root, digest);
      if (!this.blobs.has(digest)) {
        throw new NotFoundError(
          'E_NOT_FOUND',
          `manifest references ${d.mediaType} ${digest}, which is not in ${this.root}`,
          {
            digest,
            layout: this.root,
          },
          { hint: 'push the blob first, or pass --allow-missing for a sparse layout' },
        );
      }
    }
  }

  /** assertSuccessorsPresent, trusting an absence only once confirmed under the index lock. */
  async confirmSuccessorsPresent(parsed: ParsedManifest): Promise<void> {
    try {
      this.assertSuccessorsPresent(parsed);
    } catch (err) {
      if (!isOcilayoutError(err, 'E_NOT_FOUND')) throw err;
      await this.updateIndex(() => {
        this.assertSuccessorsPresent(parsed);
        return { index: undefined, result: undefined };
      });
    }
  }

  /** Tag the content `target` resolves to with each of `tags`. Returns the descriptor tagged. */
  async tag(target: Target, tags: string[]): Promise<Descriptor> {
    for (const t of tags) assertValidTag(t);
    return this.updateIndex((index) => {
      const desc = this.resolve(target, index);
      for (const t of tags) setTag(index, t, desc);
      return { index, result: desc };
    });
  }

  /** Remove a tag. Throws E_NOT_FOUND when no entry names it. Content stays until gc. */
  async untag(tag: string): Promise<Descriptor[]> {
    return this.updateIndex((index) => {
      const removed = removeTag(index, tag);
      if (removed.length === 0) {
        throw new NotFoundError('E_NOT_FOUND', `tag ${tag} not found in ${this.root}`, {
          tag,
          layout: this.root,
        });
      }
      return { index, result: removed };
    });
  }

  tags(): string[] {
    return listTags(this.readIndex());
  }

  /**
   * Remove every index.json entry for `digest`, then its blob. Throws E_NOT_FOUND when neither
   * exists. Content it referenced becomes garbage for gc.
   */
  async deleteManifest(digest: Digest): Promise<{ entriesRemoved: number; blobRemoved: boolean }> {
    const entriesRemoved = await this.updateIndex((index) => {
      const before = index.manifests.length;
      index.manifests = index.manifests.filter((e) => e.digest !== digest);
      return { index, result: before - index.manifests.length };
    });
    const blobRemoved = this.blobs.delete(digest);
    if (entriesRemoved === 0 && !blobRemoved) {
      throw new NotFoundError('E_NOT_FOUND', `${digest} not found in ${this.root}`, {
        digest,
        layout: this.root,
      });
    }
    return { entriesRemoved, blobRemoved };
  }

  /** Release this process's gc lease (long-lived library users call it after their commits). */
  close(): void {
    releaseLease(this.root);
  }

  get ingestPath(): string {
    return ingestDir(this.root);
  }
}

/** The descriptor of a stored manifest: media type, digest, size, and artifactType when it has one. */
export function manifestDescriptor(
  parsed: ParsedManifest,
  digest: string,
  size: number,
): Descriptor {
  const desc: Descriptor = { mediaType: parsed.mediaType, digest, size };
  if (parsed.doc.artifactType !== undefined) desc.artifactType = parsed.doc.artifactType;
  return desc;
}
