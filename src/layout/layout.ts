// Layout: one OCI Image Layout directory. Opens any peer's layout, composes the blob store and the
// index store, and offers the verbs on references and manifests. Knows nothing of referrer conventions.
// What makes a directory a layout (creating, recognising one) is layout-dir.ts's.
import { algorithmOf, digestOf, parseDigest, type Digest } from '../digest.js';
import {
  IntegrityError,
  NotFoundError,
  UnsafeInputError,
  UsageError,
  isOcilayoutError,
} from '../errors.js';
import {
  assertLayoutDir,
  initLayoutDir,
  undoLayoutCreation,
  undoLayoutCreationAtExit,
} from './layout-dir.js';
import { MAX_MANIFEST_BYTES, isManifestMediaType } from '../media-types.js';
import type { ManifestSource } from './graph.js';
import { successors } from './graph.js';
import { assertWritableName } from './names.js';
import { canonicalDescriptor, type Descriptor } from '../schema/descriptor.js';
import type { IndexFile } from '../schema/layout-files.js';
import { parseManifest, effectiveArtifactType, type ParsedManifest } from '../schema/manifest.js';
import { BlobStore } from '../store/blob-store.js';
import { IndexStore, type UpdateResult } from '../store/index-store.js';
import { ingestDir, leaseDigest, releaseLease, withOperationLease } from '../store/ingest.js';
import { digestMismatch } from '../store/verify-stream.js';
import type { HeldLock } from '../store/lock.js';
import { findTagged, listTags, moveTag, removeTag, type TagPolicy } from './tags.js';

export { emptyIndex, referenceInside } from './layout-dir.js';

export interface LayoutOptions {
  /** How long index.json writers wait for the lock (ms). */
  lockTimeoutMs?: number | undefined;
}

export interface LayoutInit {
  layout: Layout;
  /** Whether a file was created (the layout is new or was finished). */
  created: boolean;
  /**
   * For an operation that failed: take back what this init made (files and empty directories),
   * unless index.json lists something or another live writer uses the layout. `isOwn` names the
   * operation's own ingest/ files. Resolves to whether the layout was removed.
   */
  undo(isOwn?: (ingestName: string) => boolean): Promise<boolean>;
  /** The same for a process that is exiting: synchronous, without the lock (see layout-dir.ts). */
  undoAtExit(isOwn: (ingestName: string) => boolean): void;
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

export interface PutManifestOptions extends TagPolicy {
  /** Tag to point at the manifest. Without one, an untagged entry lists it (so gc keeps it). */
  tag?: string | undefined;
  /** Media type when the document has no `mediaType` field. */
  mediaType?: string | undefined;
  /** Accept a manifest whose config/layers/children are not in the layout (sparse layouts). */
  allowMissing?: boolean | undefined;
  /** Do not list it in index.json (the caller records it, e.g. a referrer convention). */
  unlisted?: boolean | undefined;
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
   * Create a layout, or accept an existing one unchanged (idempotent); see initLayoutDir. Throws
   * E_CONFLICT for a non-empty directory that is not a layout, E_NOT_A_LAYOUT, E_IO.
   */
  static init(
    dir: string,
    options: LayoutOptions = {},
    how: { adoptHauler?: boolean } = {},
  ): LayoutInit {
    const { root, created, made } = initLayoutDir(dir, how);
    const layout = Layout.open(root, options);
    return {
      layout,
      created,
      undo: (isOwn = () => false) =>
        undoLayoutCreation(
          root,
          made,
          isOwn,
          options.lockTimeoutMs === undefined ? {} : { timeoutMs: options.lockTimeoutMs },
        ),
      undoAtExit: (isOwn) => undoLayoutCreationAtExit(root, made, isOwn),
    };
  }

  /**
   * Open an existing layout written by any tool. Throws E_NOT_A_LAYOUT when `oci-layout` or
   * index.json is missing or `imageLayoutVersion` is not 1.0.0; E_INVALID_JSON/E_SCHEMA for a bad
   * oci-layout. index.json itself is validated on each read.
   */
  static open(dir: string, options: LayoutOptions = {}): Layout {
    return new Layout(assertLayoutDir(dir), options);
  }

