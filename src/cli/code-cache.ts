// Runs the bundled CLI script through a V8 code cache, so a start-up reuses the compiled code of
// the last run instead of parsing and compiling the whole bundle again. Node 22.1+ has this for
// modules (module.enableCompileCache); Node 20 has it only for vm.Script's `cachedData`, hence a
// script rather than a module, on every Node version alike (figures: spec-notes/performance.md).
//
// The cache is an optimisation, never a requirement: a missing, stale, corrupt, foreign or
// unwritable cache only means compiling from source. V8 refuses data made by another V8 version or
// other flags, but it checks the source only by its length and, in release builds, not the
// payload at all; so each file carries the sha256 of the source it was made from and of its own
// payload, and is used only if it is a regular file of ours, with no other name, that no one else
// may write, in a directory that is ours alone: anything else may be a file someone else planted.
// Built-ins through process.getBuiltinModule, not `import` (the CLI's start-up; see bin.ts).
const { isAscii } = process.getBuiltinModule('node:buffer');
const { createHash } = process.getBuiltinModule('node:crypto');
const {
  closeSync,
  constants,
  fstatSync,
  lstatSync,
  mkdirSync,
  openSync,
  readdirSync,
  readFileSync,
  readSync,
  renameSync,
  rmSync,
  unlinkSync,
  writeFileSync,
} = process.getBuiltinModule('node:fs');
const { tmpdir } = process.getBuiltinModule('node:os');
const nodePath = process.getBuiltinModule('node:path');
const { Script } = process.getBuiltinModule('node:vm');

/** What became of the cache on one run. */
export type CodeCacheState =
  | 'off' // turned off, or its directory is not this user's alone: not read, not written
  | 'miss' // no usable file: the script compiled from source
  | 'hit' // V8 took the cached code
  | 'rejected'; // a file of the right source, but V8 refused it (another Node, other flags)

export interface CachedScript {
  /** The completion value of the script (the bundle's wrapper function). */
  value: unknown;
  state: CodeCacheState;
  /**
   * Write the cache for the next run if this one did not use it. Call it after the work, so the
   * functions compiled lazily on the way are in it too. Never throws.
   */
  save(): void;
}

const MAGIC = Buffer.from('OCLV8C01');
const HEADER = MAGIC.length + 32 + 32;
/** A cache file larger than this is not ours: a bound on what we read, far above the CLI's. */
const MAX_CACHE_BYTES = 64 * 1024 * 1024;
/** writeCache's temp files: `<cache name>.<pid>.<random>.tmp`. */
const TEMP_NAME = /^[0-9a-f]{32}\.v8cache\.(\d+)\.[0-9a-z]*\.tmp$/;
/**
 * A temp file this old is a dead writer's even if a process of its pid runs (the pid reused, or
 * another pid namespace's): writing one takes a moment.
 */
const STALE_TEMP_MS = 5 * 60 * 1000;
const CACHE_NAME = /^[0-9a-f]{32}\.v8cache$/;
/**
 * Cache files kept per directory. One file per install path and Node build, and nothing else
 * removes them: test runs, CI checkouts and upgrades would otherwise add one each, for ever.
 */
const MAX_CACHE_FILES = 16;

/**
 * The cache directory from the environment: OCILAYOUT_CODE_CACHE=DIR, `0`/`off`/empty (or
 * NODE_DISABLE_COMPILE_CACHE=1, as for Node's own cache) to turn it off; by default a directory of
 * this user's in os.tmpdir(), where Node keeps its compile cache.
 */
export function codeCacheDir(env: NodeJS.ProcessEnv = process.env): string | undefined {
  if (env.NODE_DISABLE_COMPILE_CACHE === '1') return undefined;
  const dir = env.OCILAYOUT_CODE_CACHE;
  if (dir !== undefined) return dir === '' || dir === '0' || dir === 'off' ? undefined : dir;
  const uid = process.getuid?.();
  return nodePath.join(tmpdir(), `ocilayout-code-cache${uid === undefined ? '' : `-${uid}`}`);
}

