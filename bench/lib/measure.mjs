// Whole-process measurements from outside: every timed command runs under /usr/bin/time (CPU and peak
// RSS of the command itself, not of this harness); wall time is taken here with hrtime. Runs of the
// variants of one row are interleaved (A B A B ...) so a change of machine load hits both sides.
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const TIME_FORMAT = '%U %S %M';

/** Run a command to completion (fixture building); throws with its stderr when it fails. */
export function sh(argv, options = {}) {
  const r = spawnSync(argv[0], argv.slice(1), {
    encoding: 'utf8',
    maxBuffer: 64 * 1024 * 1024,
    ...options,
  });
  if (r.error) throw r.error;
  if (r.status !== 0) {
    throw new Error(`${argv.join(' ')} exited ${r.status}\n${(r.stderr ?? '').slice(-2000)}`);
  }
  return r.stdout ?? '';
}

/** Flush dirty pages before a timed run, so one run's writeback does not bill the next one. */
export function settle() {
  spawnSync('sync');
}

const timeDir = mkdtempSync(join(tmpdir(), 'ocilayout-bench-time-'));
process.once('exit', () => rmSync(timeDir, { recursive: true, force: true }));

/** One timed run of argv: wall seconds, CPU seconds (user+sys), peak RSS in MiB. */
export function timeOnce(argv, options = {}) {
  const out = join(timeDir, 'time.txt');
  const t0 = process.hrtime.bigint();
  const r = spawnSync('/usr/bin/time', ['-f', TIME_FORMAT, '-o', out, ...argv], {
    encoding: 'utf8',
    maxBuffer: 64 * 1024 * 1024,
    ...options,
  });
  const wall = Number(process.hrtime.bigint() - t0) / 1e9;
  if (r.error) throw r.error;
  if (r.status !== 0) {
    throw new Error(`${argv.join(' ')} exited ${r.status}\n${(r.stderr ?? '').slice(-2000)}`);
  }
  // /usr/bin/time may print "Command exited with non-zero status" first; the figures are the last line.
  const line = readFileSync(out, 'utf8').trim().split('\n').at(-1) ?? '';
  const [user, sys, maxKiB] = line.split(/\s+/).map(Number);
  return { wall, cpu: user + sys, rssMiB: maxKiB / 1024 };
}

export function summarize(values) {
  const s = [...values].sort((a, b) => a - b);
  const n = s.length;
  const median = n % 2 === 1 ? s[(n - 1) / 2] : (s[n / 2 - 1] + s[n / 2]) / 2;
  return { median, min: s[0], max: s[n - 1], n };
}

/**
 * Time each variant `runs` times, interleaved. A variant: { key, argv(run) | argv, prepare?(run),
 * cleanup?(run), env? }. prepare/cleanup are not timed; `settle()` runs before every timed command.
 * Returns key → { wall, cpu, rss } summaries plus the raw samples.
 */
export function timeVariants(variants, runs, { warmup = false, log = () => undefined } = {}) {
  const samples = new Map(variants.map((v) => [v.key, []]));
  const argvs = new Map();
  const once = (v, i) => {
    const ctx = v.prepare?.(i) ?? {};
    const argv = typeof v.argv === 'function' ? v.argv(ctx, i) : v.argv;
    if (!argvs.has(v.key)) argvs.set(v.key, argv);
    settle();
    try {
      return timeOnce(argv, { env: { ...process.env, ...v.env } });
    } finally {
      v.cleanup?.(ctx, i);
    }
  };
  if (warmup) for (const v of variants) once(v, -1);
  for (let i = 0; i < runs; i++) {
    for (const v of variants) {
      const s = once(v, i);
      samples.get(v.key).push(s);
      log(
        `  ${v.key} run ${i + 1}/${runs}: ${s.wall.toFixed(3)} s wall, ${s.cpu.toFixed(2)} s CPU, ${s.rssMiB.toFixed(0)} MiB`,
      );
    }
  }
  const out = {};
  for (const [key, list] of samples) {
    out[key] = {
      wall: summarize(list.map((s) => s.wall)),
      cpu: summarize(list.map((s) => s.cpu)),
      rss: summarize(list.map((s) => s.rssMiB)),
      samples: list,
      argv: argvs.get(key),
    };
  }
  return out;
}

/** Run a bench/inproc script in a fresh Node process; it prints one JSON object on its last line. */
export function runInProcess(script, args, options = {}) {
  const out = sh([process.execPath, script, ...args.map(String)], {
    ...options,
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  const last = out.trim().split('\n').at(-1);
  return JSON.parse(last);
}
