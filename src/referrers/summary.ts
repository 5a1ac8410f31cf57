// Per-convention counts for `ocilayout info`: how many bookkeeping entries each convention has, for
// how many subjects and referrers, and how many referrers discovery finds in total.
import type { Layout } from '../layout/layout.js';
import { CONVENTION_NAMES, type ConventionName } from './convention.js';
import { COSIGN_TAG_SOURCE } from './cosign-tag.js';
import { HAULER_KIND_SOURCE } from './hauler-kind.js';
import { referrerGraph } from './discover.js';
import type { ReferrerSource } from './scan.js';
import { CONVERT_FLAGS } from './shared.js';

export interface ConventionCount {
  /** index.json entries that are this convention's bookkeeping. */
  entries: number;
  subjects: number;
  /** Distinct referrer digests those entries list. */
  referrers: number;
}

export interface ReferrerSummary {
  conventions: Record<ConventionName, ConventionCount>;
  /** Conventions with at least one entry, in display order. */
  inUse: ConventionName[];
  /** Subjects with referrers, and distinct verified referrer edges, over every source. */
  subjects: number;
  referrers: number;
  /** Referrers found only inside other indexes (BuildKit) or only by tag. */
  nestedOnly: number;
  taggedOnly: number;
  /** Found only by a cosign tag (`sha256-<hex>.sig`/`.att`/`.sbom`), which no convention records. */
  cosignTagged: number;
  /** Found only by a hauler store's `kind` (a signature filed under its image's name). */
  haulerKind: number;
  /** Found only by the blob scan (with scanBlobs). */
  unlisted: number;
  /** BuildKit attestations without `subject`, named by annotation. */
  legacyAttestations: number;
  /** Bookkeeping entries that cannot be read as intended (see fsck). */
  problems: number;
  /** Top-level convert flags present (PR #1171 draft / olareg). */
  convertFlags: string[];
}

export function referrerSummary(
  layout: Layout,
  options: { scanBlobs?: boolean | undefined } = {},
): ReferrerSummary {
  const index = layout.readIndex();
  const graph = referrerGraph(layout, options);
  const conventions = {} as Record<ConventionName, ConventionCount>;
  for (const name of CONVENTION_NAMES) {
    const mine = graph.bookkeeping.filter((b) => b.convention === name);
    conventions[name] = {
      entries: mine.length,
      subjects: new Set(mine.map((b) => b.subject ?? b.entry.digest)).size,
      referrers: new Set(mine.flatMap((b) => b.listed.map((d) => d.digest))).size,
    };
  }
  const records = graph.records();
  const only = (s: ReferrerSource): number =>
    records.filter((r) => r.sources.size === 1 && r.sources.has(s)).length;
  return {
    conventions,
    inUse: CONVENTION_NAMES.filter((n) => conventions[n].entries > 0),
    subjects: graph.subjects().length,
    referrers: records.length,
    nestedOnly: only('nested'),
    taggedOnly: only('tagged'),
    cosignTagged: only(COSIGN_TAG_SOURCE),
    haulerKind: only(HAULER_KIND_SOURCE),
    unlisted: only('blob-scan'),
    legacyAttestations: graph.attestations().length,
    problems: graph.bookkeeping.filter((b) => b.problem !== undefined).length,
    convertFlags: CONVERT_FLAGS.filter((k) => index.annotations?.[k] !== undefined),
  };
}
