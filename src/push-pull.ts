// push: files → an OCI 1.1 artifact manifest in a layout (streamed into the blob store, tagged).
// pull: an artifact's or image's titled layers → files in a directory (verified, atomic, contained).
// Building the manifest JSON is artifact.ts's job; safe output files are output-file.ts's.
// One file (~320 lines) because both halves share the title rule: what push titles, pull accepts.
import { createReadStream, mkdirSync, statSync, type Stats } from 'node:fs';
import { basename, join, resolve as resolvePath } from 'node:path';
import { buildArtifactManifest, DEFAULT_FILE_MEDIA_TYPE, fileLayer } from './artifact.js';
import { parseDigest, type Digest } from './digest.js';
import {
  ConflictError,
  NotFoundError,
  UnsafeInputError,
  UsageError,
  errnoCode,
  wrapFsError,
} from './errors.js';
import type { Layout, Target } from './layout.js';
import { Annotation, EMPTY_JSON, MediaType } from './media-types.js';
import { assertReplaceable, stageFile, type StagedFile } from './output-file.js';
import type { Annotations, Descriptor } from './schema/descriptor.js';
import type { ImageManifest } from './schema/manifest.js';
import { assertValidTag } from './refs.js';
import { fsyncDir } from './store/durable.js';
import { resolveImageManifest } from './platform.js';

/** Read and hash files in chunks this big (perf-baseline.md: the 64 KiB default halves throughput). */
const CHUNK = 1024 * 1024;

/** Media type of a `--config` file given without one (oras uses the same). */
export const DEFAULT_CONFIG_MEDIA_TYPE = 'application/vnd.unknown.config.v1+json';

