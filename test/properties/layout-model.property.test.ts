// Random sequences of push, tag, untag, attach (every convention), detach, manifest delete, gc and
// convert, run through the library API against a simple model (test/helpers/model.ts). After every
// step: the tags are the model's, every subject's referrers (discover) are the model's, and fsck
// finds no error; after every gc, blobs/ holds exactly what the model keeps plus the referrer
// bookkeeping. PROPERTY_RUNS and PROPERTY_SEED replay or widen a run.
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  ConventionContext,
  DEFAULT_FSCK_CHECKS,
  DEFAULT_ROOT_POLICY,
  Layout,
  attach,
  classifyIndex,
  convert,
  deleteManifest,
  detach,
  fsck,
  gc,
  isFallbackTagName,
  listTags,
  pushFiles,
  referrerGraph,
  releaseLease,
  walk,
  type ConventionName,
} from '../../src/internal.js';
import { envCount, seedFrom } from '../helpers/crash.js';
import { LayoutModel } from '../helpers/model.js';

const RUNS = envCount('PROPERTY_RUNS', 25);
const SEED = seedFrom('PROPERTY_SEED');
const TAGS = ['t0', 't1', 't2'];
const CONVENTIONS = ['fallback-tag', 'subject-annotation', 'per-manifest', 'auto'] as const;
const TARGETS: ConventionName[] = ['fallback-tag', 'subject-annotation', 'per-manifest'];

type Op =
  | { kind: 'push'; content: number; tag: number }
  | { kind: 'tag'; from: number; to: number }
  | { kind: 'untag'; tag: number }
  | { kind: 'attach'; subject: number; file: number; convention: (typeof CONVENTIONS)[number] }
  | { kind: 'detach'; referrer: number }
  | { kind: 'delete'; tag: number }
  | { kind: 'gc' }
  | { kind: 'convert'; to: ConventionName };

const opArb: fc.Arbitrary<Op> = fc.oneof(
  {
    weight: 3,
    arbitrary: fc.record({
      kind: fc.constant('push' as const),
      content: fc.nat(2),
      tag: fc.nat(2),
    }),
  },
  {
    weight: 1,
    arbitrary: fc.record({ kind: fc.constant('tag' as const), from: fc.nat(2), to: fc.nat(2) }),
  },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('untag' as const), tag: fc.nat(2) }) },
  {
    weight: 4,
    arbitrary: fc.record({
      kind: fc.constant('attach' as const),
      subject: fc.nat(30),
      file: fc.nat(2),
      convention: fc.constantFrom(...CONVENTIONS),
    }),
  },
  {
    weight: 1,
    arbitrary: fc.record({ kind: fc.constant('detach' as const), referrer: fc.nat(30) }),
  },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('delete' as const), tag: fc.nat(2) }) },
  { weight: 3, arbitrary: fc.constant({ kind: 'gc' as const }) },
  {
    weight: 1,
    arbitrary: fc.record({
      kind: fc.constant('convert' as const),
      to: fc.constantFrom(...TARGETS),
    }),
  },
);

