// Copy across the registry boundary: registry → layout, layout → registry, registry → registry, with
// referrers (API or fallback tag, per spec), cosign tags and platform filtering. Into a layout: blobs
// through the verifying ingest, then ONE index.json commit (root tag, cosign tags, referrers in the
// layout's convention); a failure takes back what it added. Into a registry: blobs, manifests
// children-first, referrers before their fallback index, the tag last.
// Decisions: spec-notes/registry.md.
import { parseDigest } from '../digest.js';
import { RegistryError } from '../errors.js';
import { forEachLimited } from '../for-each-limited.js';
import type { Layout } from '../layout.js';
import { recordRoot } from '../copy.js';
import type { ConventionName } from '../referrers/convention.js';
import { applyReferrerEdges } from '../referrers/record.js';
import { assertValidTag } from '../refs.js';
import type { Descriptor } from '../schema/descriptor.js';
import { setTag } from '../tags.js';
import type { RegistryClient } from './client.js';
import { planCopy, type CopyPlan, type PlannedEdge } from './copy-plan.js';
import { formatPlatform } from '../platform.js';
import { updateFallbackTag, type ReferrersVia } from './remote-referrers.js';
import { LayoutSink, RegistrySink, type BlobOutcome, type ContentSink } from './sinks.js';
import type { ContentSource } from './sources.js';

export type ReferrersMode = 'auto' | 'api' | 'tag' | 'both';
export const REFERRERS_MODES: readonly ReferrersMode[] = ['auto', 'api', 'tag', 'both'];

export type CopyDestination =
  | { kind: 'layout'; open: () => Layout; tag?: string | undefined }
  | { kind: 'registry'; client: RegistryClient; repository: string; tag?: string | undefined };

export interface RegistryCopyOptions {
  referrers?: boolean | undefined;
  cosignTags?: boolean | undefined;
  referrersMode?: ReferrersMode | undefined;
  /** `OS/ARCH[/VARIANT]` to keep of a multi-arch index (the index digest changes). */
  platforms?: readonly string[] | undefined;
  /** Layout destination: where referrers are recorded (default: the layout's own convention). */
  convention?: ConventionName | 'auto' | undefined;
  /** Blobs transferred at once (default 4). */
  concurrency?: number | undefined;
  /** Registry destination: monolithic upload up to this size, chunked above. */
  chunkSize?: number | undefined;
  onEvent?: ((event: CopyEvent) => void) | undefined;
}

export type CopyEvent =
  | { type: 'plan'; blobs: number; bytes: number; manifests: number; referrers: number }
  | { type: 'blob-progress'; descriptor: Descriptor; transferred: number }
  | { type: 'blob-done'; descriptor: Descriptor; outcome: BlobOutcome; done: number; total: number }
  | { type: 'warning'; message: string };

export interface RegistryCopyResult {
  source: string;
  destination: string;
  descriptor: Descriptor;
  tag: string | undefined;
  /** With --platform: the source index the copied index was filtered from, and what it kept. */
  filteredFrom?: { digest: string; platforms: string[] } | undefined;
  blobs: Record<BlobOutcome, number>;
  bytes: Record<BlobOutcome, number>;
  manifests: number;
  referrers: { subject: string; digest: string; artifactType?: string | undefined }[];
  /** How the source listed referrers. */
  referrersFrom: ReferrersVia[];
  /** Registry destination: subjects whose referrers the registry indexes itself (OCI-Subject). */
  referrersApi: string[];
  /** Registry destination: fallback tags written (read, merged, pushed). */
  fallbackTags: string[];
  cosignTags: string[];
  /** Layout destination: conventions the referrers were recorded in. */
  conventions: ConventionName[];
  warnings: string[];
}

export async function copyWithRegistry(
  source: ContentSource,
  destination: CopyDestination,
  options: RegistryCopyOptions = {},
): Promise<RegistryCopyResult> {
  const plan = await planCopy(source, options);
  for (const w of plan.warnings) options.onEvent?.({ type: 'warning', message: w });
  const tag = destination.tag ?? plan.sourceTag;
  if (tag !== undefined) assertValidTag(tag);
  const result = emptyResult(source, destination, plan, tag);
  options.onEvent?.({
    type: 'plan',
    blobs: plan.blobs.length,
    bytes: plan.blobs.reduce((n, b) => n + b.size, 0),
    manifests: plan.docs.length,
    referrers: plan.edges.length,
  });
  if (destination.kind === 'layout') {
    // Created only now: a source that fails to resolve never leaves an empty layout behind.
    const layout = destination.open();
    return layout.operation(async () => {
      const sink = new LayoutSink(layout);
      try {
        await transfer(source, sink, plan, result, options);
        result.conventions = await layout.updateIndex((index) => {
          recordRoot(index, plan.root.descriptor, tag);
          for (const c of plan.cosign) setTag(index, c.tag, c.doc.descriptor);
          const used =
            plan.edges.length === 0
              ? []
              : applyReferrerEdges(layout, index, plan.edges, {
                  convention: options.convention ?? 'auto',
                });
          return { index, result: used };
        });
      } catch (err) {
        sink.rollback();
        throw err;
      }
      return result;
    });
  }
  const sink = new RegistrySink(destination.client, destination.repository, options.chunkSize);
  const subjects = await transfer(source, sink, plan, result, options);
  await maintainReferrers(sink, plan, subjects, options.referrersMode ?? 'auto', result);
  for (const c of plan.cosign) await sink.putManifest(c.doc, c.tag);
  // The tag last: whoever pulls it finds the image's referrers already in place.
  if (tag !== undefined) await sink.putManifest(plan.root, tag);
  return result;
}

