// Files a writer left behind: abandoned entries in ingest/ (parts, leases and trash of dead
// processes, other tools' files past the age rule) and our own `.tmp-*` files at the layout root
// whose owner is dead. fsck reports them; gc removes them. A live writer's file is never listed.
import { lstatSync, readdirSync, rmSync, type Stats } from 'node:fs';
import { join, relative } from 'node:path';
import { errnoCode, wrapFsError } from '../errors.js';
import { DURABLE_TMP_PREFIX } from '../store/durable.js';
import type { Digest } from '../digest.js';
import { FOREIGN_INGEST_MAX_AGE_MS, listIngest, trashedDigest } from '../store/ingest.js';
import { ownerLiveness } from '../store/liveness.js';

export interface AbandonedFile {
  /** Relative to the layout root: `ingest/<name>` or `.tmp-<owner>…`. */
  path: string;
  /** part/lease/trash: ours, owner dead; temp: our durable-write temp file; foreign: another tool's. */
  kind: 'part' | 'lease' | 'trash' | 'temp' | 'foreign';
  /** Bytes it holds (a directory: the sum of its files). */
  size: number;
}

/** Another tool's ingest directory (containerd keeps `ingest/<ref>/data`) is scanned this far. */
const MAX_SCAN_ENTRIES = 10_000;

/** Every abandoned file, sorted by path. Never throws for a file that vanishes meanwhile. */
export function listAbandoned(root: string, now = Date.now()): AbandonedFile[] {
  const out: AbandonedFile[] = [];
  for (const e of listIngest(root, now)) {
    if (e.live) continue;
    let st: Stats;
    try {
      st = lstatSync(e.path);
    } catch {
      continue;
    }
    const liveness = ownerLiveness(e.name);
    if (st.isDirectory()) {
      const scan = scanTree(e.path);
      // A directory's own mtime says nothing of appends to its files: judge it by its newest file.
      if (liveness === 'unknown' && now - scan.newestMtimeMs < FOREIGN_INGEST_MAX_AGE_MS) continue;
      out.push({ path: relative(root, e.path), kind: 'foreign', size: scan.bytes });
      continue;
    }
    const kind = liveness === 'unknown' ? 'foreign' : e.kind === 'other' ? 'temp' : e.kind;
    out.push({ path: relative(root, e.path), kind, size: st.isFile() ? st.size : 0 });
  }
  for (const name of rootTempNames(root)) {
    if (ownerLiveness(name.slice(DURABLE_TMP_PREFIX.length)) !== 'dead') continue;
    try {
      out.push({ path: name, kind: 'temp', size: lstatSync(join(root, name)).size });
    } catch {
      /* gone meanwhile */
    }
  }
  return out.sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0));
}

/**
 * Blobs a gc that died left parked in ingest/ (absolute paths, one per digest). gc reads through
 * them while marking and puts back the ones that turn out to be needed. Only regular files: gc
 * parks blob files, so a symlink or FIFO under such a name is planted (reading a FIFO would block
 * gc forever, and linking a symlink back would put it in blobs/); it is left to the abandoned sweep.
 */
export function parkedByDeadGc(root: string): Map<Digest, string> {
  const out = new Map<Digest, string>();
  for (const e of listIngest(root)) {
    if (e.kind !== 'trash' || e.live || !isRegularFile(e.path)) continue;
    const digest = trashedDigest(e.name);
    if (digest !== undefined && !out.has(digest)) out.set(digest, e.path);
  }
  return out;
}

function isRegularFile(path: string): boolean {
  try {
    return lstatSync(path).isFile();
  } catch {
    return false;
  }
}

/** Delete one abandoned file or directory (a symlink is removed, never followed). */
export function removeAbandoned(root: string, file: AbandonedFile): void {
  const path = join(root, file.path);
  try {
    rmSync(path, { recursive: true, force: true });
  } catch (err) {
    throw wrapFsError(err, `remove ${path}`, { path });
  }
}

function rootTempNames(root: string): string[] {
  try {
    return readdirSync(root).filter((n) => n.startsWith(DURABLE_TMP_PREFIX));
  } catch (err) {
    if (errnoCode(err) === 'ENOENT') return [];
    throw wrapFsError(err, `list ${root}`);
  }
}

function scanTree(dir: string): { bytes: number; newestMtimeMs: number } {
  let bytes = 0;
  let newestMtimeMs = 0;
  let seen = 0;
  const stack = [dir];
  while (stack.length > 0 && seen < MAX_SCAN_ENTRIES) {
    const d = stack.pop()!;
    let names: string[];
    try {
      names = readdirSync(d);
      newestMtimeMs = Math.max(newestMtimeMs, lstatSync(d).mtimeMs);
    } catch {
      continue;
    }
    for (const name of names) {
      if (++seen > MAX_SCAN_ENTRIES) break;
      try {
        const st = lstatSync(join(d, name));
        newestMtimeMs = Math.max(newestMtimeMs, st.mtimeMs);
        if (st.isDirectory()) stack.push(join(d, name));
        else if (st.isFile()) bytes += st.size;
      } catch {
        /* gone meanwhile */
      }
    }
  }
  // A tree too large to scan whole counts as recent: gc leaves what it cannot judge.
  if (seen > MAX_SCAN_ENTRIES) newestMtimeMs = Date.now();
  return { bytes, newestMtimeMs };
}
