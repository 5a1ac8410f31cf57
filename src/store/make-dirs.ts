// mkdir -p that reports why it failed. Node's recursive mkdirSync reports ENOENT when the missing
// directory cannot be made on a read-only filesystem (EROFS): that reads as "not found" to a user
// whose layout is plainly there. One level at a time, the kernel's own errno comes through.
import { mkdirSync, statSync } from 'node:fs';
import { dirname } from 'node:path';
import { errnoCode } from '../errors.js';

/**
 * Create `dir` and any missing parents; an existing directory is fine. Returns the first directory
 * it made (as recursive mkdirSync does), undefined when all existed. Throws the raw fs error.
 */
export function makeDirs(dir: string): string | undefined {
  let first: string | undefined;
  try {
    mkdirSync(dir);
    return dir;
  } catch (err) {
    if (errnoCode(err) === 'EEXIST' && isDirectory(dir)) return undefined;
    const parent = dirname(dir);
    if (errnoCode(err) !== 'ENOENT' || parent === dir) throw err;
    first = makeDirs(parent);
  }
  try {
    mkdirSync(dir);
    return first ?? dir;
  } catch (err) {
    // Another process made it between our two attempts.
    if (errnoCode(err) !== 'EEXIST' || !isDirectory(dir)) throw err;
    return first;
  }
}

function isDirectory(path: string): boolean {
  return statSync(path, { throwIfNoEntry: false })?.isDirectory() === true;
}
