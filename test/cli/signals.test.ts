// cli/signals.ts: a second signal while the first one's cleanup runs is absorbed, not fatal. Runs
// src/ transpiled by child-lib (no build needed).
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { compileChildLib, waitForLine, type ChildLib } from '../helpers/child-lib.js';
import { tmpDir } from '../helpers/tmp.js';

let lib: ChildLib;
beforeAll(() => {
  lib = compileChildLib(['cli/signals.ts', 'store/exit-cleanup.ts']);
});
afterAll(() => lib.dispose());

describe('exitOnSignals', () => {
  it.each([
    ['SIGINT', 'SIGINT', 130],
    ['SIGTERM', 'SIGINT', 143],
    ['SIGHUP', 'SIGTERM', 129],
  ] as const)(
    'on %s, finishes the cleanup through a second signal (%s) and exits %i',
    async (first, second, status) => {
      const marker = join(tmpDir(), 'cleaned');
      // A slow cleanup (removing a large staging directory) that says when it has started.
      const script = lib.script(
        'slow-cleanup',
        `import { writeFileSync, writeSync } from 'node:fs';
import { exitOnSignals } from './cli/signals.js';
import { cleanupAtExit } from './store/exit-cleanup.js';
exitOnSignals();
cleanupAtExit(() => {
  writeSync(1, 'cleaning\\n');
  const until = Date.now() + 600;
  while (Date.now() < until);
  writeFileSync(process.argv[2], 'done');
});
console.log('ready');
setInterval(() => {}, 1000);
`,
      );
      const child = lib.start(script, [marker]);
      await waitForLine(child.child, 'ready');
      child.child.kill(first);
      await waitForLine(child.child, 'cleaning');
      child.child.kill(second);
      expect(await child.done).toMatchObject({ code: status, signal: null });
      expect(existsSync(marker)).toBe(true);
    },
  );
});
