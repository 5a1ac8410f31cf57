// scan.ts on its own: scanLayout files every manifest with a `subject` under that subject, with
// where it was found (a convention's bookkeeping, a tagged entry, inside another index, only in
// blobs/), BuildKit attestations named by annotation, and never a bookkeeping index itself.
import { writeFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import type { Digest } from '../../src/digest.js';
import { Annotation, MediaType } from '../../src/media-types.js';
import { ConventionContext } from '../../src/referrers/context.js';
import { scanLayout } from '../../src/referrers/scan.js';
import type { Layout } from '../../src/layout/layout.js';
import type { Descriptor } from '../../src/schema/descriptor.js';
import { tmpLayout } from '../helpers/tmp.js';
import {
  putArtifact,
  putImage,
  putIndex,
  setEntries,
  signedImage,
  SIG,
  tagEntry,
  untaggedEntry,
} from './helpers.js';

function scan(layout: Layout, scanBlobs = false) {
  const ctx = new ConventionContext(layout);
  return scanLayout(layout.readIndex(), ctx, scanBlobs ? { scanBlobs } : {});
}

function sourcesOf(layout: Layout, subject: string, referrer: string, scanBlobs = false): string[] {
  const rec = scan(layout, scanBlobs)
    .records.get(subject as Digest)
    ?.get(referrer as Digest);
  return rec === undefined ? [] : [...rec.sources].sort();
}

describe('scanLayout', () => {
  it.each(['fallback-tag', 'subject-annotation', 'per-manifest'] as const)(
    'files a referrer recorded in %s under its subject, from the manifest itself',
    async (c) => {
      const { layout, img, sig } = await signedImage(c);
      const s = scan(layout);
      expect(s.bookkeeping.map((b) => b.convention)).toEqual([c]);
      const rec = s.records.get(img.digest as Digest)!.get(sig.digest as Digest)!;
      expect([...rec.sources]).toEqual([c]);
      expect(rec.descriptor).toMatchObject({ digest: sig.digest, artifactType: SIG });
      expect(rec.buildkit).toBe(false);
      expect([...s.records.keys()]).toEqual([img.digest]); // bookkeeping indexes are no referrers
    },
  );

  it('says where else it was found: a tag on it, inside another index', async () => {
    const layout = tmpLayout();
    const img = putImage(layout, 'a');
    const sig = putArtifact(layout, img, SIG);
    const bundle = putIndex(layout, [sig]);
    await setEntries(layout, [tagEntry(img, 'v1'), tagEntry(sig, 'sig'), untaggedEntry(bundle)]);
    expect(sourcesOf(layout, img.digest, sig.digest)).toEqual(['nested', 'tagged']);
  });

  it('passes over malformed and unreadable siblings in an index and goes on', async () => {
    const layout = tmpLayout();
    const img = putImage(layout, 'a');
    const sig = putArtifact(layout, img, SIG);
    const gone = {
      mediaType: MediaType.ImageManifest,
      digest: `sha256:${'1'.repeat(64)}`,
      size: 2,
    };
    const bundle = putIndex(layout, [
      { mediaType: MediaType.ImageManifest, size: 2 }, // no digest: not a descriptor
      { mediaType: MediaType.ImageManifest, digest: 'sha256:nope', size: 2 },
      gone,
      sig,
    ] as Descriptor[]);
    await setEntries(layout, [tagEntry(img, 'v1'), untaggedEntry(bundle)]);
    expect(sourcesOf(layout, img.digest, sig.digest)).toEqual(['nested']);
  });

  it('never files a bookkeeping index as a referrer, even one with a subject', async () => {
    const layout = tmpLayout();
    const img = putImage(layout, 'a');
    const sig = putArtifact(layout, img, SIG);
    const listing = putIndex(layout, [sig], { subject: img });
    await setEntries(layout, [
      tagEntry(img, 'v1'),
      tagEntry(listing, `sha256-${img.digest.slice(7)}`),
    ]);
    const s = scan(layout);
    expect(s.bookkeeping.map((b) => b.convention)).toEqual(['fallback-tag']);
    expect([...s.records.get(img.digest as Digest)!.keys()]).toEqual([sig.digest]);
  });

  it('trusts only the subject field: a listing under the wrong subject files it under its own', async () => {
    const layout = tmpLayout();
    const a = putImage(layout, 'a');
    const b = putImage(layout, 'b');
    const ofB = putArtifact(layout, b, SIG);
    // A hand-made "fallback index" for a that lists b's referrer.
    const stale = putIndex(layout, [ofB]);
    await setEntries(layout, [
      tagEntry(a, 'a'),
      tagEntry(b, 'b'),
      tagEntry(stale, `sha256-${a.digest.slice(7)}`),
    ]);
    const s = scan(layout);
    expect(s.records.get(a.digest as Digest)).toBeUndefined();
    expect([...s.records.get(b.digest as Digest)!.keys()]).toEqual([ofB.digest]);
  });

  describe('BuildKit attestations in an image index', () => {
    function buildkitIndex(layout: Layout, attestation: Descriptor, names: string): Descriptor {
      const img = putImage(layout, 'img');
      return putIndex(layout, [
        { ...img, platform: { os: 'linux', architecture: 'amd64' } },
        {
          ...attestation,
          platform: { os: 'unknown', architecture: 'unknown' },
          annotations: {
            [Annotation.DockerReferenceType]: 'attestation-manifest',
            [Annotation.DockerReferenceDigest]: names,
          },
        },
      ]);
    }

    it('lists a legacy attestation (no subject) by the image it names', async () => {
      const layout = tmpLayout();
      const img = putImage(layout, 'img');
      const att = putImage(layout, 'attestation'); // a manifest without subject
      const idx = buildkitIndex(layout, att, img.digest);
      await setEntries(layout, [tagEntry(idx, 'v1')]);
      const s = scan(layout);
      expect(s.attestations.get(img.digest as Digest)).toEqual([
        expect.objectContaining({ subject: img.digest, index: idx.digest }),
      ]);
      expect(s.attestations.get(img.digest as Digest)![0]!.descriptor.digest).toBe(att.digest);
      expect(s.records.size).toBe(0);
    });

    it('marks an attestation with a subject as a buildkit referrer', async () => {
      const layout = tmpLayout();
      const img = putImage(layout, 'img');
      const att = putArtifact(layout, img, 'application/vnd.in-toto+json');
      const idx = buildkitIndex(layout, att, img.digest);
      // Reached first through a tag (not as an attestation), then inside the index.
      await setEntries(layout, [tagEntry(att, 'att'), tagEntry(idx, 'v1')]);
      const s = scan(layout);
      const rec = s.records.get(img.digest as Digest)!.get(att.digest as Digest)!;
      expect(rec.buildkit).toBe(true);
      expect([...rec.sources].sort()).toEqual(['nested', 'tagged']);
      expect(s.attestations.size).toBe(0); // it has a subject: a referrer, not a legacy attestation
    });

    it('ignores an attestation naming an image the index does not list', async () => {
      const layout = tmpLayout();
      const att = putImage(layout, 'attestation');
      const idx = buildkitIndex(layout, att, `sha256:${'1'.repeat(64)}`);
      await setEntries(layout, [tagEntry(idx, 'v1')]);
      expect(scan(layout).attestations.size).toBe(0);
    });
  });

  describe('the blob scan', () => {
    it('finds a referrer listed nowhere only when asked, and never a corrupt one', async () => {
      const layout = tmpLayout();
      const img = putImage(layout, 'a');
      await setEntries(layout, [tagEntry(img, 'v1')]);
      const loose = putArtifact(layout, img, SIG);
      const corrupt = putArtifact(layout, img, SIG, { n: 'corrupt' });
      writeFileSync(
        layout.blobs.path(corrupt.digest as Digest),
        JSON.stringify({ schemaVersion: 2, mediaType: MediaType.ImageManifest, subject: img }),
      );
      expect(sourcesOf(layout, img.digest, loose.digest)).toEqual([]);
      expect(sourcesOf(layout, img.digest, loose.digest, true)).toEqual(['blob-scan']);
      expect(sourcesOf(layout, img.digest, corrupt.digest, true)).toEqual([]);
    });
  });
});
