// What makes a directory an OCI Image Layout (image-layout.md): an `oci-layout` file with
// imageLayoutVersion 1.0.0 and an index.json. Recognising one written by any tool, and creating one
// crash-safely and idempotently. The verbs on an open layout are layout.ts's.
import { lstatSync, readdirSync, rmdirSync, unlinkSync } from 'node:fs';
import { join, resolve as resolvePath } from 'node:path';
import {
  ConflictError,
  IntegrityError,
  NotFoundError,
  errnoCode,
  isOcilayoutError,
  wrapFsError,
} from '../errors.js';
import { MediaType } from '../media-types.js';
import {
  IMAGE_LAYOUT_VERSION,
  imageLayoutVersionOf,
  type IndexFile,
} from '../schema/layout-files.js';
import { parseJson } from '../schema/manifest.js';
import { parseLayoutRef, type LayoutRef } from './refs.js';
import { isHaulerIndex } from './dialect-names.js';
import { writeFileDurable } from '../store/durable.js';
import { listIngest } from '../store/ingest.js';
import { withLayoutLock } from '../store/lock.js';
import { makeDirs } from '../store/make-dirs.js';
import { IndexStore, readCappedText, serializeIndex } from '../store/index-store.js';
import { BLOBS_DIR, INDEX_FILE, INDEX_LOCK, INGEST_DIR, OCI_LAYOUT_FILE } from '../store/paths.js';

/** Names a layout of ours may hold; anything else makes a directory someone else's. */
const LAYOUT_FILES = new Set([OCI_LAYOUT_FILE, INDEX_FILE, BLOBS_DIR, INGEST_DIR, INDEX_LOCK]);

/** Entries that make a directory someone else's: initLayoutDir refuses a directory with any. */
function foreignEntries(entries: readonly string[]): string[] {
  return entries.filter((e) => !LAYOUT_FILES.has(e) && !e.startsWith('.tmp-'));
}

/** The index.json of a new layout. */
export function emptyIndex(): IndexFile {
  return { schemaVersion: 2, mediaType: MediaType.ImageIndex, manifests: [] };
}

/** What one initLayoutDir call made; only these may be taken back (see undoLayoutCreation). */
export interface MadeParts {
  /** The directory itself did not exist. */
  root: boolean;
  blobs: boolean;
  ociLayout: boolean;
  index: boolean;
  /** ingest/ did not exist (an operation that creates it may remove it again when empty). */
  ingest: boolean;
}

export interface LayoutCreation {
  root: string;
  /** Whether a file was created (the layout is new or was finished). */
  created: boolean;
  made: MadeParts;
}

const NOTHING_MADE: MadeParts = {
  root: false,
  blobs: false,
  ociLayout: false,
  index: false,
  ingest: false,
};

/**
 * Make `dir` a layout, or accept an existing one unchanged (idempotent); finishes a layout left
 * half-created by a crash. Returns the absolute root, whether a file was created, and what was
 * made. A failure part-way (a full disk) takes back what this call made before it throws. Throws
 * E_CONFLICT (a file, or a non-empty directory that is not a layout), E_NOT_A_LAYOUT (index.json
 * without oci-layout: not ours to finish), E_IO. A hauler 2.x store (index.json with hauler kinds,
 * no oci-layout) is accepted as it is, or adopted by adding oci-layout with `adoptHauler`.
 */
