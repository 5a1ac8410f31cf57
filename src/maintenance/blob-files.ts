// fsck's scan of blobs/: every file's name, type and content. Small blobs are read with sync I/O
// into one reused buffer (no event-loop hop per file); large ones in 4 MiB chunks, reading the
// next chunk while hashing the current one (chunk sizes: spec-notes/performance.md).
import { finding } from './findings.js';
import {
  closeSync,
  constants,
  fstatSync,
  lstatSync,
  openSync,
  read,
  readdirSync,
  readlinkSync,
  readSync,
} from 'node:fs';
import { join } from 'node:path';
import {
  algorithmOf,
  isSupportedAlgorithm,
  matchesDigestGrammar,
  newHash,
  parseDigest,
  type Digest,
} from '../digest.js';
import { errnoCode } from '../errors.js';
import { BLOBS_DIR } from '../store/paths.js';
import type { Finding } from './policy.js';

export interface BlobScan {
  findings: Finding[];
  /** Blobs whose content was hashed (corrupt ones included), and their bytes. */
  blobs: number;
  bytes: number;
  /** Blob files that exist but cannot be used (not regular, unreadable): reachability skips them. */
  unusable: Set<Digest>;
}

const SMALL_BLOB = 1024 * 1024;
const CHUNK = 4 * 1024 * 1024;
// O_NONBLOCK: opening a FIFO planted in blobs/ must not hang fsck; no effect on regular files.
const OPEN_FLAGS = constants.O_RDONLY | (constants.O_NOFOLLOW ?? 0) | (constants.O_NONBLOCK ?? 0);

/** Check every file under blobs/. Throws only when blobs/ itself cannot be listed. */
export async function scanBlobFiles(root: string): Promise<BlobScan> {
  const scan: BlobScan = { findings: [], blobs: 0, bytes: 0, unusable: new Set() };
  const base = join(root, BLOBS_DIR);
  let algs: string[];
  try {
    if (lstatSync(base).isSymbolicLink()) {
      scan.findings.push(unsafeDir(BLOBS_DIR, symlinkText(base)));
      return scan;
    }
    algs = readdirSync(base).sort();
  } catch (err) {
    scan.findings.push(
      finding(
        errnoCode(err) === 'ENOENT' ? 'BLOBS_DIR_MISSING' : 'BLOBS_DIR_UNREADABLE',
        `${BLOBS_DIR}/ cannot be read (${errnoCode(err) ?? String(err)}); every layout has one`,
        { path: BLOBS_DIR },
      ),
    );
    return scan;
  }
  const small = Buffer.allocUnsafe(SMALL_BLOB);
  for (const alg of algs) {
    const dir = join(base, alg);
    if (lstatSync(dir).isSymbolicLink()) {
      scan.findings.push(unsafeDir(join(BLOBS_DIR, alg), symlinkText(dir)));
      continue;
    }
    if (!lstatSync(dir).isDirectory()) {
      scan.findings.push(stray(join(BLOBS_DIR, alg), 'is not an algorithm directory'));
      continue;
    }
    let names: string[];
    try {
      names = readdirSync(dir).sort();
    } catch (err) {
      scan.findings.push(
        finding(
          'BLOBS_DIR_UNREADABLE',
          `${join(BLOBS_DIR, alg)}/ cannot be listed (${errnoCode(err) ?? String(err)})`,
          { path: join(BLOBS_DIR, alg) },
        ),
      );
      continue;
    }
    for (const name of names) {
      const rel = join(BLOBS_DIR, alg, name);
      const candidate = `${alg}:${name}`;
      if (!matchesDigestGrammar(candidate)) {
        scan.findings.push(stray(rel, 'is not named by a digest'));
        continue;
      }
      if (!isSupportedAlgorithm(alg)) {
        scan.findings.push(
          finding(
            'BLOB_UNVERIFIABLE',
            `${rel}: algorithm ${alg} is not one we can verify (sha256, sha512)`,
            { path: rel, digest: candidate },
          ),
        );
        continue;
      }
      let digest: Digest;
      try {
        digest = parseDigest(candidate);
      } catch {
        scan.findings.push(
          stray(rel, `is not a valid ${alg} digest (lowercase hex of the right length)`),
        );
        continue;
      }
      await checkBlob(join(root, rel), rel, digest, small, scan);
    }
  }
  return scan;
}

