import fs, {
  existsSync,
  lstatSync,
  mkdirSync,
  rmdirSync,
  statSync,
  symlinkSync,
  utimesSync,
  writeFileSync,
} from 'node:fs';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it, onTestFinished } from 'vitest';
import { IndexStore } from '../../src/store/index-store.js';
import { withLayoutLock } from '../../src/store/lock.js';
import { INDEX_LOCK } from '../../src/store/paths.js';
import { compileChildLib, waitForLine, type ChildLib } from '../helpers/child-lib.js';
import { afterFsCallback } from '../helpers/fault.js';
import { makeLayout } from '../helpers/make-layout.js';
import { layoutSnapshot } from '../helpers/snapshot.js';

const D = `sha256:${'d'.repeat(64)}`;
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));
const addEntry = (store: IndexStore, tag: string): Promise<void> =>
  store.update((index) => {
    index.manifests.push({
      mediaType: 'application/vnd.oci.image.manifest.v1+json',
      digest: D,
      size: 1,
      annotations: { 'org.opencontainers.image.ref.name': tag },
    });
    return { index, result: undefined };
  });

/** A deferred: `open()` resolves `wait`. */
function gate(): { wait: Promise<void>; open: () => void } {
  let open!: () => void;
  const wait = new Promise<void>((r) => (open = r));
  return { wait, open };
}

const savedEnv = { ...process.env };
afterEach(() => {
  for (const name of ['OCILAYOUT_LOCK_STALE_MS', 'OCILAYOUT_LOCK_TIMEOUT_MS']) {
    process.env[name] = savedEnv[name];
    if (savedEnv[name] === undefined) delete process.env[name];
  }
});

describe('withLayoutLock in one process', () => {
  it('runs two concurrent critical sections one after the other', async () => {
    const { root } = makeLayout();
    const events: string[] = [];
    const a = gate();
    const first = withLayoutLock(root, async () => {
      events.push('a:start');
      expect(existsSync(join(root, INDEX_LOCK))).toBe(true);
      await a.wait;
      events.push('a:end');
    });
    const second = withLayoutLock(root, () => {
      events.push('b:start');
    });
    await sleep(50);
    a.open();
    await Promise.all([first, second]);
    expect(events).toEqual(['a:start', 'a:end', 'b:start']);
    expect(existsSync(join(root, INDEX_LOCK))).toBe(false);
  });

  it('releases the lock when the critical section throws', async () => {
    const { root } = makeLayout();
    await expect(
      withLayoutLock(root, () => {
        throw new Error('boom');
      }),
    ).rejects.toThrow('boom');
    expect(existsSync(join(root, INDEX_LOCK))).toBe(false);
    await expect(withLayoutLock(root, () => 42)).resolves.toBe(42);
  });

  it('bounds the wait behind another in-process holder by the timeout (E_LOCK_TIMEOUT)', async () => {
    const { root } = makeLayout();
    const a = gate();
    const events: string[] = [];
    const holder = withLayoutLock(root, () => a.wait.then(() => events.push('a:end')));
    const waiter = withLayoutLock(root, () => events.push('b:ran'), { timeoutMs: 100 });
    await expect(waiter).rejects.toMatchObject({ code: 'E_LOCK_TIMEOUT' });
    events.push('b:timed-out');
    a.open();
    await holder;
    // A third caller after the timed-out one still waits for the real holder, then runs.
    await withLayoutLock(root, () => events.push('c:ran'));
    expect(events).toEqual(['b:timed-out', 'a:end', 'c:ran']);
  });

  it('does not collide with BuildKit’s index.json.lock flock file', async () => {
    const fx = makeLayout({ files: { 'index.json.lock': '' } });
    await addEntry(new IndexStore(fx.root), 'v1');
    expect(statSync(join(fx.root, 'index.json.lock')).isFile()).toBe(true);
    expect(fx.indexText()).toContain('"v1"');
  });
});

