// Merging an archive's index.json entries into a target index.json: tags added, untagged entries
// deduplicated by digest, and a tag that already names other content handled by the conflict
// policy. Pure functions over IndexFile; import applies them inside IndexStore.update.
import { ConflictError } from '../errors.js';
import { Annotation } from '../media-types.js';
import type { Descriptor } from '../schema/descriptor.js';
import type { IndexFile } from '../schema/layout-files.js';

export type ConflictPolicy = 'fail' | 'skip' | 'overwrite';
export const CONFLICT_POLICIES: readonly ConflictPolicy[] = ['fail', 'skip', 'overwrite'];

export interface TagConflict {
  /** The ref.name both sides use. */
  tag: string;
  /** Digest(s) the target's entries name, and the digest the archive brings. */
  existing: string[];
  incoming: string;
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

function refNameOf(d: Descriptor): string | undefined {
  return d.annotations?.[Annotation.RefName];
}

/**
 * Apply `incoming` to `index` (mutated). Tags are compared by exact ref.name. Throws E_CONFLICT
 * under policy `fail` when any tag names different content, listing every such tag; the caller's
 * index is then unusable (the throw aborts the update, so nothing is written).
 */
export function mergeEntries(
  index: IndexFile,
  incoming: readonly Descriptor[],
  policy: ConflictPolicy,
): MergeReport {
  const report: MergeReport = { added: [], unchanged: [], replaced: [], skipped: [] };
  const conflicts: TagConflict[] = [];
  for (const entry of incoming) {
    const tag = refNameOf(entry);
    if (tag === undefined) {
      if (index.manifests.some((e) => e.digest === entry.digest)) report.unchanged.push(entry);
      else {
        index.manifests.push(entry);
        report.added.push(entry);
      }
      continue;
    }
    const named = index.manifests.filter((e) => refNameOf(e) === tag);
    const other = named.filter((e) => e.digest !== entry.digest);
    if (named.length === 0) {
      index.manifests.push(entry);
      report.added.push(entry);
    } else if (other.length === 0) {
      report.unchanged.push(entry);
    } else {
      const conflict = { tag, existing: other.map((e) => e.digest), incoming: entry.digest };
      if (policy === 'fail') conflicts.push(conflict);
      else if (policy === 'skip') report.skipped.push(conflict);
      else {
        replaceTag(index, tag, entry);
        report.replaced.push(conflict);
      }
    }
  }
  if (conflicts.length > 0) {
    const tags = conflicts.map((c) => c.tag);
    throw new ConflictError(
      'E_CONFLICT',
      `tag${tags.length > 1 ? 's' : ''} ${tags.join(', ')} already name${tags.length > 1 ? '' : 's'} different content in the target layout`,
      { conflicts },
      {
        hint: "pass --on-conflict skip to keep the target's tags, or --on-conflict overwrite to take the archive's",
      },
    );
  }
  return report;
}

/** The first entry naming `tag` is replaced in place (stable order); other entries naming it go. */
function replaceTag(index: IndexFile, tag: string, entry: Descriptor): void {
  let placed = false;
  const out: Descriptor[] = [];
  for (const e of index.manifests) {
    if (refNameOf(e) !== tag) out.push(e);
    else if (!placed) {
      out.push(entry);
      placed = true;
    }
  }
  index.manifests = out;
}
