// Where a copy writes: a layout (blobs hard-linked from a layout source on the same filesystem, else
// through the verifying ingest; then ONE index.json commit by copy.ts; a failure takes back the blobs
// this copy placed) or a registry repository (HEAD/mount/upload, manifests by digest, tags last).
import { statSync } from 'node:fs';
import { parseDigest, type Digest } from '../digest.js';
import { forEachLimited } from './for-each-limited.js';
import type { Layout } from '../layout/layout.js';
import { reclaimBlobs } from '../maintenance/reclaim.js';
import type { BlobLocations } from '../registry/blob-locations.js';
import { pushBlob } from '../registry/blob-push.js';
import type { RegistryClient } from '../registry/client.js';
import type { Descriptor } from '../schema/descriptor.js';
import { leaseDigest } from '../store/ingest.js';
import { placeBlobs, type BlobOutcome, type PlaceOptions } from './place-blobs.js';
import type { ContentSource, SourceDoc } from './sources.js';

export type { BlobOutcome } from './place-blobs.js';

export interface BlobPlacement {
  /** Blobs transferred at once (default 4). */
  concurrency?: number | undefined;
  /** Layout → layout: hard-link when both share a filesystem (default true). */
  link?: boolean | undefined;
  /** Layout → layout: re-hash a big source blob before hard-linking it (default true). */
  verify?: boolean | undefined;
  onProgress?: ((desc: Descriptor, transferred: number) => void) | undefined;
  onDone: (desc: Descriptor, outcome: BlobOutcome) => void;
}

export interface ContentSink {
  readonly label: string;
  /** Place every non-manifest blob of `blobs` (configs, layers). */
  putBlobs(blobs: readonly Descriptor[], source: ContentSource, how: BlobPlacement): Promise<void>;
  /** Set for registry destinations: where a placed blob can be found again (blob locations). */
  readonly remote?: { registry: string; repository: string } | undefined;
  /** Store a manifest (by digest); returns the registry's OCI-Subject answer when there is one. */
  putManifest(
    doc: SourceDoc,
    source?: ContentSource,
  ): Promise<{ outcome: BlobOutcome; ociSubject?: string | undefined }>;
}

export class LayoutSink implements ContentSink {
  /** Blobs this copy made appear (rolled back on failure). */
  private readonly created = new Set<Digest>();
  /** Hard links for manifests too: decided by putBlobs (off with --no-link, after a refusal). */
  private link = false;

  constructor(readonly layout: Layout) {}

  get label(): string {
    return this.layout.root;
  }

  async putBlobs(
    blobs: readonly Descriptor[],
    source: ContentSource,
    how: BlobPlacement,
  ): Promise<void> {
    const local = source.local;
    this.link = how.link !== false && local !== undefined && sameFilesystem(local, this.layout);
    if (local !== undefined) {
      // Layout → layout: hard links first, small blobs synchronously (place-blobs.ts).
      const options: PlaceOptions = {
        link: this.link,
        verify: how.verify,
        concurrency: how.concurrency,
        onBlob: (e) => how.onDone(e.descriptor, e.outcome),
      };
      await placeBlobs(local, this.layout, blobs, options, this.created);
      return;
    }
    await forEachLimited(blobs, how.concurrency ?? 4, async (desc) => {
      how.onDone(desc, await this.putBlob(desc, source, (n) => how.onProgress?.(desc, n)));
    });
  }

  putManifest(doc: SourceDoc, source?: ContentSource): Promise<{ outcome: BlobOutcome }> {
    const digest = parseDigest(doc.descriptor.digest);
    if (this.present(digest, doc.bytes.byteLength)) return Promise.resolve({ outcome: 'skipped' });
    // The bytes were read and verified while planning; a link shares the source's verified inode.
    const local = source?.local;
    if (this.link && local !== undefined && local.blobs.stat(digest)?.size === doc.bytes.length) {
      const linked = this.layout.blobs.linkFrom(local.blobs.path(digest), digest, doc.bytes.length);
      if (linked !== false) {
        if (!linked.existed) this.created.add(digest);
        return Promise.resolve({ outcome: linked.existed ? 'skipped' : 'linked' });
      }
      this.link = false;
    }
    const put = this.layout.blobs.putBytes(
      doc.bytes,
      { digest, size: doc.descriptor.size },
      { deferFileSync: true },
    );
    if (!put.existed) this.created.add(digest);
    return Promise.resolve({ outcome: put.existed ? 'skipped' : 'copied' });
  }

