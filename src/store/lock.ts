// The one cross-process lock policy for a layout's index.json (proper-lockfile, mkdir-based).
// Waits with bounded, jittered retries; a lock whose holder stopped refreshing it (crash, SIGKILL)
// turns stale and is taken over; a lock lost while held makes the commit fail instead of writing.
import { statSync } from 'node:fs';
import { join, resolve } from 'node:path';
import lockfile from 'proper-lockfile';
import { LockError, OcilayoutError, errnoCode, wrapFsError } from '../errors.js';
import { INDEX_LOCK, INDEX_FILE } from './paths.js';

export interface LockOptions {
  /** How long to wait for another writer, in ms (default 60 s, env OCILAYOUT_LOCK_TIMEOUT_MS). */
  timeoutMs?: number;
}

/** Handed to the critical section so it can refuse to commit after losing the lock. */
export interface HeldLock {
  /** Throws E_LOCK_COMPROMISED when another process may have taken the lock over. */
  assertHeld(): void;
}

function envInt(name: string, fallback: number): number {
  const v = Number(process.env[name]);
  return Number.isFinite(v) && v > 0 ? v : fallback;
}

/** Lock age after which a holder is presumed dead. proper-lockfile refreshes it every stale/2. */
const staleMs = (): number => Math.max(2000, envInt('OCILAYOUT_LOCK_STALE_MS', 10_000));

// Serialise our own callers first: proper-lockfile would make them poll each other.
const inProcess = new Map<string, Promise<unknown>>();

/**
 * Run `fn` while holding the layout's index lock. Throws E_LOCK_TIMEOUT when the lock stays busy
 * past the timeout (nothing written), E_LOCK_COMPROMISED via HeldLock.assertHeld. The timeout runs
 * from this call, so it also bounds the wait behind other callers in this process.
 */
export async function withLayoutLock<T>(
  root: string,
  fn: (held: HeldLock) => Promise<T> | T,
  options: LockOptions = {},
): Promise<T> {
  const timeoutMs = options.timeoutMs ?? envInt('OCILAYOUT_LOCK_TIMEOUT_MS', 60_000);
  const deadline = Date.now() + timeoutMs;
  const key = resolve(root, INDEX_FILE);
  const previous = inProcess.get(key) ?? Promise.resolve();
  const run = waitTurn(previous, root, timeoutMs, deadline).then(() =>
    lockAndRun(root, fn, timeoutMs, deadline),
  );
  const tail = run.catch(() => undefined);
  inProcess.set(key, tail);
  try {
    return await run;
  } finally {
    if (inProcess.get(key) === tail) inProcess.delete(key);
  }
}

/**
 * Wait for the previous in-process caller, but not past the deadline. A caller that gives up here
 * lets the next one through to proper-lockfile, whose mkdir lock still excludes the holder.
 */
function waitTurn(
  previous: Promise<unknown>,
  root: string,
  timeoutMs: number,
  deadline: number,
): Promise<void> {
  return new Promise((resolveTurn, reject) => {
    const timer = setTimeout(
      () => reject(lockTimeout(root, timeoutMs)),
      Math.max(0, deadline - Date.now()),
    );
    const go = (): void => {
      clearTimeout(timer);
      resolveTurn();
    };
    previous.then(go, go);
  });
}

function lockTimeout(root: string, timeoutMs: number): LockError {
  return new LockError(
    'E_LOCK_TIMEOUT',
    `layout ${root} is locked by another writer; gave up after ${timeoutMs} ms`,
    { layout: root, timeoutMs },
    {
      hint: `retry later, raise --lock-timeout, or remove ${join(root, INDEX_LOCK)} if no ocilayout process is running`,
    },
  );
}

