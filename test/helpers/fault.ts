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
  return beforeFs(
    name,
    () => {
      throw Object.assign(new Error(`${errno}: injected failure of ${name}`), { code: errno });
    },
    when,
  );
}

/** Run `hook` right before `name` when `when` selects the call (e.g. to act between two steps). */
export function beforeFs(
  name: SyncFsName,
  hook: (...args: unknown[]) => void,
  when: (...args: unknown[]) => boolean = () => true,
): { calls: unknown[][] } {
  const original = fs[name] as (...args: unknown[]) => unknown;
  const calls: unknown[][] = [];
  const patched = (...args: unknown[]): unknown => {
    if (when(...args)) {
      calls.push(args);
      hook(...args);
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

/**
 * Run `hook` after the callback-style `name` on `path` completed and before its caller's callback
 * sees the result: for code that calls `fs.mkdir(...)` etc. through the fs object at call time
 * (proper-lockfile, through the fs lock.ts hands it).
 */
export function afterFsCallback(
  name: 'mkdir' | 'stat' | 'utimes',
  path: string,
  hook: (err: NodeJS.ErrnoException | null) => void,
): { calls: number } {
  const target = fs as unknown as Record<string, (...args: unknown[]) => void>;
  const original = target[name]!;
  const seen = { calls: 0 };
  target[name] = (...args: unknown[]): void => {
    const cb = args[args.length - 1] as (
      err: NodeJS.ErrnoException | null,
      ...rest: unknown[]
    ) => void;
    if (args[0] !== path) return original(...args);
    seen.calls++;
    original(...args.slice(0, -1), (err: NodeJS.ErrnoException | null, ...rest: unknown[]) => {
      hook(err);
      cb(err, ...rest);
    });
  };
  onTestFinished(() => {
    target[name] = original;
  });
  return seen;
}
