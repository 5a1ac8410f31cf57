// "A crash never breaks a layout": real CLI processes doing writes are interrupted at random
// instants within each operation's measured duration, on hard-linked copies of one prepared layout:
// SIGKILL, the catchable SIGINT/SIGTERM/SIGHUP, or SIGSTOP then SIGCONT. After each trial the layout
// must be exactly in its before- or its after-state (index.json bytes, tags, every subject's
// referrer set), fsck must find no error, every tag must resolve to a complete graph, nothing
// half-written may be visible outside ingest/, and gc must then remove what the dead writer
// abandoned. A caught signal must also end in its exit status with the lock released and the
// writer's own part files, staging directories, leases and temp files gone; a stopped writer must
// finish. CRASH_TRIALS (default 100 with CI=true, 30 locally, split among the signals) and
// CRASH_SEED replay. Invariants per operation and signal: spec-notes/reliability.md.
import { randomBytes } from 'node:crypto';
import { existsSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { mkdtempSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  DEFAULT_ROOT_POLICY,
  Layout,
  attach,
  deleteManifest,
  exportArchive,
  gc,
  listAbandoned,
  pushFiles,
  releaseLease,
} from '../../src/internal.js';
import {
  CAUGHT_SIGNAL_STATUS,
  assertTagsComplete,
  envCount,
  errorsOf,
  fsckFindings,
  halfWrittenOutsideIngest,
  hardLinkCopy,
  ingestNames,
  ingestNamesOf,
  layoutState,
  rootTempFiles,
  runCliKilled,
  seedFrom,
  seededRandom,
  userTags,
  pool,
  type LayoutState,
  type TrialSignal,
} from '../helpers/crash.js';
import { layoutSnapshot } from '../helpers/snapshot.js';

const TRIALS = envCount('CRASH_TRIALS', process.env['CI'] === 'true' ? 100 : 30);
const SEED = seedFrom('CRASH_SEED');
/** Every CLI run, and this process's own gc, take over a dead holder's lock after 2 s. */
const ENV = { OCILAYOUT_LOCK_STALE_MS: '2000' };
/** One in this many trials is judged by `ocilayout fsck --json` and `gc --json` processes too. */
const CLI_CHECK_EVERY = 10;
/** Trials run this many at once (a killed lock holder costs the next writer up to 2 s of waiting). */
const CONCURRENCY = envCount('CRASH_CONCURRENCY', 2);
/** The trials are split evenly among these (SIGSTOP: stopped, then SIGCONT after a pause). */
const SIGNALS: TrialSignal[] = ['SIGKILL', 'SIGINT', 'SIGTERM', 'SIGHUP', 'SIGSTOP'];
/** A stopped writer stays stopped this long: well under the 2 s stale time (ENV). */
const PAUSE_MS = { min: 50, max: 400 };
const LOCK_DIR = '.ocilayout-index.lock';

interface Op {
  name: string;
  /** CLI arguments for a trial layout at `root`. */
  args: (root: string) => string[];
}

let work: string;
let base: string;
let ops: Op[];
/** Per operation: ms from its first write to its exit, and the layout it leaves. */
const measured = new Map<string, { workMs: number; after: LayoutState }>();
let startupMs = 0;
let before: LayoutState;
let baseSnapshot: Record<string, string>;
let trialNo = 0;

function file(name: string, bytes: number): string {
  const path = join(work, name);
  writeFileSync(path, randomBytes(bytes));
  return path;
}

/** The prepared layout: images, referrers in all three conventions, an orphan, and garbage. */
async function prepareBase(): Promise<void> {
  base = join(work, 'base');
  const layout = Layout.init(base).layout;
  const app = await pushFiles(
    layout,
    [{ path: file('app-1.bin', 1 << 20) }, { path: file('app-2.bin', 1 << 20) }],
    {
      tag: 'app',
    },
  );
  await layout.tag({ digest: app.descriptor.digest }, ['app-alias']);
  await pushFiles(layout, [{ path: file('base.bin', 256 << 10) }], { tag: 'base' });
  const target = { tag: 'app' };
  const sig = await attach(layout, target, [{ path: file('sig.bin', 4096) }], {
    artifactType: 'application/vnd.test.sig',
    convention: 'fallback-tag',
  });
  await attach(layout, target, [{ path: file('sbom.bin', 4096) }], {
    artifactType: 'application/vnd.test.sbom',
    convention: 'subject-annotation',
  });
  await attach(layout, target, [{ path: file('prov.bin', 4096) }], {
    artifactType: 'application/vnd.test.provenance',
    convention: 'per-manifest',
  });
  await attach(layout, { digest: sig.descriptor.digest }, [{ path: file('countersig.bin', 512) }], {
    artifactType: 'application/vnd.test.countersig',
    convention: 'per-manifest',
  });
  // An orphan: a referrer whose subject was deleted (gc prunes its entry).
  const gone = await pushFiles(layout, [{ path: file('gone.bin', 1024) }], { tag: 'gone' });
  await attach(layout, { tag: 'gone' }, [{ path: file('gone-sig.bin', 512) }], {
    artifactType: 'application/vnd.test.sig',
    convention: 'per-manifest',
  });
  await deleteManifest(layout, { digest: gone.descriptor.digest }, { force: true });
  // Garbage: an image pushed, then untagged.
  await pushFiles(
    layout,
    [{ path: file('garbage-1.bin', 2 << 20) }, { path: file('garbage-2.bin', 2 << 20) }],
    {
      tag: 'garbage',
    },
  );
  await layout.untag('garbage');
  releaseLease(base);
  rmSync(join(base, 'ingest'), { recursive: true, force: true });
}

/** The layout `copy` and the archive `import` read from. */
async function prepareSource(): Promise<{ src: string; archive: string }> {
  const src = join(work, 'src');
  const layout = Layout.init(src).layout;
  await pushFiles(
    layout,
    [{ path: file('d1-1.bin', 3 << 20) }, { path: file('d1-2.bin', 3 << 20) }],
    {
      tag: 'd1',
    },
  );
  await attach(layout, { tag: 'd1' }, [{ path: file('d1-sig.bin', 4096) }], {
    artifactType: 'application/vnd.test.sig',
  });
  await pushFiles(
    layout,
    [{ path: file('imp-1.bin', 3 << 20) }, { path: file('imp-2.bin', 3 << 20) }],
    {
      tag: 'imp',
    },
  );
  await attach(layout, { tag: 'imp' }, [{ path: file('imp-sig.bin', 4096) }], {
    artifactType: 'application/vnd.test.sig',
  });
  releaseLease(src);
  const archive = join(work, 'imp.tar');
  await exportArchive(src, archive, { refs: ['imp'], referrers: true });
  return { src, archive };
}

function newTrialDir(): string {
  const root = join(work, `t${trialNo++}`);
  hardLinkCopy(base, root);
  return root;
}

beforeAll(async () => {
  work = mkdtempSync(join(tmpdir(), 'ocilayout-crash-'));
  Object.assign(process.env, ENV);
  await prepareBase();
  const { src, archive } = await prepareSource();
  const big = file('big.bin', 40 << 20);
  const attachArgs = (conv: string, f: string, type: string) => (root: string) => [
    'attach',
    `${root}:app`,
    join(work, f),
    '--artifact-type',
    type,
    '--convention',
    conv,
  ];
  file('fb.bin', 4 << 20);
  file('sa.bin', 4 << 20);
  file('pm.bin', 4 << 20);
  ops = [
    { name: 'push 40 MB', args: (r) => ['push', `${r}:big`, big] },
    {
      name: 'attach fallback-tag',
      args: attachArgs('fallback-tag', 'fb.bin', 'application/vnd.test.a'),
    },
    {
      name: 'attach subject-annotation',
      args: attachArgs('subject-annotation', 'sa.bin', 'application/vnd.test.b'),
    },
    {
      name: 'attach per-manifest',
      args: attachArgs('per-manifest', 'pm.bin', 'application/vnd.test.c'),
    },
    { name: 'convert → fallback-tag', args: (r) => ['convert', r, '--to', 'fallback-tag'] },
    {
      name: 'convert → subject-annotation',
      args: (r) => ['convert', r, '--to', 'subject-annotation'],
    },
    { name: 'convert → per-manifest', args: (r) => ['convert', r, '--to', 'per-manifest'] },
    { name: 'import', args: (r) => ['import', archive, r, '--no-progress'] },
    { name: 'gc', args: (r) => ['gc', r] },
    {
      name: 'copy --referrers',
      args: (r) => ['copy', '--referrers', '--no-link', `${src}:d1`, `${r}:copied`],
    },
  ];
  before = layoutState(base);
  baseSnapshot = layoutSnapshot(base, { ignoreIngest: false });
  const startup = await runCliKilled(['--version']);
  startupMs = startup.elapsedMs;
  // Each operation three times to completion: its shortest duration bounds the kill instant (runs
  // slowed by the rest of the suite would let most trials finish before their kill), and its
  // result is the after-state (every operation here is deterministic).
  for (const op of ops) {
    for (let run = 0; run < 3; run++) {
      const root = newTrialDir();
      const r = await runCliKilled(op.args(root), { env: ENV, watch: root });
      if (r.code !== 0 || r.firstWriteMs === undefined)
        throw new Error(`${op.name} failed or wrote nothing: ${r.stderr}`);
      const workMs = Math.min(
        r.elapsedMs - r.firstWriteMs,
        measured.get(op.name)?.workMs ?? Infinity,
      );
      const after = layoutState(root);
      const first = measured.get(op.name)?.after;
      if (first !== undefined && JSON.stringify(first) !== JSON.stringify(after))
        throw new Error(`${op.name} is not deterministic: two runs left different layouts`);
      measured.set(op.name, { workMs, after });
      rmSync(root, { recursive: true, force: true });
    }
  }
}, 120_000);

afterAll(() => {
  if (work !== undefined) rmSync(work, { recursive: true, force: true });
});

interface TrialResult {
  op: string;
  signal: TrialSignal;
  /** ms after the process's first write. */
  delayMs: number;
  outcome: 'before' | 'after' | 'completed';
  abandoned: number;
  /** The signal reached the writer before it exited (SIGSTOP: stopped it mid-operation). */
  interrupted: boolean;
  /** A catchable signal killed the writer while it had no handler (start-up, teardown). */
  uncaught: boolean;
  /** A caught signal found the writer with files of its own in ingest/ (its cleanup had work). */
  cleaned: boolean;
  failure?: string;
}

function sameState(a: LayoutState, b: LayoutState): boolean {
  return JSON.stringify(a) === JSON.stringify(b);
}

async function trial(
  op: Op,
  signal: TrialSignal,
  delayMs: number,
  pauseMs: number,
  cliChecks: boolean,
): Promise<TrialResult> {
  const root = newTrialDir();
  const m = measured.get(op.name)!;
  const result: TrialResult = {
    op: op.name,
    signal,
    delayMs,
    outcome: 'before',
    abandoned: 0,
    interrupted: false,
    uncaught: false,
    cleaned: false,
  };
  try {
    const run = await runCliKilled(op.args(root), {
      killAfterMs: delayMs,
      signal,
      pauseMs,
      watch: root,
      env: ENV,
    });
    result.interrupted = run.interrupted;
    // A caught signal still kills by default while no handler is installed: during node's
    // start-up, and at a natural exit after the 'exit' event (node removes the handlers as it
    // tears down). Nothing is in flight then; the checks below hold all the same.
    result.uncaught = CAUGHT_SIGNAL_STATUS[signal] !== undefined && run.signal === signal;
    // A stopped writer carries on after SIGCONT (its pause is shorter than the stale time).
    const killed = (run.interrupted && signal !== 'SIGSTOP') || result.uncaught;
    if (!killed && run.code !== 0) throw new Error(`exited ${run.code}: ${run.stderr}`);
    // 1. index.json parses, and the whole state is the before- or the after-state, never a mix.
    const state = layoutState(root);
    if (sameState(state, before)) result.outcome = 'before';
    else if (sameState(state, m.after)) result.outcome = 'after';
    else throw new Error(`state is neither before nor after:\n${JSON.stringify(state, null, 1)}`);
    if (!killed) {
      if (result.outcome !== 'after') throw new Error('completed, but the layout is unchanged');
      result.outcome = 'completed';
    }
    // 1b. A caught signal: its exit status (interrupted means exactly that), no lock left, and
    // none of the writer's own files: part files, staging directories, leases, blobs gc had
    // parked (put back), root temp files.
    if (signal !== 'SIGKILL') {
      if (existsSync(join(root, LOCK_DIR))) throw new Error('the lock directory was left');
      const own = [
        ...ingestNamesOf(root, run.pid),
        ...rootTempFiles(root).filter((n) => n.split('.')[2] === String(run.pid)),
      ];
      if (own.length > 0) throw new Error(`the writer left its files: ${own.join(', ')}`);
      result.cleaned =
        run.interrupted &&
        CAUGHT_SIGNAL_STATUS[signal] !== undefined &&
        run.ownedBeforeSignal.length > 0;
    }
    // 2. fsck: no error finding; every tag resolves to a complete graph.
    const errors = errorsOf(await fsckFindings(root));
    if (errors.length > 0) throw new Error(`fsck errors: ${JSON.stringify(errors)}`);
    assertTagsComplete(root);
    // 3. Nothing half-written outside ingest/.
    const half = halfWrittenOutsideIngest(root);
    if (half.length > 0) throw new Error(`half-written outside ingest/: ${half.join(', ')}`);
    // 4. gc removes what the dead writer abandoned (parts, lease, parked blobs, temp files).
    result.abandoned = listAbandoned(root).length;
    if (cliChecks) {
      const f = await runCliKilled(['fsck', '--json', root], { env: ENV });
      if (f.code !== 0) throw new Error(`ocilayout fsck --json exited ${f.code}: ${f.stderr}`);
      const g = await runCliKilled(['gc', '--json', root], { env: ENV });
      if (g.code !== 0) throw new Error(`ocilayout gc exited ${g.code}: ${g.stderr}`);
    } else {
      await gc(Layout.open(root), { policy: DEFAULT_ROOT_POLICY });
    }
    const left = [...ingestNames(root), ...rootTempFiles(root)];
    if (left.length > 0) throw new Error(`gc left writer files behind: ${left.join(', ')}`);
    const findings = await fsckFindings(root);
    if (findings.length > 0) throw new Error(`fsck after gc: ${JSON.stringify(findings)}`);
    // gc keeps every tag and the live image's referrers.
    const afterGc = layoutState(root);
    const expected = result.outcome === 'before' ? before : m.after;
    // (Fallback tags are bookkeeping: gc drops an orphan's with it.)
    if (JSON.stringify(userTags(afterGc)) !== JSON.stringify(userTags(expected)))
      throw new Error('gc changed the tags');
    const app = expected.tags['app']!;
    if (JSON.stringify(afterGc.referrers[app]) !== JSON.stringify(expected.referrers[app]))
      throw new Error('gc changed the referrers of app');
  } catch (err) {
    result.failure = err instanceof Error ? err.message : String(err);
  } finally {
    releaseLease(root);
    rmSync(root, { recursive: true, force: true });
  }
  return result;
}

describe('crash injection: SIGKILL, SIGINT, SIGTERM, SIGHUP and SIGSTOP/SIGCONT at random instants', () => {
  it(`leaves every layout in its before- or after-state, fsck-clean, gc-cleanable (${TRIALS} trials)`, async () => {
    const random = seededRandom(SEED);
    console.log(
      `crash: seed ${SEED} (replay with CRASH_SEED=${SEED} CRASH_TRIALS=${TRIALS}); CLI start-up ${Math.round(startupMs)} ms; work after the first write: ` +
        ops.map((o) => `${o.name} ${Math.round(measured.get(o.name)!.workMs)} ms`).join(', '),
    );
    const tasks = Array.from({ length: TRIALS }, (_, i) => {
      const op = ops[i % ops.length]!;
      // Each round over the operations shifts the signals by one, so every operation meets every
      // signal (ten operations and five signals would otherwise pair them for good).
      const signal = SIGNALS[(i + Math.floor(i / ops.length)) % SIGNALS.length]!;
      // Uniform over the operation's measured life after its first write (and a little beyond;
      // at least 30 ms, as one measurement can be cut short by a late file-system event). A
      // larger floor let most trials of the fast operations (20-80 ms with the bundled CLI)
      // finish before the kill, and the suite stopped killing what it claims to kill.
      const delay = Math.round(random() * Math.max(measured.get(op.name)!.workMs, 30) * 1.1);
      const pause = Math.round(PAUSE_MS.min + random() * (PAUSE_MS.max - PAUSE_MS.min));
      return () => trial(op, signal, delay, pause, i % CLI_CHECK_EVERY === 0);
    });
    const results = await pool(CONCURRENCY, tasks);
    const failures = results.filter((r) => r.failure !== undefined);
    const byOp = new Map<string, Record<string, number>>();
    for (const r of results) {
      const row = byOp.get(r.op) ?? { before: 0, after: 0, completed: 0, failed: 0 };
      row[r.failure === undefined ? r.outcome : 'failed']! += 1;
      byOp.set(r.op, row);
    }
    const bySignal = new Map<TrialSignal, Record<string, number>>();
    for (const r of results) {
      const row = bySignal.get(r.signal) ?? {
        trials: 0,
        interrupted: 0,
        cleaned: 0,
        uncaught: 0,
        failed: 0,
      };
      row['trials']! += 1;
      if (r.interrupted) row['interrupted']! += 1;
      if (r.uncaught) row['uncaught']! += 1;
      if (r.cleaned) row['cleaned']! += 1;
      if (r.failure !== undefined) row['failed']! += 1;
      bySignal.set(r.signal, row);
    }
    const killed = results.filter((r) => r.interrupted && r.signal !== 'SIGSTOP').length;
    const abandoned = results.filter((r) => r.abandoned > 0).length;
    console.log(
      `crash: ${results.length} trials, ${failures.length} failures, ${killed} killed mid-operation, ` +
        `${abandoned} left abandoned ingest files that gc removed (seed ${SEED})\n` +
        [...byOp].map(([op, row]) => `  ${op}: ${JSON.stringify(row)}`).join('\n') +
        '\n' +
        [...bySignal].map(([sig, row]) => `  ${sig}: ${JSON.stringify(row)}`).join('\n'),
    );
    for (const f of failures)
      console.log(`  FAIL ${f.op} ${f.signal} at ${f.delayMs} ms: ${f.failure}`);
    expect(failures.map((f) => `${f.op} ${f.signal} @${f.delayMs}ms: ${f.failure}`)).toEqual([]);
    // Not vacuous: many trials that end the writer really ended it mid-operation (over half on a
    // quiet machine; the bound leaves room for the other test files' load, which moves the
    // durations measured above against the trials'), some before and some after the commit;
    // every signal interrupted some writer (SIGSTOP: stopped it).
    const ending = results.filter((r) => r.signal !== 'SIGSTOP');
    expect(ending.filter((r) => r.interrupted).length).toBeGreaterThan(ending.length * 0.4);
    expect(results.some((r) => r.outcome === 'before')).toBe(true);
    expect(results.some((r) => r.outcome !== 'before')).toBe(true);
    for (const sig of SIGNALS) {
      const row = bySignal.get(sig)!;
      expect(row['interrupted'], sig).toBeGreaterThan(0);
      // The handler-less windows are narrow: a catchable signal that mostly kills is not caught.
      expect(row['uncaught'], sig).toBeLessThan(row['interrupted']!);
    }
    // SIGKILLed writers abandon files that gc removes; caught signals found files to remove.
    expect(abandoned).toBeGreaterThan(0);
    expect(results.filter((r) => r.cleaned).length).toBeGreaterThan(0);
    // Hard-linked copies: no writer may have changed a file in place (that would edit the base).
    expect(layoutSnapshot(base, { ignoreIngest: false })).toEqual(baseSnapshot);
  }, 600_000);
});
