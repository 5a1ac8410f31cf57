// "Concurrent writers lose nothing": nine processes at once on one layout, running the built
// library: three attach in one convention each, one tags and untags, two push contents that keep
// turning into garbage under moving tags, one converts between conventions in a loop, one runs
// gc in a loop and one deletes random blobs by hand (blob delete) in a loop. Afterwards every tag a process set (and did not itself remove) resolves to what it
// set, every attached referrer is discovered for its subject, nothing is recorded twice, every
// graph is complete (gc never took a writer's blob before its commit) and fsck finds nothing.
// The gc/writer protocol itself is proved step by step in test/maintenance/gc-interleaving.test.ts.
import { spawn } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import {
  Annotation,
  ConventionContext,
  DEFAULT_FSCK_CHECKS,
  Layout,
  classifyIndex,
  fsck,
  listTags,
  pushFiles,
  referrerGraph,
  releaseLease,
  walk,
  type Descriptor,
} from '../../src/internal.js';
import { envCount } from '../helpers/crash.js';
import { tmpDir } from '../helpers/tmp.js';

const WORKER = fileURLToPath(new URL('./concurrent-worker.mjs', import.meta.url));
/** Iterations per writer (CONCURRENT_ITERATIONS for a longer soak). */
const ITERATIONS = envCount('CONCURRENT_ITERATIONS', 20);

interface WorkerRun {
  role: string;
  id: string;
  code: number | null;
  stderr: string;
  report: Record<string, unknown>;
}

function startWorker(
  role: string,
  id: string,
  root: string,
  scratch: string,
  count: number,
  stopFile: string,
): Promise<WorkerRun> {
  return new Promise((resolve, reject) => {
    const child = spawn(
      process.execPath,
      [WORKER, role, root, join(scratch, id), id, String(count), stopFile],
      { stdio: ['ignore', 'pipe', 'pipe'] },
    );
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    child.stdout.on('data', (b: Buffer) => out.push(b));
    child.stderr.on('data', (b: Buffer) => err.push(b));
    child.on('error', reject);
    child.on('close', (code) => {
      const text = Buffer.concat(out).toString('utf8').trim();
      let report: Record<string, unknown> = {};
      try {
        report = JSON.parse(text.split('\n').pop() ?? '{}') as Record<string, unknown>;
      } catch {
        /* judged by the exit code */
      }
      resolve({ role, id, code, stderr: Buffer.concat(err).toString('utf8'), report });
    });
  });
}

/** Three small images tagged s0, s1, s2: the subjects every attacher signs. */
async function prepare(): Promise<{ root: string; scratch: string }> {
  const scratch = tmpDir('ocilayout-concurrent-');
  const root = join(scratch, 'layout');
  const layout = Layout.init(root).layout;
  for (const s of ['s0', 's1', 's2']) {
    const path = join(scratch, `${s}.txt`);
    writeFileSync(path, `subject ${s}\n`);
    await pushFiles(layout, [{ path }], { tag: s });
  }
  releaseLease(root);
  mkdirSync(join(scratch, 'workers'));
  return { root, scratch: join(scratch, 'workers') };
}

/** Entries or listings that appear more than once: the "nothing duplicated" check. */
function duplicates(layout: Layout): string[] {
  const index = layout.readIndex();
  const out: string[] = [];
  const seen = new Map<string, number>();
  const count = (key: string): void => {
    seen.set(key, (seen.get(key) ?? 0) + 1);
  };
  for (const e of index.manifests) {
    count(`entry ${JSON.stringify(e)}`);
    const name = e.annotations?.[Annotation.RefName];
    if (name !== undefined) count(`ref.name ${name}`);
  }
  const ctx = new ConventionContext(layout);
  for (const b of classifyIndex(index, ctx)) {
    if (b.convention !== 'per-manifest') count(`${b.convention} bookkeeping of ${b.subject}`);
    // Across every convention, each referrer is recorded exactly once.
    for (const d of b.listed) count(`recorded referrer ${d.digest}`);
  }
  for (const [key, n] of seen) if (n > 1) out.push(`${key} ×${n}`);
  return out;
}