async function lockAndRun<T>(
  root: string,
  fn: (held: HeldLock) => Promise<T> | T,
  timeoutMs: number,
  deadline: number,
): Promise<T> {
  const stale = staleMs();
  let compromised: Error | undefined;
  const lockOptions = {
    lockfilePath: join(root, INDEX_LOCK),
    realpath: false,
    stale,
    update: Math.floor(stale / 4),
    retries: 0,
    onCompromised: (err: Error) => {
      compromised = err;
    },
  };
  const target = join(root, INDEX_FILE);
  let delay = 10;
  let release: (() => Promise<void>) | undefined;
  for (;;) {
    try {
      release = await lockfile.lock(target, lockOptions);
      break;
    } catch (err) {
      if (errnoCode(err) !== 'ELOCKED') throw wrapFsError(err, `lock ${join(root, INDEX_LOCK)}`);
      if (Date.now() >= deadline) throw lockTimeout(root, timeoutMs);
      const pause = Math.min(delay * (0.5 + Math.random()), Math.max(0, deadline - Date.now()));
      await new Promise((r) => setTimeout(r, pause));
      delay = Math.min(delay * 1.6, 250);
    }
  }
  const lockDir = join(root, INDEX_LOCK);
  const ours = lockIdentity(lockDir);
  let lostTo: string | undefined;
  const held: HeldLock = {
    assertHeld() {
      if (compromised !== undefined) {
        throw compromisedError(root, compromised.message, compromised);
      }
      // proper-lockfile only notices a takeover on its next refresh (up to stale/4 later); look
      // now, just before the commit, so we never write inside another writer's critical section.
      const now = lockIdentity(lockDir, ours?.birthtimeMs !== undefined);
      if (now === undefined || ours === undefined || !sameIdentity(now, ours)) {
        lostTo = now === undefined ? 'the lock directory vanished' : 'another process took it over';
        throw compromisedError(root, lostTo);
      }
    },
  };
  try {
    return await fn(held);
  } finally {
    if (lostTo !== undefined) {
      // The directory belongs to someone else now: removing it would break their exclusion.
      forgetLock(target);
    } else {
      try {
        await release();
      } catch (err) {
        // Releasing a compromised lock fails; the result of fn already reflects that.
        if (compromised === undefined && !(err instanceof OcilayoutError)) {
          // eslint-disable-next-line no-unsafe-finally
          throw wrapFsError(err, `unlock ${root}`);
        }
      }
    }
  }
}

function compromisedError(root: string, why: string, cause?: Error): LockError {
  return new LockError(
    'E_LOCK_COMPROMISED',
    `lost the lock on ${root} while holding it (${why}); nothing was committed`,
    { layout: root },
    { cause, hint: 'retry the command' },
  );
}

/**
 * Which directory is the lock: inode plus birth time (ext4 reuses the inode number at once after
 * rmdir + mkdir). Without statx, libuv reports ctime as the birth time, and ctime moves on every
 * refresh; so the birth time counts only when it is set and differs from ctime at acquisition
 * (otherwise the inode alone decides, and proper-lockfile's refresh check is the backstop).
 */
interface LockIdentity {
  ino: number;
  birthtimeMs: number | undefined;
}
function lockIdentity(lockDir: string, birthtimeIsReal = true): LockIdentity | undefined {
  try {
    const st = statSync(lockDir);
    const real = birthtimeIsReal && st.birthtimeMs !== 0 && st.birthtimeMs !== st.ctimeMs;
    return { ino: st.ino, birthtimeMs: real ? st.birthtimeMs : undefined };
  } catch {
    return undefined;
  }
}
function sameIdentity(now: LockIdentity, ours: LockIdentity): boolean {
  return (
    now.ino === ours.ino && (ours.birthtimeMs === undefined || now.birthtimeMs === ours.birthtimeMs)
  );
}

/**
 * Make proper-lockfile forget a lock we lost without removing its directory: otherwise its refresh
 * timer or its exit handler would rmdir the new holder's lock. getLocks() is exported by
 * proper-lockfile 4 (lib/lockfile.js) but missing from its type definitions.
 */
function forgetLock(target: string): void {
  const getLocks = (lockfile as unknown as { getLocks?: () => Record<string, PlLock | undefined> })
    .getLocks;
  const locks = getLocks?.();
  const key = resolve(target);
  const entry = locks?.[key];
  if (locks === undefined || entry === undefined) return;
  if (entry.updateTimeout) clearTimeout(entry.updateTimeout);
  entry.released = true;
  delete locks[key];
}
interface PlLock {
  released?: boolean;
  updateTimeout?: ReturnType<typeof setTimeout> | null;
}