describe('withLayoutLock against another holder', () => {
  it('gives up with E_LOCK_TIMEOUT while a live holder keeps the lock; nothing written', async () => {
    const fx = makeLayout();
    mkdirSync(join(fx.root, INDEX_LOCK)); // fresh mtime: a live holder
    const before = layoutSnapshot(fx.root, { ignoreIngest: false });
    await expect(addEntry(new IndexStore(fx.root, { timeoutMs: 200 }), 'v1')).rejects.toMatchObject(
      { code: 'E_LOCK_TIMEOUT', details: { timeoutMs: 200 } },
    );
    // The other holder's lock is left alone.
    expect(layoutSnapshot(fx.root, { ignoreIngest: false })).toEqual(before);
  });

  it('takes over a lock whose holder stopped refreshing it long ago', async () => {
    const fx = makeLayout();
    const lockDir = join(fx.root, INDEX_LOCK);
    mkdirSync(lockDir);
    const past = new Date(Date.now() - 3600_000);
    utimesSync(lockDir, past, past);
    await addEntry(new IndexStore(fx.root, { timeoutMs: 5000 }), 'v1');
    expect(fx.indexText()).toContain('"v1"');
    expect(existsSync(lockDir)).toBe(false);
  });
});

describe('withLayoutLock against a lock that could never go stale', () => {
  it('takes over a lock dated in the future once it stayed unchanged for the stale time', async () => {
    // The clock was stepped back after its holder crashed: now - mtime stays negative for an hour.
    process.env['OCILAYOUT_LOCK_STALE_MS'] = '2000';
    const fx = makeLayout();
    const lockDir = join(fx.root, INDEX_LOCK);
    mkdirSync(lockDir);
    const future = new Date(Date.now() + 3600_000);
    utimesSync(lockDir, future, future);
    // Its age is counted from when we first saw it: not stale yet after 1 s…
    await expect(
      addEntry(new IndexStore(fx.root, { timeoutMs: 1000 }), 'v0'),
    ).rejects.toMatchObject({ code: 'E_LOCK_TIMEOUT' });
    // …taken over 2 s after a waiter first saw it.
    const started = Date.now();
    await addEntry(new IndexStore(fx.root, { timeoutMs: 10_000 }), 'v1');
    expect(Date.now() - started).toBeGreaterThanOrEqual(1900);
    expect(fx.indexText()).toContain('"v1"');
    expect(existsSync(lockDir)).toBe(false);
  });

  it('waits for a live holder whose lock is dated in the future (its refresh restarts the count)', async () => {
    process.env['OCILAYOUT_LOCK_STALE_MS'] = '2000';
    const fx = makeLayout();
    const lockDir = join(fx.root, INDEX_LOCK);
    const events: string[] = [];
    mkdirSync(lockDir);
    // A holder alive across a clock step: it rewrites its mtime every 500 ms, always in the future.
    const refresh = setInterval(() => {
      const future = new Date(Date.now() + 3600_000 + Math.random() * 1000);
      utimesSync(lockDir, future, future);
    }, 500);
    refresh.unref();
    utimesSync(lockDir, new Date(Date.now() + 3600_000), new Date(Date.now() + 3600_000));
    setTimeout(() => {
      clearInterval(refresh);
      events.push('holder released');
      rmdirSync(lockDir);
    }, 3500).unref();
    await withLayoutLock(fx.root, () => events.push('waiter ran'), { timeoutMs: 10_000 });
    expect(events).toEqual(['holder released', 'waiter ran']);
  });

  it.each([
    ['a dangling symlink', (p: string) => symlinkSync('nowhere', p), 'a symlink'],
    ['a symlink to a directory', (p: string) => symlinkSync('.', p), 'a symlink'],
    ['a regular file', (p: string) => writeFileSync(p, ''), 'not a directory'],
  ])(
    'refuses at once when the lock path is %s (E_UNSAFE_ENTRY naming it)',
    async (_n, plant, what) => {
      const fx = makeLayout();
      const lockPath = join(fx.root, INDEX_LOCK);
      plant(lockPath);
      const before = fx.indexText();
      const started = Date.now();
      const err = await addEntry(new IndexStore(fx.root, { timeoutMs: 5000 }), 'v1').catch(
        (e: unknown) => e,
      );
      expect(err).toMatchObject({
        code: 'E_UNSAFE_ENTRY',
        message: expect.stringContaining(`${lockPath} is ${what}`),
        details: { path: lockPath },
        hint: expect.stringContaining(`rm ${lockPath}`),
      });
      expect(Date.now() - started).toBeLessThan(2000);
      expect(fx.indexText()).toBe(before);
      expect(lstatSync(lockPath).isDirectory()).toBe(false); // left for the user to inspect
    },
  );
});

