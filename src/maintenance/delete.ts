// Deleting one manifest or blob on request, refusing by default when index.json still reaches it
// (a dangling reference is corruption that peers trip over). Check, commit and removal run under
// one hold of the index lock, and the blob goes through gc's park / second look at the leases, so
// a writer that is about to commit a reference to it keeps it (spec-notes/concurrency.md).
import { parseDigest, type Digest } from '../digest.js';
import { ConflictError, NotFoundError } from '../errors.js';
import { walk } from '../layout/graph.js';
import type { Layout, Target } from '../layout/layout.js';
import { sweepGarbage } from './sweep.js';
import { Annotation } from '../media-types.js';
import type { Descriptor } from '../schema/descriptor.js';
import type { IndexFile } from '../schema/layout-files.js';
import { liveLeasedDigests } from '../store/ingest.js';
import type { HeldLock } from '../store/lock.js';

export interface DeleteOptions {
  /** Delete even when index.json still reaches the content (a live writer's lease still wins). */
  force?: boolean | undefined;
}

export interface DeleteManifestResult {
  digest: Digest;
  /** The ref.names that were on the removed entries. */
  tags: string[];
  entriesRemoved: number;
  /** False when there was no blob, or a live writer leased it (it stays; gc takes it later). */
  blobRemoved: boolean;
}

/**
 * The first index.json entry (other than entries for `digest` itself) from which `digest` is
 * reachable, or undefined. Unreadable parts of the graph are skipped (fsck reports them).
 */
export function rootReaching(
  layout: Layout,
  digest: Digest,
  index: IndexFile = layout.readIndex(),
): Descriptor | undefined {
  const roots = index.manifests.filter((e) => e.digest !== digest);
  if (!walk(layout, roots, { collect: true }).nodes.has(digest)) return undefined;
  // Rare path: find which root, to name it in the error.
  return roots.find((r) => walk(layout, [r], { collect: true }).nodes.has(digest));
}

/**
 * Remove the index.json entries for a manifest (by tag or digest: every tag on it goes) and its
 * blob. Throws E_CONFLICT when another entry still reaches it (unless `force`), E_NOT_FOUND when
 * it is absent; nothing changes then.
 */
export async function deleteManifest(
  layout: Layout,
  target: Target,
  options: DeleteOptions = {},
): Promise<DeleteManifestResult> {
  return layout.updateIndex((index, held) => {
    const digest = parseDigest(layout.resolve(target, index).digest);
    if (options.force !== true) assertNotReached(layout, index, digest, 'manifest');
    const removed = index.manifests.filter((e) => e.digest === digest);
    if (removed.length === 0 && !layout.blobs.has(digest)) throw notFound(layout, digest);
    index.manifests = index.manifests.filter((e) => e.digest !== digest);
    const result: DeleteManifestResult = {
      digest,
      tags: removed.flatMap((e) => e.annotations?.[Annotation.RefName] ?? []),
      entriesRemoved: removed.length,
      blobRemoved: false,
    };
    // The blob goes after the commit (a crash in between leaves only garbage), before the unlock.
    const afterCommit = async (): Promise<void> => {
      result.blobRemoved = await removeUnlessLeased(layout, digest, held);
    };
    return { index: removed.length > 0 ? index : undefined, result, afterCommit };
  });
}

/**
 * Remove one blob. Throws E_CONFLICT when index.json lists it (use deleteManifest) or reaches it
 * (unless `force`), or when a live writer has leased it; E_NOT_FOUND when it is absent.
 */
export async function deleteBlob(
  layout: Layout,
  digest: Digest,
  options: DeleteOptions = {},
): Promise<void> {
  await layout.updateIndex(async (index, held) => {
    if (!layout.blobs.has(digest)) throw notFound(layout, digest);
    if (options.force !== true) {
      if (index.manifests.some((e) => e.digest === digest)) {
        throw new ConflictError(
          'E_CONFLICT',
          `${digest} is listed in index.json; deleting only the blob would leave a dangling entry`,
          { digest },
          { hint: `use \`ocilayout manifest delete ${layout.root}@${digest}\`` },
        );
      }
      assertNotReached(layout, index, digest, 'blob');
    }
    if (!(await removeUnlessLeased(layout, digest, held)) && layout.blobs.has(digest)) {
      throw new ConflictError(
        'E_CONFLICT',
        `blob ${digest} is in use by a running writer (its lease in ingest/); it was kept`,
        { digest },
        { hint: 'retry when that process has finished' },
      );
    }
    return { index: undefined, result: undefined };
  });
}

/**
 * gc's sweep for one blob: park it, look at the other processes' leases again, put it back when
 * one of them needs it. Returns whether it is gone.
 */
async function removeUnlessLeased(
  layout: Layout,
  digest: Digest,
  held: HeldLock,
): Promise<boolean> {
  const st = layout.blobs.stat(digest);
  if (st === undefined) return false;
  const blob = { digest, size: st.size, children: [] };
  const leased = (): Set<string> => liveLeasedDigests(layout.root, { exceptOwn: true });
  const swept = await sweepGarbage(layout, [blob], new Set(), held, undefined, leased);
  return swept.removed.length > 0;
}

function notFound(layout: Layout, digest: Digest): NotFoundError {
  return new NotFoundError('E_NOT_FOUND', `${digest} not found in ${layout.root}`, {
    digest,
    layout: layout.root,
  });
}

function assertNotReached(layout: Layout, index: IndexFile, digest: Digest, what: string): void {
  const root = rootReaching(layout, digest, index);
  if (root === undefined) return;
  const name = root.annotations?.[Annotation.RefName];
  throw new ConflictError(
    'E_CONFLICT',
    `${what} ${digest} is still referenced from index.json entry ${name === undefined ? root.digest : `${name} (${root.digest})`}`,
    { digest, root: root.digest, ...(name === undefined ? {} : { tag: name }) },
    { hint: 'delete or untag what references it first, or pass --force' },
  );
}
