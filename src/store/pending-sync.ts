// Batched durability for the blob store: blob files and blobs/<alg>/ directories whose fsync was
// deferred (PutOptions.deferFileSync / deferDirSync), made durable together by flush().
// Knows paths only; what a blob is and when to defer are blob-store.ts's decisions.
import { closeSync, constants, fsyncSync, openSync } from 'node:fs';
import { spawnSync } from 'node:child_process';
import { errnoCode, wrapFsError } from '../errors.js';
import { fsyncDir } from './durable.js';

/** With at least this many deferred files, flush() syncs the filesystem once instead. */
const SYNCFS_THRESHOLD = 8;
const O_NOFOLLOW = constants.O_NOFOLLOW ?? 0;

export class PendingSync {
  /** Directories with an entry added or removed since the last flush. */
  private readonly dirs = new Set<string>();
  /** Files written or linked with deferFileSync and not yet made durable. */
  private readonly files = new Set<string>();

  /** `dir` gained or lost an entry; fsync it at the next flush. */
  dir(dir: string): void {
    this.dirs.add(dir);
  }

  /** `path`'s data is not yet on disk; sync it at the next flush. */
  file(path: string): void {
    this.files.add(path);
  }

  /**
   * Make every deferred file durable, then fsync every recorded directory. Many files: one
   * syncfs(2) of the filesystem holding `root` (coreutils `sync --file-system`), which lets the
   * kernel commit them in one journal transaction; few files, or no `sync` command: one fsync
   * each. Throws E_IO.
   */
  flush(root: string): void {
    if (this.files.size >= SYNCFS_THRESHOLD && syncFileSystem(root)) this.files.clear();
    for (const file of this.files) fsyncFile(file);
    this.files.clear();
    for (const dir of this.dirs) fsyncDir(dir);
    this.dirs.clear();
  }
}

/** fsync one file by path; a file removed meanwhile (gc) needs no sync. */
function fsyncFile(path: string): void {
  let fd: number | undefined;
  try {
    fd = openSync(path, constants.O_RDONLY | O_NOFOLLOW);
    fsyncSync(fd);
  } catch (err) {
    if (errnoCode(err) !== 'ENOENT') throw wrapFsError(err, `fsync ${path}`);
  } finally {
    if (fd !== undefined) closeSync(fd);
  }
}

/** syncfs(2) of the filesystem holding `path`, via coreutils; false when that is not available. */
function syncFileSystem(path: string): boolean {
  const r = spawnSync('sync', ['--file-system', path], { stdio: 'ignore', timeout: 120_000 });
  return r.status === 0;
}
