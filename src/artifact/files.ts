// Files that become artifact layers (push, attach): every input checked before any blob is written,
// then streamed into the blob store; and the title rule, so what push titles pull accepts.
// Building the manifest over them is artifact.ts's job.
import { createReadStream, statSync, type Stats } from 'node:fs';
import { basename } from 'node:path';
import type { Readable } from 'node:stream';
import type { Digest } from '../digest.js';
import { NotFoundError, UnsafeInputError, UsageError, errnoCode, wrapFsError } from '../errors.js';
import type { Layout } from '../layout/layout.js';
import { assertMediaType } from '../media-types.js';

/**
 * Read and hash files in chunks this big: the 64 KiB default loses throughput
 * (spec-notes/performance.md).
 */
const CHUNK = 1024 * 1024;

export interface ArtifactFile {
  path: string;
  /** Layer media type; default application/vnd.oci.image.layer.v1.tar (as oras). */
  mediaType?: string | undefined;
}

/** A file that passed checkArtifactFile: a regular file with a safe title and a valid media type. */
export interface CheckedFile {
  path: string;
  /** Its base name: the layer's `org.opencontainers.image.title`. */
  title: string;
  mediaType: string;
  /** Size when checked; storing it fails with E_SIZE_MISMATCH if the file changed since. */
  size: number;
}

/**
 * Check one input (no blob is written). Throws E_USAGE (bad media type, not a regular file),
 * E_NOT_FOUND (no such file), E_UNSAFE_ENTRY (a base name that cannot be a title), E_IO.
 */
export function checkArtifactFile(file: ArtifactFile, defaultMediaType: string): CheckedFile {
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
      { hint: 'give regular files; archive a directory first (e.g. tar -czf dir.tgz dir)' },
    );
  }
  const title = assertSafeTitle(basename(file.path));
  return { path: file.path, title, mediaType, size: stat.size };
}

/**
 * Check every layer input, and that no two share a title (pull would write both to one path).
 * Throws what checkArtifactFile throws, and E_USAGE for a repeated title.
 */
export function checkArtifactFiles(
  files: readonly ArtifactFile[],
  defaultMediaType: string,
): CheckedFile[] {
  const checked = files.map((f) => checkArtifactFile(f, defaultMediaType));
  const seen = new Set<string>();
  for (const { title } of checked) {
    if (seen.has(title)) {
      throw new UsageError(
        'E_USAGE',
        `two files are named ${JSON.stringify(title)}; pull would write both to the same path`,
        { title },
        { hint: 'rename or copy one of them first' },
      );
    }
    seen.add(title);
  }
  return checked;
}

/**
 * Stream a checked file into the blob store (never read whole). Throws E_SIZE_MISMATCH when the
 * file grew or shrank since it was checked. The directory fsync is left to the manifest commit.
 */
export async function storeArtifactFile(
  layout: Layout,
  file: CheckedFile,
  onBytes?: (n: number) => void,
): Promise<{ digest: Digest; size: number }> {
  const source = createReadStream(file.path, { highWaterMark: CHUNK });
  return layout.blobs.put(countBytes(source, onBytes), { size: file.size }, { deferDirSync: true });
}

/**
 * `source` with each chunk's size told to `onBytes` as it passes (progress). destroy() still
 * reaches the stream: a consumer that gives up before reading (the blob is known) frees its fd.
 */
export function countBytes(
  source: Readable,
  onBytes: ((n: number) => void) | undefined,
): AsyncIterable<Uint8Array> & { destroy(): void } {
  if (onBytes === undefined) return source;
  async function* counted(): AsyncGenerator<Uint8Array> {
    for await (const chunk of source as AsyncIterable<Uint8Array>) {
      onBytes!(chunk.byteLength);
      yield chunk;
    }
  }
  return Object.assign(counted(), { destroy: () => void source.destroy() });
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
