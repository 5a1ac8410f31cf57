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
import { NotFoundError, wrapFsError } from '../errors.js';
import { Layout } from '../layout/layout.js';
import { OUTPUT_TMP_PREFIX, assertReplaceable } from '../output/file.js';
import { cleanupAtExit } from '../store/exit-cleanup.js';
import { pickImage } from '../archive/docker-export.js';
import { exportArchive, type ArchiveFormat, type ExportResult } from '../archive/export.js';
import { parsePlatform } from '../layout/platform.js';
import type { Descriptor } from '../schema/descriptor.js';
import type { ParsedManifest } from '../schema/manifest.js';
import type { CopyPlan } from './plan.js';

export interface ArchiveDestination {
  kind: 'archive';
  format: ArchiveFormat;
  /** A file path (written atomically), or a stream (stdout; left open). */
  output: string | Writable;
  /** `oci-archive:FILE` or `docker-archive:FILE`, for results and messages. */
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

  /**
   * Before anything is placed: a docker destination needs one image, which the plan already holds
   * (`export`'s own choice, pickImage, asked of the planned manifests). Throws E_USAGE for a
   * multi-platform index (add --platform), E_UNSUPPORTED_MEDIA_TYPE for an artifact.
   */
  static check(
    destination: ArchiveDestination,
    plan: CopyPlan,
    tag: string | undefined,
    platform: string | undefined,
  ): void {
    if (destination.format !== 'docker') return;
    const docs = new Map(plan.docs.map((d) => [d.descriptor.digest, d.parsed]));
    const planned = {
      readManifest: (desc: Descriptor): ParsedManifest => {
        const parsed = docs.get(desc.digest);
        // Every manifest the root reaches is planned; anything else is not part of this copy.
        if (parsed === undefined) {
          throw new NotFoundError('E_NOT_FOUND', `${desc.digest} is not in the copy plan`, {
            digest: desc.digest,
          });
        }
        return parsed;
      },
    };
    pickImage(
      planned,
      { tag, entry: plan.root.descriptor },
      platform === undefined ? undefined : parsePlatform(platform),
    );
  }

  /** Remove the private layout (idempotent). */
  close(): void {
    this.dispose();
  }
}
