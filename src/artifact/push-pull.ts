// push: files → an OCI 1.1 artifact manifest in a layout (streamed into the blob store, tagged).
// pull: an artifact's or image's titled layers → files in a directory (verified, atomic, contained).
// Checking and storing the files and the title rule are artifact-files.ts's; building the manifest
// JSON is artifact.ts's; safe output files are output-file.ts's.
import { createReadStream, statSync } from 'node:fs';
import { join, resolve as resolvePath } from 'node:path';
import {
  assertSafeTitle,
  checkArtifactFile,
  checkArtifactFiles,
  countBytes,
  storeArtifactFile,
  type ArtifactFile,
  type CheckedFile,
} from './files.js';
import { buildArtifactManifest, DEFAULT_FILE_MEDIA_TYPE, fileLayer } from './manifest.js';
import { digestOf, newHash, parseDigest, type Digest } from '../digest.js';
import {
  ConflictError,
  NotFoundError,
  UnsafeInputError,
  errnoCode,
  wrapFsError,
} from '../errors.js';
import type { Layout, Target } from '../layout/layout.js';
import { Annotation, EMPTY_JSON, MediaType, assertMediaType } from '../media-types.js';
import { assertReplaceable, stageFile, type StagedFile } from '../output/file.js';
import type { Annotations, Descriptor } from '../schema/descriptor.js';
import type { ImageManifest } from '../schema/manifest.js';
import { assertWritableName } from '../layout/names.js';
import { clobberRefused, findExact, type TagPolicy } from '../layout/tags.js';
import { fsyncDir } from '../store/durable.js';
import { makeDirs } from '../store/make-dirs.js';
import { resolveImageManifest } from '../layout/platform.js';

/** Media type of a `--config` file given without one (oras uses the same). */
export const DEFAULT_CONFIG_MEDIA_TYPE = 'application/vnd.unknown.config.v1+json';

/** A file to push: its path and layer media type (default application/vnd.oci.image.layer.v1.tar). */
export type PushFile = ArtifactFile;

export interface PushOptions extends TagPolicy {
  /** Tag for the manifest; without one it is listed untagged. */
  tag?: string | undefined;
  artifactType?: string | undefined;
  /** Manifest annotations. */
  annotations?: Annotations | undefined;
  /** A config blob; without one the empty JSON config is used (OCI 1.1 artifact guidance). */
  config?: PushFile | undefined;
  /** Bytes of the files stored so far, and the total (their sizes when checked). */
  onProgress?: ((done: number, total: number) => void) | undefined;
}

export interface PushResult {
  descriptor: Descriptor;
  manifest: ImageManifest;
}

/**
 * Store each file as a layer (streamed, never read whole), titled with its base name, then an
 * artifact manifest over them, tagged. Inputs and index.json are checked before any blob is written,
 * so bad input leaves the layout unchanged. Deterministic: the same files and options give the same
 * manifest digest (no creation timestamp is added).
 * Throws E_INVALID_TAG, E_USAGE (bad media type, duplicate title, not a regular file), E_NOT_FOUND,
 * E_INVALID_JSON/E_SCHEMA (index.json), E_SIZE_MISMATCH (a file changed while being read).
 */
export function pushFiles(
  layout: Layout,
  files: readonly PushFile[],
  options: PushOptions = {},
): Promise<PushResult> {
  return layout.operation(() => pushFilesNow(layout, files, options));
}

async function pushFilesNow(
  layout: Layout,
  files: readonly PushFile[],
  options: PushOptions,
): Promise<PushResult> {
  if (options.tag !== undefined) assertWritableName(options.tag);
  if (options.artifactType !== undefined) assertMediaType(options.artifactType, '--artifact-type');
  const inputs = checkArtifactFiles(files, DEFAULT_FILE_MEDIA_TYPE);
  const config =
    options.config === undefined
      ? undefined
      : checkArtifactFile(options.config, DEFAULT_CONFIG_MEDIA_TYPE);
  const index = layout.readIndex(); // a malformed index.json fails here, before any blob is written
  // --no-clobber onto an existing tag: hash the files first (no blob written) and refuse before
  // storing anything unless they make the very manifest the tag names. The commit checks again.
  const current = options.tag === undefined ? undefined : findExact(index, options.tag);
  if (options.noClobber === true && current !== undefined) {
    const { bytes } = await artifactManifest(inputs, config, options, hashFile);
    const wanted = { digest: digestOf(bytes) };
    if (wanted.digest !== current.digest) throw clobberRefused(options.tag!, current, wanted);
  }
  const total = [...inputs, ...(config === undefined ? [] : [config])].reduce(
    (n, f) => n + f.size,
    0,
  );
  let done = 0;
  const onBytes =
    options.onProgress === undefined
      ? undefined
      : (n: number): void => options.onProgress!((done += n), total);
  const { manifest, bytes } = await artifactManifest(inputs, config, options, (file) =>
    storeArtifactFile(layout, file, onBytes),
  );
  // The empty descriptor inlines `{}` as data, but peers (umoci gc, skopeo) expect the blob itself.
  if (config === undefined || inputs.length === 0) {
    layout.blobs.putBytes(Buffer.from(EMPTY_JSON), {}, { deferDirSync: true });
  }
  const descriptor = await layout.putManifest(bytes, {
    tag: options.tag,
    mediaType: MediaType.ImageManifest,
    noClobber: options.noClobber,
    onTagMoved: options.onTagMoved,
  });
  return { descriptor, manifest };
}

