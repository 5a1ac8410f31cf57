// Deleting one manifest or blob on request, refusing by default when index.json still reaches it
// (a dangling reference is corruption that peers trip over). The check reads without the lock, so
// it catches mistakes, not races; gc is the safe bulk remover.
import { parseDigest, type Digest } from './digest.js';
import { ConflictError, NotFoundError } from './errors.js';
import { walk } from './graph.js';
import type { Layout, Target } from './layout.js';
import { Annotation } from './media-types.js';
import type { Descriptor } from './schema/descriptor.js';

export interface DeleteOptions {
  /** Delete even when index.json still reaches the content. */
  force?: boolean | undefined;
}

/**
 * The first index.json entry (other than entries for `digest` itself) from which `digest` is
 * reachable, or undefined. Unreadable parts of the graph are skipped (fsck reports them).
 */
export function rootReaching(layout: Layout, digest: Digest): Descriptor | undefined {
  const roots = layout.readIndex().manifests.filter((e) => e.digest !== digest);
  if (!walk(layout, roots, { collect: true }).nodes.has(digest)) return undefined;
  // Rare path: find which root, to name it in the error.
  return roots.find((r) => walk(layout, [r], { collect: true }).nodes.has(digest));
}

/**
 * Remove the index.json entries for a manifest (by tag or digest: every tag on it goes) and its
 * blob. `tags` reports the ref.names that were on it. Throws E_CONFLICT
 * when another entry still reaches it (unless `force`), E_NOT_FOUND when it is absent.
 */
export async function deleteManifest(
  layout: Layout,
  target: Target,
  options: DeleteOptions = {},
): Promise<{ digest: Digest; tags: string[]; entriesRemoved: number; blobRemoved: boolean }> {
  const index = layout.readIndex();
  const digest = parseDigest(layout.resolve(target, index).digest);
  if (options.force !== true) assertNotReached(layout, digest, 'manifest');
  // Read before the delete for the report only; the delete itself re-reads under the lock.
  const tags = index.manifests
    .filter((e) => e.digest === digest)
    .flatMap((e) => e.annotations?.[Annotation.RefName] ?? []);
  const r = await layout.deleteManifest(digest);
  return { digest, tags, ...r };
}

/**
 * Remove one blob. Throws E_CONFLICT when index.json lists it (use deleteManifest) or reaches it
 * (unless `force`), E_NOT_FOUND when it is absent.
 */
export function deleteBlob(layout: Layout, digest: Digest, options: DeleteOptions = {}): void {
  if (!layout.blobs.has(digest)) {
    throw new NotFoundError('E_NOT_FOUND', `blob ${digest} not found in ${layout.root}`, {
      digest,
    });
  }
  if (options.force !== true) {
    if (layout.readIndex().manifests.some((e) => e.digest === digest)) {
      throw new ConflictError(
        'E_CONFLICT',
        `${digest} is listed in index.json; deleting only the blob would leave a dangling entry`,
        { digest },
        { hint: `use \`ocilayout manifest delete ${layout.root}@${digest}\`` },
      );
    }
    assertNotReached(layout, digest, 'blob');
  }
  layout.blobs.delete(digest);
  layout.blobs.flush();
}

function assertNotReached(layout: Layout, digest: Digest, what: string): void {
  const root = rootReaching(layout, digest);
  if (root === undefined) return;
  const name = root.annotations?.[Annotation.RefName];
  throw new ConflictError(
    'E_CONFLICT',
    `${what} ${digest} is still referenced from index.json entry ${name === undefined ? root.digest : `${name} (${root.digest})`}`,
    { digest, root: root.digest, ...(name === undefined ? {} : { tag: name }) },
    { hint: 'delete or untag what references it first, or pass --force' },
  );
}
