// An archive (oci-archive or docker-archive tar, a file or a stream) as a copy destination. The copy
// lands first in a private layout (the layout sink: hard links from a layout source on the same
// filesystem, else the verifying ingest; ONE index.json commit with the root tag, cosign tags and
// referrer bookkeeping), which `export`'s own writer then tars whole (export.ts: deterministic
// order, blobs streamed and re-hashed, a file written to a temp name and renamed only once
// complete). A failure at any step leaves no archive at the destination path, and close() (or an
// exit) removes the private layout.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import type { Writable } from 'node:stream';
import { wrapFsError } from '../errors.js';
import { Layout } from '../layout/layout.js';
import { OUTPUT_TMP_PREFIX, assertReplaceable } from '../output/file.js';
import { cleanupAtExit } from '../store/exit-cleanup.js';
import { exportArchive, type ArchiveFormat, type ExportResult } from '../archive/export.js';

export interface ArchiveDestination {
  kind: 'archive';
  format: ArchiveFormat;
  /** A file path (written atomically), or a stream (stdout; left open). */
  output: string | Writable;
  /** The endpoint as given, for results and messages. */
  label: string;
  /** The tag inside the archive (default: the source tag). */
  tag?: string | undefined;
  /** docker: repository for RepoTags. */
  name?: string | undefined;
}

export class ArchiveSink {
  private constructor(
    readonly layout: Layout,
    private readonly destination: ArchiveDestination,
    private readonly dispose: () => void,
  ) {}

  /**
   * Create the private layout: beside a file destination (the same filesystem as the archive, so
   * the space it needs is where the archive goes anyway), in the temp directory for a stream.
   * Throws E_UNSAFE_ENTRY when the destination is a directory, a symlink or a device, E_IO.
   */
  static open(destination: ArchiveDestination): ArchiveSink {
    const file = destination.output;
    if (typeof file === 'string') assertReplaceable(file);
    const parent = typeof file === 'string' ? dirname(file) : tmpdir();
    let host: string;
    try {
      host = mkdtempSync(join(parent, `${OUTPUT_TMP_PREFIX}archive-`));
    } catch (err) {
      throw wrapFsError(err, `create a temporary layout in ${parent}`, { path: parent });
    }
    const remove = (): void => rmSync(host, { recursive: true, force: true });
    const forget = cleanupAtExit(remove);
    try {
      const layout = Layout.init(host).layout;
      return new ArchiveSink(layout, destination, () => {
        forget();
        remove();
      });
    } catch (err) {
      forget();
      remove();
      throw err;
    }
  }

  /**
   * Tar the private layout to the destination: every entry it lists (oci), or the root as a
   * `docker load` image (docker: `root` is the tag or digest; `platform` picks one image of an
   * index). Throws what exportArchive throws; a file destination is then left untouched.
   */
  write(
    root: string,
    options: { platform?: string | undefined; verify?: boolean | undefined },
  ): Promise<ExportResult> {
    const d = this.destination;
    return exportArchive(this.layout.root, d.output, {
      format: d.format,
      verify: options.verify,
      ...(d.format === 'docker' ? { refs: [root], name: d.name, platform: options.platform } : {}),
    });
  }

  /** Remove the private layout (idempotent). */
  close(): void {
    this.dispose();
  }
}
