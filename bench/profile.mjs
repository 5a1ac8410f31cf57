#!/usr/bin/env node
// Profiles behind BENCHMARKS.md's "Findings": runs the commands of the rows that miss their goal
// under `node --cpu-prof` (main-thread samples) and `strace -c -f` (syscalls of all threads), on
// fixtures of BENCH_SCALE size built like the benchmark's, and prints markdown summaries.
//   npm run build && node bench/profile.mjs [push|export|copy-nv|startup|all]  (BENCH_DIR, KEEP)
import { spawnSync } from 'node:child_process';
import { mkdirSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { BIN, loadConfig } from './lib/config.mjs';
import { summarizeProfile } from './lib/cpuprofile.mjs';
import { randomFile, umociImage } from './lib/fixtures.mjs';
import { loadAverage } from './lib/machine.mjs';
import { sh } from './lib/measure.mjs';

const config = loadConfig();
const which = process.argv[2] ?? 'all';
const { work, sizes } = config;
const out = [];
const print = (line = '') => out.push(line);

function profile(title, args, cleanup = () => undefined) {
  const dir = join(work, `prof-${Date.now()}`);
  mkdirSync(dir, { recursive: true });
  spawnSync('sync');
  sh([process.execPath, '--cpu-prof', `--cpu-prof-dir=${dir}`, BIN, ...args, '--quiet']);
  cleanup();
  const file = readdirSync(dir).find((f) => f.endsWith('.cpuprofile'));
  const s = summarizeProfile(join(dir, file));
  rmSync(dir, { recursive: true, force: true });
  let strace;
  if (spawnSync('sh', ['-c', 'command -v strace']).status === 0) {
    const log = join(work, 'strace.txt');
    spawnSync('sync');
    sh(['strace', '-f', '-c', '-o', log, process.execPath, BIN, ...args, '--quiet']);
    cleanup();
    // futex/epoll_pwait are threads waiting (thread pool, event loop): left out to show the I/O.
    const lines = readFileSync(log, 'utf8').split('\n');
    const body = lines.slice(2).filter((l) => /^\s*\d/.test(l) && !/ (futex|epoll_pwait)$/.test(l));
    strace = [...lines.slice(0, 2), ...body.slice(0, 10)].join('\n');
  }
  print(`### ${title}`);
  print();
  print(
    `\`ocilayout ${args.join(' ').replaceAll(work, '$W')}\` — load ${loadAverage()}; main thread ${s.totalMs.toFixed(0)} ms sampled:`,
  );
  print();
  print('| where the main thread was | ms | share |');
  print('|---|---|---|');
  for (const c of s.categories)
    print(`| ${c.name} | ${c.ms.toFixed(0)} | ${(c.share * 100).toFixed(0)}% |`);
  print();
  print(
    'Top functions (self time): ' +
      s.functions
        .slice(0, 8)
        .map((f) => `${f.name} ${f.ms.toFixed(0)} ms`)
        .join('; ') +
      '.',
  );
  if (strace !== undefined) {
    print();
    print('`strace -c -f` (all threads; futex and epoll_pwait, i.e. waiting, left out):');
    print();
    print('```');
    print(strace);
    print('```');
  }
  print();
}

try {
  if (which === 'push' || which === 'all') {
    const src = join(work, 'src.bin');
    randomFile(src, sizes.pushBytes);
    profile(`push of ${sizes.pushBytes} bytes`, ['push', `${work}/P:t`, src], () =>
      rmSync(join(work, 'P'), { recursive: true, force: true }),
    );
    rmSync(src, { force: true });
  }
  if (['export', 'copy-nv', 'all'].includes(which)) {
    const layout = join(work, 'A');
    umociImage(layout, 'v4', sizes.imageLayers, sizes.imageLayerBytes, join(work, 'src'));
    if (which !== 'copy-nv') {
      profile(
        'export (default: re-hash every blob, fsync the archive)',
        ['export', layout, `${work}/e.tar`],
        () => rmSync(join(work, 'e.tar'), { force: true }),
      );
      profile('export --no-verify', ['export', '--no-verify', layout, `${work}/e.tar`], () =>
        rmSync(join(work, 'e.tar'), { force: true }),
      );
    }
    if (which !== 'export') {
      profile(
        'copy --no-verify (hard links only)',
        ['copy', '--no-verify', `${layout}:v4`, `${work}/C`],
        () => rmSync(join(work, 'C'), { recursive: true, force: true }),
      );
    }
  }
  if (which === 'startup' || which === 'all') profile('start-up only', ['--version']);
} finally {
  if (!config.keep) rmSync(work, { recursive: true, force: true });
}
process.stdout.write(`${out.join('\n')}\n`);
