// Convention "per-manifest" (oras-go, containerd export, cosign save): every referrer manifest is its
// own untagged index.json entry, found by reading its `subject`. We add containerd's
// `io.containerd.manifest.subject` hint to entries we write, and never rely on it when reading.
import { tryParseDigest } from '../digest.js';
import { carriesDigestName } from '../layout/names.js';
import { Annotation, isManifestMediaType } from '../media-types.js';
import { canonicalDescriptor, type Descriptor } from '../schema/descriptor.js';
import type { Finding } from '../maintenance/findings.js';
import type { IndexFile } from '../schema/layout-files.js';
import { indexFinding, subjectMissing } from './checks.js';
import type { ConventionContext } from './context.js';
import type { Claim, ReferrerConvention, SubjectReferrers } from './convention.js';
import { hasSubjectKey } from './shared.js';

/** The entry we write: identity, artifactType, and the containerd hint (containerd's own shape). */
function perManifestEntry(referrer: Descriptor, subject: string): Descriptor {
  const entry: Descriptor = {
    mediaType: referrer.mediaType,
    digest: referrer.digest,
    size: referrer.size,
    annotations: { [Annotation.ContainerdManifestSubject]: subject },
  };
  if (referrer.artifactType !== undefined) entry.artifactType = referrer.artifactType;
  return canonicalDescriptor(entry);
}

export const perManifestConvention = {
  name: 'per-manifest',
  lists: false,

  /**
   * Ours when the entry is untagged, carries no subject-annotation key, and the manifest it names has
   * a `subject` (whatever else decorates it: oras's created time, cosign's `kind`). A tagged referrer
   * is a user's tag, not bookkeeping. When the manifest is missing, the containerd hint alone marks
   * a (dangling) entry as ours.
   */
  claim(entry: Descriptor, ctx: ConventionContext): Claim | undefined {
    // A digest-only name (an artifact synced by digest) is the user's name, as a tag is.
    if (
      entry.annotations?.[Annotation.RefName] !== undefined ||
      carriesDigestName(entry) ||
      hasSubjectKey(entry)
    )
      return undefined;
    if (!isManifestMediaType(entry.mediaType)) return undefined;
    const r = ctx.docs.read(entry.digest, entry.mediaType);
    if (r.ok) {
      return r.doc.subject === undefined
        ? undefined
        : { entry, subject: r.doc.subject, listed: [entry] };
    }
    const hint = tryParseDigest(entry.annotations?.[Annotation.ContainerdManifestSubject]);
    return hint === undefined
      ? undefined
      : { entry, subject: hint, listed: [entry], problem: r.error.message };
  },

  add(index: IndexFile, batch: readonly SubjectReferrers[], _ctx: ConventionContext): void {
    // Any top-level entry for the digest (tagged, or an oras/cosign entry) already lists it.
    const listed = new Set(index.manifests.map((e) => e.digest));
    for (const { subject, referrers } of batch) {
      for (const r of referrers) {
        if (listed.has(r.digest)) continue;
        index.manifests.push(perManifestEntry(r, subject));
        listed.add(r.digest);
      }
    }
  },

  remove(index: IndexFile, referrers: ReadonlySet<string>, ctx: ConventionContext): void {
    index.manifests = index.manifests.filter(
      (e) => !referrers.has(e.digest) || this.claim(e, ctx) === undefined,
    );
  },

  orderKey(entry: Descriptor): string {
    return entry.digest;
  },

  /** Each entry: its manifest readable, a containerd hint that agrees, a subject that is stored. */
  check(own, _index, ctx): Finding[] {
    const out: Finding[] = [];
    for (const b of own) {
      if (b.problem !== undefined) {
        out.push(
          indexFinding(
            'REFERRER_DANGLING_DESCRIPTOR',
            `index.json lists referrer ${b.entry.digest}: ${b.problem}`,
            b.entry.digest,
          ),
        );
        continue;
      }
      const hint = b.entry.annotations?.[Annotation.ContainerdManifestSubject];
      if (hint !== undefined && hint !== b.subject) {
        out.push(
          indexFinding(
            'REFERRER_ANNOTATION_MISMATCH',
            `entry ${b.entry.digest} says ${Annotation.ContainerdManifestSubject}=${hint}, but its subject is ${b.subject ?? '(none)'}`,
            b.entry.digest,
          ),
        );
      }
      out.push(...subjectMissing(b, ctx, `referrer ${b.entry.digest} has subject ${b.subject}`));
    }
    return out;
  },
} satisfies ReferrerConvention;