/**
 * Blobs (`concurrency` at a time), then manifests children-first. Returns, per referrer digest,
 * whether the registry answered OCI-Subject for it.
 */
async function transfer(
  source: ContentSource,
  sink: ContentSink,
  plan: CopyPlan,
  result: RegistryCopyResult,
  options: RegistryCopyOptions,
): Promise<Map<string, boolean>> {
  const total = plan.blobs.length + plan.docs.length;
  let done = 0;
  const finish = (descriptor: Descriptor, outcome: BlobOutcome): void => {
    result.blobs[outcome] += 1;
    result.bytes[outcome] += descriptor.size;
    done += 1;
    options.onEvent?.({ type: 'blob-done', descriptor, outcome, done, total });
  };
  await forEachLimited(plan.blobs, options.concurrency ?? 4, async (desc) => {
    const outcome = await sink.putBlob(desc, source, (transferred) =>
      options.onEvent?.({ type: 'blob-progress', descriptor: desc, transferred }),
    );
    finish(desc, outcome);
  });
  const referrerDigests = new Set(plan.edges.map((e) => e.referrer.digest));
  const ociSubject = new Map<string, boolean>();
  for (const doc of plan.docs) {
    const r = await sink.putManifest(doc);
    if (referrerDigests.has(doc.descriptor.digest)) {
      ociSubject.set(doc.descriptor.digest, r.ociSubject !== undefined);
    }
    finish(doc.descriptor, r.outcome);
  }
  result.manifests = plan.docs.length;
  return ociSubject;
}

/** Per subject: the registry's own referrers API, the fallback tag, or both (decision table). */
async function maintainReferrers(
  sink: RegistrySink,
  plan: CopyPlan,
  ociSubject: Map<string, boolean>,
  mode: ReferrersMode,
  result: RegistryCopyResult,
): Promise<void> {
  const bySubject = new Map<string, PlannedEdge[]>();
  for (const e of plan.edges)
    bySubject.set(e.subject.digest, [...(bySubject.get(e.subject.digest) ?? []), e]);
  for (const [subject, edges] of bySubject) {
    const confirmed = edges.every((e) => ociSubject.get(e.referrer.digest) === true);
    if (confirmed) result.referrersApi.push(subject);
    if (mode === 'api' && !confirmed) {
      throw new RegistryError(
        'E_REGISTRY',
        `${sink.label} did not answer OCI-Subject when the referrers of ${subject} were pushed: it has no referrers API`,
        { registry: sink.client.registry, subject },
        {
          hint: 'use --referrers-mode auto (fallback tag when there is no API) or --referrers-mode tag',
        },
      );
    }
    const writeTag = mode === 'tag' || mode === 'both' || (mode === 'auto' && !confirmed);
    if (!writeTag) continue;
    const update = await updateFallbackTag(
      sink.client,
      sink.repository,
      parseDigest(subject),
      edges.map((e) => e.listing),
    );
    result.fallbackTags.push(update.tag);
  }
}

function emptyResult(
  source: ContentSource,
  destination: CopyDestination,
  plan: CopyPlan,
  tag: string | undefined,
): RegistryCopyResult {
  const zero = (): Record<BlobOutcome, number> => ({ copied: 0, skipped: 0, mounted: 0 });
  return {
    source: source.label,
    destination:
      destination.kind === 'layout'
        ? 'layout'
        : `docker://${destination.client.registry}/${destination.repository}`,
    descriptor: plan.root.descriptor,
    tag,
    filteredFrom:
      plan.filteredFrom === undefined
        ? undefined
        : {
            digest: plan.filteredFrom.digest,
            platforms: (plan.root.parsed.kind === 'index' ? plan.root.parsed.doc.manifests : [])
              .map((d) => (d.platform === undefined ? '' : formatPlatform(d.platform)))
              .filter((p) => p !== '' && p !== 'unknown/unknown'),
          },
    blobs: zero(),
    bytes: zero(),
    manifests: 0,
    referrers: plan.edges.map((e) => ({
      subject: e.subject.digest,
      digest: e.referrer.digest,
      ...(e.listing.artifactType === undefined ? {} : { artifactType: e.listing.artifactType }),
    })),
    referrersFrom: plan.referrersVia,
    referrersApi: [],
    fallbackTags: [],
    cosignTags: plan.cosign.map((c) => c.tag),
    conventions: [],
    warnings: [...plan.warnings],
  };
}
