import { spawn, spawnSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync, utimesSync, writeFileSync } from 'node:fs';
import fs from 'node:fs';
import { syncBuiltinESMExports } from 'node:module';
import { basename, dirname, join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { digestOf, parseDigest } from '../../src/digest.js';
import {
  FOREIGN_INGEST_MAX_AGE_MS,
  ingestDir,
  leaseDigest,
  listIngest,
  liveLeasedDigests,
  newPartPath,
  newTrashPath,
  currentLeaseName,
  releaseLease,
  trashedDigest,
  withOperationLease,
} from '../../src/store/ingest.js';
import { ownerToken } from '../../src/store/liveness.js';
import { failFs } from '../helpers/fault.js';
import { makeLayout } from '../helpers/make-layout.js';

/** The pid of a process that has exited (so its files are abandoned). */
function deadPid(): number {
  const r = spawnSync(process.execPath, ['-e', 'console.log(process.pid)'], { encoding: 'utf8' });
  return Number(r.stdout.trim());
}
/** A name as a process with `pid` on this host would have made it. */
function nameOf(pid: number, suffix: string): string {
  const [host] = ownerToken().split('.');
  return `${host}.${pid}.12345.abcdef${suffix}`;
}

describe('ingest/ files', () => {
  it('puts part files in ingest/, named after this process', () => {
    const { root } = makeLayout();
    const part = newPartPath(root);
    expect(dirname(part)).toBe(ingestDir(root));
    expect(basename(part).startsWith(`${ownerToken()}.`)).toBe(true);
    expect(basename(part).endsWith('.part')).toBe(true);
    expect(newPartPath(root)).not.toBe(part);
  });

  it('judges each entry live or abandoned', () => {
    const { root } = makeLayout();
    const dir = ingestDir(root);
    const mine = newPartPath(root);
    writeFileSync(mine, 'x');
    const dead = join(dir, nameOf(deadPid(), '.part'));
    writeFileSync(dead, 'x');
    // Names we did not make (oras-go `ingest/<hex>_<random>`, containerd dirs): kept while young.
    const foreignYoung = join(dir, `${'a'.repeat(64)}_123`);
    const foreignOld = join(dir, `${'b'.repeat(64)}_456`);
    writeFileSync(foreignYoung, 'x');
    writeFileSync(foreignOld, 'x');
    const old = new Date(Date.now() - FOREIGN_INGEST_MAX_AGE_MS - 60_000);
    utimesSync(foreignOld, old, old);
    const byName = Object.fromEntries(listIngest(root).map((e) => [e.path, e]));
    expect(byName[mine]).toMatchObject({ kind: 'part', live: true });
    expect(byName[dead]).toMatchObject({ kind: 'part', live: false });
    expect(byName[foreignYoung]).toMatchObject({ kind: 'other', live: true });
    expect(byName[foreignOld]).toMatchObject({ kind: 'other', live: false });
  });

  it('lists nothing when ingest/ does not exist', () => {
    expect(listIngest(makeLayout().root)).toEqual([]);
  });
});

describe('leases', () => {
  it('records leased digests in a live lease file until released', () => {
    const { root } = makeLayout();
    const a = digestOf('a');
    const b = digestOf('b');
    leaseDigest(root, a);
    leaseDigest(root, b);
    leaseDigest(root, a); // once is enough
    const leaseFiles = listIngest(root).filter((e) => e.kind === 'lease');
    expect(leaseFiles).toHaveLength(1);
    expect(leaseFiles[0]!.live).toBe(true);
    expect(readFileSync(leaseFiles[0]!.path, 'utf8')).toBe(`${a}\n${b}\n`);
    expect(liveLeasedDigests(root)).toEqual(new Set([a, b]));
    releaseLease(root);
    expect(existsSync(leaseFiles[0]!.path)).toBe(false);
    expect(liveLeasedDigests(root)).toEqual(new Set());
  });

  it('ignores the leases of dead writers', () => {
    const { root } = makeLayout();
    leaseDigest(root, digestOf('mine'));
    writeFileSync(join(ingestDir(root), nameOf(deadPid(), '.lease')), `${digestOf('theirs')}\n`);
    expect(liveLeasedDigests(root)).toEqual(new Set([digestOf('mine')]));
    releaseLease(root);
  });

  it('reads only regular lease files: a FIFO named like a lease is never opened', () => {
    // A hostile layout's FIFO `ingest/x.lease` (unknown owner, young: live) would block gc's lease
    // read forever. A helper writes a digest into it after a while, so a read that does open it
    // returns that digest instead of hanging the test run.
    const { root } = makeLayout();
    const fifo = join(ingestDir(root), 'planted.lease');
    leaseDigest(root, digestOf('mine'));
    expect(spawnSync('mkfifo', [fifo]).status).toBe(0);
    const planted = digestOf('planted');
    const writer = spawn('sh', ['-c', `sleep 3; printf '%s\\n' ${planted} > "$0"`, fifo], {
      stdio: 'ignore',
    });
    try {
      expect(liveLeasedDigests(root)).toEqual(new Set([digestOf('mine')]));
    } finally {
      writer.kill();
      releaseLease(root);
    }
  });

  it('fails instead of reading "no leases" when a live lease or ingest/ cannot be read', () => {
    // gc trusts this answer to delete what nobody leased: an unreadable lease (another user's,
    // EACCES) or an unlistable ingest/ (EMFILE...) must stop it, not protect nothing.
    const { root } = makeLayout();
    leaseDigest(root, digestOf('mine'));
    try {
      failFs('openSync', 'EACCES', (path) => String(path).endsWith('.lease'));
      expect(() => liveLeasedDigests(root)).toThrow(
        expect.objectContaining({
          code: 'E_IO',
          details: expect.objectContaining({ errno: 'EACCES' }),
        }),
      );
      const fsObject = fs as unknown as Record<string, unknown>;
      const original = fsObject['readdirSync'];
      fsObject['readdirSync'] = () => {
        throw Object.assign(new Error('EMFILE: injected'), { code: 'EMFILE' });
      };
      syncBuiltinESMExports();
      try {
        expect(() => listIngest(root)).toThrow(expect.objectContaining({ code: 'E_IO' }));
      } finally {
        fsObject['readdirSync'] = original;
        syncBuiltinESMExports();
      }
    } finally {
      releaseLease(root);
    }
  });

  it('keeps one lease file per layout, even when a layout is released and leased again', () => {
    const one = makeLayout().root;
    const two = makeLayout().root;
    leaseDigest(one, digestOf('1'));
    leaseDigest(two, digestOf('2'));
    releaseLease(one);
    leaseDigest(one, digestOf('3'));
    expect(liveLeasedDigests(one)).toEqual(new Set([digestOf('3')]));
    expect(liveLeasedDigests(two)).toEqual(new Set([digestOf('2')]));
    releaseLease(one);
    releaseLease(two);
  });
});

it('keeps the lease of a layout named by two spellings of its path intact', () => {
  const root = makeLayout().root;
  leaseDigest(root, digestOf('1'));
  leaseDigest(`${root}/`, digestOf('2'));
  releaseLease(root);
  leaseDigest(`${root}/.`, digestOf('3'));
  releaseLease(`${root}/.`);
  // Whatever was released, leasing a digest again must put it on disk for gc to see.
  leaseDigest(`${root}/`, digestOf('2'));
  expect(liveLeasedDigests(root)).toContain(digestOf('2'));
  releaseLease(root);
  releaseLease(`${root}/`);
});

describe('leases per operation', () => {
  const leaseFiles = (root: string): string[] =>
    listIngest(root)
      .filter((e) => e.kind === 'lease')
      .map((e) => e.name);

  it('gives each operation its own lease file, released when it settles', async () => {
    const { root } = makeLayout();
    let release!: () => void;
    const gate = new Promise<void>((r) => (release = r));
    const a = withOperationLease(root, async () => {
      leaseDigest(root, digestOf('a'));
      await gate;
      return currentLeaseName(root);
    });
    const bName = await withOperationLease(root, () => {
      leaseDigest(root, digestOf('b'));
      expect(leaseFiles(root)).toHaveLength(2);
      // An inner operation on the same layout shares its outer one's lease.
      return withOperationLease(root, () => {
        leaseDigest(root, digestOf('b2'));
        return currentLeaseName(root);
      });
    });
    // b is done: its lease is gone, a's is intact.
    expect(leaseFiles(root)).toHaveLength(1);
    expect(leaseFiles(root)).not.toContain(bName);
    expect(liveLeasedDigests(root)).toEqual(new Set([digestOf('a')]));
    release();
    const aName = await a;
    expect(aName).toBeDefined();
    expect(leaseFiles(root)).toEqual([]);
  });

  it("close() never removes an operation's protection; it waits for the last one", async () => {
    const { root } = makeLayout();
    leaseDigest(root, digestOf('outside')); // a low-level call: the process's ambient lease
    let release!: () => void;
    const gate = new Promise<void>((r) => (release = r));
    const running = withOperationLease(root, async () => {
      leaseDigest(root, digestOf('inside'));
      await gate;
    });
    releaseLease(root); // Layout.close()
    expect(liveLeasedDigests(root)).toEqual(new Set([digestOf('inside'), digestOf('outside')]));
    release();
    await running;
    expect(leaseFiles(root)).toEqual([]);
  });

  it("exceptOwn leaves out only the calling operation's lease, not another operation's", async () => {
    const { root } = makeLayout();
    let release!: () => void;
    const gate = new Promise<void>((r) => (release = r));
    const other = withOperationLease(root, async () => {
      leaseDigest(root, digestOf('other'));
      await gate;
    });
    await withOperationLease(root, () => {
      leaseDigest(root, digestOf('mine'));
      expect(liveLeasedDigests(root, { exceptOwn: true })).toEqual(new Set([digestOf('other')]));
    });
    release();
    await other;
  });
});

describe('trash files (gc parks blobs before deleting them)', () => {
  it('names the digest so a later gc can restore it, and lists it as trash', () => {
    const { root } = makeLayout();
    const d = parseDigest(digestOf('parked'));
    const path = newTrashPath(root, d);
    writeFileSync(path, 'parked');
    expect(trashedDigest(basename(path))).toBe(d);
    expect(listIngest(root).find((e) => e.path === path)).toMatchObject({
      kind: 'trash',
      live: true,
    });
  });

  it('finds no digest in other names', () => {
    expect(trashedDigest('x.part')).toBeUndefined();
    expect(trashedDigest(`a.sha256-${'A'.repeat(64)}.trash`)).toBeUndefined();
    expect(trashedDigest(`a.sha256-${'a'.repeat(63)}.trash`)).toBeUndefined();
  });
});

it('keeps temp files out of blobs/ (umoci gc aborts on strays there)', () => {
  const { root } = makeLayout();
  newPartPath(root);
  leaseDigest(root, digestOf('x'));
  expect(readdirSync(join(root, 'blobs', 'sha256'))).toEqual([]);
  releaseLease(root);
});