/**
 * Compile and run the script at `file` (its whole text), with the code cache in `cacheDir` when
 * there is one. Errors of the script itself propagate; the cache's never do.
 */
export function runCachedScript(file: string, cacheDir: string | undefined): CachedScript {
  const source = readFileSync(file);
  const sourceHash = sha256(source);
  let cachePath: string | undefined;
  let cached: Buffer | undefined;
  if (cacheDir !== undefined) {
    try {
      const dir = dirState(cacheDir);
      if (dir !== 'foreign') cachePath = nodePath.join(cacheDir, cacheName(file));
      if (dir === 'ours') cached = readCache(cachePath!, sourceHash);
    } catch {
      cached = undefined;
    }
  }
  // The bundle is ASCII (scripts/bundle-cli.mjs sees to it): latin1 decodes it to the same string,
  // faster than utf8, which must look for multi-byte sequences.
  const text = isAscii(source) ? source.toString('latin1') : source.toString('utf8');
  const script = new Script(text, { filename: file, cachedData: cached });
  const value: unknown = script.runInThisContext();
  const state: CodeCacheState =
    cachePath === undefined
      ? 'off'
      : cached === undefined
        ? 'miss'
        : script.cachedDataRejected === true
          ? 'rejected'
          : 'hit';
  return {
    value,
    state,
    save() {
      if (cachePath === undefined || state === 'hit') return;
      try {
        writeCache(cachePath, sourceHash, script.createCachedData());
      } catch {
        // Unwritable or full: the next run compiles from source again, as this one did.
      }
    },
  };
}

function sha256(data: Buffer): Buffer {
  return createHash('sha256').update(data).digest();
}

/** One file per script path and Node build: a rebuilt bundle replaces its own file, not adds one. */
function cacheName(file: string): string {
  const key = [file, process.version, process.arch, process.versions.v8].join('\0');
  return `${createHash('sha256').update(key).digest('hex').slice(0, 32)}.v8cache`;
}

/**
 * Whether `dir` is a directory that only this user can change. What is in it is trusted as far as
 * its owner and mode go, so a directory someone else made (in a shared /tmp, under our name before
 * our first run), may write or read, or points to (a symlink) is not used at all. Absent: one we
 * may make.
 */
function dirState(dir: string): 'ours' | 'absent' | 'foreign' {
  let st;
  try {
    st = lstatSync(dir);
  } catch {
    return 'absent'; // or unreachable: then making it fails too, and nothing is written
  }
  const uid = process.getuid?.();
  if (!st.isDirectory() || (uid !== undefined && st.uid !== uid) || (st.mode & 0o077) !== 0)
    return 'foreign';
  return 'ours';
}

/**
 * Make `dir` ours (mode 0700) unless it exists; true if it is then ours alone. Not recursive for
 * `dir` itself: an existing directory must pass dirState, whoever made it in between (EEXIST).
 */
function ownDir(dir: string): boolean {
  if (dirState(dir) === 'absent') {
    try {
      mkdirSync(dir, { mode: 0o700 });
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      if (code === 'ENOENT') {
        // OCILAYOUT_CODE_CACHE may name a directory in one not made yet.
        mkdirSync(nodePath.dirname(dir), { recursive: true, mode: 0o700 });
        mkdirSync(dir, { mode: 0o700 });
      } else if (code !== 'EEXIST') throw err;
    }
  }
  return dirState(dir) === 'ours';
}

