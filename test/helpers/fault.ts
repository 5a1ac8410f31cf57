// Fault injection for sync fs calls made by src/ through named ESM imports (`import { renameSync }
// from 'node:fs'`): patch the CommonJS fs object, then syncBuiltinESMExports() so the named
// bindings follow (node-tar's mutate-fs idea). Restored when the test finishes.
import fs from 'node:fs';
import { syncBuiltinESMExports } from 'node:module';
import { onTestFinished } from 'vitest';

type SyncFsName = 'renameSync' | 'linkSync' | 'fsyncSync' | 'writeSync' | 'openSync';

/** Make `name` throw an errno error (all calls, or only those `when` selects). */
export function failFs(
  name: SyncFsName,
  errno: string,
  when: (...args: unknown[]) => boolean = () => true,
): { calls: unknown[][] } {
  const original = fs[name] as (...args: unknown[]) => unknown;
  const calls: unknown[][] = [];
  const patched = (...args: unknown[]): unknown => {
    if (when(...args)) {
      calls.push(args);
      throw Object.assign(new Error(`${errno}: injected failure of ${name}`), { code: errno });
    }
    return original(...args);
  };
  (fs as unknown as Record<string, unknown>)[name] = patched;
  syncBuiltinESMExports();
  onTestFinished(() => {
    (fs as unknown as Record<string, unknown>)[name] = original;
    syncBuiltinESMExports();
  });
  return { calls };
}

/** Run `before(...args)` ahead of each real call of `name` (e.g. to race the call). */
export function beforeFs(name: SyncFsName, before: (...args: unknown[]) => void): void {
  const original = fs[name] as (...args: unknown[]) => unknown;
  (fs as unknown as Record<string, unknown>)[name] = (...args: unknown[]): unknown => {
    before(...args);
    return original(...args);
  };
  syncBuiltinESMExports();
  onTestFinished(() => {
    (fs as unknown as Record<string, unknown>)[name] = original;
    syncBuiltinESMExports();
  });
}
