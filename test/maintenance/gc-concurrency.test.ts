// gc in a loop beside writer processes that keep re-pushing and re-attaching content that already
// exists (and keeps turning into garbage as their tags move): afterwards every tag resolves to a
// complete graph and fsck passes. Real processes, running the library from source (child-lib.ts).
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildArtifactManifest, fileLayer } from '../../src/artifact/manifest.js';
import { digestOf, parseDigest } from '../../src/digest.js';
import { walk } from '../../src/layout/graph.js';
import { Layout } from '../../src/layout/layout.js';
import { fsck } from '../../src/maintenance/fsck.js';
import { gc } from '../../src/maintenance/gc.js';
import { listTags } from '../../src/layout/tags.js';
import { compileChildLib, type ChildLib } from '../helpers/child-lib.js';
import { freshDir } from '../helpers/make-layout.js';

const RUN_MS = 4_000;

const WRITER = `
import { Layout } from './layout/layout.js';
import { buildArtifactManifest, fileLayer } from './artifact/manifest.js';
import { digestOf } from './digest.js';
import { successors } from './layout/graph.js';
import { parseManifest } from './schema/manifest.js';
import { releaseLease } from './store/ingest.js';
import { removeTag, setTag } from './layout/tags.js';

const [root, ms, id] = process.argv.slice(2);
const layout = Layout.open(root, { lockTimeoutMs: 30_000 });
const deadline = Date.now() + Number(ms);
const POOL = 5;
const sleep = (n) => new Promise((resolve) => setTimeout(resolve, n));
// The writer's side of the protocol: lease, then look, then write only when absent (putBytes).
// Writers spend a little time between blobs (reading the next file), as a real push does.
const put = async (bytes) => {
  await sleep(2);
  return layout.blobs.putBytes(bytes, { digest: digestOf(bytes), size: bytes.length });
};
const putFile = async (text, mediaType) => fileLayer(await put(Buffer.from(text)), mediaType, 'f');
// Store a manifest and tag it. Whether its blobs are present is checked under the index lock: gc
// may park a leased blob for a moment, but never across its release of the lock.
const commit = async (bytes, tag) => {
  const stored = await put(bytes);
  const parsed = parseManifest(bytes, 'manifest');
  const desc = { mediaType: parsed.mediaType, digest: stored.digest, size: stored.size };
  await layout.updateIndex((index) => {
    for (const d of [desc, ...successors(parsed)]) {
      if (!layout.blobs.has(d.digest)) throw new Error(\`\${tag}: \${d.digest} vanished before the commit\`);
    }
    setTag(index, tag, desc);
    return { index, result: undefined };
  });
  return desc;
};
const untag = (tag) =>
  layout.updateIndex((index) => ({ index, result: removeTag(index, tag) }));

let i = 0;
while (Date.now() < deadline) {
  // The same content again and again: a scratch image untagged right after each push (so it is
  // garbage whenever gc looks, yet pushed again at once), and a small pool of kept images whose
  // tags move (so those keep turning into garbage and coming back too).
  const scratch = buildArtifactManifest({
    artifactType: 'application/vnd.example.scratch',
    layers: [await putFile(\`\${id} scratch\`, 'application/vnd.example.layer')],
  });
  await put(Buffer.from('{}'));
  await commit(scratch.bytes, \`\${id}-scratch\`);
  await untag(\`\${id}-scratch\`);
  const layers = [
    await putFile(\`shared layer \${i % POOL}\`, 'application/vnd.example.layer'),
    await putFile(\`\${id} layer \${(i * 3) % POOL}\`, 'application/vnd.example.layer'),
  ];
  const image = buildArtifactManifest({ artifactType: 'application/vnd.example.image', layers });
  const subject = await commit(image.bytes, \`\${id}-img-\${i % 3}\`);
  const sig = buildArtifactManifest({
    artifactType: 'application/vnd.example.sig',
    layers: [await putFile(\`signature \${i % POOL}\`, 'application/vnd.example.sig')],
    subject,
  });
  await commit(sig.bytes, \`\${id}-sig-\${i % 3}\`);
  releaseLease(root); // what a CLI process does when it exits
  i++;
}
console.log(JSON.stringify({ iterations: i }));
`;

const GC_LOOP = `
import { Layout } from './layout/layout.js';
import { gc } from './maintenance/gc.js';

const [root, ms] = process.argv.slice(2);
const deadline = Date.now() + Number(ms);
const totals = { runs: 0, removed: 0, restored: 0 };
// Widen the windows between mark and park and between park and re-check, as a slow disk would,
// so writers really do lease and look inside them.
const pause = () => new Promise((resolve) => setTimeout(resolve, 10));
const onPhase = (phase) => (phase === 'marked' || phase === 'parked' ? pause() : undefined);
while (Date.now() < deadline) {
  const r = await gc(Layout.open(root, { lockTimeoutMs: 30_000 }), { onPhase });
  totals.runs++;
  totals.removed += r.removedBlobs.length;
  totals.restored += r.restoredBlobs.length;
  // A tight loop would hold the lock nearly all the time and starve the writers' polling.
  await new Promise((resolve) => setTimeout(resolve, Math.random() * 20));
}
console.log(JSON.stringify(totals));
`;

