// The one cross-process lock policy for a layout's index.json (proper-lockfile, mkdir-based).
// Waits with bounded, jittered retries; a lock whose holder stopped refreshing it (crash, SIGKILL)
// turns stale and is taken over; a lock lost while held makes the commit fail instead of writing.
import fs from 'node:fs';
import { join, resolve } from 'node:path';
import lockfile from 'proper-lockfile';
import { LockError, OcilayoutError, errnoCode, wrapFsError } from '../errors.js';
import { cleanupAtExit } from './exit-cleanup.js';
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

/** Lock age after which a holder is presumed dead. We have proper-lockfile refresh it every stale/4. */
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
    fs: trackingFs,
    onCompromised: (err: Error) => {
      compromised = err;
    },
  };
  const target = join(root, INDEX_FILE);
  const lockDir = join(root, INDEX_LOCK);
  const track: Refreshes = { mtimeMs: undefined, inFlight: 0 };
  refreshes.set(resolve(lockDir), track);
  // An exit (SIGINT/SIGTERM/SIGHUP become process.exit in the CLI) skips the finally blocks here:
  // release the lock then, if it is ours, so the next writer need not wait for it to turn stale.
  // Ours: made by our mkdir while proper-lockfile still probes it before handing it over, then
  // held and passing the refresh test.
  let acquired = false;
  const forgetAtExit = cleanupAtExit(() => {
    const mine = acquired
      ? whyLost(lockDir, ours?.ino, track) === undefined
      : created.has(resolve(lockDir));
    if (mine) fs.rmdirSync(lockDir);
  });
  let delay = 10;
  let release: (() => Promise<void>) | undefined;
  try {
    for (;;) {
      try {
        release = await lockfile.lock(target, lockOptions);
        break;
      } catch (err) {
        if (errnoCode(err) !== 'ELOCKED') throw wrapFsError(err, `lock ${lockDir}`);
        if (Date.now() >= deadline) throw lockTimeout(root, timeoutMs);
        const pause = Math.min(delay * (0.5 + Math.random()), Math.max(0, deadline - Date.now()));
        await new Promise((r) => setTimeout(r, pause));
        delay = Math.min(delay * 1.6, 250);
      }
    }
  } catch (err) {
    forgetAtExit();
    created.delete(resolve(lockDir));
    refreshes.delete(resolve(lockDir));
    throw err;
  }
  // What proper-lockfile recorded as ours: the directory as it stands right after acquisition.
  const ours = statOrUndefined(lockDir);
  track.mtimeMs = ours?.mtime.getTime();
  acquired = true;
  created.delete(resolve(lockDir));
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
    refreshes.delete(resolve(lockDir));
    if (lostTo !== undefined) {
      forgetAtExit();
      // The directory belongs to someone else now. Make proper-lockfile forget our lock without
      // its rmdir, or its refresh timer or exit handler would remove the new holder's lock.
      await lockfile
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
 * stale/4 through the `fs` we hand it, so we see each value (and whether one is in flight).
 */
interface Refreshes {
  mtimeMs: number | undefined;
  inFlight: number;
}
const refreshes = new Map<string, Refreshes>();
/** Lock directories our mkdir made whose acquisition has not finished yet. */
const created = new Set<string>();

type Callback = (err: NodeJS.ErrnoException | null) => void;
/** node:fs for proper-lockfile, noting the lock directories it makes and the mtimes it sets. */
const trackingFs = {
  // Synchronous: with an asynchronous mkdir, an exit could come between the directory appearing
  // and its callback, and the exit action would not know the directory is ours.
  mkdir(path: string, cb: Callback): void {
    let error: NodeJS.ErrnoException | null = null;
    try {
      fs.mkdirSync(path);
      created.add(resolve(path));
    } catch (err) {
      error = err as NodeJS.ErrnoException;
    }
    process.nextTick(cb, error);
  },
  stat: fs.stat,
  rmdir: fs.rmdir,
  // proper-lockfile's exit hook would rmdir without asking whether the lock is still ours; the
  // exit-cleanup action registered in lockAndRun does, so the hook does nothing.
  rmdirSync: (): void => undefined,
  realpath: fs.realpath,
  utimes(path: string, atime: Date, mtime: Date, cb: Callback): void {
    const t = refreshes.get(resolve(path));
    if (t !== undefined) t.inFlight++;
    fs.utimes(path, atime, mtime, (err) => {
      if (t !== undefined) {
        t.inFlight--;
        if (err === null) t.mtimeMs = mtime.getTime();
      }
      cb(err);
    });
  },
};
/** The same, minus rmdir: used to make proper-lockfile forget a lock that is no longer ours. */
const keepDirFs = { ...trackingFs, rmdir: (_path: string, cb: Callback): void => cb(null) };

function statOrUndefined(path: string): fs.Stats | undefined {
  try {
    return fs.statSync(path);
  } catch {
    return undefined;
  }
}

/**
 * Why the lock directory is no longer ours, or undefined while it is: proper-lockfile's own
 * refresh test, run now. It must exist with its inode and with the mtime our last refresh gave it
 * (a takeover is rmdir + mkdir, and ext4 hands out the same inode at once, so the mtime is what
 * tells). While a refresh is in flight the mtime cannot be judged and the inode decides.
 */
function whyLost(lockDir: string, ino: number | undefined, track: Refreshes): string | undefined {
  const st = statOrUndefined(lockDir);
  if (st === undefined) return 'the lock directory vanished';
  if (ino === undefined || st.ino !== ino) return 'another process took it over';
  if (track.inFlight === 0 && track.mtimeMs !== undefined && st.mtime.getTime() !== track.mtimeMs)
    return 'another process took it over';
  return undefined;
}
