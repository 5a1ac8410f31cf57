// Durable small-file writes: temp file in the same directory, fsync, rename, fsync the directory.
// Used for index.json and oci-layout; blobs go through ingest.ts instead.
import {
  closeSync,
  existsSync,
  fchmodSync,
  lstatSync,
  fsyncSync,
  linkSync,
  openSync,
  renameSync,
  unlinkSync,
  writeSync,
  constants,
} from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { errnoCode, wrapFsError } from '../errors.js';
import { ownedName } from './liveness.js';

/** fsync a directory so a rename or create inside it survives a power loss. */
export function fsyncDir(dir: string): void {
  let fd: number | undefined;
  try {
    fd = openSync(dir, constants.O_RDONLY | constants.O_DIRECTORY);
    fsyncSync(fd);
  } catch (err) {
    // Some filesystems refuse fsync on directories (EINVAL/EISDIR); the rename is still atomic there.
    const code = (err as NodeJS.ErrnoException).code;
    if (code !== 'EINVAL' && code !== 'EISDIR' && code !== 'EPERM')
      throw wrapFsError(err, `fsync ${dir}`);
  } finally {
    if (fd !== undefined) closeSync(fd);
  }
}

/** Temp files made by writeFileDurable start with this (gc sweeps dead owners' ones). */
export const DURABLE_TMP_PREFIX = '.tmp-';

export interface DurableWriteOptions {
  /**
   * Create `path` only if it does not exist (hard link of the temp file, which fails on an existing
   * name): two `init`s racing cannot overwrite what the first one, or a writer after it, stored.
   */
  exclusive?: boolean;
  /**
   * Runs after the temp file is written and fsynced, immediately before the rename (or link) that
   * publishes it; a throw aborts the write (temp file removed, `path` untouched). The index commit
   * checks here that it still holds the lock: writing a large index can take long enough for the
   * lock to be judged stale and taken over, and the check must come after that, not before it.
   */
  beforeRename?: (() => void) | undefined;
}

/**
 * Replace `path` atomically: readers see the old or the new content, never a mix, and after return
 * the new content is on disk. A crash leaves at most a `.tmp-<owner>…` file beside it. Returns
 * false only with `exclusive` when `path` already existed (nothing written).
 */
export function writeFileDurable(
  path: string,
  data: string | Uint8Array,
  options: DurableWriteOptions = {},
): boolean {
  const dir = dirname(path);
  const tmp = join(dir, `${DURABLE_TMP_PREFIX}${ownedName(`.${basename(path)}`)}`);
  let fd: number | undefined;
  let written = true;
  try {
    fd = openSync(tmp, constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL, 0o644);
    // A replaced file keeps its permission bits (umoci writes index.json 0600).
    const previousMode = modeOf(path);
    if (previousMode !== undefined) fchmodSync(fd, previousMode);
    const buf = typeof data === 'string' ? Buffer.from(data, 'utf8') : data;
    let off = 0;
    while (off < buf.byteLength) off += writeSync(fd, buf, off, buf.byteLength - off);
    fsyncSync(fd);
    closeSync(fd);
    fd = undefined;
    options.beforeRename?.();
    if (options.exclusive === true) written = linkIfAbsent(tmp, path);
    else renameSync(tmp, path);
  } catch (err) {
    if (fd !== undefined) closeSync(fd);
    throw wrapFsError(err, `write ${path}`, { path });
  } finally {
    try {
      unlinkSync(tmp); // after rename it is gone already; after link it is a second name
    } catch {
      /* already gone */
    }
  }
  if (written) fsyncDir(dir);
  return written;
}

function modeOf(path: string): number | undefined {
  try {
    const st = lstatSync(path);
    return st.isFile() ? st.mode & 0o7777 : undefined;
  } catch {
    return undefined;
  }
}

/** link(tmp, path) unless `path` exists; where hard links are unsupported, check then rename. */
function linkIfAbsent(tmp: string, path: string): boolean {
  try {
    linkSync(tmp, path);
    return true;
  } catch (err) {
    const code = errnoCode(err);
    if (code === 'EEXIST') return false;
    if (code !== 'EPERM' && code !== 'ENOTSUP' && code !== 'EOPNOTSUPP' && code !== 'ENOSYS')
      throw err;
  }
  if (existsSync(path)) return false;
  renameSync(tmp, path);
  return true;
}
