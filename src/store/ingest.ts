// ingest/: where blobs are written before they become visible, and the lease that tells gc which
// digests a live writer is about to reference. See spec-notes/concurrency.md for the gc protocol.
import {
  appendFileSync,
  closeSync,
  constants,
  fstatSync,
  lstatSync,
  openSync,
  readdirSync,
  readFileSync,
  statSync,
  unlinkSync,
} from 'node:fs';
import { AsyncLocalStorage } from 'node:async_hooks';
import { basename, join, resolve } from 'node:path';
import { algorithmOf, encodedOf, tryParseDigest, type Digest } from '../digest.js';
import { UnsafeInputError, errnoCode, wrapFsError } from '../errors.js';
import { makeDirs } from './make-dirs.js';
import { INGEST_DIR } from './paths.js';
import { cleanupAtExit } from './exit-cleanup.js';
import { ownedName, ownerLiveness } from './liveness.js';

const PART_SUFFIX = '.part';
const LEASE_SUFFIX = '.lease';
/** A blob gc moved aside before deleting it (see spec-notes/concurrency.md). */
const TRASH_SUFFIX = '.trash';

/** Files in ingest/ of writers we cannot identify (other tools) are kept until this old. */
export const FOREIGN_INGEST_MAX_AGE_MS = 24 * 60 * 60 * 1000;

export function ingestDir(root: string): string {
  return join(root, INGEST_DIR);
}

export function ensureIngestDir(root: string): string {
  const dir = ingestDir(root);
  try {
    makeDirs(dir);
  } catch (err) {
    throw wrapFsError(err, `create ${dir}`, { path: dir });
  }
  assertOwnIngestDir(dir);
  return dir;
}

/**
 * ingest/ must be the layout's own directory. A symlink there (a hostile or careless layout) would
 * send our temp files outside the layout, and gc's removal of "abandoned" files would delete
 * whatever the link points at. Returns false when it does not exist. Throws E_UNSAFE_ENTRY.
 */
function assertOwnIngestDir(dir: string): boolean {
  let isDir: boolean;
  try {
    isDir = lstatSync(dir).isDirectory();
  } catch (err) {
    if (errnoCode(err) === 'ENOENT') return false;
    throw wrapFsError(err, `stat ${dir}`);
  }
  if (!isDir) {
    throw new UnsafeInputError(
      'E_UNSAFE_ENTRY',
      `${dir} is a symlink or not a directory; refusing to write or delete through it`,
      { path: dir },
      { hint: 'replace it with an empty directory (it only ever holds temporary files)' },
    );
  }
  return true;
}

/** A fresh temp path for one blob being written by this process. */
export function newPartPath(root: string): string {
  return join(ensureIngestDir(root), ownedName(PART_SUFFIX));
}

/**
 * Where gc parks a blob it is about to delete: `<owner>.<random>.<alg>-<hex>.trash`. The digest in
 * the name lets a later gc put back a blob that a crashed gc had parked while a writer needed it.
 */
export function newTrashPath(root: string, digest: Digest): string {
  return join(
    ensureIngestDir(root),
    ownedName(`.${algorithmOf(digest)}-${encodedOf(digest)}${TRASH_SUFFIX}`),
  );
}

/** The digest a trash file made by newTrashPath holds; undefined for any other name. */
export function trashedDigest(name: string): Digest | undefined {
  const m = /\.([a-z0-9]+)-([a-f0-9]+)\.trash$/.exec(name);
  return m === null ? undefined : tryParseDigest(`${m[1]}:${m[2]}`);
}

/**
 * One lease file: the digests one writer will reference in a coming index.json commit. Created on
 * the first digest, named at random (no two leases ever share a file), removed on release.
 */
class Lease {
  private path: string | undefined;
  private readonly digests = new Set<string>();
  private released = false;
  /** Unregisters the exit cleanup: a process that exits before releasing commits nothing. */
  private forget: (() => void) | undefined;

  constructor(readonly root: string) {}