/** The payload of a cache file made for this exact source, or undefined. */
function readCache(path: string, sourceHash: Buffer): Buffer | undefined {
  let fd: number;
  try {
    fd = openSync(path, constants.O_RDONLY | (constants.O_NOFOLLOW ?? 0));
  } catch {
    return undefined;
  }
  try {
    // Checked on the descriptor we read from: V8 runs this payload as code, so it must be a file
    // of ours that only we could have written. A second name means it may be written through a
    // path outside this directory (a hard link planted before the directory was ours, say).
    const st = fstatSync(fd);
    const uid = process.getuid?.();
    if (!st.isFile() || st.size < HEADER || st.size > MAX_CACHE_BYTES) return undefined;
    if ((uid !== undefined && st.uid !== uid) || (st.mode & 0o022) !== 0) return undefined;
    if (st.nlink !== 1) return undefined;
    const buf = Buffer.allocUnsafe(st.size);
    let off = 0;
    while (off < st.size) {
      const n = readSync(fd, buf, off, st.size - off, off);
      if (n === 0) return undefined;
      off += n;
    }
    if (!buf.subarray(0, MAGIC.length).equals(MAGIC)) return undefined;
    const forSource = buf.subarray(MAGIC.length, MAGIC.length + 32);
    const payloadHash = buf.subarray(MAGIC.length + 32, HEADER);
    const payload = buf.subarray(HEADER);
    if (!forSource.equals(sourceHash) || !sha256(payload).equals(payloadHash)) return undefined;
    return payload;
  } finally {
    closeSync(fd);
  }
}

/**
 * Temp file + rename, so a reader sees a whole file or none; no fsync: a file torn by a crash
 * fails its checksum and is rewritten.
 */
function writeCache(path: string, sourceHash: Buffer, payload: Buffer): void {
  const dir = nodePath.dirname(path);
  if (!ownDir(dir)) return;
  removeStaleTemps(dir);
  pruneCaches(dir, path);
  const tmp = `${path}.${process.pid}.${Math.random().toString(36).slice(2)}.tmp`;
  try {
    writeFileSync(tmp, Buffer.concat([MAGIC, sourceHash, sha256(payload), payload]), {
      mode: 0o600,
      flag: 'wx',
    });
    renameSync(tmp, path);
  } catch (err) {
    rmSync(tmp, { force: true });
    throw err;
  }
}

/**
 * Remove the temp files of writers that died between write and rename (killed, power cut): nothing
 * else would, and each holds a whole cache. The next write in the directory does it (the run after
 * such a death is a miss, so it writes). Only our own names; a live writer's temp is left alone
 * unless it is too old to be one (were it removed, that writer's rename would fail and it would
 * skip the cache, no worse).
 */
function removeStaleTemps(dir: string): void {
  let names: string[];
  try {
    names = readdirSync(dir);
  } catch {
    return;
  }
  const now = Date.now();
  for (const name of names) {
    const m = TEMP_NAME.exec(name);
    if (m === null) continue;
    const path = nodePath.join(dir, name);
    try {
      const pid = Number(m[1]);
      if (isRunning(pid) && now - lstatSync(path).mtimeMs < STALE_TEMP_MS) continue;
      unlinkSync(path);
    } catch {
      // Gone already (another writer cleaned up), or not removable: not ours to worry about.
    }
  }
}

/**
 * Keep the directory to MAX_CACHE_FILES, with room for the one about to be written: the
 * least recently written go first (a hit writes nothing, so a cache in daily use can go too; its
 * next run compiles once and writes it again). Only our own names.
 */
function pruneCaches(dir: string, keep: string): void {
  let names: string[];
  try {
    names = readdirSync(dir);
  } catch {
    return;
  }
  const caches: { path: string; mtimeMs: number }[] = [];
  for (const name of names) {
    const path = nodePath.join(dir, name);
    if (!CACHE_NAME.test(name) || path === keep) continue;
    try {
      caches.push({ path, mtimeMs: lstatSync(path).mtimeMs });
    } catch {
      // Removed meanwhile by another writer.
    }
  }
  caches.sort((a, b) => a.mtimeMs - b.mtimeMs);
  for (const c of caches.slice(0, Math.max(0, caches.length - (MAX_CACHE_FILES - 1)))) {
    try {
      unlinkSync(c.path);
    } catch {
      // Gone already, or not removable: not ours to worry about.
    }
  }
}

/** Whether another process with this pid runs (ours has no temp file yet when this is asked). */
function isRunning(pid: number): boolean {
  if (pid === process.pid || !(pid > 0)) return false;
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}
