// An archive (oci-archive or docker-archive tar; plain, gzip or zstd; file or stdin) as a copy
// source. A tar can only be read front to back, and a docker archive must be converted before its
// graph exists, so it is read ONCE by import's own reader (stageArchive: every entry judged, every
// blob verified into a private staging layout, the closure checked) and then served as the layout
// it has become: the plan, the referrers and the cosign tags are the layout source's. The staging
// layout lives in a temporary directory that close() (or an exit) removes.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { NotFoundError, UsageError, wrapFsError } from '../errors.js';
import { Layout } from '../layout/layout.js';
import { isValidTag } from '../layout/refs.js';
import { findTagged } from '../layout/tags.js';
import {
  entryName,
  isBareName,
  isDigestName,
  isFullImageName,
  tagOfName,
} from '../layout/names.js';
import { Annotation } from '../media-types.js';
import { isDialectReferrerEntry } from '../referrers/dialects.js';
import type { Descriptor } from '../schema/descriptor.js';
import { cleanupAtExit } from '../store/exit-cleanup.js';
import { DEFAULT_EXPANSION_LIMITS, type ExpansionLimits } from '../archive/compression.js';
import { readIncoming } from '../archive/import-referrers.js';
import { stageArchive } from '../archive/read-archive.js';
import { Staging } from '../archive/staging.js';
import type { ArchiveInput } from '../archive/tar-source.js';
import { LayoutSource, type SourceDoc } from './sources.js';

export interface ArchiveSourceOptions {
  limits?: Partial<ExpansionLimits> | undefined;
  /** Warnings of the reader (ignored entries, trailing bytes, external layers). */
  onWarning?: ((message: string) => void) | undefined;
}

export class ArchiveSource extends LayoutSource {
  private constructor(
    layout: Layout,
    root: Descriptor,
    private readonly name: string,
    private readonly tag: string | undefined,
    private readonly dispose: () => void,
  ) {
    super(layout, { digest: root.digest });
  }

  /**
   * Read `input` and pick the image `ref` names (a tag, or a docker-archive's `NAME:TAG` as in its
   * RepoTags); without `ref`, the archive's only image (referrer bookkeeping and cosign tags
   * aside). `label` names the endpoint in results and messages. Throws what stageArchive throws,
   * E_NOT_FOUND for a ref the archive lacks, E_INVALID_REFERENCE when no ref is given and the
   * archive holds no image or several entries (the message lists their refs).
   */
  static async open(
    input: ArchiveInput,
    ref: string | undefined,
    label: string,
    options: ArchiveSourceOptions = {},
  ): Promise<ArchiveSource> {
    let host: string;
    try {
      host = mkdtempSync(join(tmpdir(), 'ocilayout-archive-'));
    } catch (err) {
      input.stream.destroy();
      throw wrapFsError(err, `create a staging layout in ${tmpdir()}`, { path: tmpdir() });
    }
    let staging: Staging | undefined;
    const remove = (): void => rmSync(host, { recursive: true, force: true });
    const forget = cleanupAtExit(remove);
    const dispose = (): void => {
      staging?.discard(); // its own exit action too
      forget();
      remove();
    };
    try {
      staging = Staging.open(Layout.init(host).layout);
      const read = await stageArchive(input, staging, {
        limits: { ...DEFAULT_EXPANSION_LIMITS, ...options.limits },
        warn: (w) => options.onWarning?.(w),
      });
      const layout = staging.layout;
      // The staged layout lists what the archive lists: the layout source finds tags (cosign's)
      // and referrers (every convention) there, as in any layout.
      await layout.updateIndex(() => ({ index: read.archiveIndex, result: undefined }));
      const root = pickRoot(layout, read.archiveIndex.manifests, ref, label);
      return new ArchiveSource(layout, root.entry, label, root.tag, dispose);
    } catch (err) {
      input.stream.destroy();
      dispose();
      throw err;
    }
  }

  override get label(): string {
    return this.name;
  }

  override async resolveRoot(): Promise<SourceDoc & { tag: string | undefined }> {
    return { ...(await super.resolveRoot()), tag: this.tag };
  }

  /** Remove the staging layout (idempotent). A layout sink's hard links keep their content. */
  close(): void {
    this.dispose();
  }
}

/** The entry `ref` names and the tag a copy of it carries over. */
function pickRoot(
  layout: Layout,
  entries: readonly Descriptor[],
  ref: string | undefined,
  label: string,
): { entry: Descriptor; tag: string | undefined } {
  if (ref !== undefined) {
    // A docker archive's entries carry the RepoTags name too; a bare tag matches as in a layout.
    const entry =
      entries.findLast(
        (e) =>
          e.annotations?.[Annotation.RefName] === ref ||
          e.annotations?.[Annotation.ContainerdImageName] === ref,
      ) ?? findTagged(layout.readIndex(), ref);
    if (entry === undefined) {
      throw new NotFoundError('E_NOT_FOUND', `${label} holds no image named ${ref}`, {
        archive: label,
        ref,
        refs: refsOf(images(layout, entries)),
      });
    }
    return { entry, tag: carriedTag(entryName(entry) ?? ref) };
  }
  const candidates = images(layout, entries);
  if (candidates.length !== 1) {
    const refs = refsOf(candidates);
    throw new UsageError(
      'E_INVALID_REFERENCE',
      `${label} holds ${candidates.length} entries${refs.length > 0 ? ` (${refs.join(', ')})` : ''}; name one as ${label}:REF`,
      { archive: label, refs },
    );
  }
  const entry = candidates[0]!;
  const name = entryName(entry);
  return { entry, tag: name === undefined ? undefined : carriedTag(name) };
}

/** The entries that are images of their own: not referrer bookkeeping, cosign tags or hauler's. */
function images(layout: Layout, entries: readonly Descriptor[]): Descriptor[] {
  const plain = readIncoming(layout, { schemaVersion: 2, manifests: [...entries] }).plain;
  return plain.filter((e) => !isDialectReferrerEntry(e));
}

function refsOf(entries: readonly Descriptor[]): string[] {
  return entries.map((e) => e.annotations?.[Annotation.RefName] ?? e.digest);
}

/**
 * The name a copy carries over (spec-notes/names.md): a bare tag or a full name as it is; a name we
 * do not write (no `/`, no tag) gives its tag, if any. A registry destination keeps only the tag.
 */
function carriedTag(name: string): string | undefined {
  if (isBareName(name)) return isValidTag(name) ? name : undefined;
  if (isFullImageName(name) && name.includes('/')) return name;
  if (isDigestName(name)) return name;
  const tag = tagOfName(name);
  return tag !== undefined && isValidTag(tag) ? tag : undefined;
}
