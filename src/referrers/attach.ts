// attach and detach: store an OCI 1.1 artifact with a `subject` and record it in the layout's
// conventions; or stop recording a referrer anywhere. Each is one index.json commit.
import { checkArtifactFiles, storeArtifactFile, type ArtifactFile } from '../artifact/files.js';
import { parseDigest, type Digest } from '../digest.js';
import { NotFoundError, UsageError } from '../errors.js';
import { DEFAULT_FILE_MEDIA_TYPE, buildArtifactManifest, fileLayer } from '../artifact/manifest.js';
import type { Layout, Target } from '../layout/layout.js';
import { Annotation, EMPTY_DIGEST, EMPTY_JSON, assertMediaType } from '../media-types.js';
import type { Annotations, Descriptor } from '../schema/descriptor.js';
import type { IndexFile } from '../schema/layout-files.js';
import { ConventionContext } from './context.js';
import { CONVENTIONS, CONVENTION_NAMES, classifyIndex, type ConventionName } from './convention.js';
import { cosignLinkOf, parseCosignTag } from './cosign-tag.js';
import { haulerEntryForCosignTag, haulerLinks } from './hauler-kind.js';
import { buildReferrerGraph } from './discover.js';
import { applyReferrerEdges, type RecordedIn } from './record.js';
import { referrerDescriptor } from './response.js';
import type { ReferrerSource } from './scan.js';

/** A file to attach: its path and layer media type (default application/vnd.oci.image.layer.v1.tar). */
export type AttachFile = ArtifactFile;

export interface AttachOptions {
  artifactType: string;
  annotations?: Annotations | undefined;
  convention?: ConventionName | 'auto' | undefined;
  olaregKeys?: boolean | undefined;
}

export interface AttachResult {
  /** The referrer as the referrers API lists it. */
  descriptor: Descriptor;
  subject: Descriptor;
  /** Conventions it is recorded in (or a hauler store's own kind). */
  conventions: RecordedIn[];
  /** False when it was already recorded there (attaching again is a no-op). */
  changed: boolean;
}

/**
 * Store `files` as layers of an artifact manifest whose subject is `target` (a manifest or an index,
 * including another referrer), then record it. Deterministic: the same files, type and annotations
 * give the same digest, so a repeat changes nothing. Throws E_NOT_FOUND (subject or file),
 * E_USAGE (not a regular file, bad media type, unsafe or duplicate title), E_CONFLICT (a fallback
 * tag taken by other content).
 */
export function attach(
  layout: Layout,
  target: Target,
  files: readonly AttachFile[],
  options: AttachOptions,
): Promise<AttachResult> {
  return layout.operation(() => attachNow(layout, target, files, options));
}

async function attachNow(
  layout: Layout,
  target: Target,
  files: readonly AttachFile[],
  options: AttachOptions,
): Promise<AttachResult> {
  const found = layout.resolve(target);
  // A subject digest we cannot use (unsupported algorithm) must fail here, before any blob is
  // written, not at the commit after the artifact is stored.
  parseDigest(found.digest);
  const subject: Descriptor = {
    mediaType: found.mediaType,
    digest: found.digest,
    size: found.size,
  };
  // Every input is checked before any blob is written: bad input leaves the layout unchanged.
  assertMediaType(options.artifactType, '--artifact-type');
  const inputs = checkArtifactFiles(files, DEFAULT_FILE_MEDIA_TYPE);
  const layers: Descriptor[] = [];
  for (const i of inputs) {
    const stored = await storeArtifactFile(layout, i); // fails if the file changes while read
    layers.push(fileLayer(stored, i.mediaType, i.title));
  }
  // The empty config (and empty layer, with no files) must be stored like any other blob.
  layout.blobs.putBytes(
    Buffer.from(EMPTY_JSON),
    { digest: EMPTY_DIGEST, size: 2 },
    { deferDirSync: true },
  );
  const { bytes } = buildArtifactManifest({
    artifactType: options.artifactType,
    layers,
    annotations: options.annotations,
    subject,
  });
  const manifest = await layout.putManifest(bytes, { unlisted: true });
  return layout.updateIndex((index) => {
    const before = JSON.stringify(index);
    const ctx = new ConventionContext(layout, { olaregKeys: options.olaregKeys });
    const conventions = applyReferrerEdges(
      layout,
      index,
      [{ subject, referrer: manifest }],
      { convention: options.convention ?? 'auto', olaregKeys: options.olaregKeys },
      ctx,
    );
    const doc = ctx.docs.doc(manifest.digest, manifest.mediaType)!;
    const changed = JSON.stringify(index) !== before;
    return {
      index: changed ? index : undefined,
      result: { descriptor: referrerDescriptor(doc), subject, conventions, changed },
    };
  });
}

