// ingest/: where blobs are written before they become visible, and the lease that tells gc which
// digests a live writer is about to reference. See spec-notes/concurrency.md for the gc protocol.
import {
  appendFileSync,
  closeSync,
  constants,
  fstatSync,
  lstatSync,
  mkdirSync,
  openSync,
  readdirSync,
  readFileSync,
  statSync,
  unlinkSync,
} from 'node:fs';
import { join, resolve } from 'node:path';
import { algorithmOf, encodedOf, tryParseDigest, type Digest } from '../digest.js';
import { UnsafeInputError, errnoCode, wrapFsError } from '../errors.js';
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
    mkdirSync(dir, { recursive: true });
  } catch (err) {
    throw wrapFsError(err, `create ${dir}`);
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

const leases = new Map<string, { path: string; digests: Set<string>; forget: () => void }>();

function removeQuietly(path: string): void {
  try {
    unlinkSync(path);
  } catch {
    /* gone already */
  }
}

/**
 * Record that this process will reference `digest` in a coming index.json commit. Must happen
 * before the writer checks whether the blob exists (gc re-reads leases after moving a blob aside).
 */
export function leaseDigest(root: string, digest: string): void {
  // Keyed by the resolved path, named at random: two spellings of one layout share one lease, and
  // no two leases can ever share a file (a counter could repeat after a release).
  const key = resolve(root);
  let lease = leases.get(key);
  if (lease === undefined) {
    const path = join(ensureIngestDir(root), ownedName(LEASE_SUFFIX));
    // A process that exits (or is signalled) before releasing holds no lease: it commits nothing.
    lease = { path, digests: new Set(), forget: cleanupAtExit(() => removeQuietly(path)) };
    leases.set(key, lease);
  }
  if (lease.digests.has(digest)) return;
  try {
    appendFileSync(lease.path, `${digest}\n`);
  } catch (err) {
    throw wrapFsError(err, `write lease ${lease.path}`);
  }
  lease.digests.add(digest);
}

/** Drop this process's lease on `root` (after its commits, for long-lived library users). */
export function releaseLease(root: string): void {
  const key = resolve(root);
  const lease = leases.get(key);
  if (lease === undefined) return;
  leases.delete(key);
  lease.forget();
  removeQuietly(lease.path);
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
 * Digests named by the leases of live writers. `exceptOwn` leaves this process's lease out (an
 * explicit delete in the process that wrote the blob is that writer's own decision).
 */
export function liveLeasedDigests(
  root: string,
  options: { exceptOwn?: boolean } = {},
): Set<string> {
  const out = new Set<string>();
  const own = options.exceptOwn === true ? leases.get(resolve(root))?.path : undefined;
  // Only lease files are judged: gc calls this while thousands of parked blobs sit in ingest/.
  for (const e of listIngest(root, Date.now(), (name) => name.endsWith(LEASE_SUFFIX))) {
    if (e.kind !== 'lease' || !e.live || e.path === own) continue;
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