describe('lock settings', () => {
  it.each([
    ['OCILAYOUT_LOCK_TIMEOUT_MS', 'abc'],
    ['OCILAYOUT_LOCK_TIMEOUT_MS', '-1'],
    ['OCILAYOUT_LOCK_TIMEOUT_MS', 'Infinity'],
    ['OCILAYOUT_LOCK_STALE_MS', 'soon'],
    ['OCILAYOUT_LOCK_STALE_MS', '-5000'],
  ])('refuses %s=%s with E_USAGE naming the variable, before waiting', async (name, value) => {
    const fx = makeLayout();
    mkdirSync(join(fx.root, INDEX_LOCK)); // a live holder: a bad timeout would wait forever
    process.env[name] = value;
    await expect(withLayoutLock(fx.root, () => 1)).rejects.toMatchObject({
      code: 'E_USAGE',
      message: expect.stringContaining(`${name}="${value}"`),
      details: { variable: name, value },
    });
  });

  it('refuses a timeoutMs option that is not a finite number of ms from 0 (E_USAGE)', async () => {
    const fx = makeLayout();
    for (const timeoutMs of [Number.NaN, -1, Number.POSITIVE_INFINITY]) {
      await expect(withLayoutLock(fx.root, () => 1, { timeoutMs })).rejects.toMatchObject({
        code: 'E_USAGE',
      });
    }
  });

  it('accepts 0 (try once) and an empty variable (the default)', async () => {
    const fx = makeLayout();
    process.env['OCILAYOUT_LOCK_TIMEOUT_MS'] = '0';
    process.env['OCILAYOUT_LOCK_STALE_MS'] = '';
    await expect(withLayoutLock(fx.root, () => 1)).resolves.toBe(1);
    mkdirSync(join(fx.root, INDEX_LOCK));
    await expect(withLayoutLock(fx.root, () => 1)).rejects.toMatchObject({
      code: 'E_LOCK_TIMEOUT',
      details: { timeoutMs: 0 },
    });
  });
});

