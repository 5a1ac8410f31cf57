import { spawn, spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ownedName, ownerLiveness, ownerToken } from '../../src/store/liveness.js';
import { compileChildLib, type ChildLib } from '../helpers/child-lib.js';

const [HOST, , START] = ownerToken().split('.') as [string, string, string];

describe('ownerToken / ownedName', () => {
  it('is <host8>.<pid>.<start time> and stable for the process', () => {
    expect(ownerToken()).toMatch(new RegExp(`^[0-9a-f]{8}\\.${process.pid}\\.\\d+$`));
    expect(ownerToken()).toBe(ownerToken());
    expect(START).not.toBe('0'); // Linux: /proc start time was read
  });

  it('makes fresh names that carry the owner', () => {
    const a = ownedName('.part');
    expect(a.startsWith(`${ownerToken()}.`)).toBe(true);
    expect(a.endsWith('.part')).toBe(true);
    expect(ownedName('.part')).not.toBe(a);
  });
});

describe('ownerLiveness', () => {
  it('says alive for this process', () => {
    expect(ownerLiveness(ownedName('.x'))).toBe('alive');
  });

  it('says dead for a process that exited', () => {
    const r = spawnSync(process.execPath, ['-e', 'console.log(process.pid)'], { encoding: 'utf8' });
    expect(ownerLiveness(`${HOST}.${r.stdout.trim()}.${START}.abc.part`)).toBe('dead');
  });

  it('says dead when the pid was reused by a process that started at another time', () => {
    expect(ownerLiveness(`${HOST}.${process.pid}.${Number(START) + 1}.abc.part`)).toBe('dead');
  });

  it('says unknown for names it did not make, or made on another host', () => {
    expect(ownerLiveness('0123abcd_tmp')).toBe('unknown');
    expect(ownerLiveness(`${'a'.repeat(64)}_123`)).toBe('unknown');
    const otherHost = HOST === 'ffffffff' ? 'eeeeeeee' : 'ffffffff';
    expect(ownerLiveness(`${otherHost}.${process.pid}.${START}.abc.part`)).toBe('unknown');
  });

  it('reads the start time right when the process name has spaces and parentheses', async () => {
    // /proc/<pid>/stat is `pid (comm) state …`; comm is free text. The child renames itself.
    const child = spawn(
      process.execPath,
      ['-e', "process.title = 'x) y (z'; console.log('ready'); setInterval(() => {}, 1000);"],
      { stdio: ['ignore', 'pipe', 'inherit'] },
    );
    try {
      await new Promise<void>((resolve) => child.stdout.once('data', () => resolve()));
      const pid = child.pid!;
      const stat = readFileSync(`/proc/${pid}/stat`, 'utf8').trim();
      expect(stat).toContain('(x) y (z)');
      // Independent reading: count from the end (the fields after comm are fixed in number).
      const fields = stat.split(' ');
      const start = fields[fields.length - (52 - 22) - 1]!;
      expect(ownerLiveness(`${HOST}.${pid}.${start}.abc.part`)).toBe('alive');
      expect(ownerLiveness(`${HOST}.${pid}.${Number(start) + 7}.abc.part`)).toBe('dead');
    } finally {
      child.kill('SIGKILL');
    }
  });
});

describe('ownerLiveness across PID namespaces', () => {
  // Containers sharing a host name and a layout volume: a pid from another namespace says nothing
  // about processes here. Needs unprivileged user namespaces (or root) for `unshare`.
  const canUnshare =
    spawnSync('unshare', ['-Urpf', '--mount-proc', 'true'], { stdio: 'ignore' }).status === 0;
  if (!canUnshare)
    console.warn('SKIP: unshare -Urpf not permitted here; PID-namespace test not run');
  let lib: ChildLib;
  beforeAll(() => {
    lib = compileChildLib(['store/liveness.ts']);
  });
  afterAll(() => lib.dispose());

  it.runIf(canUnshare)('judges a writer in another PID namespace unknown, never dead', () => {
    const script = lib.script(
      'token',
      `import { ownedName } from './store/liveness.js';\nconsole.log(ownedName('.part'));\n`,
    );
    const r = spawnSync('unshare', ['-Urpf', '--mount-proc', process.execPath, script], {
      encoding: 'utf8',
    });
    expect(r.status, r.stderr).toBe(0);
    const name = r.stdout.trim();
    expect(name).toMatch(/^[0-9a-f]{8}\.1\.\d+\./); // pid 1 in its namespace
    expect(ownerLiveness(name)).toBe('unknown');
  });
});
