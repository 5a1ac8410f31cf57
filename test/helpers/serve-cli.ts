// `ocilayout serve ROOT --listen 127.0.0.1:0 …` as a child process of the built CLI: its output
// captured, stopped when the test ends, and ready once its own output says where it listens.
import { spawn, type ChildProcess } from 'node:child_process';
import { onTestFinished } from 'vitest';
import { CLI } from './run-cli.js';

export interface ServeProcess {
  child: ChildProcess;
  stdout: () => string;
  stderr: () => string;
  /** Resolves with the exit code. */
  exited: Promise<number | null>;
}

/**
 * Start serve and wait until `listening` finds the address in what it printed so far (stdout,
 * stderr); rejects if serve exits first. `stop` is the signal the test's end sends, if still running.
 */
export async function startServeCli<T>(
  root: string,
  flags: readonly string[],
  listening: (out: { stdout: string; stderr: string }) => T | undefined,
  stop: NodeJS.Signals = 'SIGKILL',
): Promise<ServeProcess & { ready: T }> {
  const child = spawn(process.execPath, [CLI, 'serve', root, '--listen', '127.0.0.1:0', ...flags], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  let err = '';
  child.stdout.on('data', (b: Buffer) => (out += b.toString()));
  child.stderr.on('data', (b: Buffer) => (err += b.toString()));
  const exited = new Promise<number | null>((r) => child.on('close', (code) => r(code)));
  onTestFinished(async () => {
    if (child.exitCode === null) child.kill(stop);
    await exited;
  });
  const ready = await new Promise<T>((resolve, reject) => {
    const check = (): void => {
      const found = listening({ stdout: out, stderr: err });
      if (found !== undefined) resolve(found);
    };
    child.stdout.on('data', check);
    child.stderr.on('data', check);
    void exited.then((code) => reject(new Error(`serve exited ${code}: ${err}`)));
  });
  return { child, stdout: () => out, stderr: () => err, exited, ready };
}
