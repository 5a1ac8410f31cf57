// The only place a digest becomes a filesystem path, and the names of the layout's own files.
import { join } from 'node:path';
import { algorithmOf, encodedOf, type Digest } from '../digest.js';

export const OCI_LAYOUT_FILE = 'oci-layout';
export const INDEX_FILE = 'index.json';
export const BLOBS_DIR = 'blobs';
/** Temp files of writers (ours and oras-go's); never inside blobs/ (umoci gc aborts on strays there). */
export const INGEST_DIR = 'ingest';
/**
 * proper-lockfile's lock directory for index.json. Not `index.json.lock`: BuildKit uses that name
 * for a flock file, and a directory lock must never collide with a peer's regular file.
 */
export const INDEX_LOCK = '.ocilayout-index.lock';

/** `blobs/<alg>/<encoded>` relative to the layout root; `d` is already validated by parseDigest. */
export function blobRelPath(d: Digest): string {
  return join(BLOBS_DIR, algorithmOf(d), encodedOf(d));
}

export function blobPath(root: string, d: Digest): string {
  return join(root, blobRelPath(d));
}

export function blobDir(root: string, d: Digest): string {
  return join(root, BLOBS_DIR, algorithmOf(d));
}
