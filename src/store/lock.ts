// The one cross-process lock policy for a layout's index.json (proper-lockfile, mkdir-based).
// Waits with bounded, jittered retries; a lock whose holder stopped refreshing it (crash, SIGKILL)
// turns stale and is taken over; a lock lost while held makes the commit fail instead of writing.
import fs from 'node:fs';
import { join, resolve } from 'node:path';
import type * as ProperLockfile from 'proper-lockfile';
import {
  LockError,
  OcilayoutError,
  UnsafeInputError,
  UsageError,
  errnoCode,
  wrapFsError,
} from '../errors.js';
import { cleanupAtExit } from './exit-cleanup.js';
import { INDEX_LOCK, INDEX_FILE } from './paths.js';

export interface LockOptions {
  /** How long to wait for another writer, in ms (default 60 s, env OCILAYOUT_LOCK_TIMEOUT_MS). */
  timeoutMs?: number;
}

/** Handed to the critical section so it can refuse to commit after losing the lock. */
export interface HeldLock {
  /**
   * Throws E_LOCK_COMPROMISED when another process may have taken the lock over. One lstat of the
   * lock directory: cheap enough to run right before the commit's rename.
   */
  assertHeld(): void;
}

/**
 * A non-negative number of milliseconds from the environment; unset or empty means `fallback`.
 * Anything else is refused (E_USAGE naming the variable): `NaN` as a timeout would wait forever.
 */
export function envMs(name: string, fallback: number): number {
  const raw = process.env[name];
  if (raw === undefined || raw.trim() === '') return fallback;
  return checkMs(Number(raw), name, raw);
}

/** Longest wait a timer can express (setTimeout fires at once for anything larger). */
export const MAX_LOCK_TIMEOUT_MS = 2 ** 31 - 1;

function checkMs(v: number, what: string, shown: unknown): number {
  if (!Number.isFinite(v) || v < 0 || v > MAX_LOCK_TIMEOUT_MS) {
    throw new UsageError(
      'E_USAGE',
      `${what}=${JSON.stringify(shown)}: expected a number of milliseconds from 0 to ${MAX_LOCK_TIMEOUT_MS}`,
      { variable: what, value: shown },
    );
  }
  return v;
}

/**
 * proper-lockfile, loaded by the first lock: read-only commands never take one, and loading it
 * (graceful-fs with its patched copy of fs, signal-exit's hooks) was part of every CLI start-up.
 */
type Lockfile = Pick<typeof ProperLockfile, 'lock' | 'unlock'>;
let lockfileModule: Promise<Lockfile> | undefined;
function loadLockfile(): Promise<Lockfile> {
  return (lockfileModule ??= import('proper-lockfile').then((m): Lockfile => m.default));
}

/** Lock age after which a holder is presumed dead. We have proper-lockfile refresh it every stale/4. */
const staleMs = (): number => Math.max(2000, envMs('OCILAYOUT_LOCK_STALE_MS', 10_000));

/**
 * A lock directory whose mtime is further in the future than this has no usable age (the clock was
 * stepped back after its holder wrote it). proper-lockfile itself dates a fresh lock up to ~1 s
 * ahead (it rounds its first mtime up to the next second), so the tolerance must exceed that.
 */
