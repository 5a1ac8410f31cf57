// gc: drop orphaned index.json entries (RootPolicy), then delete every blob nothing reaches and the
// files dead writers left in ingest/, without ever deleting what a live writer is about to commit.
// Phases, lock and lease protocol: spec-notes/concurrency.md; decisions: spec-notes/gc-fsck.md.
import { relative } from 'node:path';
import type { Digest } from '../digest.js';
import { IntegrityError } from '../errors.js';
import type { WalkProblem } from '../layout/graph.js';
import type { Layout } from '../layout/layout.js';
import type { Descriptor } from '../schema/descriptor.js';
import type { IndexFile } from '../schema/layout-files.js';
import { liveLeasedDigests } from '../store/ingest.js';
import { listAbandoned, parkedByDeadGc, removeAbandoned } from './abandoned.js';
import { findOrphans, leasedRoots, markLive, type ParkedCopies } from './mark.js';
import { ALL_ENTRIES_ARE_ROOTS, type RootPolicy } from './policy.js';
import { planGarbage, sweepGarbage } from './sweep.js';

/** Points between gc's steps, for progress and for tests that interleave a writer. */
export type GcPhase = 'pruned' | 'marked' | 'parked' | 'swept';

export interface GcOptions {
  /** How index.json entries are classified (default: every entry is a root). */
  policy?: RootPolicy | undefined;
  /** Keep entries the policy made conditional even when their subject is gone. */
  keepOrphans?: boolean | undefined;
  /** Report what would go; write, lock and delete nothing. */
  dryRun?: boolean | undefined;
  /** Awaited at each phase; runs inside the index lock for 'marked' and 'parked'. */
  onPhase?: ((phase: GcPhase) => void | Promise<void>) | undefined;
}

export interface GcResult {
  dryRun: boolean;
  /** Blobs deleted (or that would be), manifests and indexes before what they reference. */
  removedBlobs: Digest[];
  /** index.json entries dropped as orphans. */
  removedEntries: Descriptor[];
  /** Files removed from ingest/ and abandoned temp files, relative to the layout root. */
  removedIngest: string[];
  bytesFreed: number;
  /** Blobs parked and put back because a live writer leased them, or parked by a crashed gc. */
  restoredBlobs: Digest[];
}

/**
 * Collect garbage in `layout`. Throws E_FSCK_FINDINGS (nothing deleted) when a reachable
 * manifest/index exists but cannot be read, since what it references is then unknown;
 * E_LOCK_TIMEOUT / E_LOCK_COMPROMISED from the index lock; E_INVALID_JSON / E_SCHEMA for a bad
 * index.json. Blobs another process deleted meanwhile are not an error.
 */
export async function gc(layout: Layout, options: GcOptions = {}): Promise<GcResult> {
  const policy = options.policy ?? ALL_ENTRIES_ARE_ROOTS;
  if (options.dryRun === true) return plan(layout, policy, options.keepOrphans === true);
  const removedEntries = options.keepOrphans === true ? [] : await pruneOrphans(layout, policy);
  await options.onPhase?.('pruned');
  // Mark and sweep under one hold of the index lock: no entry can be committed in between, and
  // the leases cover writers that have not committed yet.
  return layout.updateIndex(async (index, held) => {
    const leased = leasedRoots(layout, liveLeasedDigests(layout.root));
    const parked = parkedByDeadGc(layout.root);
    const { live, problems } = markLive(layout, index, leased, parked);
    assertMarkSafe(problems);
    const stuck = new Set<string>();
    const recovered = needed(layout, parked, live, stuck);
    for (const p of recovered) layout.blobs.restoreFromTrash(p.trashPath, p.digest);
    const garbage = planGarbage(layout, live);
    await options.onPhase?.('marked');
    const swept = await sweepGarbage(layout, garbage, live, held, () =>
      options.onPhase?.('parked'),
    );
    const abandoned = listAbandoned(layout.root).filter((f) => !stuck.has(f.path));
    for (const f of abandoned) removeAbandoned(layout.root, f);
    await options.onPhase?.('swept');
    const result: GcResult = {
      dryRun: false,
      removedBlobs: swept.removed.map((b) => b.digest),
      removedEntries,
      removedIngest: abandoned.map((f) => f.path),
      bytesFreed: sum(swept.removed) + sum(abandoned),
      restoredBlobs: [...recovered.map((p) => p.digest), ...swept.restored],
    };
    return { index: undefined, result };
  });
}

