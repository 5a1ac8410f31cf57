// Delta archives (`export --since BASE`): an OCI archive that leaves out the blobs BASE already
// holds, with a marker file naming what it left out and which base it assumed, so `import` can
// check the target holds every one of them before it commits anything. See spec-notes/archives.md.
import { statSync } from 'node:fs';
import {
  digestOf,
  newHash,
  parseDigest,
  shortDigest,
  tryParseDigest,
  type Digest,
} from '../digest.js';
import {
  IntegrityError,
  NotFoundError,
  UnsafeInputError,
  UsageError,
  wrapFsError,
} from '../errors.js';
import { walk, type ManifestSource } from '../layout/graph.js';
import { Layout, type LayoutOptions } from '../layout/layout.js';
import { entryName } from '../layout/names.js';
import type { Descriptor } from '../schema/descriptor.js';
import { parseJson } from '../schema/manifest.js';
import { MAX_INDEX_BYTES } from '../store/index-store.js';
import { DEFAULT_EXPANSION_LIMITS } from './compression.js';
import {
  ArchiveContents,
  DELTA_NAME,
  DOCKER_MANIFEST_NAME,
  INDEX_NAME,
  routeFile,
  type ArchiveFiles,
} from './contents.js';
import type { StagedFile } from './staging.js';
import { openArchiveFile, readArchive, type TarEntry } from './tar-source.js';

export { DELTA_NAME };
export const DELTA_MEDIA_TYPE = 'application/vnd.ocilayout.delta.v1+json';

/** What a delta archive says about itself (the `ocilayout-delta.json` file beside index.json). */
export interface DeltaMarker {
  mediaType: typeof DELTA_MEDIA_TYPE;
  base: {
    /** A layout directory or an archive file. */
    kind: 'layout' | 'archive';
    /** The base's file name (no directories: the archive must not carry machine paths). */
    name: string;
    /** sha256 of the base's index.json bytes (a docker-save archive's manifest.json): its identity. */
    digest: Digest;
  };
  /** Every blob the archive's index.json reaches that it does not carry, sorted by digest. */
  omitted: { digest: Digest; size: number }[];
}

/** The content a base holds, by digest, with sizes. */
export interface BaseContent {
  kind: 'layout' | 'archive';
  name: string;
  digest: Digest;
  blobs: Map<Digest, number>;
}

/**
 * The blobs `base` (a layout directory or an archive file) holds. Layout: the blobs its index.json
 * reaches that are present, by stat (size) only. Archive: read through the one tar reader, headers
 * only for `blobs/<alg>/<hex>` entries (bodies are skipped, never held), docker-save files hashed
 * as they stream (import stores them under that digest), plus what a delta base itself left out.
 * Throws E_NOT_FOUND when `base` does not exist, and what opening or reading it throws.
 */
export async function readBaseContent(
  base: string,
  options: LayoutOptions = {},
): Promise<BaseContent> {
  let isDir: boolean;
  try {
    isDir = statSync(base).isDirectory();
  } catch (err) {
    throw wrapFsError(err, `open --since base ${base}`, { path: base });
  }
  return isDir ? layoutBase(base, options) : archiveBase(base);
}

function baseName(path: string): string {
  return (
    path
      .replace(/[/\\]+$/, '')
      .split(/[/\\]/)
      .pop() ?? path
  );
}

function layoutBase(dir: string, options: LayoutOptions): BaseContent {
  const layout = Layout.open(dir, options);
  const snapshot = layout.index.read();
  // What the index reaches, not every file in blobs/: an import of this layout's export would bring
  // only that, and strays are not content anyone can rely on. Problems (an unreadable manifest) are
  // collected, not thrown: the delta then carries what the walk could not vouch for.
  const { nodes } = walk(layout, snapshot.index.manifests, { collect: true });
  const blobs = new Map<Digest, number>();
  for (const [digest, desc] of nodes) {
    const size = layout.blobs.stat(digest)?.size;
    if (size !== undefined && size === desc.size) blobs.set(digest, size);
  }
  return { kind: 'layout', name: baseName(dir), digest: digestOf(snapshot.text), blobs };
}

/** The JSON files of a base archive held in memory together, as import's staging allows. */
const JSON_BUDGET = MAX_INDEX_BYTES + 64 * 1024 * 1024;

