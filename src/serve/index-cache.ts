// index.json as this server last read it, per layout, so that a manifest GET does not re-read,
// re-parse and re-validate it on every request.
//
// Each use lstat's the file and compares its version (device, inode, size, mtime, ctime) with the
// one read: our writers rename a new file into place (a new inode), a tool that rewrites it in
// place changes its size or times, and ctime cannot be set back (store/file-version.ts has the
// argument). A version changed too recently for its ctime to be trusted (settledVersion) is not
// kept: a rewrite in the same timestamp tick could leave all five equal. lstat, not stat: an
// index.json replaced by a symlink is another version, and the re-read refuses it as before. The
// version kept is the one fstat saw on the descriptor the bytes were read through.
//
// What is kept is frozen: it is shared by every request until the file changes, so a reader that
// tried to change it would throw rather than change what the next request sees.
import type { Layout } from '../layout/layout.js';
import type { IndexFile } from '../schema/layout-files.js';
import {
  lstatVersion,
  sameVersion,
  settledVersion,
  wallClockNs,
  type FileVersion,
} from '../store/file-version.js';

interface Entry {
  version: FileVersion;
  index: IndexFile;
  /** The length of the text it was parsed from, what the budget counts. */
  chars: number;
}

export class IndexCache {
  /** Layout root → what was read; Map order is the LRU order (oldest first). */
  private readonly entries = new Map<string, Entry>();
  private held = 0;

  /**
   * `maxChars`: the index.json text kept at most, all layouts together (the parsed form takes a
   * few times that); a larger index.json is read on every use, as before.
   */
  constructor(readonly maxChars = 8 * 1024 * 1024) {}

  get size(): number {
    return this.entries.size;
  }

  /** `layout`'s index.json, validated: from memory while the file is unchanged. */
  read(layout: Layout): IndexFile {
    const key = layout.root;
    const known = this.entries.get(key);
    if (known !== undefined) {
      if (sameVersion(lstatVersion(layout.index.path), known.version)) {
        this.entries.delete(key);
        this.entries.set(key, known);
        return known.index;
      }
      this.drop(key, known);
    }
    const statAtNs = wallClockNs();
    const { snapshot, version } = layout.index.readVersion();
    const chars = snapshot.text.length;
    if (settledVersion(version, statAtNs) && chars <= this.maxChars) {
      const index = deepFreeze(snapshot.index);
      this.entries.set(key, { version, index, chars });
      this.held += chars;
      while (this.held > this.maxChars) {
        const [oldest, entry] = this.entries.entries().next().value as [string, Entry];
        this.drop(oldest, entry);
      }
      return index;
    }
    return snapshot.index;
  }

  private drop(key: string, entry: Entry): void {
    this.entries.delete(key);
    this.held -= entry.chars;
  }
}

function deepFreeze<T>(value: T): T {
  if (typeof value === 'object' && value !== null && !Object.isFrozen(value)) {
    Object.freeze(value);
    for (const v of Object.values(value)) deepFreeze(v);
  }
  return value;
}
