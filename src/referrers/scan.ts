// One pass over a layout that finds every referrer, whatever convention recorded it: walk from every
// index.json entry through every index (bookkeeping indexes included), read each manifest once, and
// file each manifest that has a `subject` under that subject. Optionally scan blobs/ for unlisted
// ones. The `subject` field is the only truth: listings are where we look, never what we believe.
import type { Digest } from '../digest.js';
import { walkDocuments } from '../layout/graph.js';
import { carriesDigestName } from '../layout/names.js';
import { Annotation, MAX_MANIFEST_BYTES } from '../media-types.js';
import type { Descriptor } from '../schema/descriptor.js';
import type { IndexFile } from '../schema/layout-files.js';
import type { ConventionContext } from './context.js';
import { CONVENTIONS, classifyIndex, type Bookkeeping, type ConventionName } from './convention.js';
import { COSIGN_TAG_SOURCE, cosignReferrerDescriptor, cosignTagOf } from './cosign-tag.js';
import type { DocInfo } from './documents.js';
import { HAULER_KIND_SOURCE, haulerLinks, haulerReferrerDescriptor } from './hauler-kind.js';
import { referrerDescriptor } from './response.js';

/** Where a referrer was found. The first three are the conventions' bookkeeping. */
export type ReferrerSource =
  | ConventionName
  /** a tagged index.json entry (a user tag on the referrer itself) */
  | 'tagged'
  /** a cosign tag (`sha256-<hex>.sig` …) naming the subject of a manifest without `subject` */
  | typeof COSIGN_TAG_SOURCE
  /** a hauler store's entry whose `kind` makes it a signature (…) of the image entry of its name */
  | typeof HAULER_KIND_SOURCE
  /** inside an index that is not bookkeeping (e.g. BuildKit's attestations in the image index) */
  | 'nested'
  /** only in blobs/, found by the blob scan */
  | 'blob-scan';

export interface ReferrerRecord {
  subject: Digest;
  /** The referrers-API descriptor, built from the referrer manifest itself. */
  descriptor: Descriptor;
  sources: Set<ReferrerSource>;
  /** Listed in an image index as a BuildKit attestation (`vnd.docker.reference.type`). */
  buildkit: boolean;
}

/** A BuildKit attestation without `subject` (the legacy format): named by annotation only. */
export interface Attestation {
  subject: Digest;
  descriptor: Descriptor;
  /** The image index that lists both the attestation and its subject. */
  index: string;
}

export interface LayoutScan {
  bookkeeping: Bookkeeping[];
  /** subject → referrer digest → record */
  records: Map<Digest, Map<Digest, ReferrerRecord>>;
  attestations: Map<Digest, Attestation[]>;
}

const ATTESTATION = 'attestation-manifest';

/** A referrer edge a dialect's name makes (no `subject` backs it), and the descriptor it gives. */
interface NamedLink {
  subject: Digest;
  describe: (doc: DocInfo) => Descriptor;
}

