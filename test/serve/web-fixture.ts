// The web view's fixture: a served tree with repository team/app, a copy of testdata/cosign's
// multi-platform image (tag v1: linux/amd64 and linux/arm64/v8, cosign tag signatures of the index
// and each platform, a cosign attestation) plus an SBOM attached through the OCI `subject` and a
// signature of that SBOM (a referrer of a referrer).
import { cpSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Layout, attach } from '../../src/internal.js';
import { tmpDir } from '../helpers/tmp.js';

const COSIGN = join(import.meta.dirname, '../../testdata/cosign');

export const expected = (
  JSON.parse(readFileSync(join(COSIGN, 'expected.json'), 'utf8')) as {
    'multi-platform': {
      index: string;
      platforms: Record<string, string>;
      tags: Record<string, { subject: string; referrer: string }>;
    };
  }
)['multi-platform'];

export const SBOM_TYPE = 'application/spdx+json';
export const SBOM_BYTES = '{"spdxVersion":"SPDX-2.3","name":"app","packages":[]}\n';
export const SBOM_SIG_TYPE = 'application/vnd.cncf.notary.signature';

export interface WebFixture {
  root: string;
  dir: string;
  layout: Layout;
  sbom: string;
  sbomSignature: string;
}

export async function webFixture(): Promise<WebFixture> {
  const root = tmpDir('ocilayout-web-');
  const dir = join(root, 'team', 'app');
  cpSync(join(COSIGN, 'multi-platform'), dir, { recursive: true });
  const work = tmpDir('ocilayout-web-files-');
  writeFileSync(join(work, 'sbom.spdx.json'), SBOM_BYTES);
  writeFileSync(join(work, 'sbom.sig'), 'not a real signature');
  const layout = Layout.open(dir);
  const sbom = await attach(
    layout,
    { tag: 'v1' },
    [{ path: join(work, 'sbom.spdx.json'), mediaType: SBOM_TYPE }],
    {
      artifactType: SBOM_TYPE,
      annotations: { 'org.example.tool': 'syft', 'org.example.note': '<b>not bold</b>' },
    },
  );
  const sig = await attach(
    layout,
    { digest: sbom.descriptor.digest },
    [{ path: join(work, 'sbom.sig'), mediaType: 'application/jose+json' }],
    { artifactType: SBOM_SIG_TYPE },
  );
  layout.close();
  return {
    root,
    dir,
    layout,
    sbom: sbom.descriptor.digest,
    sbomSignature: sig.descriptor.digest,
  };
}