async function archiveBase(path: string): Promise<BaseContent> {
  const files: ArchiveFiles = { files: new Map(), aliases: new Map(), json: new Map() };
  let jsonBytes = 0;
  await readArchive(
    openArchiveFile(path),
    { limits: DEFAULT_EXPANSION_LIMITS },
    async (verdict, body) => {
      if (verdict.kind === 'directory') return;
      if (verdict.kind === 'alias') {
        files.aliases.set(verdict.path, verdict.target);
        return;
      }
      const route = routeFile(verdict.path);
      switch (route.kind) {
        case 'json':
          // Over its own limit: skipped (the base then lacks that file, and says so when located).
          if (verdict.size > route.limit) return;
          jsonBytes += verdict.size;
          if (jsonBytes > JSON_BUDGET) {
            throw new UnsafeInputError(
              'E_TOO_LARGE',
              `base archive ${path}: its JSON files take more than ${JSON_BUDGET} bytes`,
              { archive: path, limit: JSON_BUDGET },
            );
          }
          files.json.set(verdict.path, await readAll(body));
          return;
        case 'blob':
          // The header is enough: import verifies a blob against its name, and a delta import
          // checks by digest and size that the target holds what was left out.
          files.files.set(verdict.path, {
            digest: route.digest,
            size: verdict.size,
            compression: 'none',
          });
          return;
        case 'docker-file':
          files.files.set(verdict.path, await hashEntry(body));
          return;
        case 'legacy-metadata':
        case 'unknown':
          return;
      }
    },
  );
  const contents = ArchiveContents.locate(files, path);
  const index = contents.json(INDEX_NAME);
  const blobs = new Map<Digest, number>();
  let identity: Buffer;
  if (index !== undefined) {
    identity = index;
    for (const [d, size] of contents.blobs()) blobs.set(d, size);
    const marker = contents.json(DELTA_NAME);
    // A delta's target also holds what the delta left out: a delta of a delta can leave it out too.
    if (marker !== undefined) {
      for (const o of parseDeltaMarker(marker, path).omitted) blobs.set(o.digest, o.size);
    }
  } else {
    // docker save: its config and layer files are stored under the digest of their bytes.
    identity = contents.json(DOCKER_MANIFEST_NAME)!;
    for (const [p, f] of files.files)
      if (p.startsWith(contents.prefix)) blobs.set(f.digest, f.size);
  }
  return { kind: 'archive', name: baseName(path), digest: digestOf(identity), blobs };
}

async function readAll(body: TarEntry): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of body) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks);
}

async function hashEntry(body: TarEntry): Promise<StagedFile> {
  const hash = newHash('sha256');
  let size = 0;
  for await (const chunk of body) {
    hash.update(chunk as Buffer);
    size += (chunk as Buffer).byteLength;
  }
  return { digest: parseDigest(`sha256:${hash.digest('hex')}`), size, compression: 'none' };
}

/**
 * Leave out of `blobs` (digest → size, to be written) those `base` holds with the same size,
 * except `keep` (manifests and indexes: small, and with them the delta's whole graph can be walked
 * from the archive alone, so an import names exactly which image needs what is missing).
 * Returns the marker to write, and mutates nothing.
 */
export function planDelta(
  blobs: ReadonlyMap<Digest, number>,
  keep: ReadonlySet<Digest>,
  base: BaseContent,
): { carried: Map<Digest, number>; marker: DeltaMarker } {
  const carried = new Map<Digest, number>();
  const omitted: { digest: Digest; size: number }[] = [];
  for (const [digest, size] of blobs) {
    if (!keep.has(digest) && base.blobs.get(digest) === size) omitted.push({ digest, size });
    else carried.set(digest, size);
  }
  omitted.sort((a, b) => (a.digest < b.digest ? -1 : a.digest > b.digest ? 1 : 0));
  return {
    carried,
    marker: {
      mediaType: DELTA_MEDIA_TYPE,
      base: { kind: base.kind, name: base.name, digest: base.digest },
      omitted,
    },
  };
}

export function serializeDeltaMarker(marker: DeltaMarker): Buffer {
  return Buffer.from(`${JSON.stringify(marker)}\n`, 'utf8');
}