export function scanLayout(
  index: IndexFile,
  ctx: ConventionContext,
  options: { scanBlobs?: boolean | undefined } = {},
): LayoutScan {
  const bookkeeping = classifyIndex(index, ctx);
  const roleOf = new Map<Descriptor, ConventionName>(
    bookkeeping.map((b) => [b.entry, b.convention]),
  );
  const records = new Map<Digest, Map<Digest, ReferrerRecord>>();
  const attestations = new Map<Digest, Attestation[]>();
  const notManifests = new Set<string>();

  const file = (
    doc: DocInfo,
    source: ReferrerSource,
    buildkit: boolean,
    named?: NamedLink,
  ): void => {
    // A dialect's name (cosign tag, hauler kind) links only a manifest that has no `subject` of its
    // own (which stays the truth); such an entry is then an ordinary tagged one.
    const byName = doc.subject === undefined ? named : undefined;
    const subject = doc.subject ?? byName?.subject;
    if (subject === undefined) return;
    if (byName === undefined && (source === COSIGN_TAG_SOURCE || source === HAULER_KIND_SOURCE))
      source = 'tagged';
    let bySubject = records.get(subject);
    if (bySubject === undefined) {
      bySubject = new Map<Digest, ReferrerRecord>();
      records.set(subject, bySubject);
    }
    const rec = bySubject.get(doc.digest);
    if (rec === undefined) {
      const descriptor = byName === undefined ? referrerDescriptor(doc) : byName.describe(doc);
      bySubject.set(doc.digest, {
        subject,
        descriptor,
        sources: new Set([source]),
        buildkit,
      });
    } else {
      rec.sources.add(source);
      rec.buildkit ||= buildkit;
    }
  };

  const hauler = haulerLinks(index);
  // The link a root entry's name makes in a dialect: a cosign tag, or hauler's kind.
  const namedLink = (entry: Descriptor): NamedLink | undefined => {
    const cosign = cosignTagOf(entry);
    if (cosign !== undefined)
      return { subject: cosign.subject, describe: (d) => cosignReferrerDescriptor(d, cosign.kind) };
    const h = hauler.get(entry);
    if (h?.subject !== undefined)
      return { subject: h.subject, describe: (d) => haulerReferrerDescriptor(d, h.role) };
    return undefined;
  };

  // Where a root entry was found: a convention's bookkeeping, a cosign tag, a tag, or neither.
  const rootSource = (entry: Descriptor): ReferrerSource => {
    const role = roleOf.get(entry);
    if (role !== undefined) return role;
    if (cosignTagOf(entry) !== undefined) return COSIGN_TAG_SOURCE;
    if (hauler.get(entry)?.subject !== undefined) return HAULER_KIND_SOURCE;
    return entry.annotations?.[Annotation.RefName] !== undefined || carriesDigestName(entry)
      ? 'tagged'
      : 'nested';
  };
  // The one graph walk, over DocReader's documents: every reference is seen (a referrer listed in
  // two places has both sources), each index is expanded once, a document that cannot be read is
  // passed over (fsck reports it) and a malformed descriptor in an index skipped (DocInfo.children
  // holds the well-formed ones). Only indexes are followed: a manifest's config and layers name no
  // referrers, and are remembered only so the blob scan need not sniff them. Nesting past the walk's
  // depth cap is not followed, as gc's mark does not follow it either.
  walkDocuments(
    (desc) => {
      const r = ctx.docs.read(desc.digest, desc.mediaType);
      if (!r.ok) throw r.error;
      return r.doc;
    },
    (doc) => doc.children,
    index.manifests,
    {
      collect: true,
      visit: (_desc, doc) => {
        for (const b of doc?.blobs ?? []) notManifests.add(b);
      },
      arrive: ({ desc, doc }, parent) => {
        if (doc === undefined) return;
        // A bookkeeping index is not itself a referrer even if it has a subject; what it lists may be.
        const role = roleOf.get(desc);
        if (role !== undefined && CONVENTIONS[role].lists) return;
        if (parent === undefined) {
          file(doc, rootSource(desc), false, role === undefined ? namedLink(desc) : undefined);
          return;
        }
        const parentRole = roleOf.get(parent.desc);
        const source: ReferrerSource =
          parentRole !== undefined && CONVENTIONS[parentRole].lists ? parentRole : 'nested';
        const named = attestationSubject(desc, parent.doc!);
        file(doc, source, named !== undefined);
        if (named !== undefined && doc.subject === undefined) {
          const list = attestations.get(named) ?? [];
          if (!list.some((a) => a.descriptor.digest === doc.digest)) {
            list.push({
              subject: named,
              descriptor: referrerDescriptor(doc),
              index: parent.desc.digest,
            });
          }
          attestations.set(named, list);
        }
      },
    },
  );

  if (options.scanBlobs === true) {
    for (const digest of ctx.layout.blobs.list().blobs) {
      if (ctx.docs.seen(digest) || notManifests.has(digest)) continue;
      const doc = sniffManifest(ctx, digest);
      if (doc !== undefined) file(doc, 'blob-scan', false);
    }
  }
  return { bookkeeping, records, attestations };
}

/**
 * The image a BuildKit attestation names: `vnd.docker.reference.type: attestation-manifest` and
 * `vnd.docker.reference.digest`, believed only when that digest is listed in the same index.
 */
function attestationSubject(child: Descriptor, index: DocInfo): Digest | undefined {
  const a = child.annotations;
  if (a?.[Annotation.DockerReferenceType] !== ATTESTATION) return undefined;
  const ref = a[Annotation.DockerReferenceDigest];
  return ref !== undefined && index.children.some((c) => c.digest === ref)
    ? (ref as Digest)
    : undefined;
}

/** A stored blob read as a manifest when it plausibly is one (small, starts with `{`). */
function sniffManifest(ctx: ConventionContext, digest: Digest): DocInfo | undefined {
  const stat = ctx.layout.blobs.stat(digest);
  if (stat === undefined || stat.size > MAX_MANIFEST_BYTES || stat.size < 2) return undefined;
  let bytes: Buffer;
  try {
    bytes = ctx.layout.blobs.readBytes(digest, MAX_MANIFEST_BYTES, { verify: false });
  } catch {
    return undefined;
  }
  let i = 0;
  while (
    i < bytes.length &&
    (bytes[i] === 0x20 || bytes[i] === 0x0a || bytes[i] === 0x0d || bytes[i] === 0x09)
  )
    i++;
  if (bytes[i] !== 0x7b) return undefined;
  // Worth a full read: this one verifies the digest (a corrupt blob is no referrer).
  return ctx.docs.doc(digest);
}
