// Extension points that let other modules (referrer conventions) shape gc and fsck without
// maintenance/ knowing about them. The library wires the real policies in src/index.ts.
import type { Digest } from '../digest.js';
import type { Layout } from '../layout/layout.js';
import type { Descriptor } from '../schema/descriptor.js';
import type { IndexFile } from '../schema/layout-files.js';

/** How gc treats one index.json entry. */
export interface RootEntry {
  descriptor: Descriptor;
  /**
   * When set, the entry is referrer bookkeeping: it is kept (with everything it reaches) only while
   * this subject digest is reachable; otherwise it is an orphan (removed by gc unless keepOrphans).
   */
  keepWhileReachable?: Digest | undefined;
}

export interface RootPolicy {
  /** Classify every index.json entry; entries left out of the result are ordinary roots. */
  classify(layout: Layout, index: IndexFile): RootEntry[];
}

/** Every index.json entry is a root (the behaviour of umoci/regclient/skopeo). */
export const ALL_ENTRIES_ARE_ROOTS: RootPolicy = {
  classify: (_layout, index) => index.manifests.map((descriptor) => ({ descriptor })),
};

export type { Finding } from './findings.js';
import type { Finding } from './findings.js';

/** An extra fsck check (e.g. each referrer convention's bookkeeping). */
export type FsckCheck = (layout: Layout, index: IndexFile) => Finding[];