  /**
   * Take back the blobs this copy added, under gc's protocol (see reclaimBlobs): a failed copy
   * leaves the layout as it found it, and never removes a blob someone else now relies on.
   */
  async rollback(): Promise<number> {
    const removed = await reclaimBlobs(this.layout, this.created);
    this.created.clear();
    return removed;
  }

  /** One blob streamed from `source` through the verifying ingest. */
  async putBlob(
    desc: Descriptor,
    source: ContentSource,
    onProgress: (done: number) => void,
  ): Promise<BlobOutcome> {
    const digest = parseDigest(desc.digest);
    if (this.present(digest, desc.size)) return 'skipped';
    let done = 0;
    const counted = async function* (): AsyncGenerator<Uint8Array> {
      for await (const chunk of source.openBlob(desc, 0)) {
        done += chunk.byteLength;
        onProgress(done);
        yield chunk;
      }
    };
    const put = await this.layout.blobs.put(
      counted(),
      { digest, size: desc.size },
      { deferDirSync: true },
    );
    if (!put.existed) this.created.add(digest);
    return put.existed ? 'skipped' : 'copied';
  }

  private present(digest: Digest, size: number): boolean {
    leaseDigest(this.layout.root, digest); // gc protocol: lease before looking
    return this.layout.blobs.stat(digest)?.size === size;
  }
}

function sameFilesystem(src: Layout, dst: Layout): boolean {
  try {
    return statSync(src.root).dev === statSync(dst.root).dev;
  } catch {
    return false;
  }
}

/** Mounts tried per blob before uploading: each refused one costs a round trip (and a cancel). */
const MAX_MOUNT_SOURCES = 3;

export class RegistrySink implements ContentSink {
  constructor(
    readonly client: RegistryClient,
    readonly repository: string,
    private readonly chunkSize?: number,
    /** Where blobs were last seen: more repositories of this registry to mount from. */
    private readonly locations?: BlobLocations,
  ) {}

  get remote(): { registry: string; repository: string } {
    return { registry: this.client.registry, repository: this.repository };
  }

  get label(): string {
    return `${this.client.registry}/${this.repository}`;
  }

  async putBlobs(
    blobs: readonly Descriptor[],
    source: ContentSource,
    how: BlobPlacement,
  ): Promise<void> {
    await forEachLimited(blobs, how.concurrency ?? 4, async (desc) => {
      how.onDone(desc, await this.putBlob(desc, source, (n) => how.onProgress?.(desc, n)));
    });
  }

  async putBlob(
    desc: Descriptor,
    source: ContentSource,
    onProgress: (done: number) => void,
  ): Promise<BlobOutcome> {
    const registry = this.client.registry;
    // Mount only within this registry: the source repository first (registry → same registry),
    // then where the record last saw the blob. Neither is trusted: the registry decides.
    const mountFrom = [
      ...(source.remote?.client.registry === registry ? [source.remote.repository] : []),
      ...(this.locations?.lookup(registry, desc.digest) ?? []),
    ].filter((r, i, all) => r !== this.repository && all.indexOf(r) === i);
    const outcome = await pushBlob(
      this.client,
      this.repository,
      { digest: parseDigest(desc.digest), size: desc.size },
      (offset) => source.openBlob(desc, offset),
      {
        mountFrom: mountFrom.slice(0, MAX_MOUNT_SOURCES),
        chunkSize: this.chunkSize,
        onProgress,
      },
    );
    return outcome === 'uploaded' ? 'copied' : outcome === 'exists' ? 'skipped' : 'mounted';
  }

  /** A manifest by digest, or (`reference` a tag) a tag: copy.ts pushes tags last. */
  async putManifest(
    doc: SourceDoc,
    _source?: ContentSource,
    reference: string = doc.descriptor.digest,
  ): Promise<{ outcome: BlobOutcome; ociSubject?: string | undefined }> {
    const r = await this.client.putManifest(
      this.repository,
      reference,
      doc.bytes,
      doc.descriptor.mediaType,
    );
    return { outcome: 'copied', ociSubject: r.ociSubject };
  }
}
