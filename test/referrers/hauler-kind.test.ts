// hauler stores (testdata/hauler, reconstructed from hauler's source): signature, attestation, SBOM
// and referrer entries that share their image's names are referrers of that image, not names.
import { cpSync, existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import {
  Layout,
  detach,
  discoverReferrers,
  fsck,
  gc,
  referrerFsckChecks,
  referrerRootPolicy,
  referrerSummary,
} from '../../src/internal.js';
import { haulerKindOf, haulerLinks } from '../../src/referrers/hauler-kind.js';
import { tmpDir } from '../helpers/tmp.js';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const HAULER = join(ROOT, 'testdata', 'hauler');
interface Expected {
  names: Record<string, string>;
  stale?: string;
  referrers: Record<string, Record<string, string[]>>;
}
const EXPECTED = JSON.parse(readFileSync(join(HAULER, 'expected.json'), 'utf8')) as Record<
  string,
  Expected
>;
const V2 = EXPECTED['v2-store']!;
const V1 = EXPECTED['v1-store']!;
const ALPINE = 'index.docker.io/library/alpine:3.20';
const BUSYBOX = 'index.docker.io/library/busybox:1.36';

/** A writable copy of a fixture store. */
function store(name: 'v2-store' | 'v1-store'): Layout {
  const dir = join(tmpDir(), name);
  cpSync(join(HAULER, name), dir, { recursive: true });
  return Layout.open(dir);
}

const all = (e: Expected, digest: string): string[] =>
  Object.values(e.referrers[digest] ?? {})
    .flat()
    .sort();

describe('hauler kinds', () => {
  it('reads hauler 2.x and 1.x kinds, and nothing else, as hauler kinds', () => {
    const k = (kind: string) =>
      haulerKindOf({ mediaType: 'x', digest: 'sha256:0', size: 0, annotations: { kind } });
    expect(k('dev.hauler/imageIndex')).toEqual({ image: true });
    expect(k('dev.cosignproject.cosign/image')).toEqual({ image: true });
    expect(k('dev.hauler/sboms')).toEqual({ image: false, role: 'sboms' });
    expect(k('dev.cosignproject.cosign/atts')).toEqual({ image: false, role: 'atts' });
    expect(k('dev.hauler/referrers/abc')).toEqual({ image: false, role: 'referrers' });
    expect(k('dev.cosignproject.cosign/referrers/abc')).toBeUndefined();
    expect(k('dev.hauler/other')).toBeUndefined();
    expect(k('example.com/sigs')).toBeUndefined();
  });

  it('opens a hauler 2.x store without oci-layout, and writes none into it', () => {
    const dir = join(HAULER, 'v2-store');
    expect(existsSync(join(dir, 'oci-layout'))).toBe(false);
    const layout = Layout.open(dir);
    expect(layout.tags()).toEqual(Object.keys(V2.names).sort());
    expect(existsSync(join(dir, 'oci-layout'))).toBe(false);
  });

  it('a directory with index.json but no hauler kinds and no oci-layout is still no layout', () => {
    const dir = join(tmpDir(), 'plain');
    cpSync(join(HAULER, 'v2-store'), dir, { recursive: true });
    const index = JSON.parse(readFileSync(join(dir, 'index.json'), 'utf8')) as {
      manifests: { annotations: Record<string, string> }[];
    };
    for (const e of index.manifests) delete e.annotations['kind'];
    writeFileSync(join(dir, 'index.json'), JSON.stringify(index));
    expect(() => Layout.open(dir)).toThrow(expect.objectContaining({ code: 'E_NOT_A_LAYOUT' }));
  });

  it('init adopts a hauler store by adding oci-layout, touching nothing else', () => {
    const layout = store('v2-store');
    const before = readFileSync(join(layout.root, 'index.json'));
    // Only when asked (`ocilayout init`): a write into the store adds no file.
    expect(Layout.init(layout.root).created).toBe(false);
    expect(existsSync(join(layout.root, 'oci-layout'))).toBe(false);
    const made = Layout.init(layout.root, {}, { adoptHauler: true });
    expect(made.created).toBe(true);
    expect(JSON.parse(readFileSync(join(layout.root, 'oci-layout'), 'utf8'))).toEqual({
      imageLayoutVersion: '1.0.0',
    });
    expect(readFileSync(join(layout.root, 'index.json'))).toEqual(before);
  });

  it('names: each image once, resolved to the image entry, never to its signatures', () => {
    const layout = store('v2-store');
    expect(layout.tags()).toEqual(Object.keys(V2.names).sort());
    for (const [name, digest] of Object.entries(V2.names)) {
      expect(layout.resolve({ tag: name }).digest).toBe(digest);
    }
    // hauler's own ref.name (registry stripped) and the bare tag resolve to the image too.
    expect(layout.resolve({ tag: 'library/alpine:3.20' }).digest).toBe(V2.names[ALPINE]);
    expect(layout.resolve({ tag: '3.20' }).digest).toBe(V2.names[ALPINE]);
  });

  it("a cosign tag of an image finds hauler's entry of that kind", () => {
    const layout = store('v2-store');
    const img = V2.names[ALPINE]!;
    const tag = (k: string) => `${img.replace(':', '-')}.${k}`;
    expect(layout.resolve({ tag: tag('sig') }).digest).toBe(V2.referrers[img]!['sigs']![0]);
    expect(layout.resolve({ tag: tag('att') }).digest).toBe(V2.referrers[img]!['atts']![0]);
    expect(layout.resolve({ tag: tag('sbom') }).digest).toBe(V2.referrers[img]!['sboms']![0]);
  });

  it("untag and detach of cosign's tag remove just that hauler entry", async () => {
    const layout = store('v2-store');
    const img = V2.names[ALPINE]!;
    const tag = (k: string) => `${img.replace(':', '-')}.${k}`;
    const n = layout.readIndex().manifests.length;
    const removed = await layout.untag(tag('att'));
    expect(removed.map((e) => e.digest)).toEqual(V2.referrers[img]!['atts']);
    const d = await detach(layout, tag('sig'));
    expect(d.digest).toBe(V2.referrers[img]!['sigs']![0]);
    expect(layout.readIndex().manifests).toHaveLength(n - 2);
    expect(layout.resolve({ tag: ALPINE }).digest).toBe(img);
    expect(
      discoverReferrers(layout, img as never)
        .map((r) => r.digest)
        .sort(),
    ).toEqual([...V2.referrers[img]!['sboms']!, ...V2.referrers[img]!['referrers']!].sort());
  });

  it('discover: signatures, attestations, SBOMs and referrers of the image of the same name', () => {
    const layout = store('v2-store');
    for (const name of [ALPINE, BUSYBOX]) {
      const img = V2.names[name]!;
      const found = discoverReferrers(layout, img);
      expect(found.map((d) => d.digest).sort()).toEqual(all(V2, img));
    }
    const sig = discoverReferrers(layout, V2.names[ALPINE] as never, {
      artifactType: 'application/vnd.dev.cosign.artifact.sig.v1+json',
    });
    expect(sig).toMatchObject([
      {
        digest: V2.referrers[V2.names[ALPINE]!]!['sigs']![0],
        annotations: { 'dev.ocilayout.referrer.source': 'hauler-kind' },
      },
    ]);
    const s = referrerSummary(layout);
    expect(s.referrers).toBe(5);
    expect(s.haulerKind).toBe(4);
  });

  it('v1 store: legacy kinds, the last of duplicate image entries is the subject', () => {
    const layout = store('v1-store');
    expect(layout.tags()).toEqual(Object.keys(V1.names));
    const img = Object.values(V1.names)[0]!;
    expect(layout.resolve({ tag: Object.keys(V1.names)[0]! }).digest).toBe(img);
    expect(discoverReferrers(layout, img as never).map((d) => d.digest)).toEqual(all(V1, img));
    expect(discoverReferrers(layout, V1.stale as never)).toEqual([]);
  });

  it('gc keeps every signature while its image is named, and removes nothing from the store', async () => {
    const layout = store('v2-store');
    const before = layout.readIndex().manifests.length;
    const r = await gc(layout, { policy: referrerRootPolicy });
    expect(r.removedBlobs).toEqual([]);
    expect(r.removedEntries).toEqual([]);
    expect(layout.readIndex().manifests).toHaveLength(before);
  });

  it('untagging an image leaves its signatures (no subject to tell), and fsck says so', async () => {
    const layout = store('v2-store');
    const img = V2.names[BUSYBOX]!;
    const sig = V2.referrers[img]!['sigs']![0]!;
    const removed = await layout.untag(BUSYBOX);
    // Only the image entry: the signature entry carries the name but does not own it.
    expect(removed.map((e) => e.digest)).toEqual([img]);
    const links = [...haulerLinks(layout.readIndex()).values()];
    expect(links.filter((l) => l.subject === undefined).map((l) => l.name)).toEqual([BUSYBOX]);
    const r = await gc(layout, { policy: referrerRootPolicy });
    expect(r.removedEntries).toEqual([]);
    expect(layout.blobs.has(sig as never)).toBe(true);
    const report = await fsck(layout, { checks: referrerFsckChecks });
    expect(report.findings.map((f) => f.code)).toContain('HAULER_SUBJECT_MISSING');
  });

  it('fsck: a hauler store is clean but for the absent oci-layout (a warning)', async () => {
    const report = await fsck(join(HAULER, 'v2-store'), { checks: referrerFsckChecks });
    expect(report.ok).toBe(true);
    expect(report.findings.map((f) => [f.code, f.severity])).toEqual([
      ['HAULER_STORE_NO_OCI_LAYOUT', 'warning'],
    ]);
    const v1 = await fsck(join(HAULER, 'v1-store'), { checks: referrerFsckChecks });
    expect(v1.findings).toEqual([]);
  });
});