export interface DetachResult {
  digest: Digest;
  /** Conventions whose bookkeeping listed it. */
  conventions: ConventionName[];
  /** index.json entries for the referrer itself that were removed (tagged or not). */
  entriesRemoved: number;
  /** cosign tags (`<alg>-<hex>.sig|.att|.sbom`) among those entries. */
  cosignTags: string[];
  /** How discover still finds it afterwards (e.g. `nested` in a BuildKit image index): none = gone. */
  stillFoundVia: ReferrerSource[];
  changed: boolean;
}

/**
 * Stop recording a referrer: `ref` is its digest, or one of cosign's tags. By digest: remove it from
 * every convention that lists it (emptied fallback indexes and responses are removed) and remove its
 * own index.json entries, cosign tags included. By cosign tag: remove that one entry (the manifest
 * may sign other digests under other tags). Its blobs stay until gc. Never rewrites a user's image
 * index. Throws E_NOT_FOUND when the layout knows nothing of it, E_USAGE when it is not a referrer
 * (no `subject`, listed by no convention, no cosign tag) or the tag is not a cosign signature's.
 */
export async function detach(layout: Layout, ref: string): Promise<DetachResult> {
  const byTag = parseCosignTag(ref) === undefined ? undefined : ref;
  const wanted = byTag === undefined ? parseDigest(ref) : undefined;
  return layout.updateIndex((index) => {
    const ctx = new ConventionContext(layout);
    const bookkeeping = classifyIndex(index, ctx);
    const claimed = new Set<Descriptor>(bookkeeping.map((b) => b.entry));
    const cosignOf = (e: Descriptor): boolean =>
      !claimed.has(e) && cosignLinkOf(e, ctx) !== undefined;
    // A hauler store's signature entry is what cosign's tag of its image names (hauler-kind.ts).
    const hauler = haulerLinks(index);
    const linked = (e: Descriptor): boolean =>
      cosignOf(e) || (hauler.get(e)?.subject !== undefined && !claimed.has(e));
    const before = JSON.stringify(index);
    let digest: Digest;
    let removed: Descriptor[];
    let listedBy: typeof bookkeeping = [];
    if (byTag !== undefined) {
      const entry =
        index.manifests.find((e) => e.annotations?.[Annotation.RefName] === byTag) ??
        haulerEntryForCosignTag(index, byTag);
      if (entry === undefined) {
        throw new NotFoundError('E_NOT_FOUND', `tag ${byTag} not found in ${layout.root}`, {
          tag: byTag,
          layout: layout.root,
        });
      }
      digest = parseDigest(entry.digest);
      if (!linked(entry)) {
        throw new UsageError(
          'E_USAGE',
          `${byTag} is not a cosign signature tag (it names ${digest}, which has a subject of its own or cannot be read)`,
          { tag: byTag, digest },
          {
            hint: `detach it by digest (LAYOUT@${digest}), or remove the tag with \`ocilayout untag\``,
          },
        );
      }
      removed = [entry];
    } else {
      digest = wanted!;
      listedBy = bookkeeping.filter((b) => b.listed.some((d) => d.digest === digest));
      removed = index.manifests.filter((e) => e.digest === digest);
      const doc = ctx.docs.read(digest);
      if (listedBy.length === 0) {
        if (doc.ok && doc.doc.subject === undefined && !removed.some(linked)) {
          throw new UsageError(
            'E_USAGE',
            `${digest} is not a referrer (it has no subject and no cosign tag)`,
            { digest },
            { hint: 'remove tags with `ocilayout untag`; gc removes unlisted content' },
          );
        }
        if (!doc.ok && removed.length === 0) {
          throw new NotFoundError('E_NOT_FOUND', `${digest} not found in ${layout.root}`, {
            digest,
            layout: layout.root,
          });
        }
      }
      const gone = new Set<string>([digest]);
      for (const name of CONVENTION_NAMES) CONVENTIONS[name].remove(index, gone, ctx);
      removed = index.manifests.filter((e) => e.digest === digest);
    }
    const cosignTags = removed.filter(cosignOf).map((e) => e.annotations![Annotation.RefName]!);
    index.manifests = index.manifests.filter((e) => !removed.includes(e));
    const doc = ctx.docs.doc(digest);
    const subject =
      doc?.subject ?? (byTag === undefined ? undefined : parseCosignTag(byTag)?.subject);
    const stillFoundVia = subject === undefined ? [] : stillFound(index, ctx, subject, digest);
    const changed = JSON.stringify(index) !== before;
    const conventions = CONVENTION_NAMES.filter((n) => listedBy.some((b) => b.convention === n));
    return {
      index: changed ? index : undefined,
      result: {
        digest,
        conventions,
        entriesRemoved: removed.length,
        cosignTags,
        stillFoundVia,
        changed,
      },
    };
  });
}

/** How discovery would still find `digest` after the detach (e.g. nested in a user's index). */
function stillFound(
  index: IndexFile,
  ctx: ConventionContext,
  subject: Digest,
  digest: Digest,
): ReferrerSource[] {
  const rec = buildReferrerGraph(index, ctx)
    .recordsOf(subject)
    .find((r) => r.descriptor.digest === digest);
  return rec === undefined ? [] : [...rec.sources].sort();
}
