// Layout → layout copy of a manifest or index with everything it reaches: blobs first (hard links on
// the same filesystem, else verified streams), children before parents, then ONE index.json commit in
// the destination. Endpoint kinds (a registry later) are told apart by parseCopyEndpoint only.
// Decisions (verification of linked blobs, durability, ordering): spec-notes/copy.md.
import { statSync } from 'node:fs';
import { open } from 'node:fs/promises';
import { constants } from 'node:fs';
import { algorithmOf, newHash, parseDigest, type Digest } from './digest.js';
import {
  IntegrityError,
  NotFoundError,
  UsageError,
  isOcilayoutError,
  wrapFsError,
} from './errors.js';
import { successors, walk } from './graph.js';
import type { Layout, Target } from './layout.js';
import { Annotation, isManifestMediaType } from './media-types.js';
import { assertValidTag, isValidTag, parseLayoutRef, type LayoutRef } from './refs.js';
import { canonicalDescriptor, type Descriptor } from './schema/descriptor.js';
import type { IndexFile } from './schema/layout-files.js';
import type { ParsedManifest } from './schema/manifest.js';
import { leaseDigest } from './store/ingest.js';
import { digestMismatch } from './store/verify-stream.js';
import { setTag, tagOfName } from './tags.js';

/** Blobs up to this size are read whole with sync I/O (perf-baseline.md: no per-file async hops). */
const SMALL_BLOB = 1024 * 1024;
/** Read size when hashing a big blob before linking it (≥ 1 MiB chunks; 4 MiB measured fastest). */
const HASH_CHUNK = 4 * 1024 * 1024;

export interface CopyOptions {
  /** Destination tag. Default: the source tag; a digest source without a tag is listed untagged. */
  tag?: string | undefined;
  /** Hard-link blobs when both layouts share a filesystem (default true); false always streams. */
  link?: boolean | undefined;
  /**
   * Re-hash each source blob before hard-linking it (default true). Streamed copies and manifests
   * are always verified; false trusts linked blobs after a size check (spec-notes/copy.md).
   */
  verify?: boolean | undefined;
  /** Big blobs copied at once (default 4). Small blobs are copied synchronously, one by one. */
  concurrency?: number | undefined;
  /** Called after each blob is in place (progress display). */
  onBlob?: ((event: CopyBlobEvent) => void) | undefined;
}

export type BlobOutcome = 'copied' | 'linked' | 'skipped';

export interface CopyBlobEvent {
  descriptor: Descriptor;
  outcome: BlobOutcome;
  done: number;
  total: number;
}

export interface CopyResult {
  /** What the destination entry points at (the source's descriptor of the root). */
  descriptor: Descriptor;
  /** The destination tag, or undefined for an untagged entry. */
  tag: string | undefined;
  /** Blobs by outcome: streamed (`copied`), hard-linked (`linked`), already there (`skipped`). */
  blobs: Record<BlobOutcome, number>;
  bytes: Record<BlobOutcome, number>;
}

/** Everything a copy of `root` moves, in a safe order. */
export interface CopyPlan {
  root: Descriptor;
  /** Every blob, children before parents: configs and layers, then manifests bottom-up. */
  blobs: Descriptor[];
}

/**
 * A command-line endpoint of `copy`. Only layouts exist today; a registry kind (`docker://…`) is
 * added here and dispatched by the CLI (see spec-notes/copy.md "Endpoints").
 */
export type CopyEndpoint = { kind: 'layout' } & LayoutRef;

/** Throws E_USAGE for a URL-style endpoint (`docker://…`), which copy does not support yet. */
export function parseCopyEndpoint(input: string): CopyEndpoint {
  const scheme = /^([a-z][a-z0-9+.-]*):\/\//.exec(input);
  if (scheme !== null) {
    throw new UsageError(
      'E_USAGE',
      `copy does not support ${scheme[1]}:// endpoints yet`,
      { endpoint: input },
      { hint: 'copy between layout directories: ocilayout copy SRC:TAG DST[:TAG]' },
    );
  }
  return { kind: 'layout', ...parseLayoutRef(input) };
}