export function initLayoutDir(
  dir: string,
  options: { adoptHauler?: boolean } = {},
): LayoutCreation {
  const root = resolvePath(dir);
  let entries: string[] = [];
  let existed = true;
  try {
    entries = readdirSync(root);
  } catch (err) {
    if (errnoCode(err) === 'ENOTDIR')
      throw new ConflictError('E_CONFLICT', `${dir} exists and is not a directory`, {
        layout: dir,
      });
    if (errnoCode(err) !== 'ENOENT') throw wrapFsError(err, `read ${dir}`);
    existed = false;
  }
  const isLayout = entries.includes(OCI_LAYOUT_FILE) && entries.includes(INDEX_FILE);
  if (isLayout) return { root, created: false, made: NOTHING_MADE };
  // A hauler 2.x store never writes oci-layout; init adopts it by adding one (hauler 1.x wrote
  // it, and `hauler store save` carries it), so tools that require it (skopeo, umoci) see a layout.
  // Only `ocilayout init` adopts: a copy, import or push into the store writes hauler's entries
  // and no file hauler 2.x would not have written.
  if (entries.includes(INDEX_FILE) && isHaulerStore(root)) {
    if (options.adoptHauler !== true) return { root, created: false, made: NOTHING_MADE };
    const created = writeFileDurable(
      join(root, OCI_LAYOUT_FILE),
      JSON.stringify({ imageLayoutVersion: IMAGE_LAYOUT_VERSION }),
      { exclusive: true },
    );
    return { root, created, made: { ...NOTHING_MADE, ociLayout: created } };
  }
  // init writes oci-layout before index.json, so index.json alone is no half-made layout of
  // ours: it is someone else's directory, and writing an oci-layout into it would change it.
  if (entries.includes(INDEX_FILE)) {
    throw new NotFoundError(
      'E_NOT_A_LAYOUT',
      `${dir} has an index.json but no oci-layout file; not treating it as a layout`,
      { layout: dir },
      { hint: `if it is one, add ${OCI_LAYOUT_FILE} with {"imageLayoutVersion":"1.0.0"}` },
    );
  }
  const foreign = foreignEntries(entries);
  if (foreign.length > 0) {
    throw new ConflictError(
      'E_CONFLICT',
      `${dir} is not empty and not an OCI layout (found ${foreign.slice(0, 3).join(', ')})`,
      {
        layout: dir,
        found: foreign.slice(0, 10),
      },
      { hint: 'choose an empty or new directory' },
    );
  }
  const made: MadeParts = {
    ...NOTHING_MADE,
    root: !existed,
    blobs: !entries.includes(BLOBS_DIR),
    ingest: !entries.includes(INGEST_DIR),
  };
  try {
    // mkdir reports the first directory it made: a concurrent init may have made the rest.
    const first = makeDirs(join(root, BLOBS_DIR));
    made.root &&= first === root;
    made.blobs &&= first !== undefined;
    // Both files are created exclusively: a concurrent init (or a writer that ran after one) may
    // have made them meanwhile, and their content must not be replaced.
    made.ociLayout = writeFileDurable(
      join(root, OCI_LAYOUT_FILE),
      JSON.stringify({ imageLayoutVersion: IMAGE_LAYOUT_VERSION }),
      { exclusive: true },
    );
    // index.json last: its presence is what makes the directory a layout.
    made.index = writeFileDurable(join(root, INDEX_FILE), serializeIndex(emptyIndex()), {
      exclusive: true,
    });
  } catch (err) {
    removeMadeParts(root, made);
    throw isOcilayoutError(err) ? err : wrapFsError(err, `create ${dir}`);
  }
  return { root, created: made.ociLayout || made.index, made };
}

/**
 * Take back what initLayoutDir made, for an operation that created a layout and then failed: the
 * directory must be left as the operation found it, and only what it made may go. Nothing is
 * removed while index.json lists anything or while another live writer has files in ingest/
 * (`isOwn` names this operation's own ingest files, which the caller has already removed or will
 * not mind losing); a concurrent user of the new layout keeps it. Checked and done under the index
 * lock, so no commit can land between the check and the removal. Returns whether it was removed.
 */
export async function undoLayoutCreation(
  root: string,
  made: MadeParts,
  isOwn: (ingestName: string) => boolean,
  lockOptions: { timeoutMs?: number } = {},
): Promise<boolean> {
  // Without our index.json the layout was finished by someone else: it is theirs now.
  if (!made.index) return false;
  const removed = await withLayoutLock(root, () => removeIfUnused(root, made, isOwn), lockOptions);
  // The lock directory is gone now; empty directories this operation made go last.
  if (removed) removeMadeParts(root, made);
  return removed;
}

