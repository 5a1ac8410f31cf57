// gc's sweep of blobs/: order the garbage (every manifest/index before what it references), park
// each blob in ingest/ (one atomic rename), re-read the live leases, put back what a writer now
// needs, and unlink the rest. The protocol and its proof are in spec-notes/concurrency.md.
import { unlinkSync } from 'node:fs';
import { tryParseDigest, type Digest } from '../digest.js';
import { errnoCode, wrapFsError } from '../errors.js';
import { successors } from '../layout/graph.js';
import type { Layout } from '../layout/layout.js';
import { MAX_MANIFEST_BYTES } from '../media-types.js';
import { parseManifest } from '../schema/manifest.js';
import { cleanupAtExit } from '../store/exit-cleanup.js';
import { liveLeasedDigests } from '../store/ingest.js';
import type { HeldLock } from '../store/lock.js';

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

/** Yield this often so proper-lockfile's refresh timer runs during a long sweep. */
const YIELD_EVERY = 256;
const yieldToEventLoop = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

/**
 * Blobs not in `live`, parents before children. Files that are not regular (symlinks) are left
 * alone: fsck reports them and a human decides.
 */
export function planGarbage(layout: Layout, live: ReadonlySet<Digest>): GarbageBlob[] {
  const garbage = new Map<Digest, GarbageBlob>();
  for (const digest of layout.blobs.list().blobs) {
    if (live.has(digest)) continue;
    let size: number;
    try {
      const st = layout.blobs.stat(digest);
      if (st === undefined) continue; // deleted meanwhile
      size = st.size;
    } catch {
      continue;
    }
    garbage.set(digest, { digest, size, children: childrenOf(layout, digest, size) });
  }
  return parentsFirst(garbage);
}

/**
 * Park every garbage blob, call `afterParked`, re-read the leases and restore what they protect,
 * then unlink the rest. On any failure before the unlinks, everything parked is put back.
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
  held.assertHeld();
  const parked: { blob: GarbageBlob; trashPath: string }[] = [];
  // An exit before the decision (a signal while parking or in afterParked) is a failure like any
  // other: put back what is parked, or a writer that found a blob before we parked it would commit
  // a reference to a blob that is in ingest/ until the next gc.
  const forget = cleanupAtExit(() => {
    for (const p of [...parked].reverse()) restoreQuietly(layout, p.trashPath, p.blob.digest);
    layout.blobs.flush();
  });
  let keep: Set<Digest>;
  try {
    for (const [i, blob] of garbage.entries()) {
      if (i % YIELD_EVERY === YIELD_EVERY - 1) await yieldToEventLoop();
      const moved = layout.blobs.moveAside(blob.digest);
      // undefined: someone else deleted it between mark and sweep, which is fine.
      if (moved !== undefined)
        parked.push({ blob: { ...blob, size: moved.size }, trashPath: moved.trashPath });
    }
    await afterParked();
    // The second look: a writer that leased after our mark either shows up here, or looked for
    // its blob after we parked it, found nothing and writes its own copy.
    keep = protectedDigests(layout, leased(), parked, live);
    held.assertHeld();
  } catch (err) {
    for (const p of [...parked].reverse()) restoreQuietly(layout, p.trashPath, p.blob.digest);
    layout.blobs.flush();
    throw err;
  } finally {
    forget(); // from here on everything runs synchronously to the end
  }
  const restored: Digest[] = [];
  // Children before parents, so a restored manifest never shows without its content.
  for (const p of [...parked].reverse()) {
    if (!keep.has(p.blob.digest)) continue;
    layout.blobs.restoreFromTrash(p.trashPath, p.blob.digest);
    restored.push(p.blob.digest);
  }
  const removed: GarbageBlob[] = [];
  for (const p of parked) {
    if (keep.has(p.blob.digest)) continue;
    unlinkTrash(p.trashPath);
    removed.push(p.blob);
  }
  layout.blobs.flush();
  return { removed, restored: restored.reverse() };
}

/**
 * Leased digests with everything they reference: parked manifests through their recorded children,
 * blobs written after the mark by reading them. Digests already live are protected with their
 * closure by the mark itself.
 */
function protectedDigests(
  layout: Layout,
  leased: Iterable<string>,
  parked: { blob: GarbageBlob }[],
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

function unlinkTrash(path: string): void {
  try {
    unlinkSync(path);
  } catch (err) {
    if (errnoCode(err) !== 'ENOENT') throw wrapFsError(err, `remove ${path}`, { path });
  }
}

function restoreQuietly(layout: Layout, trashPath: string, digest: Digest): void {
  try {
    layout.blobs.restoreFromTrash(trashPath, digest);
  } catch {
    /* left parked: the next gc puts it back if it is needed (recoverParked in gc.ts) */
  }
}