describe('withLayoutLock with a compromised lock', () => {
  it('fails with E_LOCK_COMPROMISED, not E_NOT_FOUND, when its new lock vanished right after mkdir', async () => {
    // Stopped between mkdir and proper-lockfile's probe of the new directory for longer than the
    // stale time: another writer took the lock over and released it, and a third took it next.
    const fx = makeLayout();
    const lockDir = join(fx.root, INDEX_LOCK);
    await withLayoutLock(fx.root, () => undefined); // the probe is a plain stat from now on
    // Our mkdir is synchronous (an exit must know the directory is ours): take it away right after.
    const mkdirs = { calls: 0 };
    const realMkdirSync = fs.mkdirSync;
    fs.mkdirSync = ((path: fs.PathLike, ...rest: unknown[]) => {
      const r = (realMkdirSync as (...a: unknown[]) => unknown)(path, ...rest);
      if (path === lockDir) {
        mkdirs.calls++;
        rmdirSync(lockDir);
      }
      return r;
    }) as typeof fs.mkdirSync;
    onTestFinished(() => {
      fs.mkdirSync = realMkdirSync;
    });
    const stats = afterFsCallback('stat', lockDir, (err) => {
      if (err !== null) mkdirSync(lockDir); // the third writer
    });
    const before = fx.indexText();
    await expect(addEntry(new IndexStore(fx.root), 'v1')).rejects.toMatchObject({
      code: 'E_LOCK_COMPROMISED',
    });
    expect([mkdirs.calls, stats.calls]).toEqual([1, 1]);
    expect(fx.indexText()).toBe(before);
    // The third writer's lock is not ours to remove.
    expect(existsSync(lockDir)).toBe(true);
  });

  it('still commits after a long critical section (our own refreshes are not a takeover)', async () => {
    process.env['OCILAYOUT_LOCK_STALE_MS'] = '2000'; // refreshed every second
    const fx = makeLayout();
    await new IndexStore(fx.root).update(async (index) => {
      await sleep(2300);
      index.manifests.push({ mediaType: 'a/b', digest: D, size: 1 });
      return { index, result: undefined };
    });
    expect(fx.indexText()).toContain(D);
  });

  it('refuses to commit when another process took the lock over meanwhile (E_LOCK_COMPROMISED)', async () => {
    const fx = makeLayout();
    const lockDir = join(fx.root, INDEX_LOCK);
    const before = fx.indexText();
    await expect(
      new IndexStore(fx.root).update(async (index) => {
        // What a takeover looks like from here: our directory removed, a new one made.
        rmdirSync(lockDir);
        await sleep(20);
        mkdirSync(lockDir);
        index.manifests.push({ mediaType: 'a/b', digest: D, size: 1 });
        return { index, result: undefined };
      }),
    ).rejects.toMatchObject({ code: 'E_LOCK_COMPROMISED' });
    expect(fx.indexText()).toBe(before);
    // The new holder's lock directory is not ours to remove.
    expect(existsSync(lockDir)).toBe(true);
  });

  it('leaves a new holder’s lock in place when a critical section that lost the lock commits nothing', async () => {
    // A section that writes nothing (or fails) never calls assertHeld; on the way out it must
    // still not remove a lock directory that another process has taken over meanwhile.
    const fx = makeLayout();
    const lockDir = join(fx.root, INDEX_LOCK);
    const takeOver = async (): Promise<void> => {
      rmdirSync(lockDir);
      await sleep(20);
      mkdirSync(lockDir);
    };
    await new IndexStore(fx.root).update(async () => {
      await takeOver();
      return { index: undefined, result: undefined };
    });
    expect(existsSync(lockDir)).toBe(true);
    rmdirSync(lockDir);
    await expect(
      withLayoutLock(fx.root, async () => {
        await takeOver();
        throw new Error('the section failed');
      }),
    ).rejects.toThrow('the section failed');
    expect(existsSync(lockDir)).toBe(true);
  });

  it('refuses to commit when the lock vanished while held', async () => {
    const fx = makeLayout();
    const before = fx.indexText();
    await expect(
      new IndexStore(fx.root).update((index) => {
        rmdirSync(join(fx.root, INDEX_LOCK));
        index.manifests.push({ mediaType: 'a/b', digest: D, size: 1 });
        return { index, result: undefined };
      }),
    ).rejects.toMatchObject({ code: 'E_LOCK_COMPROMISED' });
    expect(fx.indexText()).toBe(before);
  });

  it('refuses to commit after proper-lockfile noticed someone else refreshing the lock', async () => {
    process.env['OCILAYOUT_LOCK_STALE_MS'] = '2000'; // refresh check every second
    const fx = makeLayout();
    const before = fx.indexText();
    await expect(
      new IndexStore(fx.root).update(async (index) => {
        const other = new Date(Date.now() - 500);
        utimesSync(join(fx.root, INDEX_LOCK), other, other);
        await sleep(1600);
        index.manifests.push({ mediaType: 'a/b', digest: D, size: 1 });
        return { index, result: undefined };
      }),
    ).rejects.toMatchObject({ code: 'E_LOCK_COMPROMISED' });
    expect(fx.indexText()).toBe(before);
  });
});

