// CLI start-up: `ocilayout --version` and one cheap real command (`tags` of a one-image layout)
// against `node -e 0`, whole processes, interleaved. The goal is an absolute overhead: at most
// 40 ms of wall time more than Node starting and exiting. The warm-up runs write the code cache
// (src/cli/code-cache.ts) into a directory of this run's own, so every timed run uses it, as every
// run but a user's first does.
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { BIN } from '../lib/config.mjs';
import { sh } from '../lib/measure.mjs';
import { removeAll, side } from '../lib/rows.mjs';

const GOAL_S = 0.04;

export async function startupRows(ctx) {
  const { work } = ctx.config;
  const base = join(work, 'startup');
  mkdirSync(base, { recursive: true });
  const layout = join(base, 'layout');
  const file = join(base, 'hello.txt');
  sh(['sh', '-c', `printf 'hello\\n' > '${file}'`]);
  sh([process.execPath, BIN, 'init', layout, '--quiet']);
  sh([process.execPath, BIN, 'push', `${layout}:v1`, file, '--quiet']);
  const env = { OCILAYOUT_CODE_CACHE: join(base, 'code-cache') };
  // Start-up differences are a few ms: more runs than the other small rows.
  const runs = Math.max(15, ctx.config.runsSmall);
  const t = ctx.time(
    'startup',
    [
      { key: 'node -e 0', argv: [process.execPath, '-e', '0'] },
      { key: 'ocilayout --version', argv: [process.execPath, BIN, '--version'], env },
      { key: 'ocilayout tags', argv: [process.execPath, BIN, 'tags', layout], env },
    ],
    runs,
    { warmup: true },
  );
  removeAll(base);
  const node = t['node -e 0'];
  return ['ocilayout --version', 'ocilayout tags'].map((key) => {
    const value = t[key].wall.median - node.wall.median;
    const cpu = t[key].cpu.median - node.cpu.median;
    return {
      id: key === 'ocilayout tags' ? 'startup-tags' : 'startup',
      work: `CLI start-up: \`${key}${key.endsWith('tags') ? ' LAYOUT` (one image)' : '`'} minus \`node -e 0\``,
      ours: side(key, t[key].wall),
      ref: side('node -e 0', node.wall),
      value,
      unit: 's',
      goal: `≤ ${GOAL_S} s`,
      met: value <= GOAL_S,
      detail: `CPU (user+sys) ${t[key].cpu.median.toFixed(3)} s vs ${node.cpu.median.toFixed(3)} s: +${cpu.toFixed(3)} s`,
    };
  });
}
