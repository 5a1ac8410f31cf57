// Reading an archive, the one way src/ does it (`import`, and copy's archive source): a tar (plain,
// gzip or zstd; file or stream) read front to back into a private staging layout, every entry
// judged from its header, every blob verified, a docker archive converted, the closure checked.
// Nothing outside the staging layout is written.
import type { Readable } from 'node:stream';
import type { Digest } from '../digest.js';
import { IntegrityError } from '../errors.js';
import type { Descriptor } from '../schema/descriptor.js';
import {
  IMAGE_LAYOUT_VERSION,
  IndexFileSchema,
  OciLayoutSchema,
  type IndexFile,
} from '../schema/layout-files.js';
import { parseJson, schemaError } from '../schema/manifest.js';
import { isHaulerIndex } from '../referrers/hauler-kind.js';
import { absentPlatformManifests, contentClosure, type Closure } from './closure.js';
import type { ExpansionLimits } from './compression.js';
import { ArchiveContents, DELTA_NAME, INDEX_NAME, OCI_LAYOUT_NAME, routeFile } from './contents.js';
import { deltaNotSupported, parseDeltaMarker, type DeltaMarker } from './delta.js';
import { convertDockerArchive } from './docker-import.js';
import type { Staging } from './staging.js';
import { readArchive, type ArchiveInput, type ReadArchiveSummary } from './tar-source.js';

/** An archive read into a staging layout: every entry judged, every blob verified, the closure checked. */
export interface StagedArchive {
  contents: ArchiveContents;
  /** The archive's index.json (a docker archive's converted to one). */
  archiveIndex: IndexFile;
  closure: Closure;
  summary: ReadArchiveSummary;
  isOci: boolean;
  /**
   * A delta archive (`export --since`): its marker, and the blobs of the closure it does not carry
   * (the target must hold them; they are in `closure.blobs` but not staged).
   */
  delta?: { marker: DeltaMarker; omitted: Map<Digest, number> } | undefined;
}

/**
 * Read `input` into `staging` (the one reader of archives: `import`, and copy's archive source):
 * every entry routed from its header, every blob verified, a docker archive converted, the closure
 * checked. Nothing outside `staging` is written. Throws E_UNSAFE_ENTRY, E_TOO_LARGE,
 * E_CORRUPT_ARCHIVE, E_DIGEST_MISMATCH, E_SIZE_MISMATCH, E_INVALID_JSON, E_SCHEMA.
 */
export async function stageArchive(
  input: ArchiveInput,
  staging: Staging,
  options: {
    limits: ExpansionLimits;
    onProgress?: ((bytesRead: number, total: number | undefined) => void) | undefined;
    warn: (warning: string) => void;
    /**
     * Accept a delta archive (import, which checks the target holds what it leaves out). Without
     * it a delta is E_USAGE: copy's archive source has no base to take the rest from.
     */
    acceptDelta?: boolean | undefined;
  },
): Promise<StagedArchive> {
  const stage = staging;
  const warn = options.warn;
  const summary = await readArchive(
    input,
    { limits: options.limits, freeBytes: () => stage.freeBytes(), onProgress: options.onProgress },
    async (verdict, body) => {
      if (verdict.kind === 'directory') return;
      if (verdict.kind === 'alias') return stage.addAlias(verdict.path, verdict.target);
      const route = routeFile(verdict.path);
      switch (route.kind) {
        case 'json':
          return stage.bufferJson(verdict.path, body, verdict.size, route.limit);
        case 'blob':
          await stage.stageFile(verdict.path, body, verdict.size, route.digest);
          return;
        case 'docker-file':
          await stage.stageFile(verdict.path, body, verdict.size);
          return;
        case 'legacy-metadata':
          return;
        case 'unknown':
          warn(`ignored archive entry ${verdict.path}`);
          return;
      }
    },
  );
  if (summary.trailing !== undefined) {
    warn(
      `ignored ${summary.trailing.bytes} bytes after the end-of-archive marker at offset ${summary.trailing.offset}, as other tar readers do`,
    );
  }
  const contents = ArchiveContents.locate(stage, input.name);
  for (const p of contents.outside())
    warn(`ignored ${p}: outside the layout folder ${contents.prefix}`);
  const isOci = contents.json(INDEX_NAME) !== undefined;
  const archiveIndex: IndexFile = isOci
    ? readOciIndex(contents)
    : { schemaVersion: 2, manifests: convertDockerArchive(contents, stage) };
  for (const p of contents.unused(isOci ? 'oci' : 'docker')) warn(`ignored archive entry ${p}`);
  const markerBytes = isOci ? contents.json(DELTA_NAME) : undefined;
  const marker = markerBytes === undefined ? undefined : parseDeltaMarker(markerBytes, input.name);
  if (marker !== undefined && options.acceptDelta !== true)
    throw deltaNotSupported(input.name, marker);
  const omitted = new Map(marker?.omitted.map((o) => [o.digest, o.size]));
  const closure = verifyClosure(
    stage,
    contents,
    isOci,
    archiveIndex.manifests,
    input.name,
    omitted,
  );
  for (const d of closure.external)
    warn(`layer ${d.digest} is external (urls); not carried by the archive`);
  const carried = contents.blobs();
  const delta =
    marker === undefined
      ? undefined
      : {
          marker,
          omitted: new Map([...closure.blobs].filter(([d]) => !carried.has(d))),
        };
  return {
    contents,
    archiveIndex,
    closure,
    summary,
    isOci,
    ...(delta === undefined ? {} : { delta }),
  };
}