/**
 * The same without the lock, for a process that is exiting (a signal: nothing can be awaited). The
 * checks still hold back a layout anyone else has used; only the lock's exclusion is lost, in the
 * last instant of a failing operation.
 */
export function undoLayoutCreationAtExit(
  root: string,
  made: MadeParts,
  isOwn: (ingestName: string) => boolean,
): void {
  try {
    if (made.index && removeIfUnused(root, made, isOwn)) removeMadeParts(root, made);
  } catch {
    /* at exit: nothing to report to, and what stays is a valid layout or garbage for gc */
  }
}

function removeIfUnused(
  root: string,
  made: MadeParts,
  isOwn: (ingestName: string) => boolean,
): boolean {
  if (readIndexEntries(root) !== 0) return false;
  if (listIngest(root).some((e) => e.live && !isOwn(e.name))) return false;
  // Blobs in a blobs/ we made would be left without a layout around them: keep it whole.
  if (made.blobs && holdsFiles(join(root, BLOBS_DIR))) return false;
  removeFile(join(root, INDEX_FILE), made.index);
  removeFile(join(root, OCI_LAYOUT_FILE), made.ociLayout);
  return true;
}

/** Remove the files and (empty) directories in `made`; what others put there stays. */
function removeMadeParts(root: string, made: MadeParts): void {
  removeFile(join(root, INDEX_FILE), made.index);
  removeFile(join(root, OCI_LAYOUT_FILE), made.ociLayout);
  if (made.blobs) {
    for (const alg of safeReaddir(join(root, BLOBS_DIR)))
      removeEmptyDir(join(root, BLOBS_DIR, alg));
    removeEmptyDir(join(root, BLOBS_DIR));
  }
  if (made.ingest || made.root) removeEmptyDir(join(root, INGEST_DIR));
  if (made.root) removeEmptyDir(root);
}

function readIndexEntries(root: string): number {
  try {
    return new IndexStore(root).read().index.manifests.length;
  } catch {
    return 1; // unreadable: not ours to judge, keep it
  }
}

function removeFile(path: string, ours: boolean): void {
  if (!ours) return;
  try {
    unlinkSync(path);
  } catch (err) {
    if (errnoCode(err) !== 'ENOENT') throw wrapFsError(err, `remove ${path}`);
  }
}

/** rmdir, never recursive: a directory someone else put a file into stays. */
function removeEmptyDir(path: string): void {
  try {
    rmdirSync(path);
  } catch {
    /* not empty, gone, or not ours to judge */
  }
}

function holdsFiles(blobsDir: string): boolean {
  return safeReaddir(blobsDir).some((alg) => safeReaddir(join(blobsDir, alg)).length > 0);
}

function safeReaddir(path: string): string[] {
  try {
    return readdirSync(path);
  } catch {
    return [];
  }
}

/**
 * Check that `dir` is a layout any tool wrote; returns its absolute root. Throws E_NOT_A_LAYOUT
 * when `oci-layout` or index.json is missing or `imageLayoutVersion` is not 1.0.0;
 * E_INVALID_JSON/E_SCHEMA for a bad oci-layout. index.json itself is validated on each read.
 */
