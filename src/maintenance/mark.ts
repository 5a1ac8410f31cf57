// gc's mark phase, read-only: which index.json entries are orphans under a RootPolicy, and which
// digests must stay (the closure of the listed entries and of what live writers have leased).
import { readFileSync, statSync } from 'node:fs';
import { algorithmOf, digestOf, parseDigest, tryParseDigest, type Digest } from '../digest.js';
import { isOcilayoutError, wrapFsError } from '../errors.js';
import { walk, type ManifestSource, type WalkProblem } from '../layout/graph.js';
import type { Layout } from '../layout/layout.js';
import { MAX_MANIFEST_BYTES } from '../media-types.js';
import type { Descriptor } from '../schema/descriptor.js';
import type { IndexFile } from '../schema/layout-files.js';
import { parseManifest, type ParsedManifest } from '../schema/manifest.js';
import { digestMismatch, sizeMismatch } from '../store/verify-stream.js';
import type { RootPolicy } from './policy.js';

/** Digests live writers leased: manifests that exist (walked for their closure) and the rest. */
export interface LeasedRoots {
  manifests: Descriptor[];
  leaves: Digest[];
}

export interface OrphanPlan {
  /** Positions in index.manifests of the entries to drop. */
  positions: Set<number>;
  /** Problems that make the mark unreliable (see assertMarkSafe in gc.ts). */
  problems: WalkProblem[];
}

export interface LiveSet {
  live: Set<Digest>;
  problems: WalkProblem[];
}

/** Blobs parked in ingest/ by a gc that died, by digest (see parkedByDeadGc). */
export type ParkedCopies = ReadonlyMap<Digest, string>;

/**
 * Reads each document once however often closures overlap (the fixpoint re-walks subgraphs), and
 * reads through a dead gc's parked copy of a document missing from blobs/, so that what the copy
 * references is marked too (gc then puts the copy back).
 */
class CachedSource implements ManifestSource {
  private readonly cache = new Map<string, ParsedManifest>();
  constructor(
    private readonly layout: Layout,
    private readonly parked: ParkedCopies,
  ) {}
  readManifest(desc: Descriptor): ParsedManifest {
    const key = `${desc.digest} ${desc.size} ${desc.mediaType}`;
    let parsed = this.cache.get(key);
    if (parsed === undefined) {
      parsed = this.read(desc);
      this.cache.set(key, parsed);
    }
    return parsed;
  }

  private read(desc: Descriptor): ParsedManifest {
    try {
      return this.layout.readManifest(desc);
    } catch (err) {
      const copy = isOcilayoutError(err, 'E_NOT_FOUND')
        ? this.parked.get(desc.digest as Digest)
        : undefined;
      if (copy === undefined) throw err;
      return readParkedManifest(copy, desc);
    }
  }
}

/** A parked document, held to the same checks as Layout.readManifest (cap, size, digest). */
export function readParkedManifest(path: string, desc: Descriptor): ParsedManifest {
  const digest = parseDigest(desc.digest);
  const what = `parked manifest ${digest}`;
  let bytes: Buffer;
  try {
    if (statSync(path).size > MAX_MANIFEST_BYTES) throw new Error('over the 4 MiB manifest limit');
    bytes = readFileSync(path);
  } catch (err) {
    throw wrapFsError(err, `read ${what}`, { digest });
  }
  if (bytes.byteLength !== desc.size) throw sizeMismatch(what, desc.size, bytes.byteLength, false);
  const found = digestOf(bytes, algorithmOf(digest));
  if (found !== digest) throw digestMismatch(what, digest, found);
  return parseManifest(bytes, what, desc.mediaType);
}

/**
 * Add to `reached` everything `roots` reach. Returns the problems other than a missing blob: a
 * sparse layout may lack content (nothing to walk), but a document that exists and cannot be read
 * hides what it references.
 */