/** Apply one operation to the layout (library API) and the model. */
async function step(layout: Layout, model: LayoutModel, files: string, op: Op): Promise<void> {
  const closure = (digest: string): string[] => [
    ...walk(layout, [layout.resolve({ digest })]).nodes.keys(),
  ];
  switch (op.kind) {
    case 'push': {
      const path = join(files, `content-${op.content}`, 'file.txt');
      const r = await pushFiles(layout, [{ path }], { tag: TAGS[op.tag] });
      model.stored(r.descriptor.digest, closure(r.descriptor.digest));
      model.tag(TAGS[op.tag]!, r.descriptor.digest);
      return;
    }
    case 'tag': {
      const digest = model.tags.get(TAGS[op.from]!);
      if (digest === undefined) return;
      await layout.tag({ tag: TAGS[op.from] }, [TAGS[op.to]!]);
      model.tag(TAGS[op.to]!, digest);
      return;
    }
    case 'untag': {
      if (!model.tags.has(TAGS[op.tag]!)) return;
      await layout.untag(TAGS[op.tag]!);
      model.untag(TAGS[op.tag]!);
      return;
    }
    case 'attach': {
      const candidates = model.nameable();
      if (candidates.length === 0) return;
      const subject = candidates[op.subject % candidates.length]!;
      const r = await attach(
        layout,
        { digest: subject },
        [{ path: join(files, `sig-${op.file}.txt`) }],
        {
          artifactType: `application/vnd.test.sig${op.file}`,
          convention: op.convention,
        },
      );
      model.stored(r.descriptor.digest, closure(r.descriptor.digest));
      model.attach(subject, r.descriptor.digest);
      return;
    }
    case 'detach': {
      const recorded = model.recorded();
      if (recorded.length === 0) return;
      const { referrer } = recorded[op.referrer % recorded.length]!;
      await detach(layout, referrer);
      model.detach(referrer);
      return;
    }
    case 'delete': {
      const digest = model.tags.get(TAGS[op.tag]!);
      if (digest === undefined) return;
      await deleteManifest(layout, { tag: TAGS[op.tag] });
      model.deleteManifest(digest);
      return;
    }
    case 'gc':
      await gc(layout, { policy: DEFAULT_ROOT_POLICY });
      model.gc();
      return;
    case 'convert':
      await convert(layout, op.to);
      return;
  }
}

/** The layout agrees with the model; fsck finds no error (and, after gc, blobs/ is exact). */
async function check(layout: Layout, model: LayoutModel, afterGc: boolean): Promise<void> {
  const index = layout.readIndex();
  const tags: Record<string, string> = {};
  for (const t of listTags(index))
    if (!isFallbackTagName(t)) tags[t] = layout.resolve({ tag: t }, index).digest;
  expect(tags).toEqual(Object.fromEntries([...model.tags].sort()));
  const graph = referrerGraph(layout);
  const found: Record<string, string[]> = {};
  for (const s of graph.subjects())
    found[s] = graph
      .referrersOf(s)
      .map((d) => d.digest)
      .sort();
  const want: Record<string, string[]> = {};
  for (const [s, set] of [...model.referrers].sort()) want[s] = [...set].sort();
  expect(found).toEqual(want);
  const report = await fsck(layout, { checks: DEFAULT_FSCK_CHECKS });
  expect(report.findings.filter((f) => f.severity === 'error')).toEqual([]);
  if (afterGc) {
    const bookkeeping = classifyIndex(index, new ConventionContext(layout))
      .filter((b) => b.convention !== 'per-manifest')
      .map((b) => b.entry.digest);
    const expected = new Set([...model.liveBlobs(), ...bookkeeping]);
    expect([...layout.blobs.list().blobs].sort()).toEqual([...expected].sort());
  }
}

describe('the layout against a model, over random operation sequences', () => {
  it(`matches after every step; fsck clean (${RUNS} runs, seed ${SEED})`, async () => {
    console.log(
      `layout-model property: seed ${SEED}, ${RUNS} runs (PROPERTY_SEED=${SEED} to replay)`,
    );
    await fc.assert(
      fc.asyncProperty(fc.array(opArb, { minLength: 5, maxLength: 40 }), async (ops) => {
        const dir = mkdtempSync(join(tmpdir(), 'ocilayout-model-'));
        try {
          const files = join(dir, 'files');
          for (let c = 0; c < 3; c++) {
            const d = join(files, `content-${c}`);
            mkdirSync(d, { recursive: true });
            writeFileSync(join(d, 'file.txt'), `content ${c}\n`);
          }
          for (let k = 0; k < 3; k++)
            writeFileSync(join(files, `sig-${k}.txt`), `signature ${k}\n`);
          const root = join(dir, 'layout');
          const layout = Layout.init(root).layout;
          const model = new LayoutModel();
          for (const op of ops) {
            await step(layout, model, files, op);
            // What a CLI process's exit does: its gc lease goes.
            releaseLease(root);
            await check(layout, model, op.kind === 'gc');
          }
        } finally {
          rmSync(dir, { recursive: true, force: true });
        }
      }),
      { numRuns: RUNS, seed: SEED },
    );
  }, 240_000);
});
