// What an archive's entries mean, by name: which are layout JSON files, which are blobs named by
// their digest, which are docker-save files, and which we ignore. Also finds the archive's root
// (the top level, or one top folder) once every entry has been seen. Pure name logic, no I/O.
import { tryParseDigest, type Digest } from '../digest.js';
import { IntegrityError, UnsafeInputError } from '../errors.js';
import { MAX_INDEX_BYTES } from '../store/index-store.js';
import { normalizeEntryName } from './safe-entry.js';
import type { StagedFile, Staging } from './staging.js';

export const OCI_LAYOUT_NAME = 'oci-layout';
export const INDEX_NAME = 'index.json';
export const DOCKER_MANIFEST_NAME = 'manifest.json';
const DOCKER_REPOSITORIES_NAME = 'repositories';

/** A delta export's marker (delta.ts): names what the archive leaves out, ignored by other tools. */
export const DELTA_NAME = 'ocilayout-delta.json';

/** The largest JSON file (other than index.json) we hold in memory. */
const JSON_LIMIT: Record<string, number> = {
  [OCI_LAYOUT_NAME]: 64 * 1024,
  [INDEX_NAME]: MAX_INDEX_BYTES,
  [DOCKER_MANIFEST_NAME]: 16 * 1024 * 1024,
  [DOCKER_REPOSITORIES_NAME]: 16 * 1024 * 1024,
  // ~100 bytes per blob left out: room for some 160,000.
  [DELTA_NAME]: 16 * 1024 * 1024,
};

export type Route =
  /** A layout or docker JSON file, kept in memory (capped). */
  | { kind: 'json'; limit: number }
  /** `blobs/<alg>/<hex>`: verified against the digest its name claims. */
  | { kind: 'blob'; digest: Digest }
  /** A docker-save file (`<hex>.tar`, `<hex>.json`, `<id>/layer.tar`): hashed, kept by path. */
  | { kind: 'docker-file' }
  /** docker-save legacy metadata (`<id>/json`, `<id>/VERSION`): not needed, silently skipped. */
  | { kind: 'legacy-metadata' }
  /** Anything else: skipped with a warning. */
  | { kind: 'unknown' };

/**
 * Route a regular file by its normalised path. Paths are judged as if the archive root could be
 * the top level or one top folder, since the root is only known once every entry has been seen.
 */
export function routeFile(path: string): Route {
  const parts = path.split('/');
  const last = parts[parts.length - 1]!;
  const depth = parts.length;
  const blobsAt = depth === 3 ? 0 : depth === 4 ? 1 : -1;
  if (blobsAt >= 0 && parts[blobsAt] === 'blobs') {
    const digest = tryParseDigest(`${parts[blobsAt + 1]}:${parts[blobsAt + 2]}`);
    return digest === undefined ? { kind: 'unknown' } : { kind: 'blob', digest };
  }
  if (depth <= 2 && Object.hasOwn(JSON_LIMIT, last))
    return { kind: 'json', limit: JSON_LIMIT[last]! };
  if (depth >= 2 && depth <= 3 && (last === 'json' || last === 'VERSION')) {
    return { kind: 'legacy-metadata' };
  }
  if (depth <= 2 || (depth === 3 && last === 'layer.tar')) return { kind: 'docker-file' };
  return { kind: 'unknown' };
}

/**
 * What an archive's entries were read into: a Staging, or (a delta's base, read for its digests
 * only) the same maps without a layout behind them.
 */
export type ArchiveFiles = Pick<Staging, 'files' | 'aliases' | 'json'>;

/** The archive as a layout: its root folder, JSON files, blobs and docker files, all verified. */
export class ArchiveContents {
  /** Archive paths of docker files that manifest.json named (see unused()). */
  private readonly used = new Set<string>();

  private constructor(
    private readonly staging: ArchiveFiles,
    /** '' or 'folder/'. */
    readonly prefix: string,
  ) {}

  /**
   * Find the root: the top level when it holds index.json or manifest.json, else the one top folder
   * that does. Throws E_CORRUPT_ARCHIVE when there is none or several.
   */
  static locate(staging: ArchiveFiles, archiveName: string): ArchiveContents {
    const isRootFile = (p: string): boolean =>
      p.endsWith(INDEX_NAME) || p.endsWith(DOCKER_MANIFEST_NAME);
    const roots = new Set<string>();
    for (const path of staging.json.keys()) {
      if (!isRootFile(path)) continue;
      const slash = path.indexOf('/');
      roots.add(slash < 0 ? '' : path.slice(0, slash + 1));
    }
    if (roots.has('')) return new ArchiveContents(staging, '');
    if (roots.size === 1) return new ArchiveContents(staging, [...roots][0]!);
    if (roots.size === 0) {
      throw new IntegrityError(
        'E_CORRUPT_ARCHIVE',
        `${archiveName} holds neither an OCI layout (index.json) nor a docker save (manifest.json)`,
        { archive: archiveName },
      );
    }
    throw new IntegrityError(
      'E_CORRUPT_ARCHIVE',
      `${archiveName} holds layouts in several top folders (${[...roots].sort().join(', ')}); expected one`,
      { archive: archiveName, folders: [...roots].sort() },
    );
  }

  /** A JSON file at the archive root, e.g. `index.json`. */
  json(name: string): Buffer | undefined {
    return this.staging.json.get(this.prefix + name);
  }

  /** Blobs under `blobs/` at the root, by digest. */
  blobs(): Map<Digest, number> {
    const out = new Map<Digest, number>();
    const base = `${this.prefix}blobs/`;
    for (const [path, f] of this.staging.files) {
      if (path.startsWith(base) && routeFile(path).kind === 'blob') out.set(f.digest, f.size);
    }
    return out;
  }

  /**
   * A file named by a docker manifest.json (relative to the root), following layer aliases.
   * Throws E_UNSAFE_ENTRY for unsafe names, E_CORRUPT_ARCHIVE when absent.
   */
  dockerFile(name: string): StagedFile {
    let path = this.prefix + normalizeEntryName(name);
    for (let hops = 0; hops < 8; hops++) {
      const file = this.staging.files.get(path);
      if (file !== undefined) {
        this.used.add(path);
        return file;
      }
      const next = this.staging.aliases.get(path);
      if (next === undefined) break;
      path = next;
    }
    if (this.staging.aliases.has(path)) {
      throw new UnsafeInputError('E_UNSAFE_ENTRY', `archive symlinks loop at ${path}`, {
        entry: path,
      });
    }
    throw new IntegrityError(
      'E_CORRUPT_ARCHIVE',
      `manifest.json names ${JSON.stringify(name)}, which the archive lacks`,
      { entry: name },
    );
  }

  /**
   * Files inside the root that the layout did not use: for OCI, anything that is not a blob under
   * blobs/; for docker, files manifest.json did not name. Ignored, reported as warnings.
   */
  unused(format: 'oci' | 'docker'): string[] {
    const out: string[] = [];
    for (const path of this.staging.files.keys()) {
      if (!path.startsWith(this.prefix)) continue;
      const isBlob = path.startsWith(`${this.prefix}blobs/`) && routeFile(path).kind === 'blob';
      if (format === 'oci' ? !isBlob : !this.used.has(path) && !isBlob) out.push(path);
    }
    return out.sort();
  }

  /** Paths outside the root (ignored, reported as warnings). */
  outside(): string[] {
    const all = [...this.staging.files.keys(), ...this.staging.json.keys()];
    return all.filter((p) => !p.startsWith(this.prefix)).sort();
  }
}