  /**
   * A Layout for `root`, an absolute directory that open() accepted and that has not changed
   * since (the caller knows how): open()'s checks are not repeated.
   */
  static reopen(root: string, options: LayoutOptions = {}): Layout {
    return new Layout(root, options);
  }

  /** index.json, validated (E_INVALID_JSON / E_SCHEMA name the file). */
  readIndex(): IndexFile {
    return this.index.read().index;
  }

  /** Change index.json under the lock (see IndexStore.update). */
  updateIndex<T>(
    fn: (index: IndexFile, held: HeldLock) => Promise<UpdateResult<T>> | UpdateResult<T>,
  ): Promise<T> {
    return this.index.update(fn);
  }

  /**
   * Resolve a name (a bare tag or a full image name; see findTagged) or a digest to a descriptor.
   * A digest resolves to its index.json entry when listed, else to the blob (a child manifest).
   * Throws E_NOT_FOUND.
   */
  resolve(target: Target, index: IndexFile = this.readIndex()): Descriptor {
    const found = this.lookup(target, index);
    return found.listed === undefined ? this.describeBlob(found.digest) : found.listed;
  }

  /**
   * resolve() without reading a blob: the index.json entry `target` names, or undefined for a
   * digest no entry lists (resolve describes that blob). Throws as resolve does.
   */
  lookup(
    target: Target,
    index: IndexFile,
  ): { listed: Descriptor } | { listed: undefined; digest: Digest } {
    if (target.digest !== undefined) {
      const digest = parseDigest(target.digest);
      const listed = index.manifests.find((e) => e.digest === digest);
      return listed === undefined ? { listed, digest } : { listed };
    }
    if (target.tag === undefined) {
      if (index.manifests.length === 1) return { listed: index.manifests[0]! };
      throw new UsageError(
        'E_INVALID_REFERENCE',
        `${this.root} holds ${index.manifests.length} entries; name a tag or digest`,
        { layout: this.root },
        { hint: `write ${this.root}:TAG (\`ocilayout tags ${this.root}\` lists them)` },
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
    return { listed: found };
  }

  /**
   * A descriptor for a stored manifest blob that no index.json entry lists. Throws E_NOT_FOUND when
   * absent, E_UNSUPPORTED_MEDIA_TYPE when the blob is not a manifest or index at all (a layer, a
   * config: not JSON, over 4 MiB, or JSON without a manifest's fields), E_SCHEMA for a
   * manifest-shaped document that fails validation, E_DIGEST_MISMATCH for corrupt bytes.
   */
  describeBlob(digest: Digest): Descriptor {
    const stat = this.blobs.stat(digest);
    if (stat === undefined) {
      throw new NotFoundError('E_NOT_FOUND', `${digest} not found in ${this.root}`, {
        digest,
        layout: this.root,
      });
    }
    if (stat.size > MAX_MANIFEST_BYTES) throw this.notAManifest(digest, stat.size);
    const bytes = this.blobs.readBytes(digest, MAX_MANIFEST_BYTES);
    let parsed: ParsedManifest;
    try {
      parsed = parseManifest(bytes, `manifest ${digest}`);
    } catch (err) {
      // Users name layers and configs by digest too (they are in blobs/ like manifests): say what
      // the blob is rather than report a "corrupt manifest" (the bytes matched their digest).
      const notJson = isOcilayoutError(err, 'E_INVALID_JSON');
      if (notJson || (isOcilayoutError(err, 'E_SCHEMA') && !hasManifestFields(bytes))) {
        throw this.notAManifest(digest, stat.size);
      }
      throw err;
    }
    const desc: Descriptor = { mediaType: parsed.mediaType, digest, size: stat.size };
    const at = effectiveArtifactType(parsed);
    if (parsed.doc.artifactType !== undefined && at !== undefined) desc.artifactType = at;
    return desc;
  }

  private notAManifest(digest: Digest, size: number): IntegrityError {
    return new IntegrityError(
      'E_UNSUPPORTED_MEDIA_TYPE',
      `${digest} in ${this.root} is a blob of ${size} bytes (a layer or config?), not a manifest or index`,
      { digest, layout: this.root, size },
      {
        hint: `name a manifest or index, e.g. by tag (\`ocilayout tags ${this.root}\`); inspect a blob with \`ocilayout blob stat ${this.root}@${digest}\``,
      },
    );
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

  /** Resolve (in `index`) and read a manifest, with the same checks as readManifest. */
  getManifest(target: Target, index: IndexFile = this.readIndex()): StoredManifest {
    const descriptor = this.resolve(target, index);
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
  /**
   * Run one operation on this layout with a gc lease of its own (see withOperationLease): what it
   * leases is protected until `fn` settles, and no other operation or close() releases it.
   */
  operation<T>(fn: () => Promise<T> | T): Promise<T> {
    return withOperationLease(this.root, fn);
  }

  putManifest(bytes: Uint8Array, options: PutManifestOptions = {}): Promise<Descriptor> {
    return this.operation(() => this.putManifestNow(bytes, options));
  }

  private async putManifestNow(
    bytes: Uint8Array,
    options: PutManifestOptions,
  ): Promise<Descriptor> {
    if (options.tag !== undefined) assertWritableName(options.tag);
    const parsed = parseManifest(bytes, 'manifest', options.mediaType);
    if (options.allowMissing !== true) await this.confirmSuccessorsPresent(parsed);
    const stored = this.blobs.putBytes(bytes);
    const descriptor = manifestDescriptor(parsed, stored.digest, stored.size);
    if (options.unlisted === true) {
      this.blobs.flush();
      return descriptor;
    }
    const move = await this.updateIndex((index) => {
      if (options.tag !== undefined) {
        return { index, result: moveTag(index, options.tag, descriptor, options) };
      }
      if (!index.manifests.some((e) => e.digest === descriptor.digest)) {
        index.manifests.push(canonicalDescriptor({ ...descriptor }));
      }
      return { index, result: undefined };
    });
    if (move !== undefined) options.onTagMoved?.(move);
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

  /**
   * Tag the content `target` resolves to with each of `tags`. Returns the descriptor tagged.
   * Under `noClobber`, E_CONFLICT when any of the tags names other content (none is changed).
   */
  async tag(target: Target, tags: string[], policy: TagPolicy = {}): Promise<Descriptor> {
    for (const t of tags) assertWritableName(t);
    const { desc, moves } = await this.updateIndex((index) => {
      const desc = this.resolve(target, index);
      const moves = tags.flatMap((t) => moveTag(index, t, desc, policy) ?? []);
      return { index, result: { desc, moves } };
    });
    for (const m of moves) policy.onTagMoved?.(m);
    return desc;
  }

  /**
   * Remove a name (see removeTag). Throws E_NOT_FOUND when no entry has it, E_INVALID_REFERENCE
   * for a bare tag several full names share. Content stays until gc.
   */
  async untag(tag: string): Promise<Descriptor[]> {
    return this.updateIndex((index) => {
      const removed = removeTag(index, tag);
      if (removed.length === 0) {
        throw new NotFoundError(
          'E_NOT_FOUND',
          `tag ${tag} not found in ${this.root}`,
          { tag, layout: this.root },
          { hint: `list tags with \`ocilayout tags ${this.root}\`` },
        );
      }
      return { index, result: removed };
    });
  }

  tags(): string[] {
    return listTags(this.readIndex());
  }

  /**
   * Release this process's gc lease taken outside operations (long-lived library users call it
   * after their commits). Operations still running keep their own leases, and the release waits
   * for the last of them.
   */
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

/** A JSON object with a manifest's or an index's own fields (an image config has none of them). */
function hasManifestFields(bytes: Buffer): boolean {
  let json: unknown;
  try {
    json = JSON.parse(bytes.toString('utf8'));
  } catch {
    return false;
  }
  if (typeof json !== 'object' || json === null || Array.isArray(json)) return false;
  const mediaType = (json as { mediaType?: unknown }).mediaType;
  return (
    ['schemaVersion', 'manifests', 'layers'].some((k) => k in json) ||
    (typeof mediaType === 'string' && isManifestMediaType(mediaType))
  );
}