  get fileName(): string | undefined {
    return this.path === undefined ? undefined : basename(this.path);
  }

  add(digest: string): void {
    if (this.digests.has(digest)) return;
    if (this.path === undefined || this.released) {
      const path = join(ensureIngestDir(this.root), ownedName(LEASE_SUFFIX));
      this.path = path;
      this.released = false;
      this.forget = cleanupAtExit(() => removeQuietly(path));
    }
    try {
      appendFileSync(this.path, `${digest}\n`);
    } catch (err) {
      throw wrapFsError(err, `write lease ${this.path}`);
    }
    this.digests.add(digest);
  }

  release(): void {
    this.digests.clear();
    this.forget?.();
    this.forget = undefined;
    if (this.path === undefined || this.released) return;
    this.released = true;
    // Gone already is fine: a failed import removed the layout it created.
    removeQuietly(this.path);
  }
}

function removeQuietly(path: string): void {
  try {
    unlinkSync(path);
  } catch {
    /* gone already */
  }
}

/**
 * The lease of the operation running in this async context, per layout root. Operations nest: an
 * inner one on the same layout shares the outer one's lease, which only the outermost releases.
 */
const operationScope = new AsyncLocalStorage<ReadonlyMap<string, Lease>>();
/** For calls made outside any operation (low-level library use): one lease per layout, kept until close. */
const ambientLeases = new Map<string, Lease>();
/** Operations running on each layout, so that a close() never drops the protection they rely on. */
const running = new Map<string, number>();
/** Layouts whose close() came while operations ran: their ambient lease goes when the last ends. */
const closePending = new Set<string>();

function currentLease(root: string): Lease {
  const key = resolve(root);
  const own = operationScope.getStore()?.get(key);
  if (own !== undefined) return own;
  let lease = ambientLeases.get(key);
  if (lease === undefined) {
    lease = new Lease(key);
    ambientLeases.set(key, lease);
  }
  closePending.delete(key);
  return lease;
}

/**
 * Run one operation on the layout at `root` with a lease of its own: every digest leased inside
 * `fn` (in any async continuation of it) goes to that lease, which is released when `fn` settles,
 * after its commit. Two operations in one process thus never share, or release, each other's
 * protection from a concurrent gc.
 */
export async function withOperationLease<T>(root: string, fn: () => Promise<T> | T): Promise<T> {
  const key = resolve(root);
  const outer = operationScope.getStore();
  if (outer?.has(key) === true) return fn();
  const lease = new Lease(key);
  const scope = new Map(outer ?? []);
  scope.set(key, lease);
  running.set(key, (running.get(key) ?? 0) + 1);
  try {
    return await operationScope.run(scope, fn);
  } finally {
    lease.release();
    const left = (running.get(key) ?? 1) - 1;
    if (left > 0) running.set(key, left);
    else {
      running.delete(key);
      if (closePending.delete(key)) releaseAmbient(key);
    }
  }
}

/**
 * Record that the current operation will reference `digest` in a coming index.json commit. Must
 * happen before the writer checks whether the blob exists (gc re-reads leases after moving a blob
 * aside).
 */
export function leaseDigest(root: string, digest: string): void {
  currentLease(root).add(digest);
}

/** Release the running operation's lease on `root` early (its blobs were taken back). */
export function releaseOperationLease(root: string): void {
  operationScope.getStore()?.get(resolve(root))?.release();
}

/**
 * The lease files that are this caller's own on `root`: the running operation's, or outside any
 * operation this process's ambient one. Other operations of this process are other writers.
 */
function ownLeaseNames(root: string): Set<string> {
  const key = resolve(root);
  const own = operationScope.getStore()?.get(key) ?? ambientLeases.get(key);
  return new Set(own?.fileName === undefined ? [] : [own.fileName]);
}

/** The lease file name of the operation running here on `root`, if it has leased anything. */
export function currentLeaseName(root: string): string | undefined {
  return operationScope.getStore()?.get(resolve(root))?.fileName;
}