/** Throws when a graph reachable from `d` misses a blob or document. */
function assertComplete(layout: Layout, d: Descriptor): void {
  for (const digest of walk(layout, [d]).nodes.keys()) {
    if (!layout.blobs.has(digest)) throw new Error(`${d.digest}: ${digest} is missing`);
  }
}

describe('concurrent writers on one layout', () => {
  it('lose nothing and duplicate nothing: attach ×3 conventions, tag/untag, push, convert, gc', async () => {
    const { root, scratch } = await prepare();
    const stopFile = join(scratch, 'stop');
    const writers = [
      startWorker('attach-fallback-tag', 'afb', root, scratch, ITERATIONS, stopFile),
      startWorker('attach-subject-annotation', 'asa', root, scratch, ITERATIONS, stopFile),
      startWorker('attach-per-manifest', 'apm', root, scratch, ITERATIONS, stopFile),
      startWorker('tagger', 'tg', root, scratch, ITERATIONS + ITERATIONS / 2, stopFile),
      startWorker('pusher', 'pu', root, scratch, 2 * ITERATIONS, stopFile),
      startWorker('pusher', 'pv', root, scratch, 2 * ITERATIONS, stopFile),
    ];
    const loops = [
      startWorker('convert', 'cv', root, scratch, 3, stopFile),
      startWorker('gc', 'gc', root, scratch, 3, stopFile),
      startWorker('delete', 'del', root, scratch, 3, stopFile),
    ];
    const written = await Promise.all(writers);
    writeFileSync(stopFile, '');
    const runs = [...written, ...(await Promise.all(loops))];
    for (const r of runs) expect(r.code, `${r.role}: ${r.stderr}`).toBe(0);
    const by = (id: string): Record<string, unknown> => runs.find((r) => r.id === id)!.report;
    console.log(
      `concurrent: ${runs.length} processes, ${ITERATIONS} iterations per writer; convert ${JSON.stringify(by('cv'))}; gc ${JSON.stringify(by('gc'))}; blob delete ${JSON.stringify(by('del'))}`,
    );

    const layout = Layout.open(root);
    const index = layout.readIndex();
    // Nothing lost: tags.
    const expectedTags: Record<string, string> = {};
    for (const id of ['tg', 'pu', 'pv']) Object.assign(expectedTags, by(id)['tags']);
    for (const s of ['s0', 's1', 's2']) expectedTags[s] = layout.resolve({ tag: s }).digest;
    const userTags = listTags(index).filter((t) => !/^sha(256|512)-/.test(t));
    expect(userTags.sort()).toEqual(Object.keys(expectedTags).sort());
    for (const [tag, digest] of Object.entries(expectedTags))
      expect(layout.resolve({ tag }, index).digest, tag).toBe(digest);
    // Nothing lost: referrers, each found for its subject, and no referrer nobody attached.
    const graph = referrerGraph(layout);
    const attached = ['afb', 'asa', 'apm'].flatMap(
      (id) => by(id)['attached'] as { subject: string; referrer: string }[],
    );
    expect(attached).toHaveLength(3 * ITERATIONS);
    for (const s of ['s0', 's1', 's2']) {
      const subject = expectedTags[s]!;
      const want = attached.filter((a) => a.subject === subject).map((a) => a.referrer);
      const found = graph.referrersOf(subject).map((d) => d.digest);
      expect(found.sort(), `referrers of ${s}`).toEqual(want.sort());
      for (const d of graph.referrersOf(subject)) assertComplete(layout, d);
    }
    // Nothing duplicated.
    expect(duplicates(layout)).toEqual([]);
    // gc never took a writer's blob before its commit: every tagged graph is complete.
    for (const tag of listTags(index)) assertComplete(layout, layout.resolve({ tag }, index));
    expect((await fsck(layout, { checks: DEFAULT_FSCK_CHECKS })).findings).toEqual([]);
    // Not vacuous: the loops ran beside the writers and did real work.
    expect(by('gc')['runs']).toBeGreaterThanOrEqual(3);
    expect(by('gc')['removedBlobs']).toBeGreaterThan(0);
    expect(by('cv')['changed']).toBeGreaterThan(0);
    expect(by('del')['refused']).toBeGreaterThan(0);
  }, 180_000);
});