export const LOCK_FUTURE_TOLERANCE_MS = 2000;

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
  const timeoutMs =
    options.timeoutMs === undefined
      ? envMs('OCILAYOUT_LOCK_TIMEOUT_MS', 60_000)
      : checkMs(options.timeoutMs, 'timeoutMs', options.timeoutMs);
  staleMs(); // refuse a bad OCILAYOUT_LOCK_STALE_MS before waiting, not after
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
    fs: trackingFs,
    onCompromised: (err: Error) => {
      compromised = err;
    },
  };
  const target = join(root, INDEX_FILE);
  const lockDir = join(root, INDEX_LOCK);
  const key = resolve(lockDir);
  const track: Refreshes = { mtimeMs: undefined, pending: [] };
  const attempt: Acquiring = { made: false, future: undefined };
  refreshes.set(key, track);
  acquiring.set(key, attempt);
  // An exit (SIGINT/SIGTERM/SIGHUP become process.exit in the CLI) skips the finally blocks here:
  // release the lock then, if it is ours, so the next writer need not wait for it to turn stale.
  // Ours: made by our mkdir while proper-lockfile still probes it before handing it over, then
  // held and passing the refresh test.
  let acquired = false;
  const forgetAtExit = cleanupAtExit(() => {
    const mine = acquired ? whyLost(lockDir, ours?.ino, track) === undefined : attempt.made;
    if (mine) fs.rmdirSync(lockDir);
  });
  let delay = 10;
  let release: (() => Promise<void>) | undefined;
  try {
    const lockfile = await loadLockfile();
    for (;;) {
      attempt.made = false;
      try {
        release = await lockfile.lock(target, lockOptions);
        break;
      } catch (err) {
        // A symlink or file planted at the lock path would make every attempt fail the same way
        // (a dangling symlink reads as "held" forever): name it instead of waiting it out.
        refuseNonDirectory(lockDir);
        if (attempt.made) throw probeFailed(root, lockDir, err);
        if (errnoCode(err) !== 'ELOCKED') throw wrapFsError(err, `lock ${lockDir}`);
        if (Date.now() >= deadline) throw lockTimeout(root, timeoutMs);
        const pause = Math.min(delay * (0.5 + Math.random()), Math.max(0, deadline - Date.now()));
        await new Promise((r) => setTimeout(r, pause));
        delay = Math.min(delay * 1.6, 250);
      }
    }
  } catch (err) {
    forgetAtExit();
    refreshes.delete(key);
    throw err;
  } finally {
    acquiring.delete(key);
  }
  // What proper-lockfile recorded as ours: the directory as it stands right after acquisition.
  const ours = statOrUndefined(lockDir);
  track.mtimeMs = ours?.mtime.getTime();
  acquired = true;
  let lostTo: string | undefined;
  const held: HeldLock = {
    assertHeld() {
      if (compromised !== undefined) {
        throw compromisedError(root, compromised.message, compromised);
      }
      // proper-lockfile only notices a takeover on its next refresh (up to stale/4 later); look
      // now, just before the commit, so we never write inside another writer's critical section.
      lostTo = whyLost(lockDir, ours?.ino, track);
      if (lostTo !== undefined) throw compromisedError(root, lostTo);
    },
  };
  try {
    return await fn(held);
  } finally {
    // A section that committed nothing (or failed) never asked: ask now. Releasing a lock another
    // process took over would rmdir ITS lock and let a third writer in beside it.
    if (lostTo === undefined && compromised === undefined) {
      lostTo = whyLost(lockDir, ours?.ino, track);
    }
    refreshes.delete(key);
    if (lostTo !== undefined) {
      forgetAtExit();
      // The directory belongs to someone else now. Make proper-lockfile forget our lock without
      // its rmdir, or its refresh timer or exit handler would remove the new holder's lock.
      await (
        await loadLockfile()
      )
        .unlock(target, { realpath: false, lockfilePath: lockDir, fs: keepDirFs })
        .catch(() => undefined);
    } else {
      try {
        await release();
      } catch (err) {
        // Releasing a compromised lock fails; the result of fn already reflects that.
        if (compromised === undefined && !(err instanceof OcilayoutError)) {
          // eslint-disable-next-line no-unsafe-finally
          throw wrapFsError(err, `unlock ${root}`);
        }
      } finally {
        // Only now: an exit while proper-lockfile's rmdir is in flight must still remove it.
        forgetAtExit();
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
 * What our own refreshes did to a lock directory we hold: proper-lockfile rewrites its mtime every
 * stale/4 through the `fs` we hand it, so we see each value it sets, and the ones still in flight.
 */
interface Refreshes {
  mtimeMs: number | undefined;
  /** mtimes being written: the directory may already carry one while its callback is pending. */
  pending: number[];
}
const refreshes = new Map<string, Refreshes>();

/** A lock directory we are trying to take (keyed like `refreshes`, by its resolved path). */
interface Acquiring {
  /** Our mkdir of it succeeded in this attempt: what proper-lockfile does next is its probe. */
  made: boolean;
  /** A lock dated in the future: since when we have seen it unchanged (see datedForStaleness). */
  future: { id: string; since: number } | undefined;
}
const acquiring = new Map<string, Acquiring>();

type Callback = (err: NodeJS.ErrnoException | null) => void;
type StatCallback = (err: NodeJS.ErrnoException | null, st?: fs.Stats) => void;
/**
 * node:fs for proper-lockfile, noting the lock directories it makes and the mtimes it sets on
 * lock directories we hold, and correcting what it sees of lock directories we wait for.
 */
const trackingFs = {
  // Synchronous: with an asynchronous mkdir, an exit could come between the directory appearing
  // and its callback, and the exit action would not know the directory is ours.
  mkdir(path: string, cb: Callback): void {
    let error: NodeJS.ErrnoException | null = null;
    try {
      fs.mkdirSync(path);
      const a = acquiring.get(resolve(path));
      if (a !== undefined) a.made = true;
    } catch (err) {
      error = err as NodeJS.ErrnoException;
    }
    process.nextTick(cb, error);
  },
  stat(path: string, cb: StatCallback): void {
    fs.stat(path, (err, st) => {
      const a = acquiring.get(resolve(path));
      // Only the staleness test of someone else's lock is corrected, never the probe of our own.
      if (err !== null || a === undefined || a.made) cb(err, st);
      else cb(null, datedForStaleness(a, st));
    });
  },
  rmdir(path: string, cb: Callback): void {
    // After our mkdir succeeded, proper-lockfile removes the directory only when its probe failed,
    // typically because the directory vanished while we were stopped right after mkdir: whatever
    // is there now may be another writer's lock. lockAndRun decides (probeFailed).
    if (acquiring.get(resolve(path))?.made === true) cb(null);
    else fs.rmdir(path, cb);
  },
  // proper-lockfile's exit hook would rmdir without asking whether the lock is still ours; the
  // exit-cleanup action registered in lockAndRun does, so the hook does nothing.
  rmdirSync: (): void => undefined,
  realpath: fs.realpath,
  utimes(path: string, atime: Date, mtime: Date, cb: Callback): void {
    const t = refreshes.get(resolve(path));
    const ms = mtime.getTime();
    t?.pending.push(ms);
    fs.utimes(path, atime, mtime, (err) => {
      if (t !== undefined) {
        t.pending.splice(t.pending.indexOf(ms), 1);
        if (err === null) t.mtimeMs = ms;
      }
      cb(err);
    });
  },
};
/** The same, minus rmdir: used to make proper-lockfile forget a lock that is no longer ours. */
const keepDirFs = { ...trackingFs, rmdir: (_path: string, cb: Callback): void => cb(null) };

/**
 * proper-lockfile judges a lock by `now - mtime`, so a lock dated in the future (the clock was
 * stepped back after its holder wrote it, e.g. a crash then an NTP correction) would never turn
 * stale. Such a lock is given the age we have observed instead: a live holder rewrites the mtime
 * every stale/4 (which starts the count again), so one unchanged for `stale` of our own waiting has
 * no live holder.
 */
function datedForStaleness(a: Acquiring, st: fs.Stats): fs.Stats {
  const now = Date.now();
  if (st.mtimeMs <= now + LOCK_FUTURE_TOLERANCE_MS) {
    a.future = undefined;
    return st;
  }
  const id = `${st.ino}:${st.mtimeMs}`;
  if (a.future?.id !== id) a.future = { id, since: now };
  return Object.create(st, { mtime: { value: new Date(a.future.since) } }) as fs.Stats;
}

/** Throws E_UNSAFE_ENTRY when something other than a directory sits at the lock path. */
function refuseNonDirectory(lockDir: string): void {
  let st: fs.Stats;
  try {
    st = fs.lstatSync(lockDir);
  } catch {
    return; // absent (or unreadable: proper-lockfile's own error says more)
  }
  if (st.isDirectory()) return;
  const what = st.isSymbolicLink() ? 'a symlink' : 'not a directory';
  throw new UnsafeInputError(
    'E_UNSAFE_ENTRY',
    `${lockDir} is ${what}; the index lock is a directory, so no writer can ever take this one`,
    { path: lockDir },
    { hint: `nothing of ours makes it: remove it (rm ${lockDir}) and retry` },
  );
}

/**
 * proper-lockfile made the lock directory but could not stamp or stat it right after. ENOENT: it
 * vanished in between, i.e. we stalled after mkdir long enough for another writer to judge it
 * stale and take it over; it is not ours to remove. Anything else: the directory is ours (an fs
 * that refuses utimes), so remove it as proper-lockfile would have.
 */
function probeFailed(root: string, lockDir: string, err: unknown): OcilayoutError {
  if (errnoCode(err) === 'ENOENT') {
    return compromisedError(
      root,
      'the lock directory vanished right after we created it: another writer took it over',
      err instanceof Error ? err : undefined,
    );
  }
  try {
    fs.rmdirSync(lockDir);
  } catch {
    /* gone already */
  }
  return wrapFsError(err, `lock ${lockDir}`);
}

function statOrUndefined(path: string): fs.Stats | undefined {
  try {
    return fs.lstatSync(path);
  } catch {
    return undefined;
  }
}

/**
 * Why the lock directory is no longer ours, or undefined while it is: proper-lockfile's own
 * refresh test, run now. It must exist with its inode and with the mtime our last refresh gave it
 * (a takeover is rmdir + mkdir, and ext4 hands out the same inode at once, so the mtime is what
 * tells), or with one our refresh is writing at this moment.
 */
function whyLost(lockDir: string, ino: number | undefined, track: Refreshes): string | undefined {
  const st = statOrUndefined(lockDir);
  if (st === undefined) return 'the lock directory vanished';
  if (ino === undefined || st.ino !== ino) return 'another process took it over';
  const m = st.mtime.getTime();
  if (track.mtimeMs !== undefined && m !== track.mtimeMs && !track.pending.includes(m))
    return 'another process took it over';
  return undefined;
}
