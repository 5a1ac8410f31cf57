// Server processes the benchmark rows talk to: `ocilayout serve` and docker-registry (CNCF
// distribution, Debian's build), each in its own process on a free loopback port, started and
// waited for here; and the peak RSS of such a process.
import { spawn } from 'node:child_process';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { get } from 'node:http';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { BIN } from './config.mjs';

const REGISTRY = process.env.DOCKER_REGISTRY_BIN ?? 'docker-registry';

function freePort() {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address();
      s.close(() => resolve(port));
    });
  });
}

function probe(port) {
  return new Promise((resolve) => {
    const req = get({ host: '127.0.0.1', port, path: '/v2/' }, (res) => {
      res.resume();
      resolve(res.statusCode);
    });
    req.on('error', () => resolve(undefined));
  });
}

/** Start a server process (argv made for a port) and wait until /v2/ answers 200. */
export async function startServer(name, argvFor) {
  const port = await freePort();
  const argv = argvFor(port);
  const child = spawn(argv[0], argv.slice(1), { stdio: ['ignore', 'ignore', 'pipe'] });
  let log = '';
  child.stderr.on('data', (b) => {
    log = (log + b.toString('utf8')).slice(-4000);
  });
  const exited = new Promise((r) => child.once('exit', r));
  for (let i = 0; i < 400; i++) {
    if (child.exitCode !== null) break;
    if ((await probe(port)) === 200) {
      return {
        host: `127.0.0.1:${port}`,
        url: `http://127.0.0.1:${port}`,
        pid: child.pid,
        argv,
        async stop() {
          if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
          await exited;
        },
      };
    }
    await new Promise((r) => setTimeout(r, 50));
  }
  child.kill('SIGKILL');
  throw new Error(`${name} did not start: ${log}`);
}

export function startServe(root) {
  return startServer('ocilayout serve', (port) => [
    process.execPath,
    BIN,
    'serve',
    root,
    '--listen',
    `127.0.0.1:${port}`,
    '--quiet',
  ]);
}

export function startRegistry(dir) {
  mkdirSync(dir, { recursive: true });
  return startServer('docker-registry', (port) => {
    const config = join(dir, `config-${port}.yml`);
    // No blob-descriptor cache: it reads the filesystem each time, as serve does.
    writeFileSync(
      config,
      [
        'version: 0.1',
        'log:',
        '  level: error',
        '  accesslog:',
        '    disabled: true',
        'storage:',
        '  filesystem:',
        `    rootdirectory: ${join(dir, 'storage')}`,
        '  maintenance:',
        '    uploadpurging:',
        '      enabled: false',
        'http:',
        `  addr: 127.0.0.1:${port}`,
        '  secret: ocilayout-bench',
        '',
      ].join('\n'),
    );
    return [REGISTRY, 'serve', config];
  });
}

/** Peak resident set of a process so far (VmHWM), MiB. */
export function peakRssMiB(pid) {
  const m = /^VmHWM:\s+(\d+) kB$/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  if (m === null) throw new Error(`no VmHWM for ${pid}`);
  return Number(m[1]) / 1024;
}

/**
 * Where docker-registry (started on `dir`) keeps repository `repo`: distribution stores blobs
 * globally and links them per repository, so removing this makes the next push upload (or mount)
 * every blob again.
 */
export function registryRepository(dir, repo) {
  return join(dir, 'storage', 'docker', 'registry', 'v2', 'repositories', ...repo.split('/'));
}
