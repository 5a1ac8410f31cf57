// What makes a directory an OCI Image Layout (image-layout.md): an `oci-layout` file with
// imageLayoutVersion 1.0.0 and an index.json. Recognising one written by any tool, and creating one
// crash-safely and idempotently. The verbs on an open layout are layout.ts's.
import { lstatSync, readdirSync } from 'node:fs';
import { join, resolve as resolvePath } from 'node:path';
import {
  ConflictError,
  IntegrityError,
  NotFoundError,
  errnoCode,
  isOcilayoutError,
  wrapFsError,
} from './errors.js';
import { MediaType } from './media-types.js';
import { IMAGE_LAYOUT_VERSION, OciLayoutSchema, type IndexFile } from './schema/layout-files.js';
import { parseJson } from './schema/manifest.js';
import { writeFileDurable } from './store/durable.js';
import { makeDirs } from './store/make-dirs.js';
import { readCappedText, serializeIndex } from './store/index-store.js';
import { BLOBS_DIR, INDEX_FILE, INDEX_LOCK, INGEST_DIR, OCI_LAYOUT_FILE } from './store/paths.js';

/** Names a layout of ours may hold; anything else makes a directory someone else's. */
const LAYOUT_FILES = new Set([OCI_LAYOUT_FILE, INDEX_FILE, BLOBS_DIR, INGEST_DIR, INDEX_LOCK]);

/** The index.json of a new layout. */
export function emptyIndex(): IndexFile {
  return { schemaVersion: 2, mediaType: MediaType.ImageIndex, manifests: [] };
}

/**
 * Make `dir` a layout, or accept an existing one unchanged (idempotent); finishes a layout left
 * half-created by a crash. Returns the absolute root and whether a file was created. Throws
 * E_CONFLICT (a file, or a non-empty directory that is not a layout), E_NOT_A_LAYOUT (index.json
 * without oci-layout: not ours to finish), E_IO.
 */
export function initLayoutDir(dir: string): { root: string; created: boolean } {
  const root = resolvePath(dir);
  let entries: string[] = [];
  try {
    entries = readdirSync(root);
  } catch (err) {
    if (errnoCode(err) === 'ENOTDIR')
      throw new ConflictError('E_CONFLICT', `${dir} exists and is not a directory`, {
        layout: dir,
      });
    if (errnoCode(err) !== 'ENOENT') throw wrapFsError(err, `read ${dir}`);
  }
  const isLayout = entries.includes(OCI_LAYOUT_FILE) && entries.includes(INDEX_FILE);
  if (isLayout) return { root, created: false };
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
  const foreign = entries.filter((e) => !LAYOUT_FILES.has(e) && !e.startsWith('.tmp-'));
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
  try {
    makeDirs(join(root, BLOBS_DIR));
  } catch (err) {
    throw wrapFsError(err, `create ${dir}`);
  }
  // Both files are created exclusively: a concurrent init (or a writer that ran after one) may
  // have made them meanwhile, and their content must not be replaced.
  const madeHeader = writeFileDurable(
    join(root, OCI_LAYOUT_FILE),
    JSON.stringify({ imageLayoutVersion: IMAGE_LAYOUT_VERSION }),
    { exclusive: true },
  );
  // index.json last: its presence is what makes the directory a layout.
  const madeIndex = writeFileDurable(join(root, INDEX_FILE), serializeIndex(emptyIndex()), {
    exclusive: true,
  });
  return { root, created: madeHeader || madeIndex };
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
      throw new NotFoundError(
        'E_NOT_A_LAYOUT',
        `${dir} is not an OCI layout (no oci-layout file)`,
        { layout: dir },
        {
          hint: `create one with \`ocilayout init ${dir}\``,
        },
      );
    }
    throw err;
  }
  const header = OciLayoutSchema.safeParse(parseJson(text, join(root, OCI_LAYOUT_FILE)));
  if (!header.success) {
    throw new IntegrityError(
      'E_SCHEMA',
      `${join(dir, OCI_LAYOUT_FILE)} has no imageLayoutVersion`,
      {
        layout: dir,
      },
    );
  }
  if (header.data.imageLayoutVersion !== IMAGE_LAYOUT_VERSION) {
    throw new NotFoundError(
      'E_NOT_A_LAYOUT',
      `${dir} has imageLayoutVersion ${JSON.stringify(header.data.imageLayoutVersion)}; only ${IMAGE_LAYOUT_VERSION} is defined`,
      { layout: dir, version: header.data.imageLayoutVersion },
    );
  }
  try {
    if (!lstatSync(join(root, INDEX_FILE)).isFile()) throw new Error('not a file');
  } catch {
    throw new NotFoundError(
      'E_NOT_A_LAYOUT',
      `${dir} is not an OCI layout (no index.json)`,
      { layout: dir },
      { hint: `if \`ocilayout init ${dir}\` was interrupted, run it again to finish the layout` },
    );
  }
  return root;
}
