// Reading blob files: open only a regular file, never through a symlink and never blocking on a
// FIFO; read a small blob whole, capped and verified. Streaming verification is verify-stream.ts's.
import { closeSync, constants, fstatSync, openSync, readSync, type Stats } from 'node:fs';
import { algorithmOf, hashHex, type Digest } from '../digest.js';
import {
  NotFoundError,
  OcilayoutError,
  UnsafeInputError,
  errnoCode,
  wrapFsError,
} from '../errors.js';
import { checkDigest } from './verify-stream.js';

/**
 * Opening a FIFO for reading blocks until a writer appears (the whole process, for openSync), so
 * blob reads open non-blocking and refuse anything that is not a regular file. O_NONBLOCK changes
 * nothing for regular files; O_NOFOLLOW refuses a symlinked blob (ELOOP).
 */
const READ_FLAGS = constants.O_RDONLY | (constants.O_NOFOLLOW ?? 0) | (constants.O_NONBLOCK ?? 0);

/**
 * An fd on the regular file at `path` holding `digest` (of the layout at `root`); the caller closes
 * it. Throws E_NOT_FOUND, E_UNSAFE_ENTRY (symlink, FIFO, device, directory), E_IO.
 */
export function openBlobFile(path: string, digest: Digest, root: string): number {
  return openBlobFileSized(path, digest, root).fd;
}

/**
 * openBlobFile, with the file's size from the same fstat (a whole-blob read needs it: one stat per
 * manifest, not two, when discovery reads thousands).
 */
export function openBlobFileSized(
  path: string,
  digest: Digest,
  root: string,
): { fd: number; size: number } {
  let fd: number;
  try {
    fd = openSync(path, READ_FLAGS);
  } catch (err) {
    throw openError(err, digest, root);
  }
  let st: Stats;
  try {
    st = fstatSync(fd);
  } catch (err) {
    closeSync(fd);
    throw wrapFsError(err, `stat blob ${digest}`, { digest });
  }
  if (!st.isFile()) {
    closeSync(fd);
    throw new UnsafeInputError(
      'E_UNSAFE_ENTRY',
      `blob ${digest} is not a regular file (FIFO, device or directory); refusing to read it`,
      { digest, path },
    );
  }
  return { fd, size: st.size };
}

/**
 * All of the blob open at `fd` (left open; `size` is its fstat size), refusing more than `maxBytes`
 * before reading any, and checked against `digest` when `verify`. Throws E_TOO_LARGE,
 * E_DIGEST_MISMATCH; raw fs errors pass.
 */
export function readWholeBlob(
  fd: number,
  size: number,
  digest: Digest,
  maxBytes: number,
  verify: boolean,
): Buffer {
  if (size > maxBytes) {
    throw new UnsafeInputError(
      'E_TOO_LARGE',
      `blob ${digest} is ${size} bytes, over the ${maxBytes}-byte limit for JSON documents`,
      { digest, size, limit: maxBytes },
    );
  }
  const buf = Buffer.allocUnsafe(size);
  let off = 0;
  while (off < size) {
    const n = readSync(fd, buf, off, size - off, off);
    if (n === 0) break;
    off += n;
  }
  const bytes = buf.subarray(0, off);
  if (verify) {
    checkDigest(`blob ${digest}`, digest, hashHex(algorithmOf(digest), bytes));
  }
  return bytes;
}

function openError(err: unknown, digest: Digest, root: string): OcilayoutError {
  const code = errnoCode(err);
  if (code === 'ENOENT' || code === 'ENOTDIR') {
    return new NotFoundError('E_NOT_FOUND', `blob ${digest} not found in ${root}`, { digest });
  }
  if (code === 'ELOOP') {
    return new UnsafeInputError(
      'E_UNSAFE_ENTRY',
      `blob ${digest} is a symlink; refusing to follow it`,
      { digest },
    );
  }
  return wrapFsError(err, `open blob ${digest}`, { digest });
}