/**
 * Walk `target` in `src` and list what a copy moves. Every manifest/index is read and verified;
 * every other blob must exist with its declared size. Throws E_NOT_FOUND (naming the missing blob
 * and its parent), E_SIZE_MISMATCH, E_DIGEST_MISMATCH (a corrupt manifest), E_SCHEMA.
 */
export function planCopy(src: Layout, target: Target): CopyPlan {
  const root = src.resolve(target);
  const parents = new Map<Digest, Descriptor | undefined>();
  const { nodes, manifests } = walk(src, [root], {
    visit: (d, _parsed, parent) => parents.set(d.digest as Digest, parent),
  });
  for (const [digest, desc] of nodes) {
    if (manifests.has(digest)) continue; // read and verified by walk()
    const stat = src.blobs.stat(digest);
    const parent = parents.get(digest);
    const where = parent === undefined ? '' : ` (referenced by ${parent.digest})`;
    if (stat === undefined) {
      throw new NotFoundError(
        'E_NOT_FOUND',
        `blob ${digest}${where} is not in ${src.root}; the source layout is incomplete`,
        { digest, layout: src.root, parent: parent?.digest },
        { hint: `check the source with \`ocilayout fsck ${src.root}\`` },
      );
    }
    if (stat.size !== desc.size) {
      throw new IntegrityError(
        'E_SIZE_MISMATCH',
        `blob ${digest}${where} in ${src.root}: descriptor says ${desc.size} bytes, file has ${stat.size}`,
        { digest, expected: desc.size, found: stat.size },
      );
    }
  }
  return { root, blobs: childrenFirst(root, nodes, manifests) };
}

/**
 * Copy `target` of `src`, with its whole graph, into `dst`, then record it there in one index.json
 * commit (tag, or an untagged entry). `dst` may be a function that opens or creates the destination:
 * it is called only after the source checked out, so a bad source never creates an empty layout.
 * Idempotent: blobs already in `dst` are skipped and an unchanged index.json is not rewritten. A
 * failure leaves `dst`'s index.json untouched; blobs already placed are unreferenced garbage for gc.
 * Throws what planCopy throws, E_DIGEST_MISMATCH for corrupt content, E_INVALID_TAG, E_LOCK_TIMEOUT.
 */
export async function copyLayout(
  src: Layout,
  target: Target,
  dst: Layout | (() => Layout),
  options: CopyOptions = {},
): Promise<CopyResult> {
  const plan = planCopy(src, target);
  const tag = destinationTag(target, plan.root, options.tag);
  const destination = typeof dst === 'function' ? dst() : dst;
  const counts = await copyBlobs(src, destination, plan.blobs, options);
  await destination.updateIndex((index) => {
    recordRoot(index, plan.root, tag);
    return { index, result: undefined };
  });
  return { descriptor: plan.root, tag, ...counts };
}

/**
 * The tag to write: the one asked for, else the source tag; `copy SRC DST` of a single-entry layout
 * keeps that entry's tag when it is a valid one. A digest source stays untagged.
 */
function destinationTag(
  target: Target,
  root: Descriptor,
  explicit: string | undefined,
): string | undefined {
  if (explicit !== undefined) return assertValidTag(explicit);
  if (target.tag !== undefined) return assertValidTag(target.tag);
  if (target.digest !== undefined) return undefined;
  const name = root.annotations?.[Annotation.RefName];
  const implied = name === undefined ? undefined : tagOfName(name);
  return implied !== undefined && isValidTag(implied) ? implied : undefined;
}

/** Point `tag` at `root`, or list `root` untagged unless some entry lists it already. */
export function recordRoot(index: IndexFile, root: Descriptor, tag: string | undefined): void {
  if (tag !== undefined) {
    setTag(index, tag, root);
    return;
  }
  if (index.manifests.some((e) => e.digest === root.digest)) return;
  // The source entry's annotations name the source's tag; an untagged copy carries none of them.
  const { mediaType, digest, size, platform, artifactType } = root;
  index.manifests.push(
    canonicalDescriptor({
      mediaType,
      digest,
      size,
      ...(platform === undefined ? {} : { platform }),
      ...(artifactType === undefined ? {} : { artifactType }),
    }),
  );
}

