// Taking back the blobs a failed operation placed in a layout, under gc's protocol (park.ts): park
// each in ingest/, then keep it when a live writer (another process, or another operation of this
// one) leased it or index.json reaches it, else delete it. A failed copy or import thus leaves the
// layout as it found it, and never removes a blob that someone else found present and relies on.
import type { Digest } from '../digest.js';
import { isOcilayoutError } from '../errors.js';
import { walk, type ManifestSource } from '../layout/graph.js';
import type { Layout } from '../layout/layout.js';
import { liveLeasedDigests } from '../store/ingest.js';
import { readParkedManifest } from './mark.js';
import { parkAndRecheck } from './park.js';
import { describeParentsFirst } from './sweep.js';

/**
 * Reclaim `placed` (blobs this operation made appear); returns how many were deleted. Any failure
 * before a deletion puts every parked blob back and rethrows (a leak for gc, never a loss).
 */
export async function reclaimBlobs(layout: Layout, placed: ReadonlySet<Digest>): Promise<number> {
  if (placed.size === 0) return 0;
  const { removed } = await parkAndRecheck(layout, describeParentsFirst(layout, placed), (parked) =>
    neededByOthers(layout, placed, new Map(parked.map((p) => [p.blob.digest, p.trashPath]))),
  );
  return removed.length;
}

/**
 * Digests leased by other live writers, and everything index.json reaches now. A manifest we
 * parked may be listed by then (another writer found it present, committed and exited): it is
 * read from its parked copy, or what it references would look unreached and be deleted.
 */
function neededByOthers(
  layout: Layout,
  placed: ReadonlySet<Digest>,
  parked: ReadonlyMap<Digest, string>,
): Set<string> {
  const out = liveLeasedDigests(layout.root, { exceptOwn: true });
  try {
    const source: ManifestSource = {
      readManifest(desc) {
        try {
          return layout.readManifest(desc);
        } catch (err) {
          const copy = parked.get(desc.digest as Digest);
          if (copy === undefined || !isOcilayoutError(err, 'E_NOT_FOUND')) throw err;
          return readParkedManifest(copy, desc);
        }
      },
    };
    const reached = walk(source, layout.readIndex().manifests, { collect: true });
    for (const d of reached.nodes.keys()) out.add(d);
  } catch (err) {
    // Cannot tell what index.json needs: keep everything (a leak for gc, never a loss).
    if (isOcilayoutError(err)) for (const d of placed) out.add(d);
    else throw err;
  }
  return out;
}
