// An in-memory Io for running the CLI in-process (src/cli/main.ts run()): no child process, no
// build. stdout and stderr are collected; stdin is whatever the test hands in.
import { PassThrough, Readable } from 'node:stream';
import type { Io } from '../../src/cli/io.js';
import { run } from '../../src/cli/main.js';
import { CLI_CACHE_HOME } from './run-cli.js';

export interface FakeIo {
  io: Io;
  stdout: () => string;
  stderr: () => string;
}

export function fakeIo(
  options: { stdin?: string | Buffer; isTTY?: boolean; env?: NodeJS.ProcessEnv } = {},
): FakeIo {
  const stdout = new PassThrough();
  const stderr = new PassThrough();
  const out: Buffer[] = [];
  const err: Buffer[] = [];
  stdout.on('data', (b: Buffer) => out.push(b));
  stderr.on('data', (b: Buffer) => err.push(b));
  const input = options.stdin === undefined ? [] : [Buffer.from(options.stdin)];
  return {
    io: {
      stdout,
      stderr,
      stdin: Readable.from(input),
      isTTY: options.isTTY ?? false,
      // Never the user's cache (the blob-location record): the test run's own.
      env: { XDG_CACHE_HOME: CLI_CACHE_HOME, ...options.env },
    },
    stdout: () => Buffer.concat(out).toString('utf8'),
    stderr: () => Buffer.concat(err).toString('utf8'),
  };
}

export interface InProcessResult {
  code: number;
  stdout: string;
  stderr: string;
}

/** run(argv) with a fresh fake Io; the result has the same shape as runCli's. */
export async function runInProcess(
  argv: string[],
  options: { stdin?: string | Buffer; isTTY?: boolean } = {},
): Promise<InProcessResult> {
  const f = fakeIo(options);
  const code = await run(argv, f.io);
  return { code, stdout: f.stdout(), stderr: f.stderr() };
}

/** The `{"error":{...}}` object a --json run printed as its last stderr line. */
export function jsonErrorOf(r: InProcessResult): {
  code: string;
  message: string;
  details: Record<string, unknown>;
  hint?: string;
} {
  const last = r.stderr.trim().split('\n').pop() ?? '';
  return (JSON.parse(last) as { error: ReturnType<typeof jsonErrorOf> }).error;
}
