// Which blob files this server has hashed and found correct, so that a GET re-hashes a blob once
// per change of its file rather than on every response.
//
// A file is known by its version (store/file-version.ts: why an unchanged ctime vouches for its
// bytes, and why a version is recorded only once it has settled); a file changed more recently is
// hashed on every GET until it has.
import type { BigIntStats } from 'node:fs';
import type { Digest } from '../digest.js';
import {
  fileKey,
  pickVersion,
  sameVersion,
  settledVersion,
  type FileVersion,
} from '../store/file-version.js';

interface Entry {
  digest: Digest;
  version: FileVersion;
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
    const key = fileKey(st);
    const e = this.entries.get(key);
    if (e === undefined || e.digest !== digest || !sameVersion(e.version, st)) return false;
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
    if (!settledVersion(st, statAtNs)) return false;
    const key = fileKey(st);
    this.entries.delete(key);
    this.entries.set(key, { digest, version: pickVersion(st) });
    while (this.entries.size > this.maxEntries) {
      const oldest = this.entries.keys().next().value as string;
      this.entries.delete(oldest);
    }
    return true;
  }
}
