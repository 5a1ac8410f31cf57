// Merging an archive's index.json entries into a target index.json: names added, untagged entries
// deduplicated by digest, and a name that already names other content handled by the conflict
// policy. Names are compared as layout/names.ts defines them (a full name from either annotation,
// else the bare tag), so two images sharing a tag but not a repository never conflict. Pure
// functions over IndexFile; import applies them inside IndexStore.update.
import { ConflictError } from '../errors.js';
import { entryName, ownsName } from '../layout/names.js';
import { haulerKindOf, parseCosignTag } from '../layout/dialect-names.js';
import { haulerKindPrefix } from '../layout/hauler-write.js';
import { listUntagged, setTag } from '../layout/tags.js';
import type { Descriptor } from '../schema/descriptor.js';
import type { IndexFile } from '../schema/layout-files.js';

export type ConflictPolicy = 'fail' | 'skip' | 'overwrite';
export const CONFLICT_POLICIES: readonly ConflictPolicy[] = ['fail', 'skip', 'overwrite'];

export interface TagConflict {
  /** The name both sides use (a bare tag or a full image name, see layout/names.ts). */
  tag: string;
  /** Digest(s) the target's entries name, and the digest the archive brings. */
  existing: string[];
  incoming: string;
  /**
   * skip: the incoming image was listed untagged (so gc keeps it and its referrers), or was
   * already listed by another entry. Never a stored image that nothing lists.
   */
  keptUntagged?: boolean;
}

export interface MergeReport {
  /** Entries appended (new tags, new untagged content). */
  added: Descriptor[];
  /** Entries already present with the same content (nothing to do). */
  unchanged: Descriptor[];
  /** Conflicting tags: replaced (overwrite) or left as they were (skip). */
  replaced: TagConflict[];
  skipped: TagConflict[];
}

/**
 * Apply `incoming` to `index` (mutated). Names are compared as entryName/ownsName define them.
 * Throws E_CONFLICT under policy `fail` when any name names different content, listing every such
 * name; the caller's index is then unusable (the throw aborts the update, so nothing is written).
 * Under `skip`, the incoming content is listed untagged unless an entry already lists it: its
 * blobs are stored, and an image nothing lists would be gc's to delete, signatures and all.
 * Into a hauler store, a name (or cosign tag) without a hauler kind is written in hauler's shape
 * (setTag, layout/hauler-write.ts); an entry that has one is hauler's own and goes in as it is.
 */
export function mergeEntries(
  index: IndexFile,
  incoming: readonly Descriptor[],
  policy: ConflictPolicy,
): MergeReport {
  const report: MergeReport = { added: [], unchanged: [], replaced: [], skipped: [] };
  const conflicts: TagConflict[] = [];
  // Decided once: the first entry of a hauler archive must not turn an empty target into a store.
  const hauler = haulerKindPrefix(index) !== undefined;
  const place = (tag: string, entry: Descriptor): void => {
    if (hauler && haulerKindOf(entry) === undefined) setTag(index, tag, entry);
    else index.manifests.push(entry);
  };
  // A cosign tag is filed under the names of its image: those come first.
  const cosignLast = (e: Descriptor): number => (parseCosignTag(entryName(e) ?? '') ? 1 : 0);
  const ordered = hauler ? [...incoming].sort((a, b) => cosignLast(a) - cosignLast(b)) : incoming;
  for (const entry of ordered) {
    const tag = entryName(entry);
    if (tag === undefined) {
      if (index.manifests.some((e) => e.digest === entry.digest)) report.unchanged.push(entry);
      else {
        index.manifests.push(entry);
        report.added.push(entry);
      }
      continue;
    }
    const named = index.manifests.filter((e) => ownsName(e, tag));
    const other = named.filter((e) => e.digest !== entry.digest);
    if (named.length === 0) {
      place(tag, entry);
      report.added.push(entry);
    } else if (other.length === 0) {
      report.unchanged.push(entry);
    } else {
      const conflict: TagConflict = {
        tag,
        existing: other.map((e) => e.digest),
        incoming: entry.digest,
      };
      if (policy === 'fail') conflicts.push(conflict);
      else if (policy === 'skip') {
        listUntagged(index, entry);
        report.skipped.push({ ...conflict, keptUntagged: true });
      } else {
        if (hauler && haulerKindOf(entry) === undefined) setTag(index, tag, entry);
        else replaceTag(index, tag, entry);
        report.replaced.push(conflict);
      }
    }
  }
  if (conflicts.length > 0) {
    const tags = conflicts.map((c) => c.tag);
    throw new ConflictError(
      'E_CONFLICT',
      `name${tags.length > 1 ? 's' : ''} ${tags.join(', ')} already name${tags.length > 1 ? '' : 's'} different content in the target layout`,
      { conflicts },
      {
        hint: "pass --on-conflict skip to keep the target's names (the archive's images are then listed untagged), or --on-conflict overwrite to take the archive's",
      },
    );
  }
  return report;
}

/** The first entry owning `tag` is replaced in place (stable order); other entries owning it go. */
function replaceTag(index: IndexFile, tag: string, entry: Descriptor): void {
  let placed = false;
  const out: Descriptor[] = [];
  for (const e of index.manifests) {
    if (!ownsName(e, tag)) out.push(e);
    else if (!placed) {
      out.push(entry);
      placed = true;
    }
  }
  index.manifests = out;
}
