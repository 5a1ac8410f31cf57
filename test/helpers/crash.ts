// Crash-injection helpers: a seeded random source, hard-linked layout copies, CLI processes sent
// SIGKILL, a caught signal or SIGSTOP/SIGCONT at a chosen instant, and the observations a crash
// suite judges a layout by (its state: index.json text, tags, referrer sets; and anything
// half-written outside ingest/).
import { spawn, execFileSync } from 'node:child_process';
import { readFileSync, readdirSync, watch } from 'node:fs';
import { join } from 'node:path';
import {
  DEFAULT_FSCK_CHECKS,
  IndexStore,
  Layout,
  fsck,
  isFallbackTagName,
  listTags,
  referrerGraph,
  walk,
  type Finding,
} from '../../src/internal.js';
import { DURABLE_TMP_PREFIX } from '../../src/store/durable.js';
import { ownerLiveness } from '../../src/store/liveness.js';
import { CLI as BUILT_CLI, CLI_CACHE_HOME } from './run-cli.js';

/** The built CLI (OCILAYOUT_TEST_CLI points the crash suites at another build, e.g. a bisect). */
export const CLI = process.env['OCILAYOUT_TEST_CLI'] ?? BUILT_CLI;

/** mulberry32: a tiny seeded PRNG, so a failing run can be replayed from its printed seed. */
export function seededRandom(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** The seed from `envName` when set (to replay a run), else a fresh one. */
export function seedFrom(envName: string): number {
  const given = Number(process.env[envName]);
  return Number.isInteger(given) && given > 0 ? given : Math.floor(Math.random() * 2 ** 31) + 1;
}

/** A positive integer from the environment, else `fallback`. */
export function envCount(name: string, fallback: number): number {
  const v = Number(process.env[name]);
  return Number.isInteger(v) && v > 0 ? v : fallback;
}

/** `cp -al`: a copy of `src` whose files are hard links (cheap); writers must never edit in place. */
export function hardLinkCopy(src: string, dest: string): void {
  execFileSync('cp', ['-al', src, dest]);
}

/** What a trial sends: one signal, or SIGSTOP then (after `pauseMs`) SIGCONT. */
export type TrialSignal = 'SIGKILL' | 'SIGINT' | 'SIGTERM' | 'SIGHUP' | 'SIGSTOP';

/** The status the CLI exits with on a signal it catches (128 + the signal's number). */
export const CAUGHT_SIGNAL_STATUS: Partial<Record<TrialSignal, number>> = {
  SIGHUP: 129,
  SIGINT: 130,
  SIGTERM: 143,
};

export interface CliRun {
  pid: number;
  /** Exit status, or undefined when the process died of a signal. */
  code: number | undefined;
  signal: NodeJS.Signals | undefined;
  /**
   * The signal reached the process before it exited on its own: SIGKILL killed it, a caught
   * signal made it exit with its status, SIGSTOP found it running and stopped it.
   */
  interrupted: boolean;
  /** `ingest/` names owned by the process right before the signal was sent (see KillOptions). */
  ownedBeforeSignal: string[];
  elapsedMs: number;
  /** When the process first changed the watched directory (ms after spawn), if it did. */
  firstWriteMs: number | undefined;
  stderr: string;
}

export interface KillOptions {
  /**
   * Send `signal` this many ms after the process first changes `watch` (or after spawn, without
   * `watch`), unless it has exited first. Aiming from the first write skips node's start-up, which
   * takes most of a short command's life and varies with the machine's load.
   */
  killAfterMs?: number;
  /** Default SIGKILL. */
  signal?: TrialSignal;
  /** With SIGSTOP: how long the process stays stopped before SIGCONT. */
  pauseMs?: number;
  /** A directory whose first change (a file created, renamed or removed in it) starts the clock. */
  watch?: string;
  env?: NodeJS.ProcessEnv;
}

/** The names in `<root>/ingest` whose owner token names process `pid`. */
export function ingestNamesOf(root: string, pid: number): string[] {
  return ingestNames(root).filter((n) => n.split('.')[1] === String(pid));
}

/** The process state letter in /proc (T: stopped), or undefined once it is gone. */
function procState(pid: number): string | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2).split(' ')[0];
  } catch {
    return undefined;
  }
}

/**
 * Run the built CLI, maybe signalled (see KillOptions). stdout is discarded. With `watch`, the
 * child's own ingest/ files are listed just before the signal (`ownedBeforeSignal`): what a caught
 * signal must remove, so a suite can tell a cleanup that had work from one that had none.
 */
