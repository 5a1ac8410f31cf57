// The ReferrerConvention interface and the registry of conventions. A convention is pure planning over
// an in-memory index.json (plus index blobs written through the context), so any number of changes,
// in any conventions, land in ONE IndexStore.update. discover/convert/gc never switch on names.
import type { Digest } from '../digest.js';
import type { Finding } from '../maintenance/findings.js';
import type { Layout } from '../layout/layout.js';
import type { Descriptor } from '../schema/descriptor.js';
import type { IndexFile } from '../schema/layout-files.js';
import { ConventionContext } from './context.js';
import { fallbackTagConvention } from './fallback-tag.js';
import { perManifestConvention } from './per-manifest.js';
import { subjectAnnotationConvention } from './subject-annotation.js';

export type ConventionName = 'fallback-tag' | 'subject-annotation' | 'per-manifest';

/** Display and write order. */
export const CONVENTION_NAMES: readonly ConventionName[] = [
  'fallback-tag',
  'subject-annotation',
  'per-manifest',
];

/** One index.json entry that is a convention's bookkeeping, and what it says. */
export interface Bookkeeping {
  convention: ConventionName;
  /** The index.json entry object itself (identity matters: convert removes exactly these). */
  entry: Descriptor;
  /** The subject it records referrers for; undefined when it cannot be told (fsck reports it). */
  subject: Digest | undefined;
  /** Referrer descriptors as this entry lists them (per-manifest: the entry itself). Unverified. */
  listed: Descriptor[];
  /** Why the entry cannot be read as intended (missing blob, not an index, bad subject value). */
  problem?: string | undefined;
}

export type Claim = Omit<Bookkeeping, 'convention'>;

/** Referrers of one subject, as referrers-API descriptors sorted by digest. */
export interface SubjectReferrers {
  subject: Digest;
  referrers: Descriptor[];
}

export interface ReferrerConvention {
  readonly name: ConventionName;
  /**
   * Its bookkeeping entries are indexes that list referrer descriptors (discovery reads through
   * them; they are not referrers themselves). Per-manifest entries are the referrers.
   */
  readonly lists: boolean;
  /** This convention's reading of one index.json entry, or undefined when the entry is not its own. */
  claim(entry: Descriptor, ctx: ConventionContext): Claim | undefined;
  /**
   * Record referrers (already stored, already verified) in `index`, idempotently: a referrer
   * already recorded for its subject changes nothing. Index blobs go through `ctx.putIndexBlob`.
   * Throws E_CONFLICT when a name the convention needs is taken by unrelated content.
   */
  add(index: IndexFile, batch: readonly SubjectReferrers[], ctx: ConventionContext): void;
  /** Stop recording these referrer digests; bookkeeping left empty is removed. */
  remove(index: IndexFile, referrers: ReadonlySet<string>, ctx: ConventionContext): void;
  /** Sort key of an entry this convention writes (convert orders the entries it adds by it). */
  orderKey(entry: Descriptor): string;
  /**
   * fsck: findings about this convention's own bookkeeping (`own`, in index.json order). `claimed`
   * holds every entry any convention claimed, for checks of entries that only look like its own.
   */
  check(
    own: readonly Bookkeeping[],
    index: IndexFile,
    ctx: ConventionContext,
    claimed: ReadonlySet<Descriptor>,
  ): Finding[];
}

/** What a layout with no referrer bookkeeping yet gets: oras's, containerd's and BuildKit's way. */
export const DEFAULT_CONVENTION: ConventionName = 'per-manifest';

export const CONVENTIONS: Readonly<Record<ConventionName, ReferrerConvention>> = {
  'fallback-tag': fallbackTagConvention,
  'subject-annotation': subjectAnnotationConvention,
  'per-manifest': perManifestConvention,
};

export function isConventionName(s: string): s is ConventionName {
  return (CONVENTION_NAMES as readonly string[]).includes(s);
}

/** Every bookkeeping entry of every convention, in index.json order. Claims never overlap. */
export function classifyIndex(index: IndexFile, ctx: ConventionContext): Bookkeeping[] {
  const out: Bookkeeping[] = [];
  for (const entry of index.manifests) {
    for (const name of CONVENTION_NAMES) {
      const claim = CONVENTIONS[name].claim(entry, ctx);
      if (claim !== undefined) {
        out.push({ convention: name, ...claim });
        break;
      }
    }
  }
  return out;
}

/** The conventions `index` (default: the layout's index.json) has bookkeeping in, in display order. */
export function detectConventions(layout: Layout, index?: IndexFile): ConventionName[] {
  const used = new Set(
    classifyIndex(index ?? layout.readIndex(), new ConventionContext(layout)).map(
      (b) => b.convention,
    ),
  );
  return CONVENTION_NAMES.filter((n) => used.has(n));
}
