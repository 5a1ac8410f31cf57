// Which blob files this server has hashed and found correct, so that a GET re-hashes a blob once
// per change of its file rather than on every response.
//
// A file is known by what a bigint fstat of the open fd says: device, inode, size, mtime and
// ctime (ns). Why ctime makes that safe: every write, truncate, rename, link or chmod of the file
// sets its ctime to the current time, and no system call lets a process set ctime back (utimes
// sets mtime, not ctime). So a file whose ctime is unchanged has not been written since it was
// hashed — provided the hashed ctime is clearly in the past when it is recorded: timestamps are
// taken from a coarse clock (a tick, or a second or two on some filesystems), so a write in the
// same tick as the change that set the recorded ctime could leave it equal (the "racy" case git
// also guards against). An entry is recorded only when its ctime is older than the read by more
// than that slack; a file changed more recently is hashed on every GET until it has settled.
// Corruption at rest that bypasses the filesystem (a bad disk sector) changes no timestamp: that
// is fsck's to find, as for every other reader of the layout.
import type { BigIntStats } from 'node:fs';
import type { Digest } from '../digest.js';

/** How far in the past a ctime must be to be trusted: above any filesystem's timestamp grain. */
export const RACY_SLACK_NS = 3_000_000_000n;

interface Entry {
  digest: Digest;
  size: bigint;
  mtimeNs: bigint;
  ctimeNs: bigint;
}

export class VerifiedBlobs {
  /** `dev:ino` → what was verified; Map order is the LRU order (oldest first). */
  private readonly entries = new Map<string, Entry>();

  constructor(readonly maxEntries = 4096) {}

  get size(): number {
    return this.entries.size;
  }

  /** Whether the file `st` describes was verified to hold `digest` and is unchanged since. */
  has(digest: Digest, st: BigIntStats): boolean {
    const key = keyOf(st);
    const e = this.entries.get(key);
    if (
      e === undefined ||
      e.digest !== digest ||
      e.size !== st.size ||
      e.mtimeNs !== st.mtimeNs ||
      e.ctimeNs !== st.ctimeNs
    ) {
      return false;
    }
    this.entries.delete(key);
    this.entries.set(key, e);
    return true;
  }

  /**
   * Remember that the file `st` describes (a stat taken before its bytes were read, at wall-clock
   * `statAtNs`) hashed to `digest`. A file changed too recently for its ctime to be trusted is
   * not recorded (see above). Returns whether it was.
   */
  record(digest: Digest, st: BigIntStats, statAtNs: bigint): boolean {
    if (st.ctimeNs + RACY_SLACK_NS >= statAtNs) return false;
    const key = keyOf(st);
    this.entries.delete(key);
    this.entries.set(key, { digest, size: st.size, mtimeNs: st.mtimeNs, ctimeNs: st.ctimeNs });
    while (this.entries.size > this.maxEntries) {
      const oldest = this.entries.keys().next().value as string;
      this.entries.delete(oldest);
    }
    return true;
  }
}

function keyOf(st: BigIntStats): string {
  return `${st.dev}:${st.ino}`;
}

/** The wall clock in ns, the clock file timestamps are taken from. */
export function wallClockNs(): bigint {
  return BigInt(Date.now()) * 1_000_000n;
}
