// Where a cross-boundary copy writes: a layout (blobs through the verifying ingest, then ONE
// index.json commit by the caller; a failure takes back the blobs this copy added) or a registry
// repository (HEAD/mount/upload, manifests by digest, tags last).
import { parseDigest, type Digest } from '../digest.js';
import type { Layout } from '../layout.js';
import { reclaimBlobs } from '../maintenance/reclaim.js';
import type { Descriptor } from '../schema/descriptor.js';
import { leaseDigest } from '../store/ingest.js';
import { coalesce } from './blob-pull.js';
import { pushBlob } from './blob-push.js';
import type { RegistryClient } from './client.js';
import type { ContentSource, SourceDoc } from './sources.js';

export type BlobOutcome = 'copied' | 'skipped' | 'mounted';

export interface ContentSink {
  readonly label: string;
  putBlob(
    desc: Descriptor,
    source: ContentSource,
    onProgress: (done: number) => void,
  ): Promise<BlobOutcome>;
  /** Store a manifest (by digest); returns the registry's OCI-Subject answer when there is one. */
  putManifest(doc: SourceDoc): Promise<{ outcome: BlobOutcome; ociSubject?: string | undefined }>;
}

export class LayoutSink implements ContentSink {
  /** Blobs this copy made appear (rolled back on failure). */
  private readonly created = new Set<Digest>();

  constructor(readonly layout: Layout) {}

  get label(): string {
    return this.layout.root;
  }

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
      coalesce(counted()),
      { digest, size: desc.size },
      { deferDirSync: true },
    );
    if (!put.existed) this.created.add(digest);
    return put.existed ? 'skipped' : 'copied';
  }

  putManifest(doc: SourceDoc): Promise<{ outcome: BlobOutcome }> {
    const digest = parseDigest(doc.descriptor.digest);
    if (this.present(digest, doc.bytes.byteLength)) return Promise.resolve({ outcome: 'skipped' });
    const put = this.layout.blobs.putBytes(
      doc.bytes,
      { digest, size: doc.descriptor.size },
      { deferDirSync: true },
    );
    if (!put.existed) this.created.add(digest);
    return Promise.resolve({ outcome: put.existed ? 'skipped' : 'copied' });
  }

  /**
   * Take back the blobs this copy added, under gc's protocol (see reclaimBlobs): a failed copy
   * leaves the layout as it found it, and never removes a blob someone else now relies on.
   */
  rollback(): number {
    const removed = reclaimBlobs(this.layout, this.created);
    this.created.clear();
    return removed;
  }

  private present(digest: Digest, size: number): boolean {
    leaseDigest(this.layout.root, digest); // gc protocol: lease before looking
    return this.layout.blobs.stat(digest)?.size === size;
  }
}

export class RegistrySink implements ContentSink {
  constructor(
    readonly client: RegistryClient,
    readonly repository: string,
    private readonly chunkSize?: number,
  ) {}

  get label(): string {
    return `${this.client.registry}/${this.repository}`;
  }

  async putBlob(
    desc: Descriptor,
    source: ContentSource,
    onProgress: (done: number) => void,
  ): Promise<BlobOutcome> {
    const sameRegistry =
      source.remote !== undefined && source.remote.client.registry === this.client.registry;
    const outcome = await pushBlob(
      this.client,
      this.repository,
      { digest: parseDigest(desc.digest), size: desc.size },
      (offset) => source.openBlob(desc, offset),
      {
        mountFrom: sameRegistry ? [source.remote.repository] : [],
        chunkSize: this.chunkSize,
        onProgress,
      },
    );
    return outcome === 'uploaded' ? 'copied' : outcome === 'exists' ? 'skipped' : 'mounted';
  }

  async putManifest(
    doc: SourceDoc,
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