/** The artifact manifest over `inputs`, each file placed (stored, or only hashed) by `place`. */
async function artifactManifest(
  inputs: readonly CheckedFile[],
  config: CheckedFile | undefined,
  options: PushOptions,
  place: (file: CheckedFile) => Promise<{ digest: string; size: number }>,
): Promise<{ manifest: ImageManifest; bytes: Buffer }> {
  const layers: Descriptor[] = [];
  for (const input of inputs) {
    layers.push(fileLayer(await place(input), input.mediaType, input.title));
  }
  let configDesc: Descriptor | undefined;
  if (config !== undefined) {
    const placed = await place(config);
    configDesc = { mediaType: config.mediaType, digest: placed.digest, size: placed.size };
  }
  return buildArtifactManifest({
    artifactType: options.artifactType,
    layers,
    config: configDesc,
    annotations: options.annotations,
  });
}

/** A file's digest and size, streamed (never read whole), nothing stored. */
async function hashFile(file: CheckedFile): Promise<{ digest: string; size: number }> {
  const hash = newHash('sha256');
  let size = 0;
  for await (const chunk of createReadStream(file.path) as AsyncIterable<Buffer>) {
    hash.update(chunk);
    size += chunk.byteLength;
  }
  return { digest: `sha256:${hash.digest('hex')}`, size };
}

// ---------------------------------------------------------------------------------------------
// pull

export interface PullOptions {
  /** For an index: pick the child whose platform matches `os/arch[/variant]`. */
  platform?: string | undefined;
  /** Bytes of the titled layers written so far, and their total. */
  onProgress?: ((done: number, total: number) => void) | undefined;
}

export interface PulledFile {
  title: string;
  /** Absolute path written. */
  path: string;
  digest: Digest;
  size: number;
  mediaType: string;
}

export interface PullResult {
  /** The manifest whose layers were written (a platform child when an index was resolved). */
  manifest: Descriptor;
  files: PulledFile[];
  /** Layers without a title annotation (image layers, the empty layer): not written. */
  skipped: Descriptor[];
}

/**
 * Write every layer of `target` that has an `org.opencontainers.image.title` annotation to
 * `dir/<title>`. All titles are checked before anything is written; every file is streamed into a
 * temp file in `dir` while its size and digest are verified, and only when all are verified are they
 * renamed into place. Existing regular files are replaced; symlinks, directories and special files
 * are refused, never followed.
 * Throws E_UNSAFE_ENTRY (unsafe or duplicate title, symlink at a destination), E_INVALID_REFERENCE
 * (an index without a matching --platform), E_CONFLICT (`dir` is not a directory), E_NOT_FOUND,
 * E_DIGEST_MISMATCH, E_SIZE_MISMATCH.
 */
export async function pullFiles(
  layout: Layout,
  target: Target,
  dir: string,
  options: PullOptions = {},
): Promise<PullResult> {
  const { descriptor, manifest } = resolveImageManifest(layout, target, options.platform);
  const plan: { layer: Descriptor; title: string; digest: Digest }[] = [];
  const skipped: Descriptor[] = [];
  const titles = new Set<string>();
  for (const layer of manifest.layers) {
    const title = layer.annotations?.[Annotation.Title];
    if (title === undefined) {
      skipped.push(layer);
      continue;
    }
    assertSafeTitle(title);
    if (titles.has(title)) {
      throw new UnsafeInputError(
        'E_UNSAFE_ENTRY',
        `manifest ${descriptor.digest} has two layers titled ${JSON.stringify(title)}`,
        { title, digest: descriptor.digest },
      );
    }
    titles.add(title);
    const digest = parseDigest(layer.digest);
    if (!layout.blobs.has(digest)) {
      throw new NotFoundError(
        'E_NOT_FOUND',
        `layer ${JSON.stringify(title)} (${digest}) is not in ${layout.root}`,
        { digest, title },
        { hint: 'the layout is sparse or damaged; run `ocilayout fsck` on it' },
      );
    }
    plan.push({ layer, title, digest });
  }

  const outDir = resolvePath(dir);
  try {
    makeDirs(outDir);
  } catch (err) {
    if (errnoCode(err) !== 'EEXIST') throw wrapFsError(err, `create ${dir}`, { path: dir });
  }
  if (!statSync(outDir, { throwIfNoEntry: false })?.isDirectory()) {
    throw new ConflictError(
      'E_CONFLICT',
      `output ${dir} exists and is not a directory`,
      { path: dir },
      { hint: 'pull -o takes a directory; choose a new or existing directory' },
    );
  }
  for (const p of plan) assertReplaceable(join(outDir, p.title));

  const staged: StagedFile[] = [];
  const total = plan.reduce((n, p) => n + p.layer.size, 0);
  let done = 0;
  const onBytes =
    options.onProgress === undefined
      ? undefined
      : (n: number): void => options.onProgress!((done += n), total);
  try {
    for (const p of plan) {
      const source = layout.blobs.open(p.digest, { verify: true, size: p.layer.size });
      staged.push(await stageFile(join(outDir, p.title), countBytes(source, onBytes)));
    }
    for (const s of staged) s.commit();
  } finally {
    for (const s of staged) s.discard(); // no-op for committed files
  }
  fsyncDir(outDir);
  return {
    manifest: descriptor,
    files: plan.map((p) => ({
      title: p.title,
      path: join(outDir, p.title),
      digest: p.digest,
      size: p.layer.size,
      mediaType: p.layer.mediaType,
    })),
    skipped,
  };
}
