// "A writer that stalls while holding the index lock never overwrites a newer commit": a real CLI
// `tag` on a layout with a 42 MB index.json is stopped (SIGSTOP) while it writes its temp copy;
// a second `tag` judges the lock stale (OCILAYOUT_LOCK_STALE_MS=2000), takes it over and commits;
// the first is resumed (SIGCONT) and must refuse with E_LOCK_COMPROMISED instead of renaming its
// older copy over the second one's commit. The step-by-step version (a takeover injected between
// the write and the rename) is in test/store/index-store.test.ts.
import { spawn } from 'node:child_process';
import { existsSync, readdirSync, watch, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { EXIT_CODE, Layout } from '../../src/internal.js';
import { artifactLayout } from '../helpers/cli-layout.js';
import { CLI, runCli, type CliResult } from '../helpers/run-cli.js';

const ENV = { OCILAYOUT_LOCK_STALE_MS: '2000' };
/** About 42 MB of index.json: large enough that its write and fsync take a noticeable while. */
const ENTRIES = 220_000;
const ATTEMPTS = 5;

const isIndexTemp = (name: string): boolean =>
  name.startsWith('.tmp-') && name.endsWith('index.json');

function start(args: string[]): {
  pid: number;
  stop: () => boolean;
  resume: () => boolean;
  done: Promise<CliResult>;
} {
  const child = spawn(process.execPath, [CLI, ...args], {
    env: { ...process.env, ...ENV },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const out: Buffer[] = [];
  const err: Buffer[] = [];
  child.stdout.on('data', (b: Buffer) => out.push(b));
  child.stderr.on('data', (b: Buffer) => err.push(b));
  const done = new Promise<CliResult>((resolve, reject) => {
    child.on('error', reject);
    child.on('close', (code, signal) =>
      resolve({
        code: code ?? (signal === null ? -1 : 128),
        stdout: Buffer.concat(out).toString('utf8'),
        stderr: Buffer.concat(err).toString('utf8'),
      }),
    );
  });
  return {
    pid: child.pid!,
    stop: () => child.kill('SIGSTOP'),
    resume: () => child.kill('SIGCONT'),
    done,
  };
}

/** A layout whose index.json holds ENTRIES tags of its one manifest (v1 among them). */
async function bigLayout(): Promise<string> {
  const a = await artifactLayout();
  const d = a.manifest;
  const entries = [
    `{"mediaType":"${d.mediaType}","digest":"${d.digest}","size":${d.size},"annotations":{"org.opencontainers.image.ref.name":"v1"}}`,
  ];
  for (let i = 0; i < ENTRIES; i++) {
    entries.push(
      `{"mediaType":"${d.mediaType}","digest":"${d.digest}","size":${d.size},"annotations":{"org.opencontainers.image.ref.name":"bulk-${i}"}}`,
    );
  }
  writeFileSync(
    join(a.dir, 'index.json'),
    `{"schemaVersion":2,"mediaType":"application/vnd.oci.image.index.v1+json","manifests":[${entries.join(',')}]}\n`,
  );
  return a.dir;
}

/**
 * Start `tag` and SIGSTOP it as soon as its temp copy of index.json appears. Returns undefined when
 * the stop came too late (the rename already happened), so the caller can try again.
 */
async function stopDuringWrite(
  dir: string,
): Promise<{ resume: () => boolean; done: Promise<CliResult> } | undefined> {
  let stopped = false;
  let w1!: ReturnType<typeof start>;
  const seen = new Promise<void>((resolve) => {
    const watcher = watch(dir, (_event, name) => {
      if (!stopped && name !== null && isIndexTemp(name.toString())) {
        stopped = w1.stop();
        watcher.close();
        resolve();
      }
    });
    w1 = start(['tag', `${dir}:v1`, 'w1']);
    void w1.done.then(() => {
      watcher.close();
      resolve();
    });
  });
  await seen;
  if (stopped && readdirSync(dir).some(isIndexTemp)) return w1;
  w1.resume();
  await w1.done;
  return undefined;
}

describe('a lock holder stopped during its index.json write', () => {
  it('refuses its commit after another writer took the lock over (no lost update)', async () => {
    let w1: Awaited<ReturnType<typeof stopDuringWrite>>;
    let dir = '';
    for (let i = 0; i < ATTEMPTS && w1 === undefined; i++) {
      dir = await bigLayout();
      w1 = await stopDuringWrite(dir);
    }
    expect(w1, `the stop never landed inside the write in ${ATTEMPTS} attempts`).toBeDefined();
    // W1 is stopped holding the lock, its temp copy half written or not yet renamed. W2 waits for
    // the lock to go stale (2 s without a refresh), takes it over and commits its tag.
    const w2 = await runCli(['tag', `${dir}:v1`, 'w2'], { env: ENV });
    expect(w2.code, w2.stderr).toBe(0);
    w1!.resume();
    const r1 = await w1!.done;
    expect(r1.stderr).toContain('E_LOCK_COMPROMISED');
    expect(r1.code).toBe(EXIT_CODE.E_LOCK_COMPROMISED);
    // W2's commit survives; W1's copy was not renamed over it, and its temp file is gone.
    const tags = Layout.open(dir).tags();
    expect(tags).toContain('w2');
    expect(tags).not.toContain('w1');
    expect(readdirSync(dir).filter(isIndexTemp)).toEqual([]);
    expect(existsSync(join(dir, '.ocilayout-index.lock'))).toBe(false);
  });
});
