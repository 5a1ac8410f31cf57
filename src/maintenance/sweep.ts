// gc's sweep of blobs/: order the garbage (every manifest/index before what it references), then
// park-and-recheck it (park.ts) with the live leases as the second look: put back what a writer
// now needs, unlink the rest. The protocol and its proof are in spec-notes/concurrency.md.
import { tryParseDigest, type Digest } from '../digest.js';
import { successors } from '../layout/graph.js';
import type { Layout } from '../layout/layout.js';
import { MAX_MANIFEST_BYTES } from '../media-types.js';
import { parseManifest } from '../schema/manifest.js';
import { liveLeasedDigests } from '../store/ingest.js';
import type { HeldLock } from '../store/lock.js';
import { parkAndRecheck } from './park.js';

export interface GarbageBlob {
  digest: Digest;
  size: number;
  /** What it references when it is a manifest or index (so it goes first), else empty. */
  children: Digest[];
}

export interface SweepResult {
  removed: GarbageBlob[];
  /** Parked, then put back because a live writer leased it (or something it references). */
  restored: Digest[];
}

/**
 * Blobs not in `live`, parents before children. Files that are not regular (symlinks) are left
 * alone: fsck reports them and a human decides.
 */
export function planGarbage(layout: Layout, live: ReadonlySet<Digest>): GarbageBlob[] {
  return describeParentsFirst(
    layout,
    layout.blobs.list().blobs.filter((d) => !live.has(d)),
  );
}

/**
 * The stored blobs among `digests` with their size and references, each document before what it
 * references (the order parkAndRecheck wants). Blobs gone meanwhile are left out.
 */
export function describeParentsFirst(layout: Layout, digests: Iterable<Digest>): GarbageBlob[] {
  const blobs = new Map<Digest, GarbageBlob>();
  for (const digest of digests) {
    let size: number;
    try {
      const st = layout.blobs.stat(digest);
      if (st === undefined) continue; // deleted meanwhile
      size = st.size;
    } catch {
      continue;
    }
    blobs.set(digest, { digest, size, children: childrenOf(layout, digest, size) });
  }
  return parentsFirst(blobs);
}

/**
 * Park every garbage blob, call `afterParked`, re-read the leases and restore what they protect,
 * then unlink the rest (parkAndRecheck). On any failure before the unlinks, everything parked is
 * put back.
 */
export async function sweepGarbage(
  layout: Layout,
  garbage: GarbageBlob[],
  live: ReadonlySet<Digest>,
  held: HeldLock,
  afterParked: () => void | Promise<void> = () => undefined,
  /** The second look at the leases (an explicit delete leaves its own process's out). */
  leased: () => Iterable<string> = () => liveLeasedDigests(layout.root),
): Promise<SweepResult> {
  return parkAndRecheck(
    layout,
    garbage,
    (parked) => protectedDigests(layout, leased(), parked, live),
    { held, afterParked },
  );
}

/**
 * Leased digests with everything they reference: parked manifests through their recorded children,
 * blobs written after the mark by reading them. Digests already live are protected with their
 * closure by the mark itself.
 */
function protectedDigests(
  layout: Layout,
  leased: Iterable<string>,
  parked: readonly { blob: GarbageBlob }[],
  live: ReadonlySet<Digest>,
): Set<Digest> {
  const parkedBy = new Map(parked.map((p) => [p.blob.digest, p.blob]));
  const keep = new Set<Digest>();
  const stack: Digest[] = [];
  for (const text of leased) {
    const d = tryParseDigest(text);
    if (d !== undefined) stack.push(d);
  }
  while (stack.length > 0) {
    const d = stack.pop()!;
    if (keep.has(d)) continue;
    keep.add(d);
    const blob = parkedBy.get(d);
    if (blob !== undefined) stack.push(...blob.children);
    else if (!live.has(d)) stack.push(...childrenOf(layout, d));
  }
  return keep;
}

/** The digests a small JSON blob references when it parses as a manifest or index; else none. */
function childrenOf(layout: Layout, digest: Digest, size?: number): Digest[] {
  try {
    const bytes =
      size === undefined || size <= MAX_MANIFEST_BYTES ? read(layout, digest) : undefined;
    if (bytes === undefined || bytes.byteLength < 2 || bytes[firstNonSpace(bytes)] !== 0x7b)
      return [];
    if (!hasDescriptorList(JSON.parse(bytes.toString('utf8')))) return []; // a config: skip zod
    const out: Digest[] = [];
    for (const d of successors(parseManifest(bytes, `blob ${digest}`))) {
      const child = tryParseDigest(d.digest);
      if (child !== undefined) out.push(child);
    }
    return out;
  } catch {
    return []; // absent, a layer, a config, or not JSON: references nothing we know of
  }
}

function hasDescriptorList(json: unknown): boolean {
  if (typeof json !== 'object' || json === null) return false;
  const doc = json as { manifests?: unknown; layers?: unknown };
  return Array.isArray(doc.manifests) || Array.isArray(doc.layers);
}

function read(layout: Layout, digest: Digest): Buffer {
  return layout.blobs.readBytes(digest, MAX_MANIFEST_BYTES, { verify: false });
}

function firstNonSpace(bytes: Uint8Array): number {
  let i = 0;
  while (
    i < bytes.byteLength &&
    (bytes[i] === 0x20 || bytes[i] === 0x0a || bytes[i] === 0x0d || bytes[i] === 0x09)
  )
    i++;
  return i;
}

/** Reverse post-order of a depth-first walk over garbage edges: parents before children. */
function parentsFirst(garbage: Map<Digest, GarbageBlob>): GarbageBlob[] {
  const visited = new Set<Digest>();
  const post: GarbageBlob[] = [];
  const sorted = [...garbage.values()].sort((a, b) => (a.digest < b.digest ? -1 : 1));
  for (const start of sorted) {
    if (visited.has(start.digest)) continue;
    visited.add(start.digest);
    const stack: { blob: GarbageBlob; next: number }[] = [{ blob: start, next: 0 }];
    while (stack.length > 0) {
      const top = stack[stack.length - 1]!;
      const childDigest = top.blob.children[top.next++];
      if (childDigest === undefined) {
        stack.pop();
        post.push(top.blob);
        continue;
      }
      const child = garbage.get(childDigest);
      if (child !== undefined && !visited.has(child.digest)) {
        visited.add(child.digest);
        stack.push({ blob: child, next: 0 });
      }
    }
  }
  return post.reverse();
}
