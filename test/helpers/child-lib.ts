// Real child processes running the core library from source, for cross-process tests (lock
// contention, SIGKILLed holders, concurrent blob writers). The import closure of src/layout/layout.ts is
// transpiled with TypeScript's transpileModule into a temp dir (no build, no type check: ~0.5 s),
// and child scripts are plain .mjs files that import from it.
import { spawn, type ChildProcess } from 'node:child_process';
import {
  existsSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  rmSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import ts from 'typescript';

const REPO = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
const SRC = join(REPO, 'src');

export interface ChildResult {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

export interface ChildLib {
  /** Directory mirroring src/ with .js files: scripts import `./layout.js`, `./store/lock.js`… */
  dir: string;
  /** Write `source` as `<dir>/<name>.mjs` and return its path. */
  script(name: string, source: string): string;
  /** Start a script; the promise settles when it exits. */
  start(
    path: string,
    args: string[],
    env?: NodeJS.ProcessEnv,
  ): { child: ChildProcess; done: Promise<ChildResult> };
  run(path: string, args: string[], env?: NodeJS.ProcessEnv): Promise<ChildResult>;
  dispose(): void;
}

const IMPORT_RE =
  /(?:import|export)\s[^'"]*?from\s+['"](\.[^'"]+)['"]|import\(\s*['"](\.[^'"]+)['"]\s*\)/g;

/** Transpile the import closure of `entries` (paths relative to src/). */
export function compileChildLib(entries: string[] = ['layout/layout.ts']): ChildLib {
  const dir = mkdtempSync(join(tmpdir(), 'ocilayout-childlib-'));
  // Bare imports (zod, proper-lockfile) resolve by walking up to this link.
  symlinkSync(join(REPO, 'node_modules'), join(dir, 'node_modules'), 'dir');
  const todo = entries.map((e) => join(SRC, e));
  const done = new Set<string>();
  while (todo.length > 0) {
    const file = todo.pop()!;
    if (done.has(file)) continue;
    done.add(file);
    const text = readFileSync(file, 'utf8');
    for (const m of text.matchAll(IMPORT_RE)) {
      const spec = m[1] ?? m[2]!;
      const target = resolve(dirname(file), spec.replace(/\.js$/, '.ts'));
      if (existsSync(target)) todo.push(target);
    }
    const out = ts.transpileModule(text, {
      compilerOptions: {
        module: ts.ModuleKind.ESNext,
        target: ts.ScriptTarget.ES2022,
        sourceMap: false,
      },
      fileName: file,
    });
    const dest = join(dir, relative(SRC, file)).replace(/\.ts$/, '.js');
    mkdirSync(dirname(dest), { recursive: true });
    writeFileSync(dest, out.outputText);
  }
  // Mark the tree as ESM.
  writeFileSync(join(dir, 'package.json'), '{"type":"module"}');

  const start: ChildLib['start'] = (path, args, env = {}) => {
    const child = spawn(process.execPath, [path, ...args], {
      env: { ...process.env, ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    child.stdout.on('data', (b: Buffer) => out.push(b));
    child.stderr.on('data', (b: Buffer) => err.push(b));
    const donePromise = new Promise<ChildResult>((resolveDone, reject) => {
      child.on('error', reject);
      child.on('close', (code, signal) =>
        resolveDone({
          code,
          signal,
          stdout: Buffer.concat(out).toString('utf8'),
          stderr: Buffer.concat(err).toString('utf8'),
        }),
      );
    });
    return { child, done: donePromise };
  };
  return {
    dir,
    script(name, source) {
      const path = join(dir, `${name}.mjs`);
      writeFileSync(path, source);
      return path;
    },
    start,
    run: (path, args, env) => start(path, args, env).done,
    dispose: () => rmSync(dir, { recursive: true, force: true }),
  };
}

/** Resolve when `child` has printed `line` on stdout. */
export function waitForLine(child: ChildProcess, line: string): Promise<void> {
  return new Promise((resolveWait, reject) => {
    let seen = '';
    const onData = (b: Buffer): void => {
      seen += b.toString('utf8');
      if (seen.split('\n').includes(line)) {
        child.stdout!.off('data', onData);
        resolveWait();
      }
    };
    child.stdout!.on('data', onData);
    child.once('close', (code) => reject(new Error(`child exited (${code}) before "${line}"`)));
  });
}