/** Post-order over the graph: a parent comes after everything it references; leaves first. */
function childrenFirst(
  root: Descriptor,
  nodes: Map<Digest, Descriptor>,
  manifests: Map<Digest, ParsedManifest>,
): Descriptor[] {
  const ordered: Descriptor[] = [];
  const done = new Set<Digest>();
  // Iterative DFS: hostile layouts may nest deeply; walk() already bounded depth and broke cycles.
  const stack: { digest: Digest; expanded: boolean }[] = [
    { digest: parseDigest(root.digest), expanded: false },
  ];
  while (stack.length > 0) {
    const top = stack.pop()!;
    if (done.has(top.digest)) continue;
    const parsed = manifests.get(top.digest);
    if (top.expanded || parsed === undefined) {
      done.add(top.digest);
      ordered.push(nodes.get(top.digest)!);
      continue;
    }
    stack.push({ digest: top.digest, expanded: true });
    for (const child of successors(parsed).reverse()) {
      const d = child.digest as Digest;
      if (!done.has(d) && nodes.has(d)) stack.push({ digest: d, expanded: false });
    }
  }
  // Leaves (configs, layers) first so big transfers start early; manifests keep post-order.
  const isDoc = (d: Descriptor): boolean => manifests.has(d.digest as Digest);
  return [...ordered.filter((d) => !isDoc(d)), ...ordered.filter(isDoc)];
}

interface Counts {
  blobs: Record<BlobOutcome, number>;
  bytes: Record<BlobOutcome, number>;
}

/**
 * Place every blob of `list` in `dst`. Small blobs and unverified links run synchronously (cheap,
 * no event-loop hops); big ones that need hashing or streaming run `concurrency` at a time.
 * Manifests (at the end of `list`) are placed after all their children.
 */
async function copyBlobs(
  src: Layout,
  dst: Layout,
  list: Descriptor[],
  options: CopyOptions,
): Promise<Counts> {
  const counts: Counts = {
    blobs: { copied: 0, linked: 0, skipped: 0 },
    bytes: { copied: 0, linked: 0, skipped: 0 },
  };
  const state = {
    link: options.link !== false && sameFilesystem(src, dst),
    verify: options.verify !== false,
  };
  let done = 0;
  const record = (desc: Descriptor, outcome: BlobOutcome): void => {
    counts.blobs[outcome] += 1;
    counts.bytes[outcome] += desc.size;
    done += 1;
    options.onBlob?.({ descriptor: desc, outcome, done, total: list.length });
  };
  const deferred: Descriptor[] = [];
  const docs: Descriptor[] = [];
  for (const desc of list) {
    if (isManifestMediaType(desc.mediaType)) {
      docs.push(desc);
      continue;
    }
    const outcome = copyBlobSync(src, dst, desc, state);
    if (outcome === undefined) deferred.push(desc);
    else record(desc, outcome);
  }
  await forEachLimited(deferred, options.concurrency ?? 4, async (desc) => {
    record(desc, await copyBlobAsync(src, dst, desc, state));
  });
  // Manifests last, in post-order: a parent is placed only after all its children (a registry
  // destination requires that order; a layout does not, but one order keeps one code path).
  for (const desc of docs) {
    const outcome = copyBlobSync(src, dst, desc, state);
    record(desc, outcome ?? (await copyBlobAsync(src, dst, desc, state)));
  }
  return counts;
}

interface CopyState {
  /** Try hard links; turned off after the first EXDEV-like refusal. */
  link: boolean;
  verify: boolean;
}

/** Copy one blob with sync I/O when that is cheap; undefined means "needs the async path". */
function copyBlobSync(
  src: Layout,
  dst: Layout,
  desc: Descriptor,
  state: CopyState,
): BlobOutcome | undefined {
  const digest = parseDigest(desc.digest);
  if (presentInDestination(dst, digest, desc.size)) return 'skipped';
  const small = desc.size <= SMALL_BLOB;
  if (!small && (!state.link || state.verify)) return undefined;
  // readBytes verifies the digest: a small blob is checked before it is linked or written.
  const bytes = small ? src.blobs.readBytes(digest, SMALL_BLOB) : undefined;
  if (state.link) {
    const linked = dst.blobs.linkFrom(src.blobs.path(digest), digest, desc.size);
    if (linked !== false) return linked.existed ? 'skipped' : 'linked';
    state.link = false;
  }
  if (bytes === undefined) return undefined;
  const put = dst.blobs.putBytes(bytes, { digest, size: desc.size }, { deferDirSync: true });
  return put.existed ? 'skipped' : 'copied';
}