/** Parse a delta marker; anything else is E_CORRUPT_ARCHIVE (we wrote it, so no leniency). */
export function parseDeltaMarker(bytes: Buffer, archiveName: string): DeltaMarker {
  const bad = (why: string): IntegrityError =>
    new IntegrityError('E_CORRUPT_ARCHIVE', `${archiveName}: ${DELTA_NAME} ${why}`, {
      archive: archiveName,
    });
  const v = parseJson(bytes.toString('utf8'), `archive ${DELTA_NAME}`) as Partial<DeltaMarker>;
  if (typeof v !== 'object' || v === null || v.mediaType !== DELTA_MEDIA_TYPE) {
    throw bad(`is not a ${DELTA_MEDIA_TYPE} document`);
  }
  const base = v.base;
  if (
    typeof base !== 'object' ||
    base === null ||
    (base.kind !== 'layout' && base.kind !== 'archive') ||
    typeof base.name !== 'string' ||
    tryParseDigest(base.digest) === undefined
  ) {
    throw bad('has no valid base');
  }
  if (!Array.isArray(v.omitted)) throw bad('has no omitted list');
  const omitted = v.omitted.map((o: unknown) => {
    const e = o as { digest?: unknown; size?: unknown };
    const digest = tryParseDigest(e?.digest);
    if (digest === undefined || !Number.isSafeInteger(e.size) || (e.size as number) < 0) {
      throw bad(`lists an invalid blob ${JSON.stringify(o)}`);
    }
    return { digest, size: e.size as number };
  });
  return {
    mediaType: DELTA_MEDIA_TYPE,
    base: { ...base, digest: parseDigest(base.digest) },
    omitted,
  };
}

/** Listed in full up to this many; the error's details carry the count. */
const MAX_LISTED = 10;

/**
 * The error for a delta whose left-out blobs the target lacks: each missing blob (at most
 * MAX_LISTED) with the images of the archive that need it, found by walking each entry through
 * `source` (the staged archive, which carries every manifest).
 */
export function missingBaseError(
  archiveName: string,
  layoutRoot: string,
  marker: DeltaMarker,
  missing: ReadonlyMap<Digest, number>,
  entries: readonly Descriptor[],
  source: ManifestSource,
): NotFoundError {
  const needers = new Map<Digest, string[]>();
  for (const entry of entries) {
    const name = entryName(entry) ?? entry.digest;
    for (const digest of walk(source, [entry], { collect: true }).nodes.keys()) {
      if (!missing.has(digest)) continue;
      const list = needers.get(digest) ?? [];
      if (!list.includes(name)) list.push(name);
      needers.set(digest, list);
    }
  }
  const listed = [...missing].slice(0, MAX_LISTED).map(([digest, size]) => {
    const who = needers.get(digest) ?? [];
    return `${digest} (${size} bytes${who.length > 0 ? `, needed by ${who.join(', ')}` : ''})`;
  });
  const more = missing.size > MAX_LISTED ? `, and ${missing.size - MAX_LISTED} more` : '';
  const base = marker.base;
  return new NotFoundError(
    'E_NOT_FOUND',
    `${archiveName} is a delta archive: it leaves out blobs of its base ${base.kind} ${base.name} ` +
      `(index ${shortDigest(base.digest)}), and ${layoutRoot} lacks ${missing.size} of them: ` +
      `${listed.join('; ')}${more}`,
    {
      archive: archiveName,
      layout: layoutRoot,
      base,
      missingCount: missing.size,
      missing: [...missing.keys()].slice(0, MAX_LISTED),
    },
    {
      hint: `import the base (${base.name}) into ${layoutRoot} first, or export a full archive (without --since)`,
    },
  );
}

/** The refusal for a delta read where no base can be assumed (copy's archive source). */
export function deltaNotSupported(archiveName: string, marker: DeltaMarker): UsageError {
  return new UsageError(
    'E_USAGE',
    `${archiveName} is a delta archive (since ${marker.base.kind} ${marker.base.name}): it lacks ${marker.omitted.length} blob(s) its base holds`,
    { archive: archiveName, base: marker.base },
    {
      hint: `import it into a layout that holds the base with \`ocilayout import ${archiveName} LAYOUT\``,
    },
  );
}