/** A stream (stdin) as an archive to read. */
export function archiveFromStream(stream: Readable, name = 'stdin'): ArchiveInput {
  return { stream, name };
}

function readOciIndex(contents: ArchiveContents): IndexFile {
  const header = contents.json(OCI_LAYOUT_NAME);
  if (header === undefined) {
    // `hauler store save` tars a hauler 2.x store, which has no oci-layout (and a docker-save
    // manifest.json beside index.json, which the OCI reading ignores): its index.json says what it is.
    const index = parseIndex(contents);
    if (isHaulerIndex(index)) return index;
    throw new IntegrityError(
      'E_CORRUPT_ARCHIVE',
      'the archive has index.json but no oci-layout file',
      {},
    );
  }
  const h = OciLayoutSchema.safeParse(parseJson(header.toString('utf8'), 'archive oci-layout'));
  if (!h.success) throw schemaError('archive oci-layout', h.error);
  if (h.data.imageLayoutVersion !== IMAGE_LAYOUT_VERSION) {
    throw new IntegrityError(
      'E_CORRUPT_ARCHIVE',
      `the archive's oci-layout says imageLayoutVersion ${JSON.stringify(h.data.imageLayoutVersion)}; only ${IMAGE_LAYOUT_VERSION} is defined`,
      { version: h.data.imageLayoutVersion },
    );
  }
  return parseIndex(contents);
}

function parseIndex(contents: ArchiveContents): IndexFile {
  const text = contents.json(INDEX_NAME)!.toString('utf8');
  const r = IndexFileSchema.safeParse(parseJson(text, 'archive index.json'));
  if (!r.success) throw schemaError('archive index.json', r.error);
  return r.data;
}

function verifyClosure(
  stage: Staging,
  contents: ArchiveContents,
  isOci: boolean,
  entries: Descriptor[],
  archiveName: string,
  /** A delta's left-out blobs: present as far as the archive goes (import checks the target). */
  omitted: ReadonlyMap<Digest, number>,
): Closure {
  // OCI: only blobs under the layout's blobs/ count; docker: everything staged (plus our manifests).
  const carried = isOci ? contents.blobs() : undefined;
  const sizeOf = (d: Digest): number | undefined =>
    carried !== undefined ? (carried.get(d) ?? omitted.get(d)) : stage.layout.blobs.stat(d)?.size;
  const absent = absentPlatformManifests(stage.layout, entries, sizeOf);
  if (absent.length > 0) {
    // Said before the generic "lacks blob": the archive holds only some platforms of an image,
    // and the user needs to know which, and how to export them all.
    const list = absent.map((a) => `${a.platform} ${a.digest}`).join(', ');
    throw new IntegrityError(
      'E_CORRUPT_ARCHIVE',
      `${archiveName} lists ${absent.length} platform manifest(s) it does not carry: ${list}`,
      { archive: archiveName, absent },
      {
        hint: 'the archive holds only some platforms of a multi-platform image (`ctr images export` writes only the host platform by default); export it again with `ctr images export --all-platforms`, or from a layout that has them all',
      },
    );
  }
  return contentClosure(stage.layout, entries, {
    sizeOf,
    missing: (desc) =>
      new IntegrityError(
        'E_CORRUPT_ARCHIVE',
        `${archiveName} lacks blob ${desc.digest} (${desc.mediaType}), which its index references`,
        { archive: archiveName, digest: desc.digest, mediaType: desc.mediaType },
        { hint: 'the archive is incomplete; export it again from the source layout' },
      ),
  });
}