async function checkBlob(
  path: string,
  rel: string,
  digest: Digest,
  small: Buffer,
  scan: BlobScan,
): Promise<void> {
  let fd: number;
  try {
    fd = openSync(path, OPEN_FLAGS);
  } catch (err) {
    scan.unusable.add(digest);
    scan.findings.push(
      errnoCode(err) === 'ELOOP'
        ? notRegular(rel, digest, symlinkText(path))
        : unreadable(rel, digest, err),
    );
    return;
  }
  try {
    const st = fstatSync(fd);
    if (!st.isFile()) {
      scan.unusable.add(digest);
      scan.findings.push(
        notRegular(rel, digest, st.isDirectory() ? 'a directory' : 'a special file'),
      );
      return;
    }
    const hash = newHash(algorithmOf(digest));
    let size = 0;
    if (st.size <= SMALL_BLOB) {
      // The file may have grown since fstat: read until EOF, spilling into the hash as we go.
      for (;;) {
        const n = readSync(fd, small, 0, SMALL_BLOB, size);
        if (n === 0) break;
        hash.update(small.subarray(0, n));
        size += n;
      }
    } else {
      size = await hashLarge(fd, hash);
    }
    scan.blobs++;
    scan.bytes += size;
    const found = `${algorithmOf(digest)}:${hash.digest('hex')}`;
    if (found !== digest) {
      scan.findings.push(
        finding(
          'BLOB_DIGEST_MISMATCH',
          `${rel}: content (${size} bytes) hashes to ${found}, not to its name (corrupt or truncated)`,
          { path: rel, digest },
        ),
      );
    }
  } catch (err) {
    scan.unusable.add(digest);
    scan.findings.push(unreadable(rel, digest, err));
  } finally {
    closeSync(fd);
  }
}

function readAt(fd: number, buf: Buffer, position: number): Promise<number> {
  return new Promise((resolve, reject) => {
    read(fd, buf, 0, buf.byteLength, position, (err, n) => (err ? reject(err) : resolve(n)));
  });
}

/** Hash a large file: the read of chunk n+1 runs on the thread pool while chunk n is hashed. */
async function hashLarge(fd: number, hash: ReturnType<typeof newHash>): Promise<number> {
  let buffers = [Buffer.allocUnsafe(CHUNK), Buffer.allocUnsafe(CHUNK)] as const;
  let size = 0;
  let pending = readAt(fd, buffers[0], 0);
  for (;;) {
    const n = await pending;
    if (n === 0) return size;
    const current = buffers[0];
    size += n;
    buffers = [buffers[1], buffers[0]];
    pending = readAt(fd, buffers[0], size);
    hash.update(current.subarray(0, n));
  }
}

function stray(rel: string, why: string): Finding {
  return finding(
    'BLOB_STRAY',
    `${rel} ${why}; no tool can address it (another tool's temp file?)`,
    { path: rel },
  );
}

/** A symlinked blobs/ or blobs/<alg>/: the blob store refuses to go through it (E_UNSAFE_ENTRY). */
function unsafeDir(rel: string, what: string): Finding {
  return finding(
    'BLOBS_DIR_UNSAFE',
    `${rel}/ is ${what}; blobs are never read, written or deleted through it`,
    { path: rel },
  );
}

function notRegular(rel: string, digest: Digest, what: string): Finding {
  return finding(
    'BLOB_NOT_REGULAR',
    `${rel} is ${what}, not a regular file; it is never followed or read`,
    { path: rel, digest },
  );
}

function unreadable(rel: string, digest: Digest, err: unknown): Finding {
  return finding(
    'BLOB_UNREADABLE',
    `${rel} cannot be read: ${err instanceof Error ? err.message : String(err)}`,
    { path: rel, digest },
  );
}

function symlinkText(path: string): string {
  try {
    return `a symlink to ${readlinkSync(path)}`;
  } catch {
    return 'a symlink';
  }
}
