// Manifests this server has read, hashed and validated, kept in memory with the version of the
// blob file they were read from, so that a manifest GET sends them without reading, hashing or
// parsing again while that file is unchanged.
//
// Why a file's version vouches for its bytes: store/file-version.ts (ctime cannot be set back; only
// a version whose ctime is clearly in the past is kept). The version is checked with an lstat of
// the blob's path in the repository asked, before every use, rather than by opening the file:
// the path holding the same unchanged file is exactly what a read through it would find, and a
// manifest deleted (DELETE, gc: the path is gone), replaced (another inode or other times) or
// turned into a symlink (lstat sees the link) is read from disk again, with every check of a read
// and the same errors. `--verify-reads always` does not use this cache.
//
// Bounded in bytes (LRU): the manifests of a pull are small, and a large one (up to the 4 MiB
// limit) would only push the others out.
import type { BigIntStats } from 'node:fs';
import type { Digest } from '../digest.js';
import type { Descriptor } from '../schema/descriptor.js';
import {
  fileKey,
  pickVersion,
  sameVersion,
  settledVersion,
  type FileVersion,
} from '../store/file-version.js';

export interface VerifiedManifest {
  bytes: Buffer;
  /** The media types of descriptors it was validated against (parseManifest's hint). */
  validatedAs: Set<string>;
  /** Its description as a blob no index.json entry lists (Layout.describeBlob), once made. */
  described: Descriptor | undefined;
}

interface Entry extends VerifiedManifest {
  digest: Digest;
  version: FileVersion;
}

export class VerifiedManifests {
  /** `dev:ino` → what was verified; Map order is the LRU order (oldest first). */
  private readonly entries = new Map<string, Entry>();
  private held = 0;

  constructor(
    /** Bytes kept at most, all manifests together. */
    readonly maxBytes = 4 * 1024 * 1024,
    /** A larger manifest is not kept. */
    readonly maxEntryBytes = 512 * 1024,
  ) {}

  get size(): number {
    return this.entries.size;
  }

  /** Bytes held now. */
  get heldBytes(): number {
    return this.held;
  }

  /** What was verified of the file `st` describes, if it is unchanged and holds `digest`. */
  get(digest: Digest, st: BigIntStats): VerifiedManifest | undefined {
    const key = fileKey(st);
    const e = this.entries.get(key);
    if (e === undefined || e.digest !== digest || !sameVersion(e.version, st)) return undefined;
    this.entries.delete(key);
    this.entries.set(key, e);
    return e;
  }

  /**
   * Remember that the file `st` describes (stat'ed before and after its bytes were read, the
   * first at wall-clock `statAtNs`) holds `bytes`, which hashed to `digest` and were validated
   * as `how` says. Not kept when changed too recently to be trusted, or too large. Returns
   * whether it was kept.
   */
  record(
    digest: Digest,
    st: BigIntStats,
    statAtNs: bigint,
    bytes: Buffer,
    how: { validatedAs: string } | { described: Descriptor },
  ): boolean {
    if (!settledVersion(st, statAtNs)) return false;
    if (bytes.byteLength > this.maxEntryBytes || bytes.byteLength > this.maxBytes) return false;
    const key = fileKey(st);
    let e = this.get(digest, st);
    if (e === undefined) {
      const old = this.entries.get(key);
      if (old !== undefined) this.drop(key, old);
      const entry: Entry = {
        digest,
        version: pickVersion(st),
        bytes,
        validatedAs: new Set(),
        described: undefined,
      };
      this.entries.set(key, entry);
      this.held += bytes.byteLength;
      e = entry;
    }
    if ('validatedAs' in how) e.validatedAs.add(how.validatedAs);
    else e.described = how.described;
    while (this.held > this.maxBytes) {
      const [oldest, entry] = this.entries.entries().next().value as [string, Entry];
      this.drop(oldest, entry);
    }
    return true;
  }

  private drop(key: string, entry: Entry): void {
    this.entries.delete(key);
    this.held -= entry.bytes.byteLength;
  }
}
