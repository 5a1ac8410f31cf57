// Fixtures for CLI integration tests: a layout holding a small pushed artifact, built in-process
// through the library (fast), and helpers to read the CLI's --json error on stderr.
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import {
  Layout,
  attach,
  parseDigest,
  pushFiles,
  type Descriptor,
  type Digest,
} from '../../src/internal.js';
import type { CliResult } from './run-cli.js';
import { tmpDir } from './tmp.js';

export interface ArtifactLayout {
  /** Layout directory. */
  dir: string;
  layout: Layout;
  /** The manifest tagged v1. */
  manifest: Descriptor;
  /** Layer digests by title: a.txt ("hello\n"), b.json ('{"x":1}'). */
  layers: Record<'a.txt' | 'b.json', Digest>;
  /** Scratch directory outside the layout. */
  work: string;
}

/** Attach a signature artifact (one JSON file) to the fixture's v1, so v1's subject has a referrer. */
export async function signV1(f: ArtifactLayout): Promise<void> {
  writeFileSync(join(f.work, 'sig.json'), '{}');
  await attach(
    Layout.open(f.dir),
    { tag: 'v1' },
    [{ path: join(f.work, 'sig.json'), mediaType: 'application/json' }],
    { artifactType: 'application/vnd.example.sig' },
  );
}

export async function artifactLayout(): Promise<ArtifactLayout> {
  const work = tmpDir('ocilayout-cli-');
  const dir = join(work, 'layout');
  const layout = Layout.init(dir).layout;
  writeFileSync(join(work, 'a.txt'), 'hello\n');
  writeFileSync(join(work, 'b.json'), '{"x":1}');
  const { descriptor, manifest } = await pushFiles(
    layout,
    [{ path: join(work, 'a.txt') }, { path: join(work, 'b.json'), mediaType: 'application/json' }],
    { tag: 'v1' },
  );
  layout.close();
  return {
    dir,
    layout,
    manifest: descriptor,
    layers: {
      'a.txt': parseDigest(manifest.layers[0]!.digest),
      'b.json': parseDigest(manifest.layers[1]!.digest),
    },
    work,
  };
}

/** The `{"error":{...}}` line a --json run printed on stderr. */
export function jsonError(r: CliResult): { code: string; message: string; hint?: string } {
  const last = r.stderr.trim().split('\n').pop() ?? '';
  const parsed = JSON.parse(last) as { error: { code: string; message: string; hint?: string } };
  return parsed.error;
}