describe('withLayoutLock across processes', () => {
  let lib: ChildLib;
  beforeAll(() => {
    lib = compileChildLib(['store/lock.ts']);
  });
  afterAll(() => lib.dispose());

  it('takes over the lock of a SIGKILLed holder once it is stale', async () => {
    process.env['OCILAYOUT_LOCK_STALE_MS'] = '2000';
    const fx = makeLayout();
    const holderScript = lib.script(
      'holder',
      `import { withLayoutLock } from './store/lock.js';
await withLayoutLock(process.argv[2], async () => {
  console.log('locked');
  await new Promise(() => setInterval(() => {}, 1000));
});
`,
    );
    const holder = lib.start(holderScript, [fx.root], { OCILAYOUT_LOCK_STALE_MS: '2000' });
    await waitForLine(holder.child, 'locked');
    expect(existsSync(join(fx.root, INDEX_LOCK))).toBe(true);
    holder.child.kill('SIGKILL');
    expect((await holder.done).signal).toBe('SIGKILL');
    // The dead holder's lock is still there; we wait for it to go stale, then take it.
    expect(existsSync(join(fx.root, INDEX_LOCK))).toBe(true);
    await addEntry(new IndexStore(fx.root, { timeoutMs: 15_000 }), 'after-kill');
    expect(fx.indexText()).toContain('"after-kill"');
    expect(existsSync(join(fx.root, INDEX_LOCK))).toBe(false);
  });

  // The CLI turns these signals into process.exit (cli/signals.ts); a holder must leave no lock
  // behind, or the next writer waits for it to turn stale (10 s by default).
  it.each([
    ['SIGINT', 130],
    ['SIGTERM', 143],
    ['SIGHUP', 129],
  ] as const)('releases the lock when a holder exits on %s', async (signal, status) => {
    const fx = makeLayout();
    const script = lib.script(
      `holder-${signal}`,
      `import { withLayoutLock } from './store/lock.js';
process.on(process.argv[3], () => process.exit(Number(process.argv[4])));
await withLayoutLock(process.argv[2], async () => {
  console.log('locked');
  await new Promise(() => setInterval(() => {}, 1000));
});
`,
    );
    const holder = lib.start(script, [fx.root, signal, String(status)]);
    await waitForLine(holder.child, 'locked');
    expect(existsSync(join(fx.root, INDEX_LOCK))).toBe(true);
    holder.child.kill(signal);
    expect(await holder.done).toMatchObject({ code: status, signal: null });
    expect(existsSync(join(fx.root, INDEX_LOCK))).toBe(false);
    // The next writer gets in at once (the default stale time is 10 s).
    await addEntry(new IndexStore(fx.root, { timeoutMs: 1000 }), 'after-signal');
    expect(fx.indexText()).toContain('"after-signal"');
  });

  it('removes the lock directory it just made when a signal lands before acquisition completes', async () => {
    const fx = makeLayout();
    // proper-lockfile probes a fresh lock directory (utimes, stat) before handing it over; the
    // signal arrives during that probe, which then never answers.
    const script = lib.script(
      'mid-acquire',
      `import fs from 'node:fs';
import { withLayoutLock } from './store/lock.js';
process.on('SIGTERM', () => process.exit(143));
setInterval(() => {}, 1000);
fs.utimes = () => process.kill(process.pid, 'SIGTERM');
await withLayoutLock(process.argv[2], () => console.log('acquired'));
`,
    );
    const r = await lib.run(script, [fx.root]);
    expect(r).toMatchObject({ code: 143, stdout: '' });
    expect(existsSync(join(fx.root, INDEX_LOCK))).toBe(false);
  });

  it('removes the lock directory when a signal lands before its mkdir has reported back', async () => {
    const fx = makeLayout();
    // The directory exists, its mkdir's callback has not run yet, and the signal comes first.
    const script = lib.script(
      'mid-mkdir',
      `import fs from 'node:fs';
const mkdirSync = fs.mkdirSync;
fs.mkdirSync = (path, ...rest) => {
  const made = mkdirSync(path, ...rest);
  if (path.endsWith('.ocilayout-index.lock')) process.kill(process.pid, 'SIGTERM');
  return made;
};
fs.mkdir = (path, cb) => {
  fs.mkdirSync(path);
  setTimeout(() => cb(null), 2000);
};
const { withLayoutLock } = await import('./store/lock.js');
process.on('SIGTERM', () => process.exit(143));
setInterval(() => {}, 1000);
await withLayoutLock(process.argv[2], () => console.log('held'));
`,
    );
    const r = await lib.run(script, [fx.root]);
    expect(r).toMatchObject({ code: 143, stdout: '' });
    expect(existsSync(join(fx.root, INDEX_LOCK))).toBe(false);
  });

  it('removes the lock directory when a signal lands while the release is in flight', async () => {
    const fx = makeLayout();
    // The release's rmdir never answers; the signal arrives meanwhile. (fs.rmdir is replaced
    // before lock.js takes its reference to it.)
    const script = lib.script(
      'mid-release',
      `import fs from 'node:fs';
fs.rmdir = () => process.kill(process.pid, 'SIGTERM');
const { withLayoutLock } = await import('./store/lock.js');
process.on('SIGTERM', () => process.exit(143));
setInterval(() => {}, 1000);
await withLayoutLock(process.argv[2], () => console.log('held'));
`,
    );
    const r = await lib.run(script, [fx.root]);
    expect(r).toMatchObject({ code: 143, stdout: 'held\n' });
    expect(existsSync(join(fx.root, INDEX_LOCK))).toBe(false);
  });

  it('leaves the holder’s lock alone when a waiting writer exits on a signal', async () => {
    const fx = makeLayout();
    const script = lib.script(
      'waiter',
      `import { withLayoutLock } from './store/lock.js';
process.on('SIGTERM', () => process.exit(143));
console.log('locking');
await withLayoutLock(process.argv[2], async () => {
  console.log('locked');
  await new Promise(() => setInterval(() => {}, 1000));
});
`,
    );
    const holder = lib.start(script, [fx.root]);
    await waitForLine(holder.child, 'locked');
    const waiter = lib.start(script, [fx.root]);
    await waitForLine(waiter.child, 'locking');
    await sleep(100); // polling the holder's lock (mkdir: EEXIST)
    waiter.child.kill('SIGTERM');
    expect(await waiter.done).toMatchObject({ code: 143, stdout: 'locking\n' });
    expect(existsSync(join(fx.root, INDEX_LOCK))).toBe(true);
    holder.child.kill('SIGTERM');
    expect(await holder.done).toMatchObject({ code: 143 });
    expect(existsSync(join(fx.root, INDEX_LOCK))).toBe(false);
  });

  it('keeps a lock another process took over when the old holder exits on a signal', async () => {
    const fx = makeLayout();
    const script = lib.script(
      'overtaken',
      `import { mkdirSync, rmdirSync } from 'node:fs';
import { join } from 'node:path';
import { withLayoutLock } from './store/lock.js';
const root = process.argv[2];
process.on('SIGTERM', () => process.exit(143));
await withLayoutLock(root, async () => {
  const dir = join(root, '.ocilayout-index.lock');
  rmdirSync(dir);
  await new Promise((r) => setTimeout(r, 20));
  mkdirSync(dir); // the "new holder"
  console.log('overtaken');
  await new Promise(() => setInterval(() => {}, 1000));
});
`,
    );
    const holder = lib.start(script, [fx.root]);
    await waitForLine(holder.child, 'overtaken');
    holder.child.kill('SIGTERM');
    expect(await holder.done).toMatchObject({ code: 143 });
    expect(existsSync(join(fx.root, INDEX_LOCK))).toBe(true);
  });

  it('leaves the new holder’s lock in place when a process that lost its lock exits', async () => {
    const fx = makeLayout();
    const script = lib.script(
      'loser',
      `import { mkdirSync, rmdirSync } from 'node:fs';
import { join } from 'node:path';
import { withLayoutLock } from './store/lock.js';
const root = process.argv[2];
const dir = join(root, '.ocilayout-index.lock');
try {
  await withLayoutLock(root, async (held) => {
    rmdirSync(dir);
    await new Promise((r) => setTimeout(r, 20));
    mkdirSync(dir); // the "new holder"
    held.assertHeld();
  });
} catch (err) {
  console.log(err.code);
}
process.exit(0); // proper-lockfile's exit handler runs here
`,
    );
    const r = await lib.run(script, [fx.root]);
    expect(r.stdout.trim()).toBe('E_LOCK_COMPROMISED');
    expect(existsSync(join(fx.root, INDEX_LOCK))).toBe(true);
  });

  it('waits for a live holder in another process instead of taking its lock', async () => {
    process.env['OCILAYOUT_LOCK_STALE_MS'] = '2000';
    const fx = makeLayout();
    const marker = join(fx.root, 'holder-done');
    const holderScript = lib.script(
      'slow-holder',
      `import { writeFileSync } from 'node:fs';
import { withLayoutLock } from './store/lock.js';
await withLayoutLock(process.argv[2], async () => {
  console.log('locked');
  await new Promise((r) => setTimeout(r, 2500)); // longer than the stale time: refreshes keep it
  writeFileSync(process.argv[3], 'x');
});
`,
    );
    const holder = lib.start(holderScript, [fx.root, marker], { OCILAYOUT_LOCK_STALE_MS: '2000' });
    await waitForLine(holder.child, 'locked');
    let sawMarker = false;
    await withLayoutLock(fx.root, () => {
      sawMarker = existsSync(marker);
    });
    expect(sawMarker).toBe(true);
    expect((await holder.done).code).toBe(0);
  });
});

it('writes the lock next to index.json, never inside blobs/', async () => {
  const fx = makeLayout();
  writeFileSync(join(fx.root, 'blobs', 'sha256', 'keep'), 'x');
  let seen = false;
  await withLayoutLock(fx.root, () => {
    seen = statSync(join(fx.root, INDEX_LOCK)).isDirectory();
  });
  expect(seen).toBe(true);
});