/** The dry run: the same decisions from a lock-free read; nothing is written, not even the lock. */
function plan(layout: Layout, policy: RootPolicy, keepOrphans: boolean): GcResult {
  let index = layout.readIndex();
  const leased = leasedRoots(layout, liveLeasedDigests(layout.root));
  const parked = parkedByDeadGc(layout.root);
  let removedEntries: Descriptor[] = [];
  if (!keepOrphans) {
    const orphans = findOrphans(layout, index, policy, leased, parked);
    assertMarkSafe(orphans.problems);
    removedEntries = index.manifests.filter((_, i) => orphans.positions.has(i));
    index = { ...index, manifests: index.manifests.filter((_, i) => !orphans.positions.has(i)) };
  }
  const { live, problems } = markLive(layout, index, leased, parked);
  assertMarkSafe(problems);
  const stuck = new Set<string>();
  const recoverable = needed(layout, parked, live, stuck);
  const putBack = new Set(recoverable.map((p) => relative(layout.root, p.trashPath)));
  const garbage = planGarbage(layout, live);
  const abandoned = listAbandoned(layout.root).filter(
    (f) => !putBack.has(f.path) && !stuck.has(f.path),
  );
  return {
    dryRun: true,
    removedBlobs: garbage.map((b) => b.digest),
    removedEntries,
    removedIngest: abandoned.map((f) => f.path),
    bytesFreed: sum(garbage) + sum(abandoned),
    restoredBlobs: recoverable.map((p) => p.digest),
  };
}

/** Phase 1: drop orphaned entries in one index.json commit (a no-op commit writes nothing). */
async function pruneOrphans(layout: Layout, policy: RootPolicy): Promise<Descriptor[]> {
  return layout.updateIndex((index: IndexFile) => {
    const leased = leasedRoots(layout, liveLeasedDigests(layout.root));
    const orphans = findOrphans(layout, index, policy, leased, parkedByDeadGc(layout.root));
    assertMarkSafe(orphans.problems);
    if (orphans.positions.size === 0) return { index: undefined, result: [] };
    const removed = index.manifests.filter((_, i) => orphans.positions.has(i));
    index.manifests = index.manifests.filter((_, i) => !orphans.positions.has(i));
    return { index, result: removed };
  });
}

/**
 * Parked copies (left by a gc that died between park and unlink) of blobs that are live now, e.g.
 * a writer committed them meanwhile, and that blobs/ lacks: gc puts these back. A live one that
 * cannot go back (something odd sits at its path) is added to `stuck` (paths relative to the
 * root): it is not abandoned, it may be the only good copy.
 */
function needed(
  layout: Layout,
  parked: ParkedCopies,
  live: ReadonlySet<Digest>,
  stuck: Set<string>,
): { digest: Digest; trashPath: string }[] {
  const out: { digest: Digest; trashPath: string }[] = [];
  for (const [digest, trashPath] of parked) {
    if (!live.has(digest)) continue;
    try {
      if (layout.blobs.has(digest)) continue;
    } catch {
      stuck.add(relative(layout.root, trashPath)); // leave both to fsck and a human
      continue;
    }
    out.push({ digest, trashPath });
  }
  return out;
}

/** A reachable document that exists but cannot be read hides what it references: stop. */
function assertMarkSafe(problems: WalkProblem[]): void {
  const first = problems[0];
  if (first === undefined) return;
  const from = first.parent === undefined ? 'index.json' : first.parent.digest;
  throw new IntegrityError(
    'E_FSCK_FINDINGS',
    `gc stopped before deleting anything: ${first.descriptor.digest} (referenced by ${from}) cannot be read: ${first.error.message}`,
    { digest: first.descriptor.digest, problems: problems.length, cause: first.error.code },
    {
      cause: first.error,
      hint: 'run `ocilayout fsck` on the layout, then repair or untag what it reports',
    },
  );
}

function sum(items: readonly { size: number }[]): number {
  return items.reduce((n, i) => n + i.size, 0);
}