let lib: ChildLib;
beforeAll(() => {
  lib = compileChildLib(['layout/layout.ts', 'artifact/manifest.ts', 'maintenance/gc.ts']);
});
afterAll(() => lib.dispose());

describe('gc beside writer processes', () => {
  it('never deletes what a writer is about to commit', { timeout: 20_000 }, async () => {
    const root = Layout.init(`${freshDir()}/layout`).layout.root;
    const writer = lib.script('writer', WRITER);
    const loop = lib.script('gc-loop', GC_LOOP);
    const runs = await Promise.all([
      lib.run(writer, [root, String(RUN_MS), 'w1']),
      lib.run(writer, [root, String(RUN_MS), 'w2']),
      lib.run(loop, [root, String(RUN_MS)]),
    ]);
    for (const r of runs) expect(r.code, r.stderr).toBe(0);
    const [w1, w2, totals] = runs.map((r) => JSON.parse(r.stdout) as Record<string, number>);
    console.log(`gc beside writers: ${JSON.stringify({ w1, w2, gc: totals })}`);
    // Not vacuous: both sides did real work, and gc collected content the writers pushed again.
    expect(w1!['iterations']).toBeGreaterThan(0);
    expect(w2!['iterations']).toBeGreaterThan(0);
    expect(totals!['runs']).toBeGreaterThan(5);
    expect(totals!['removed']).toBeGreaterThan(0);

    const layout = Layout.open(root);
    const index = layout.readIndex();
    const tagsOf = (n: number): number => 2 * Math.min(n, 3); // img-0..2 and sig-0..2
    expect(listTags(index)).toHaveLength(tagsOf(w1!['iterations']!) + tagsOf(w2!['iterations']!));
    for (const tag of listTags(index)) {
      const desc = layout.resolve({ tag });
      const walked = walk(layout, [desc]); // throws on any missing or unreadable document
      for (const d of walked.nodes.keys())
        expect(layout.blobs.has(parseDigest(d)), `${tag}: ${d}`).toBe(true);
    }
    const report = await fsck(layout);
    expect(report.findings).toEqual([]);
    // And a last gc finds only garbage, never a tagged blob.
    await gc(layout);
    expect((await fsck(layout)).findings).toEqual([]);
  });
});

const GC_ONCE = `
import { Layout } from './layout/layout.js';
import { gc } from './maintenance/gc.js';
const r = await gc(Layout.open(process.argv[2], { lockTimeoutMs: 30_000 }));
console.log(JSON.stringify({ removed: r.removedBlobs }));
`;

describe('leases per operation, with gc in another process', () => {
  it('one operation finishing (and close()) leaves another running one protected', async () => {
    const root = Layout.init(`${freshDir()}/layout`).layout.root;
    const layout = Layout.open(root);
    const layer = Buffer.from('layer written by A before its commit');
    let release!: () => void;
    const gate = new Promise<void>((r) => (release = r));
    let stored!: () => void;
    const written = new Promise<void>((r) => (stored = r));
    // A: stores a layer, then (later) commits a manifest that references it.
    const a = layout.operation(async () => {
      const put = layout.blobs.putBytes(layer, { digest: digestOf(layer), size: layer.length });
      stored();
      await gate;
      const m = buildArtifactManifest({
        layers: [fileLayer(put, 'application/vnd.example.layer', 'a')],
      });
      layout.blobs.putBytes(Buffer.from('{}'));
      return layout.putManifest(m.bytes, { tag: 'a' });
    });
    await written;
    // B: a whole operation that finishes first, then the library user closes the layout.
    const b = Buffer.from('b');
    const mb = buildArtifactManifest({
      layers: [fileLayer(layout.blobs.putBytes(b), 'application/vnd.example.layer', 'b')],
    });
    layout.blobs.putBytes(Buffer.from('{}'));
    await layout.putManifest(mb.bytes, { tag: 'b' });
    layout.close();
    // gc in another process must keep A's layer: A's own lease still names it.
    const run = await lib.run(lib.script('gc-once', GC_ONCE), [root]);
    expect(run.code, run.stderr).toBe(0);
    expect(JSON.parse(run.stdout)).toEqual({ removed: [] });
    release();
    await a;
    expect(layout.blobs.has(digestOf(layer))).toBe(true);
    const report = await fsck(root);
    expect(report.findings.filter((f) => f.severity === 'error')).toEqual([]);
  });
});
