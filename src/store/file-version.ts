// One version of a file, as a bigint stat says: device, inode, size, mtime and ctime (ns). Caches
// that keep what they read or verified of a file (the store's last written index.json, serve's
// verified blobs and manifests, its index.json and repository lookups) trust it while the file's
// version is unchanged.
//
// Why that is safe: every write, truncate, rename, link or chmod of a file sets its ctime to the
// current time, and no system call lets a process set ctime back (utimes sets mtime, not ctime).
// So a file whose ctime is unchanged has not been written since — provided the ctime was clearly
// in the past when the version was taken: timestamps come from a coarse clock (a tick, or a second
// or two on some filesystems), so a write in the same tick as the change that set the kept ctime
// could leave it equal (the "racy" case git also guards against). A version is kept only when its
// ctime is older than the read by more than that slack. Corruption at rest that bypasses the
// filesystem (a bad disk sector) changes no timestamp: that is fsck's to find, as for every other
// reader of the layout.
import { lstatSync, type BigIntStats } from 'node:fs';

/** What identifies one version of a file: a rewrite (rename or in place) changes one of these. */
export type FileVersion = Pick<BigIntStats, 'dev' | 'ino' | 'size' | 'mtimeNs' | 'ctimeNs'>;

/** How far in the past a ctime must be to be trusted: above any filesystem's timestamp grain. */
export const RACY_SLACK_NS = 3_000_000_000n;

export function sameVersion(a: FileVersion | undefined, b: FileVersion): boolean {
  return (
    a !== undefined &&
    a.dev === b.dev &&
    a.ino === b.ino &&
    a.size === b.size &&
    a.mtimeNs === b.mtimeNs &&
    a.ctimeNs === b.ctimeNs
  );
}

/** Whether `v`, taken at wall-clock `statAtNs`, changed long enough before to be kept. */
export function settledVersion(v: FileVersion, statAtNs: bigint): boolean {
  return v.ctimeNs + RACY_SLACK_NS < statAtNs;
}

/** The version's own fields, copied out of a whole stat. */
export function pickVersion(st: FileVersion): FileVersion {
  return { dev: st.dev, ino: st.ino, size: st.size, mtimeNs: st.mtimeNs, ctimeNs: st.ctimeNs };
}

/** The file a version belongs to: `dev:ino`. */
export function fileKey(v: FileVersion): string {
  return `${v.dev}:${v.ino}`;
}

/**
 * The bigint lstat of `path` (a symlink is its own version, not its target's), or undefined when
 * nothing is there or it cannot be stat'ed: the read that follows reports why.
 */
export function lstatVersion(path: string): BigIntStats | undefined {
  try {
    return lstatSync(path, { bigint: true, throwIfNoEntry: false });
  } catch {
    return undefined;
  }
}

/** The wall clock in ns, the clock file timestamps are taken from. */
export function wallClockNs(): bigint {
  return BigInt(Date.now()) * 1_000_000n;
}