export function assertLayoutDir(dir: string): string {
  const root = resolvePath(dir);
  let text: string;
  try {
    text = readCappedText(join(root, OCI_LAYOUT_FILE), 64 * 1024);
  } catch (err) {
    // ENOTDIR: `dir` (or a parent) is a regular file, e.g. a tar given where a layout belongs.
    if (
      err instanceof NotFoundError ||
      (isOcilayoutError(err) && err.details['errno'] === 'ENOTDIR')
    ) {
      // hauler 2.x never writes oci-layout: its store is a layout by every other measure (see
      // spec-notes/referrers.md "hauler stores"), recognised by the kinds of its index.json entries.
      if (err instanceof NotFoundError && isHaulerStore(root)) return root;
      const hint = notALayoutHint(dir, root, `create one with \`ocilayout init ${dir}\``);
      throw new NotFoundError(
        'E_NOT_A_LAYOUT',
        `${dir} is not an OCI layout (no oci-layout file)`,
        { layout: dir },
        hint === undefined ? {} : { hint },
      );
    }
    throw err;
  }
  const version = imageLayoutVersionOf(parseJson(text, join(root, OCI_LAYOUT_FILE)));
  if (version === undefined) {
    throw new IntegrityError(
      'E_SCHEMA',
      `${join(dir, OCI_LAYOUT_FILE)} has no imageLayoutVersion`,
      {
        layout: dir,
      },
    );
  }
  if (version !== IMAGE_LAYOUT_VERSION) {
    throw new NotFoundError(
      'E_NOT_A_LAYOUT',
      `${dir} has imageLayoutVersion ${JSON.stringify(version)}; only ${IMAGE_LAYOUT_VERSION} is defined`,
      { layout: dir, version },
    );
  }
  try {
    if (!lstatSync(join(root, INDEX_FILE)).isFile()) throw new Error('not a file');
  } catch {
    const hint = notALayoutHint(
      dir,
      root,
      `if \`ocilayout init ${dir}\` was interrupted, run it again to finish the layout`,
    );
    throw new NotFoundError(
      'E_NOT_A_LAYOUT',
      `${dir} is not an OCI layout (no index.json)`,
      { layout: dir },
      hint === undefined ? {} : { hint },
    );
  }
  return root;
}

/**
 * Whether `dir` is a directory assertLayoutDir would accept at a glance: oci-layout and index.json as
 * regular files, or a hauler store (index.json whose entries carry hauler's kinds, no oci-layout).
 */
export function isLayoutDirectory(dir: string): boolean {
  const isFile = (name: string): boolean => {
    try {
      return lstatSync(join(dir, name)).isFile();
    } catch {
      return false;
    }
  };
  if (!isFile(INDEX_FILE)) return false;
  return isFile(OCI_LAYOUT_FILE) || isHaulerStore(dir);
}

/** Whether `root` holds an index.json, readable and valid, whose entries carry hauler's kinds. */
function isHaulerStore(root: string): boolean {
  try {
    return isHaulerIndex(new IndexStore(root).read().index);
  } catch {
    return false;
  }
}

/**
 * The hint for a directory that is not a layout. `init` is suggested only where init would succeed
 * (the directory is missing, empty, or holds only layout parts); a non-empty directory of other
 * files, which init refuses, gets none. A missing `LAYOUT:TAG` whose LAYOUT is a layout was a
 * reference given where a directory belongs: say so instead.
 */
function notALayoutHint(dir: string, root: string, initHint: string): string | undefined {
  let entries: string[];
  try {
    entries = readdirSync(root);
  } catch (err) {
    const code = errnoCode(err);
    if (code === 'ENOTDIR') {
      return `${dir} is a file; give the layout directory (an archive is read with \`ocilayout import ${dir} DIR\`)`;
    }
    if (code !== 'ENOENT') return undefined;
    const ref = referenceInside(dir);
    if (ref !== undefined) {
      return `${dir} is a reference; this command takes the layout directory ${ref.layout} (see its --help for naming a tag or digest)`;
    }
    return initHint;
  }
  return foreignEntries(entries).length === 0 ? initHint : undefined;
}

/** `dir` read as `LAYOUT:TAG` or `LAYOUT@DIGEST` whose LAYOUT has an oci-layout file, if it is one. */
export function referenceInside(dir: string): (LayoutRef & { target: string }) | undefined {
  let ref: LayoutRef;
  try {
    ref = parseLayoutRef(dir);
  } catch {
    return undefined;
  }
  const target = ref.digest ?? ref.tag;
  if (target === undefined) return undefined;
  try {
    if (!lstatSync(join(resolvePath(ref.layout), OCI_LAYOUT_FILE)).isFile()) return undefined;
  } catch {
    return undefined;
  }
  return { ...ref, target };
}
