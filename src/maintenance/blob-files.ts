// fsck's scan of blobs/: every file's name, type and content. Small blobs are hashed with sync I/O
// (no event-loop hop per file); large ones on the hash workers, several at once, so a layout of
// big layers is checked on every core. Findings keep the sorted order of the files.
import { finding } from './findings.js';
import {
  closeSync,
  constants,
  fstatSync,
  lstatSync,
  openSync,
  readdirSync,
  readlinkSync,
} from 'node:fs';
import { availableParallelism } from 'node:os';
import { join } from 'node:path';
import {
  algorithmOf,
  isSupportedAlgorithm,
  matchesDigestGrammar,
  parseDigest,
  type Digest,
} from '../digest.js';
import { errnoCode } from '../errors.js';
import { hashFd } from '../store/hash-file.js';
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

/** Blob checks in flight: enough to keep every hash worker busy. */
const IN_FLIGHT = Math.max(2, Math.min(availableParallelism(), 4));
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
  // Checks run IN_FLIGHT at a time; their results are applied in file order.
  const inFlight: Promise<BlobCheck>[] = [];
  const apply = (check: BlobCheck): void => {
    scan.findings.push(...check.findings);
    if (check.unusable !== undefined) scan.unusable.add(check.unusable);
    if (check.hashedBytes !== undefined) {
      scan.blobs++;
      scan.bytes += check.hashedBytes;
    }
  };
  // A finding of the listing itself waits for the checks queued before it.
  const report = async (f: Finding): Promise<void> => {
    while (inFlight.length > 0) apply(await inFlight.shift()!);
    scan.findings.push(f);
  };
  for (const alg of algs) {
    const dir = join(base, alg);
    if (lstatSync(dir).isSymbolicLink()) {
      await report(unsafeDir(join(BLOBS_DIR, alg), symlinkText(dir)));
      continue;
    }
    if (!lstatSync(dir).isDirectory()) {
      await report(stray(join(BLOBS_DIR, alg), 'is not an algorithm directory'));
      continue;
    }
    let names: string[];
    try {
      names = readdirSync(dir).sort();
    } catch (err) {
      await report(
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
        await report(stray(rel, 'is not named by a digest'));
        continue;
      }
      if (!isSupportedAlgorithm(alg)) {
        await report(
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
        await report(
          stray(rel, `is not a valid ${alg} digest (lowercase hex of the right length)`),
        );
        continue;
      }
      inFlight.push(checkBlob(join(root, rel), rel, digest));
      if (inFlight.length >= IN_FLIGHT) apply(await inFlight.shift()!);
    }
  }
  for (const check of inFlight) apply(await check);
  return scan;
}

/** What one blob file's check found; applied to the scan in file order. */
interface BlobCheck {
  findings: Finding[];
  unusable?: Digest;
  /** Set when the content was hashed (corrupt or not): its length. */
  hashedBytes?: number;
}

async function checkBlob(path: string, rel: string, digest: Digest): Promise<BlobCheck> {
  let fd: number;
  try {
    fd = openSync(path, OPEN_FLAGS);
  } catch (err) {
    return {
      unusable: digest,
      findings: [
        errnoCode(err) === 'ELOOP'
          ? notRegular(rel, digest, symlinkText(path))
          : unreadable(rel, digest, err),
      ],
    };
  }
  try {
    const st = fstatSync(fd);
    if (!st.isFile()) {
      return {
        unusable: digest,
        findings: [notRegular(rel, digest, st.isDirectory() ? 'a directory' : 'a special file')],
      };
    }
    // Hashed to EOF: a file that grew since fstat is judged by what it holds now.
    const { hex, size } = await hashFd(fd, algorithmOf(digest), st.size);
    const found = `${algorithmOf(digest)}:${hex}`;
    const findings =
      found === digest
        ? []
        : [
            finding(
              'BLOB_DIGEST_MISMATCH',
              `${rel}: content (${size} bytes) hashes to ${found}, not to its name (corrupt or truncated)`,
              { path: rel, digest },
            ),
          ];
    return { findings, hashedBytes: size };
  } catch (err) {
    return { unusable: digest, findings: [unreadable(rel, digest, err)] };
  } finally {
    closeSync(fd);
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
