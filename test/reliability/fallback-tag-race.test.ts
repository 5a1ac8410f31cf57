// In the reliability suite (integration project): about 30-40 s of real registry rounds.
// Concurrent pushers of referrers to one subject on a registry without the referrers API (real
// docker-registry 2.8.2): updating the fallback tag is a read-modify-write the registry cannot make
// atomic, so every copy re-reads after a settle delay and merges back what a racing writer dropped.
// Eight concurrent copies, each adding one signature, must leave all eight listed, round after round.
import { cpSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  attach,
  copyRefs,
  fallbackTagFor,
  Layout,
  MediaType,
  type Descriptor,
} from '../../src/internal.js';
import { pushBlob } from '../../src/registry/blob-push.js';
import { RegistryClient } from '../../src/registry/client.js';
import { DEFAULT_RETRY_POLICY } from '../../src/registry/retry.js';
import { startRegistry, type RunningRegistry } from '../helpers/registry.js';
import { requireTools } from '../helpers/tools.js';
import { blobOf, opener } from '../registry/helpers.js';

const HAVE = requireTools('docker-registry');
const PUSHERS = 8;
const ROUNDS = 20;
const NO_CONFIG = { path: '/nonexistent', credentials: new Map(), helpers: new Map() };
const EMPTY_JSON = Buffer.from('{}');
// The CLI's retry policy, not the 1-ms test one: docker-registry now and then answers 500 to a GET
// of a tag that another request is rewriting, and a real back-off rides that out.
const opts = { retry: DEFAULT_RETRY_POLICY, dockerConfig: NO_CONFIG, referrers: true };

describe.runIf(HAVE)('concurrent referrer pushes to a fallback-tag registry', () => {
  let registry: RunningRegistry;
  let work: string;
  let subject: Descriptor;
  const sources: { root: string; sig: string }[] = [];

  beforeAll(async () => {
    registry = await startRegistry();
    work = mkdtempSync(join(tmpdir(), 'ocilayout-fbrace-'));
    // One small image tagged `base`; each pusher's layout is a copy of it plus its own signature.
    const base = Layout.init(join(work, 'base')).layout;
    const config = base.blobs.putBytes(
      Buffer.from(
        JSON.stringify({ architecture: 'amd64', os: 'linux', rootfs: { type: 'layers' } }),
      ),
    );
    const layer = base.blobs.putBytes(Buffer.from('one layer'));
    const manifest = Buffer.from(
      JSON.stringify({
        schemaVersion: 2,
        mediaType: MediaType.ImageManifest,
        config: { mediaType: MediaType.ImageConfig, digest: config.digest, size: config.size },
        layers: [{ mediaType: MediaType.LayerGzip, digest: layer.digest, size: layer.size }],
      }),
    );
    subject = await base.putManifest(manifest, { tag: 'base' });
    for (let n = 0; n < PUSHERS; n++) {
      const root = join(work, `l${n}`);
      cpSync(base.root, root, { recursive: true });
      const file = join(work, `sig${n}.txt`);
      writeFileSync(file, `signature ${n}`);
      const sig = await attach(Layout.open(root), { digest: subject.digest }, [{ path: file }], {
        artifactType: 'application/vnd.example.signature',
        annotations: { 'org.example.signer': `signer-${n}` },
        convention: 'fallback-tag',
      });
      sources.push({ root, sig: sig.descriptor.digest });
    }
  });
  afterAll(async () => {
    await registry?.stop();
    if (work !== undefined) rmSync(work, { recursive: true, force: true });
  });

  it(`${PUSHERS} concurrent copies, one signature each, leave all ${PUSHERS} listed (${ROUNDS} rounds)`, async () => {
    const client = new RegistryClient(registry.host, { retry: DEFAULT_RETRY_POLICY });
    const expected = sources.map((s) => s.sig).sort();
    const lost: string[] = [];
    for (let round = 0; round < ROUNDS; round++) {
      const repo = `race${round}`; // a fresh fallback tag each round
      // The shared blobs (the image, the signatures' empty config) go first: concurrent uploads of
      // one blob are a different race (in the registry), not the one this test is about.
      await copyRefs(`${join(work, 'base')}:base`, `docker://${registry.host}/${repo}`, {
        ...opts,
        referrers: false,
      });
      await pushBlob(client, repo, blobOf(EMPTY_JSON), opener(EMPTY_JSON));
      const results = await Promise.all(
        sources.map((s) => copyRefs(`${s.root}:base`, `docker://${registry.host}/${repo}`, opts)),
      );
      for (const r of results) expect(r.fallbackTags).toEqual([fallbackTagFor(subject.digest)]);
      const index = await client.getManifest(repo, fallbackTagFor(subject.digest));
      const listed = index.parsed.kind === 'index' ? index.parsed.doc.manifests : [];
      const digests = listed.map((d) => d.digest).sort();
      if (digests.join() !== expected.join()) {
        lost.push(`round ${round}: ${digests.length} of ${PUSHERS} listed`);
      }
      expect(new Set(digests).size).toBe(digests.length); // merging never duplicates
    }
    expect(lost).toEqual([]);
  }, 120_000);
});
