// A small tmpfs of our own, for faults a normal temp dir cannot produce: a read-only filesystem
// (EROFS), a full one (ENOSPC). Mounting needs root (CI runs as root); elsewhere the caller skips
// with the message this returns. Unmounted when the test finishes.
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { onTestFinished } from 'vitest';

export interface SmallFs {
  dir: string;
  /** Remount read-only: every later write there fails with EROFS. */
  readOnly: () => void;
}

/** Why a mount is impossible here, or undefined when it should work. */
export function smallFsUnavailable(): string | undefined {
  if (process.platform !== 'linux') return 'tmpfs mounts need Linux';
  if (process.geteuid?.() !== 0) return 'mounting a tmpfs needs root (CI runs as root)';
  return undefined;
}

/** Mount a tmpfs of `size` (e.g. '8m') on a fresh temp directory. */
export function mountSmallFs(size = '8m'): SmallFs {
  const dir = mkdtempSync(join(tmpdir(), 'ocilayout-smallfs-'));
  mount(['-t', 'tmpfs', '-o', `size=${size},mode=0755`, 'tmpfs', dir]);
  onTestFinished(() => {
    spawnSync('umount', ['-l', dir], { stdio: 'ignore' });
    rmdirSync(dir);
  });
  return { dir, readOnly: () => mount(['-o', 'remount,ro', dir]) };
}

function mount(args: string[]): void {
  const r = spawnSync('mount', args, { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`mount ${args.join(' ')} failed: ${r.stderr || r.error}`);
}