// RFC 6838 restricted-name for type and subtype; parameters (`;charset=…`) are not accepted.
const MEDIA_TYPE =
  /^[A-Za-z0-9][A-Za-z0-9!#$&^_.+-]{0,126}\/[A-Za-z0-9][A-Za-z0-9!#$&^_.+-]{0,126}$/;

/** True when `s` is `type/subtype` in RFC 6838 syntax (no parameters). */
export function isValidMediaType(s: string): boolean {
  return MEDIA_TYPE.test(s);
}

/** Throws E_USAGE unless `s` is a valid media type; `what` names the flag or argument. */
export function assertMediaType(s: string, what: string): string {
  if (!isValidMediaType(s)) {
    throw new UsageError(
      'E_USAGE',
      `${what}: ${JSON.stringify(s)} is not a media type`,
      { mediaType: s },
      { hint: 'a media type looks like type/subtype, e.g. application/vnd.example.sbom+json' },
    );
  }
  return s;
}

export interface PushFile {
  path: string;
  /** Layer media type; default application/vnd.oci.image.layer.v1.tar (as oras). */
  mediaType?: string | undefined;
}

export interface PushOptions {
  /** Tag for the manifest; without one it is listed untagged. */
  tag?: string | undefined;
  artifactType?: string | undefined;
  /** Manifest annotations. */
  annotations?: Annotations | undefined;
  /** A config blob; without one the empty JSON config is used (OCI 1.1 artifact guidance). */
  config?: PushFile | undefined;
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
export async function pushFiles(
  layout: Layout,
  files: readonly PushFile[],
  options: PushOptions = {},
): Promise<PushResult> {
  if (options.tag !== undefined) assertValidTag(options.tag);
  if (options.artifactType !== undefined) assertMediaType(options.artifactType, '--artifact-type');
  const inputs = files.map((f) => checkInput(f, DEFAULT_FILE_MEDIA_TYPE));
  assertUniqueTitles(inputs.map((i) => i.title));
  const config =
    options.config === undefined
      ? undefined
      : checkInput(options.config, DEFAULT_CONFIG_MEDIA_TYPE);
  layout.readIndex(); // a malformed index.json fails here, before any blob is written

  const layers: Descriptor[] = [];
  for (const input of inputs) {
    const stored = await putFile(layout, input);
    layers.push(fileLayer(stored, input.mediaType, input.title));
  }
  let configDesc: Descriptor | undefined;
  if (config !== undefined) {
    const stored = await putFile(layout, config);
    configDesc = { mediaType: config.mediaType, digest: stored.digest, size: stored.size };
  }
  // The empty descriptor inlines `{}` as data, but peers (umoci gc, skopeo) expect the blob itself.
  if (configDesc === undefined || layers.length === 0) {
    layout.blobs.putBytes(Buffer.from(EMPTY_JSON), {}, { deferDirSync: true });
  }
  const { manifest, bytes } = buildArtifactManifest({
    artifactType: options.artifactType,
    layers,
    config: configDesc,
    annotations: options.annotations,
  });
  const descriptor = await layout.putManifest(bytes, {
    tag: options.tag,
    mediaType: MediaType.ImageManifest,
  });
  return { descriptor, manifest };
}

interface CheckedInput {
  path: string;
  title: string;
  mediaType: string;
  stat: Stats;
}

function checkInput(file: PushFile, defaultMediaType: string): CheckedInput {
  const mediaType =
    file.mediaType === undefined ? defaultMediaType : assertMediaType(file.mediaType, file.path);
  let stat: Stats;
  try {
    stat = statSync(file.path);
  } catch (err) {
    if (errnoCode(err) === 'ENOENT') {
      throw new NotFoundError('E_NOT_FOUND', `file ${file.path} not found`, { path: file.path });
    }
    throw wrapFsError(err, `stat ${file.path}`, { path: file.path });
  }
  if (!stat.isFile()) {
    throw new UsageError(
      'E_USAGE',
      `${file.path} is not a regular file`,
      { path: file.path },
      {
        hint: 'push regular files; archive a directory first (e.g. tar -czf dir.tgz dir)',
      },
    );
  }
  const title = basename(file.path);
  assertSafeTitle(title);
  return { path: file.path, title, mediaType, stat };
}

function assertUniqueTitles(titles: string[]): void {
  const seen = new Set<string>();
  for (const t of titles) {
    if (seen.has(t)) {
      throw new UsageError(
        'E_USAGE',
        `two files are named ${JSON.stringify(t)}; pull would write both to the same path`,
        { title: t },
        { hint: 'rename or copy one of them first' },
      );
    }
    seen.add(t);
  }
}

async function putFile(
  layout: Layout,
  input: CheckedInput,
): Promise<{ digest: Digest; size: number }> {
  const source = createReadStream(input.path, { highWaterMark: CHUNK });
  // The expected size catches a file that grows or shrinks while we read it.
  return layout.blobs.put(source, { size: input.stat.size }, { deferDirSync: true });
}

// ---------------------------------------------------------------------------------------------
// pull

export interface PullOptions {
  /** For an index: pick the child whose platform matches `os/arch[/variant]`. */
  platform?: string | undefined;
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
    mkdirSync(outDir, { recursive: true });
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
  try {
    for (const p of plan) {
      const source = layout.blobs.open(p.digest, { verify: true, size: p.layer.size });
      staged.push(await stageFile(join(outDir, p.title), source));
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

/**
 * A layer title is untrusted input that becomes a file name. We accept one plain path component:
 * not empty, not `.` or `..`, no `/` or `\`, no control characters, at most 255 bytes.
 * Throws E_UNSAFE_ENTRY. See spec-notes/cli.md "pull".
 */
export function assertSafeTitle(title: string): string {
  const problem =
    title === ''
      ? 'is empty'
      : title === '.' || title === '..'
        ? 'is a relative directory name'
        : /[/\\]/.test(title)
          ? 'contains a path separator (subdirectories are not supported)'
          : // eslint-disable-next-line no-control-regex
            /[\u0000-\u001f\u007f]/.test(title)
            ? 'contains control characters'
            : Buffer.byteLength(title) > 255
              ? 'is longer than 255 bytes'
              : undefined;
  if (problem !== undefined) {
    throw new UnsafeInputError(
      'E_UNSAFE_ENTRY',
      `layer title ${JSON.stringify(title)} ${problem}; refusing to use it as a file name`,
      { title },
    );
  }
  return title;
}
