// A signed image crosses an air gap and keeps its signatures, through the built CLI and two real
// registries: cosign key signatures (sha256-<hex>.sig tags, made with node:crypto in cosign's
// format) on the index and on one platform manifest, plus OCI referrers, are copied from registry
// A into a layout with the defaults, exported, imported elsewhere, and pushed to registry B, where
// skopeo reads each signature manifest back and the signature verifies against the public key.
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { listRemoteReferrers } from '../../src/registry/remote-referrers.js';
import { pushBlob } from '../../src/registry/blob-push.js';
import { RegistryClient } from '../../src/registry/client.js';
import type { Digest } from '../../src/internal.js';
import { cosignKeys, cosignSignature, signatureTag, verifyCosign } from '../helpers/cosign.js';
import { startRegistry, type RunningRegistry } from '../helpers/registry.js';
import { cliOk } from '../helpers/run-cli.js';
import { requireTools } from '../helpers/tools.js';
import { makeFixture, type Fixture } from '../registry/fixture.js';
import { blobOf, fastRetry, opener } from '../registry/helpers.js';

const HAVE = requireTools('docker-registry', 'skopeo');

describe.runIf(HAVE)('cosign signatures survive registry → layout → archive → registry', () => {
  const keys = cosignKeys();
  let a: RunningRegistry;
  let b: RunningRegistry;
  let dir: string;
  let fixture: Fixture;
  /** The index's signature manifest, as pushed to registry A. */
  let indexSig: string;

  beforeAll(async () => {
    [a, b] = await Promise.all([startRegistry(), startRegistry()]);
    dir = mkdtempSync(join(tmpdir(), 'ocilayout-cosign-e2e-'));
    fixture = await makeFixture(dir, 'subject-annotation');
    await cliOk(['copy', '--referrers', `${fixture.layout.root}:v1`, `docker://${a.host}/app:v1`]);
    // `cosign sign --key --recursive`: the index and each platform manifest; here the index and amd64.
    const client = new RegistryClient(a.host, { retry: fastRetry(2) });
    for (const digest of [fixture.index.digest, fixture.amd64.digest]) {
      const sig = cosignSignature(keys, `${a.host}/app`, digest);
      if (digest === fixture.index.digest) indexSig = sig.manifest.digest;
      for (const blob of [sig.payload, sig.config]) {
        await pushBlob(client, 'app', blobOf(blob.bytes), opener(blob.bytes));
      }
      await client.putManifest(
        'app',
        signatureTag(digest),
        sig.manifest.bytes,
        sig.manifest.mediaType,
      );
    }
  }, 120_000);

  afterAll(async () => {
    await Promise.all([a?.stop(), b?.stop()]);
    if (dir !== undefined) rmSync(dir, { recursive: true, force: true });
  });

  it('arrive on the second registry and verify', async () => {
    const layout = join(dir, 'connected');
    const copied = JSON.parse(
      await cliOk(['copy', '--json', '--referrers', `docker://${a.host}/app:v1`, layout]),
    ) as { cosignTags: string[] };
    expect(copied.cosignTags.sort()).toEqual(
      [signatureTag(fixture.index.digest), signatureTag(fixture.amd64.digest)].sort(),
    );
    // discover shows the signature at every step: the registry, the layout, the imported layout.
    const shows = async (ref: string): Promise<void> =>
      expect(await cliOk(['discover', '--json', ref])).toContain(indexSig);
    await shows(`docker://${a.host}/app:v1`);
    await shows(`${layout}:v1`);
    const bundle = join(dir, 'bundle.tar');
    await cliOk(['export', layout, bundle]);
    const far = join(dir, 'far');
    await cliOk(['import', bundle, far]);
    await cliOk(['fsck', far]);
    await shows(`${far}:v1`);
    await cliOk(['copy', '--referrers', `${far}:v1`, `docker://${b.host}/app:v1`]);
    await shows(`docker://${b.host}/app:v1`);

    for (const digest of [fixture.index.digest, fixture.amd64.digest]) {
      // skopeo, not our client, reads the signature manifest on B.
      const raw = spawnSync(
        'skopeo',
        [
          'inspect',
          '--raw',
          '--tls-verify=false',
          `docker://${b.host}/app:${signatureTag(digest)}`,
        ],
        { encoding: 'buffer' },
      );
      expect(raw.status, raw.stderr.toString()).toBe(0);
      const valid = await verifyCosign(keys.publicKey, digest, raw.stdout, async (d) =>
        Buffer.from(await (await fetch(`http://${b.host}/v2/app/blobs/${d}`)).arrayBuffer()),
      );
      expect(valid).toBe(1);
      // The same signature does not verify for another digest: the check can fail.
      expect(
        await verifyCosign(keys.publicKey, fixture.arm64.digest, raw.stdout, () =>
          Promise.resolve(Buffer.alloc(0)),
        ),
      ).toBe(0);
    }
    // The OCI referrers (signature and SBOM of the fixture) arrived too.
    const client = new RegistryClient(b.host, { retry: fastRetry(2) });
    const onIndex = await listRemoteReferrers(client, 'app', fixture.index.digest as Digest);
    expect(onIndex.descriptors.map((r) => r.digest)).toContain(fixture.sig);
  }, 180_000);
});