function extend(source: ManifestSource, reached: Set<Digest>, roots: Descriptor[]): WalkProblem[] {
  if (roots.length === 0) return [];
  const r = walk(source, roots, { collect: true });
  for (const d of r.nodes.keys()) reached.add(d);
  return r.problems.filter((p) => p.error.code !== 'E_NOT_FOUND');
}

/** Sort leased digest strings into walkable manifests and plain digests. Never throws. */
export function leasedRoots(layout: Layout, leased: Iterable<string>): LeasedRoots {
  const out: LeasedRoots = { manifests: [], leaves: [] };
  for (const text of leased) {
    const digest = tryParseDigest(text);
    if (digest === undefined) continue; // a torn line of a lease being appended
    out.leaves.push(digest);
    try {
      const st = layout.blobs.stat(digest);
      if (st !== undefined && st.size <= MAX_MANIFEST_BYTES) {
        out.manifests.push(layout.describeBlob(digest));
      }
    } catch {
      /* not a manifest (a layer, a config), or not a regular file: a leaf */
    }
  }
  return out;
}

/**
 * Classify index.json with `policy`, then grow the reached set to a fixpoint: a conditional entry
 * is kept when its subject is reached, and what it reaches may keep further entries (referrers of
 * referrers). Conditional entries never kept are the orphans.
 */
export function findOrphans(
  layout: Layout,
  index: IndexFile,
  policy: RootPolicy,
  leased: LeasedRoots,
  parked: ParkedCopies = new Map(),
): OrphanPlan {
  const { roots, conditional } = classify(layout, index, policy);
  const source = new CachedSource(layout, parked);
  const reached = new Set<Digest>(leased.leaves);
  const problems = extend(source, reached, roots);
  extend(source, reached, leased.manifests); // best effort: leases name unfinished work
  let pending = conditional;
  for (let changed = true; changed;) {
    changed = false;
    const next: typeof pending = [];
    for (const c of pending) {
      if (!reached.has(c.subject)) {
        next.push(c);
        continue;
      }
      problems.push(...extend(source, reached, [c.descriptor]));
      changed = true;
    }
    pending = next;
  }
  const positions = new Set<number>();
  for (const c of pending) if (c.position >= 0) positions.add(c.position);
  return { positions, problems };
}

/** Everything the entries of `index` and the leases reach: what gc must not delete. */
export function markLive(
  layout: Layout,
  index: IndexFile,
  leased: LeasedRoots,
  parked: ParkedCopies = new Map(),
): LiveSet {
  const source = new CachedSource(layout, parked);
  const live = new Set<Digest>(leased.leaves);
  const problems = extend(source, live, index.manifests);
  extend(source, live, leased.manifests);
  return { live, problems };
}

interface Conditional {
  descriptor: Descriptor;
  subject: Digest;
  /** Its position in index.manifests, or -1 for an extra root the policy supplied. */
  position: number;
}

/** Map the policy's answer back onto index.json positions; unmentioned entries are plain roots. */
function classify(
  layout: Layout,
  index: IndexFile,
  policy: RootPolicy,
): { roots: Descriptor[]; conditional: Conditional[] } {
  const used = new Set<number>();
  const conditional: Conditional[] = [];
  const extraRoots: Descriptor[] = [];
  for (const entry of policy.classify(layout, index)) {
    let position = index.manifests.indexOf(entry.descriptor);
    if (position < 0 || used.has(position)) {
      // The policy handed back a copy: match it by value to an entry not yet claimed.
      const text = JSON.stringify(entry.descriptor);
      position = index.manifests.findIndex((d, i) => !used.has(i) && JSON.stringify(d) === text);
    }
    if (position >= 0) used.add(position);
    if (entry.keepWhileReachable !== undefined) {
      conditional.push({
        descriptor: entry.descriptor,
        subject: entry.keepWhileReachable,
        position,
      });
    } else if (position < 0) {
      extraRoots.push(entry.descriptor);
    }
  }
  const conditionalAt = new Set(conditional.map((c) => c.position));
  return {
    roots: [...index.manifests.filter((_, i) => !conditionalAt.has(i)), ...extraRoots],
    conditional,
  };
}