export function runCliKilled(args: string[], options: KillOptions = {}): Promise<CliRun> {
  const signal = options.signal ?? 'SIGKILL';
  return new Promise((resolve, reject) => {
    const started = performance.now();
    const child = spawn(process.execPath, [CLI, ...args], {
      env: { ...process.env, XDG_CACHE_HOME: CLI_CACHE_HOME, ...options.env },
      stdio: ['ignore', 'ignore', 'pipe'],
    });
    const pid = child.pid ?? 0;
    const err: Buffer[] = [];
    child.stderr.on('data', (b: Buffer) => err.push(b));
    let sent = false;
    let stopped = false;
    let exited = false;
    let ownedBeforeSignal: string[] = [];
    let firstWriteMs: number | undefined;
    let timer: NodeJS.Timeout | undefined;
    const arm = (): void => {
      if (options.killAfterMs === undefined || timer !== undefined) return;
      timer = setTimeout(() => {
        if (exited) return;
        if (options.watch !== undefined) ownedBeforeSignal = ingestNamesOf(options.watch, pid);
        sent = child.kill(signal);
        if (signal !== 'SIGSTOP' || !sent) return;
        timer = setTimeout(() => {
          // Stopped for the whole pause, or it had exited before the SIGSTOP landed.
          stopped = procState(pid) === 'T';
          child.kill('SIGCONT');
        }, options.pauseMs ?? 0);
      }, options.killAfterMs);
    };
    const watcher =
      options.watch === undefined
        ? undefined
        : watch(options.watch, () => {
            if (firstWriteMs !== undefined) return;
            firstWriteMs = performance.now() - started;
            arm();
          });
    if (watcher === undefined) arm();
    child.on('error', reject);
    child.on('exit', () => {
      exited = true;
    });
    child.on('close', (code, exitSignal) => {
      if (timer !== undefined) clearTimeout(timer);
      watcher?.close();
      const status = CAUGHT_SIGNAL_STATUS[signal];
      const interrupted =
        sent &&
        (signal === 'SIGKILL'
          ? exitSignal === 'SIGKILL'
          : signal === 'SIGSTOP'
            ? stopped
            : code === status);
      resolve({
        pid,
        code: code ?? undefined,
        signal: exitSignal ?? undefined,
        interrupted,
        ownedBeforeSignal,
        elapsedMs: performance.now() - started,
        firstWriteMs,
        stderr: Buffer.concat(err).toString('utf8'),
      });
    });
  });
}

/** What a crash must leave either as it was before the operation or as the operation makes it. */
export interface LayoutState {
  /** index.json exactly as stored. */
  indexText: string;
  /** Every tag (fallback tags included) → the digest it resolves to. */
  tags: Record<string, string>;
  /** Every subject with referrers → its referrer digests, sorted (discover's answer). */
  referrers: Record<string, string[]>;
}

/** Read a layout's state through the library (throws when index.json does not parse). */
export function layoutState(root: string): LayoutState {
  const indexText = new IndexStore(root).read().text;
  const layout = Layout.open(root);
  const index = layout.readIndex();
  const tags: Record<string, string> = {};
  for (const tag of listTags(index)) tags[tag] = layout.resolve({ tag }, index).digest;
  const graph = referrerGraph(layout);
  const referrers: Record<string, string[]> = {};
  for (const subject of graph.subjects()) {
    referrers[subject] = graph
      .referrersOf(subject)
      .map((d) => d.digest)
      .sort();
  }
  return { indexText, tags, referrers };
}

/** User tags only (fallback tags are referrer bookkeeping). */
export function userTags(state: LayoutState): Record<string, string> {
  return Object.fromEntries(Object.entries(state.tags).filter(([t]) => !isFallbackTagName(t)));
}

/**
 * Every tag resolves and its whole graph can be walked (throws on a missing or unreadable document
 * or blob). Returns the number of tags checked.
 */
export function assertTagsComplete(root: string): number {
  const layout = Layout.open(root);
  const index = layout.readIndex();
  const tags = listTags(index);
  for (const tag of tags) {
    const walked = walk(layout, [layout.resolve({ tag }, index)]);
    for (const digest of walked.nodes.keys()) {
      if (!layout.blobs.has(digest)) throw new Error(`tag ${tag}: blob ${digest} is missing`);
    }
  }
  return tags.length;
}

/** The layout's own top-level names; anything else at the root is suspect. */
const LAYOUT_NAMES = new Set([
  'oci-layout',
  'index.json',
  'blobs',
  'ingest',
  '.ocilayout-index.lock',
]);

/**
 * Files a crash left visible outside ingest/ that a reader could mistake for content: strays in
 * blobs/ (temp files, odd names), and unknown names at the root. A durable-write temp file
 * (`.tmp-<owner>…`, renamed over index.json at commit) of a dead owner is allowed at the root: it
 * must sit beside index.json for the rename to be atomic, no reader looks at it, and gc removes it.
 */
export function halfWrittenOutsideIngest(root: string): string[] {
  const problems: string[] = [];
  for (const name of readdirSync(root)) {
    if (LAYOUT_NAMES.has(name)) continue;
    if (name.startsWith(DURABLE_TMP_PREFIX)) {
      const owner = name.slice(DURABLE_TMP_PREFIX.length);
      if (ownerLiveness(owner) === 'dead') continue;
    }
    problems.push(name);
  }
  const layout = Layout.open(root);
  problems.push(...layout.blobs.list().strays);
  return problems;
}

/** Names left at the root by durable writes (`.tmp-*`). */
export function rootTempFiles(root: string): string[] {
  return readdirSync(root).filter((n) => n.startsWith(DURABLE_TMP_PREFIX));
}

/** fsck as `ocilayout fsck` runs it (with the referrer conventions' checks). */
export async function fsckFindings(root: string): Promise<Finding[]> {
  return (await fsck(root, { checks: DEFAULT_FSCK_CHECKS })).findings;
}

export function errorsOf(findings: Finding[]): Finding[] {
  return findings.filter((f) => f.severity === 'error');
}

/** The files under ingest/ (any kind, live or not). */
export function ingestNames(root: string): string[] {
  try {
    return readdirSync(join(root, 'ingest')).sort();
  } catch {
    return [];
  }
}

/** Run `tasks` with at most `limit` at once; results in input order. */
export async function pool<T>(limit: number, tasks: (() => Promise<T>)[]): Promise<T[]> {
  const results: T[] = new Array<T>(tasks.length);
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < tasks.length) {
      const i = next++;
      results[i] = await tasks[i]!();
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, tasks.length) }, worker));
  return results;
}
