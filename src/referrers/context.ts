// What a convention needs while it plans changes to an in-memory index.json: the layout's documents,
// a way to store new index blobs (or only name them, in a dry run), and the caller's options.
import { digestOf } from '../digest.js';
import type { Layout } from '../layout/layout.js';
import { MediaType } from '../media-types.js';
import type { Descriptor } from '../schema/descriptor.js';
import { DocReader } from './documents.js';

export interface ContextOptions {
  /**
   * Subject-annotation key family: true writes `org.olareg.referrer.subject`, false the image-spec
   * PR #1171 key, undefined keeps the family the layout (or the entry being updated) already uses.
   */
  olaregKeys?: boolean | undefined;
  /** Compute descriptors of new index blobs without writing them. */
  dryRun?: boolean | undefined;
}

export class ConventionContext {
  readonly docs: DocReader;
  /** Index blobs stored (or, in a dry run, that would be stored), in order, without repeats. */
  readonly written: Descriptor[] = [];
  private blobNames: Map<string, string[]> | undefined;

  constructor(
    readonly layout: Layout,
    readonly options: ContextOptions = {},
    docs?: DocReader,
  ) {
    this.docs = docs ?? new DocReader(layout);
  }

  /**
   * Store a referrers index blob before the index.json commit that will point to it (blobs first,
   * so a crash leaves garbage, never a dangling entry). The dir fsync is left to the commit.
   */
  putIndexBlob(bytes: Buffer): Descriptor {
    const digest = digestOf(bytes);
    if (this.options.dryRun !== true) {
      this.layout.blobs.putBytes(
        bytes,
        { digest, size: bytes.byteLength },
        { deferFileSync: true },
      );
    }
    if (!this.written.some((d) => d.digest === digest)) {
      this.written.push({ mediaType: MediaType.ImageIndex, digest, size: bytes.byteLength });
    }
    this.docs.accept(digest, bytes);
    return { mediaType: MediaType.ImageIndex, digest, size: bytes.byteLength };
  }

  /**
   * Stored digests of `algorithm` whose encoded part starts with `prefix` (used only to recover the
   * subject of a truncated sha512 fallback tag whose index lists nothing readable). Listed once.
   */
  blobsWithPrefix(algorithm: string, prefix: string): string[] {
    if (this.blobNames === undefined) {
      this.blobNames = new Map();
      for (const d of this.layout.blobs.list().blobs) {
        const [alg = '', enc = ''] = d.split(':');
        const list = this.blobNames.get(alg) ?? [];
        list.push(enc);
        this.blobNames.set(alg, list);
      }
    }
    return (this.blobNames.get(algorithm) ?? [])
      .filter((enc) => enc.startsWith(prefix))
      .map((enc) => `${algorithm}:${enc}`);
  }
}