/** Big blobs: hash then link, or stream through the destination's verifying ingest. */
async function copyBlobAsync(
  src: Layout,
  dst: Layout,
  desc: Descriptor,
  state: CopyState,
): Promise<BlobOutcome> {
  const digest = parseDigest(desc.digest);
  if (presentInDestination(dst, digest, desc.size)) return 'skipped';
  if (state.link) {
    if (state.verify) await verifyFile(src.blobs.path(digest), digest, desc.size);
    const linked = dst.blobs.linkFrom(src.blobs.path(digest), digest, desc.size);
    if (linked !== false) return linked.existed ? 'skipped' : 'linked';
    state.link = false;
  }
  const put = await dst.blobs.put(
    src.blobs.open(digest),
    { digest, size: desc.size },
    { deferDirSync: true },
  );
  return put.existed ? 'skipped' : 'copied';
}

/**
 * True when `dst` already has the blob with the right size. Leases the digest first (the gc
 * protocol, spec-notes/concurrency.md), so a concurrent gc keeps it until our commit. A blob of the
 * wrong size is not "present": the copy replaces it through ingest.
 */
function presentInDestination(dst: Layout, digest: Digest, size: number): boolean {
  leaseDigest(dst.root, digest);
  const st = dst.blobs.stat(digest);
  if (st === undefined) return false;
  if (st.size === size) return true;
  // linkFrom would keep the bad file (EEXIST); the streamed path overwrites it with verified bytes.
  return false;
}

function sameFilesystem(src: Layout, dst: Layout): boolean {
  try {
    return statSync(src.root).dev === statSync(dst.root).dev;
  } catch {
    return false;
  }
}

/** Hash a file in 4 MiB reads, reading the next chunk while hashing this one. */
async function verifyFile(path: string, digest: Digest, size: number): Promise<void> {
  const hash = newHash(algorithmOf(digest));
  let fh;
  try {
    fh = await open(path, constants.O_RDONLY | (constants.O_NOFOLLOW ?? 0));
  } catch (err) {
    throw wrapFsError(err, `open blob ${digest}`, { digest });
  }
  try {
    const buffers = [Buffer.allocUnsafe(HASH_CHUNK), Buffer.allocUnsafe(HASH_CHUNK)] as const;
    let which = 0;
    let position = 0;
    let pending = fh.read(buffers[0], 0, HASH_CHUNK, 0);
    for (;;) {
      const { bytesRead, buffer } = await pending;
      if (bytesRead === 0) break;
      position += bytesRead;
      which ^= 1;
      pending = fh.read(buffers[which as 0 | 1], 0, HASH_CHUNK, position);
      hash.update(buffer.subarray(0, bytesRead));
    }
    const found = `${algorithmOf(digest)}:${hash.digest('hex')}`;
    if (position !== size || found !== digest) {
      throw digestMismatch(`blob ${digest} (${position} bytes)`, digest, found);
    }
  } catch (err) {
    throw isOcilayoutError(err) ? err : wrapFsError(err, `read blob ${digest}`, { digest });
  } finally {
    await fh.close();
  }
}

/**
 * Run `fn` over `items`, at most `limit` at once. On the first failure no new item starts; the
 * ones running finish, then the first error is thrown (nothing keeps writing after we return).
 */
async function forEachLimited<T>(
  items: T[],
  limit: number,
  fn: (item: T) => Promise<void>,
): Promise<void> {
  let next = 0;
  let failed = false;
  const worker = async (): Promise<void> => {
    while (!failed && next < items.length) {
      const item = items[next++]!;
      try {
        await fn(item);
      } catch (err) {
        failed = true;
        throw err;
      }
    }
  };
  const lanes = Math.max(1, Math.min(limit, items.length));
  const results = await Promise.allSettled(Array.from({ length: lanes }, worker));
  const rejected = results.find((r): r is PromiseRejectedResult => r.status === 'rejected');
  if (rejected !== undefined) throw rejected.reason;
}