/**
 * Drop this process's lease on `root` taken outside any operation (Layout.close, for long-lived
 * library users). While operations run on the layout, the release waits for the last of them.
 */
export function releaseLease(root: string): void {
  const key = resolve(root);
  if ((running.get(key) ?? 0) > 0) {
    closePending.add(key);
    return;
  }
  releaseAmbient(key);
}

function releaseAmbient(key: string): void {
  ambientLeases.get(key)?.release();
  ambientLeases.delete(key);
}

export interface IngestEntry {
  name: string;
  path: string;
  kind: 'part' | 'lease' | 'trash' | 'other';
  live: boolean;
  ageMs: number;
}

/**
 * Everything in ingest/ (or the names `only` accepts), each judged live (its writer runs) or
 * abandoned.
 */
export function listIngest(
  root: string,
  now = Date.now(),
  only: (name: string) => boolean = () => true,
): IngestEntry[] {
  const dir = ingestDir(root);
  if (!assertOwnIngestDir(dir)) return [];
  let names: string[];
  try {
    names = readdirSync(dir);
  } catch (err) {
    // Only a missing ingest/ means "nothing there": gc takes this list for every live lease.
    if (errnoCode(err) === 'ENOENT') return [];
    throw wrapFsError(err, `list ${dir}`);
  }
  const out: IngestEntry[] = [];
  for (const name of names.sort()) {
    if (!only(name)) continue;
    const path = join(dir, name);
    let ageMs: number;
    try {
      ageMs = now - statSync(path).mtimeMs;
    } catch {
      continue;
    }
    const kind = name.endsWith(PART_SUFFIX)
      ? 'part'
      : name.endsWith(LEASE_SUFFIX)
        ? 'lease'
        : name.endsWith(TRASH_SUFFIX)
          ? 'trash'
          : 'other';
    const liveness = ownerLiveness(name);
    const live =
      liveness === 'alive' || (liveness === 'unknown' && ageMs < FOREIGN_INGEST_MAX_AGE_MS);
    out.push({ name, path, kind, live, ageMs });
  }
  return out;
}

/**
 * Digests named by the leases of live writers. `exceptOwn` leaves out the caller's own lease (see
 * ownLeaseNames: an explicit delete in the code that wrote the blob is that writer's decision);
 * other operations of this process still count.
 */
export function liveLeasedDigests(
  root: string,
  options: { exceptOwn?: boolean } = {},
): Set<string> {
  const out = new Set<string>();
  const own = options.exceptOwn === true ? ownLeaseNames(root) : new Set<string>();
  // Only lease files are judged: gc calls this while thousands of parked blobs sit in ingest/.
  for (const e of listIngest(root, Date.now(), (name) => name.endsWith(LEASE_SUFFIX))) {
    if (e.kind !== 'lease' || !e.live || own.has(e.name)) continue;
    for (const line of readLeaseFile(e.path)) out.add(line);
  }
  return out;
}

/**
 * The digest lines of one lease file; none when it is gone (released) or is not a regular file. A
 * FIFO or a symlink (to /dev/zero...) planted under a lease name is never read: it would block the
 * reader forever or fill its memory. Any other failure throws E_IO: a live writer's lease that
 * cannot be read must stop gc, not protect nothing.
 */
export function readLeaseFile(path: string): string[] {
  let fd: number | undefined;
  try {
    fd = openSync(
      path,
      constants.O_RDONLY | (constants.O_NOFOLLOW ?? 0) | (constants.O_NONBLOCK ?? 0),
    );
    if (!fstatSync(fd).isFile()) return [];
    return readFileSync(fd, 'utf8')
      .split('\n')
      .filter((line) => line !== '');
  } catch (err) {
    const code = errnoCode(err);
    if (code === 'ENOENT' || code === 'ELOOP') return [];
    throw wrapFsError(err, `read lease ${path}`);
  } finally {
    if (fd !== undefined) closeSync(fd);
  }
}
