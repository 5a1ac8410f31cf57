// Recording referrer edges in a layout's conventions: the verbs attach, copy and import share.
// applyReferrerEdges plans inside someone's IndexStore.update; recordReferrers is the one-commit wrapper.
import { parseDigest, type Digest } from '../digest.js';
import { ConflictError, NotFoundError } from '../errors.js';
import type { Layout } from '../layout/layout.js';
import type { Descriptor } from '../schema/descriptor.js';
import type { IndexFile } from '../schema/layout-files.js';
import { ConventionContext } from './context.js';
import {
  CONVENTIONS,
  CONVENTION_NAMES,
  DEFAULT_CONVENTION,
  classifyIndex,
  type ConventionName,
  type SubjectReferrers,
} from './convention.js';
import { byDigest, referrerDescriptor } from './response.js';
import { addHaulerReferrer, haulerKindPrefix } from '../layout/hauler-write.js';
import { HAULER_KIND_SOURCE } from './hauler-kind.js';

/** Where referrers were recorded: conventions, or a hauler store's own `referrers/<hex>` kind. */
export type RecordedIn = ConventionName | typeof HAULER_KIND_SOURCE;

export interface ReferrerEdge {
  subject: Descriptor;
  referrer: Descriptor;
}

export interface RecordOptions {
  /**
   * Where to record. `auto`: the conventions that already record this subject's referrers; in a
   * hauler store, for a subject with none that an image entry names, hauler's `referrers/<hex>`
   * entry (hauler-write.ts); else every convention the layout uses; in a layout with none,
   * per-manifest. A convention named explicitly is used as it is, hauler store or not.
   */
  convention: ConventionName | 'auto';
  /** Subject-annotation key family (see ContextOptions.olaregKeys). */
  olaregKeys?: boolean | undefined;
}

/**
 * Verify edges against the stored manifests and group them by subject, as referrers-API
 * descriptors. Throws E_NOT_FOUND for a referrer manifest not in the layout, E_CONFLICT when its
 * `subject` is not the edge's subject.
 */
function edgesToBatch(edges: readonly ReferrerEdge[], ctx: ConventionContext): SubjectReferrers[] {
  const bySubject = new Map<Digest, Map<string, Descriptor>>();
  for (const { subject, referrer } of edges) {
    const s = parseDigest(subject.digest);
    const r = ctx.docs.read(referrer.digest, referrer.mediaType);
    if (!r.ok) {
      if (r.missing) {
        throw new NotFoundError(
          'E_NOT_FOUND',
          `referrer ${referrer.digest} is not stored in ${ctx.layout.root}`,
          { digest: referrer.digest, layout: ctx.layout.root },
        );
      }
      throw r.error;
    }
    if (r.doc.subject !== s) {
      throw new ConflictError(
        'E_CONFLICT',
        `${referrer.digest} has subject ${r.doc.subject ?? '(none)'}, not ${s}`,
        { digest: referrer.digest, subject: s, found: r.doc.subject },
      );
    }
    const m = bySubject.get(s) ?? new Map<string, Descriptor>();
    m.set(r.doc.digest, referrerDescriptor(r.doc));
    bySubject.set(s, m);
  }
  return [...bySubject]
    .sort(([a], [b]) => (a < b ? -1 : 1))
    .map(([subject, m]) => ({ subject, referrers: [...m.values()].sort(byDigest) }));
}

/** Which conventions each subject's referrers go to under `auto` (see RecordOptions). */
function autoTargets(
  index: IndexFile,
  subjects: readonly Digest[],
  ctx: ConventionContext,
): Map<Digest, ConventionName[]> {
  const bookkeeping = classifyIndex(index, ctx);
  const inUse = new Set(bookkeeping.map((b) => b.convention));
  const out = new Map<Digest, ConventionName[]>();
  for (const s of subjects) {
    const own = new Set(bookkeeping.filter((b) => b.subject === s).map((b) => b.convention));
    const chosen = own.size > 0 ? own : inUse.size > 0 ? inUse : new Set([DEFAULT_CONVENTION]);
    out.set(
      s,
      CONVENTION_NAMES.filter((n) => chosen.has(n)),
    );
  }
  return out;
}

/**
 * Record `edges` (referrer manifests and their blobs already stored in `layout`) in `index`, in
 * place, writing any index blobs needed first. Idempotent. For use inside an IndexStore.update, so
 * tags and referrers can land in one commit. Returns where it recorded them.
 */
export function applyReferrerEdges(
  layout: Layout,
  index: IndexFile,
  edges: readonly ReferrerEdge[],
  options: RecordOptions,
  ctx: ConventionContext = new ConventionContext(layout, { olaregKeys: options.olaregKeys }),
): RecordedIn[] {
  const all = edgesToBatch(edges, ctx);
  if (all.length === 0) return [];
  const used: RecordedIn[] = [];
  const batch = options.convention === 'auto' ? fileInHaulerStore(index, all, ctx, used) : all;
  const targets =
    options.convention === 'auto'
      ? autoTargets(
          index,
          batch.map((b) => b.subject),
          ctx,
        )
      : new Map(batch.map((b) => [b.subject, [options.convention as ConventionName]]));
  for (const name of CONVENTION_NAMES) {
    const part = batch.filter((b) => targets.get(b.subject)?.includes(name) === true);
    if (part.length === 0) continue;
    CONVENTIONS[name].add(index, part, ctx);
    used.push(name);
  }
  return used;
}

/**
 * In a hauler store, file each subject's referrers as hauler does (beside the image entry that
 * names the subject), unless a convention already records that subject's referrers (it keeps
 * them). Returns what is left for the conventions; notes `hauler-kind` in `used` when it filed any.
 */
function fileInHaulerStore(
  index: IndexFile,
  batch: readonly SubjectReferrers[],
  ctx: ConventionContext,
  used: RecordedIn[],
): SubjectReferrers[] {
  if (haulerKindPrefix(index) === undefined) return [...batch];
  const recorded = new Set(classifyIndex(index, ctx).map((b) => b.subject));
  const rest: SubjectReferrers[] = [];
  let filed = false;
  for (const b of batch) {
    const left = recorded.has(b.subject)
      ? b.referrers
      : b.referrers.filter((r) => addHaulerReferrer(index, b.subject, r) === undefined);
    if (left.length < b.referrers.length) filed = true;
    if (left.length > 0) rest.push({ subject: b.subject, referrers: left });
  }
  if (filed) used.push(HAULER_KIND_SOURCE);
  return rest;
}

/** applyReferrerEdges in one index.json commit under the layout lock. */
export async function recordReferrers(
  layout: Layout,
  edges: readonly ReferrerEdge[],
  options: RecordOptions,
): Promise<void> {
  if (edges.length === 0) return;
  await layout.updateIndex((index) => {
    applyReferrerEdges(layout, index, edges, options);
    return { index, result: undefined };
  });
}
