// The directories of blob storage: blobs/ and blobs/<alg>/ must be this layout's own (never reached
// through a symlink), and what they hold: every blob file, and the names that are not blobs.
// Reading and writing blob files is blob-store.ts's.
import { lstatSync, readdirSync, type Stats } from 'node:fs';
import { join } from 'node:path';
import {
  algorithmOf,
  isSupportedAlgorithm,
  matchesDigestGrammar,
  parseDigest,
  type Digest,
} from '../digest.js';
import { UnsafeInputError, errnoCode, wrapFsError } from '../errors.js';
import { BLOBS_DIR, blobDir } from './paths.js';

export interface BlobListing {
  blobs: Digest[];
  /** Files under blobs/ whose names are not digests we support (temp files of other tools...). */
  strays: string[];
}

/**
 * The check that blobs/ and blobs/<alg>/ are real directories. Through a symlinked one, reads
 * would leave the layout, writes would land elsewhere and gc would delete another tree's files
 * (O_NOFOLLOW guards only the last path component).
 */
export class OwnBlobDirs {
  /**
   * Algorithms whose blobs/<alg>/ was found to be a real directory (the answer cannot regress).
   * Keyed by algorithm, not path: discovery asks once per manifest, and a path join each time cost
   * more than the check it skipped.
   */
  private readonly checked = new Set<string>();

  constructor(private readonly root: string) {}

  /**
   * Throws E_UNSAFE_ENTRY unless the directories holding `digest` are this layout's own. A missing
   * directory passes: the caller creates it or finds nothing.
   */
  assert(digest: Digest): void {
    const alg = algorithmOf(digest);
    if (this.checked.has(alg)) return;
    const dir = blobDir(this.root, digest);
    for (const d of [join(this.root, BLOBS_DIR), dir]) {
      let st: Stats;
      try {
        st = lstatSync(d);
      } catch (err) {
        if (errnoCode(err) === 'ENOENT') return;
        throw wrapFsError(err, `stat ${d}`);
      }
      if (!st.isDirectory()) throw unsafeDir(d);
    }
    this.checked.add(alg);
  }
}

/**
 * Every blob file under `root`/blobs, sorted; names that are not valid digests of a supported
 * algorithm, and symlinked or non-directory algorithm entries, are strays. Throws E_UNSAFE_ENTRY
 * when blobs/ itself is not a directory, E_IO.
 */
export function listBlobs(root: string): BlobListing {
  const blobs: Digest[] = [];
  const strays: string[] = [];
  const base = join(root, BLOBS_DIR);
  let algs: string[];
  try {
    if (!lstatSync(base).isDirectory()) throw unsafeDir(base);
    algs = readdirSync(base).sort();
  } catch (err) {
    if (errnoCode(err) === 'ENOENT') return { blobs, strays };
    throw wrapFsError(err, `list ${base}`);
  }
  for (const alg of algs) {
    const dir = join(base, alg);
    let names: string[];
    try {
      // A symlinked algorithm directory is never listed: gc would delete what it points at.
      if (lstatSync(dir).isSymbolicLink()) throw Object.assign(new Error(dir), { code: 'ENOTDIR' });
      names = readdirSync(dir).sort();
    } catch (err) {
      if (errnoCode(err) === 'ENOTDIR') {
        strays.push(join(BLOBS_DIR, alg));
        continue;
      }
      throw wrapFsError(err, `list ${dir}`);
    }
    for (const name of names) {
      const candidate = `${alg}:${name}`;
      if (isSupportedAlgorithm(alg) && matchesDigestGrammar(candidate)) {
        try {
          blobs.push(parseDigest(candidate));
          continue;
        } catch {
          /* falls through to stray */
        }
      }
      strays.push(join(BLOBS_DIR, alg, name));
    }
  }
  return { blobs, strays };
}

function unsafeDir(dir: string): UnsafeInputError {
  return new UnsafeInputError(
    'E_UNSAFE_ENTRY',
    `${dir} is a symlink or not a directory; refusing to read, write or delete through it`,
    { path: dir },
    {
      hint: 'make it a real directory holding the blobs (copy the blobs in, do not link the directory)',
    },
  );
}
