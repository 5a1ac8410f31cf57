// Hashing a local file (re-verifying a blob before hard-linking it, fsck, a finished upload) on
// worker threads: hash.update is synchronous CPU work on whatever thread calls it, so on the main
// thread every blob of a copy or an fsck queues behind one core. A worker opens nothing and receives
// no bytes: it reads the caller's fd itself (fds belong to the process), so nothing is copied
// between threads and the caller keeps the open/close and every check on the fd it opened.
import { readSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { Worker } from 'node:worker_threads';
import { newHash, type Algorithm } from '../digest.js';

/** Below this, starting a worker costs more than hashing on this thread. */
export const WORKER_MIN_BYTES = 32 * 1024 * 1024;
/** Once the workers run, anything above this goes to them: it would block this thread's I/O. */
const WARM_WORKER_MIN_BYTES = 1024 * 1024;
const CHUNK = 1024 * 1024;

export interface FileHash {
  hex: string;
  /** Bytes hashed: the file's length when it was read, whatever a stat said before. */
  size: number;
}

/**
 * Hash everything in `fd` from offset 0 to EOF with `algorithm`. `sizeHint` (the expected or
 * stat'd size) only picks the thread: big files go to a worker, so two of them hash on two cores.
 * Read errors reject with the fs error as it is (the caller wraps it, it knows what it read).
 */
export async function hashFd(
  fd: number,
  algorithm: Algorithm,
  sizeHint: number,
): Promise<FileHash> {
  const min = shared === undefined ? WORKER_MIN_BYTES : WARM_WORKER_MIN_BYTES;
  if (sizeHint < min) return hashHere(fd, algorithm);
  // A worker that could not start or died says nothing about the file: hash it here instead.
  return (await pool().run(fd, algorithm)) ?? hashHere(fd, algorithm);
}

/** Reused by every small hash on this thread (synchronous: never two at once). */
let hereBuffer: Buffer | undefined;

function hashHere(fd: number, algorithm: Algorithm): FileHash {
  const hash = newHash(algorithm);
  const buf = (hereBuffer ??= Buffer.allocUnsafe(CHUNK));
  let size = 0;
  for (;;) {
    const n = readSync(fd, buf, 0, CHUNK, size);
    if (n === 0) return { hex: hash.digest('hex'), size };
    hash.update(buf.subarray(0, n));
    size += n;
  }
}

// The worker's whole program. Plain CommonJS in a string: it runs the same from dist/, from the
// bundled CLI and under vitest, with no file of its own to locate.
const WORKER_SOURCE = `
const { parentPort } = require('node:worker_threads');
const { readSync } = require('node:fs');
const { createHash } = require('node:crypto');
const buf = Buffer.allocUnsafe(${CHUNK});
parentPort.on('message', ({ id, fd, algorithm }) => {
  try {
    const hash = createHash(algorithm);
    let size = 0;
    for (;;) {
      const n = readSync(fd, buf, 0, buf.length, size);
      if (n === 0) break;
      hash.update(buf.subarray(0, n));
      size += n;
    }
    parentPort.postMessage({ id, hex: hash.digest('hex'), size });
  } catch (err) {
    parentPort.postMessage({ id, error: { message: String(err && err.message), code: err && err.code, syscall: err && err.syscall } });
  }
});
`;

interface Job {
  id: number;
  fd: number;
  algorithm: Algorithm;
  /** undefined: the worker failed, not the file (the caller hashes on its own thread). */
  resolve: (result: FileHash | undefined) => void;
  /** The file's own read error, as the fs call raised it. */
  reject: (err: Error) => void;
}

interface Reply {
  id: number;
  hex?: string;
  size?: number;
  error?: { message: string; code?: string; syscall?: string };
}

class HashPool {
  private readonly idle: Worker[] = [];
  private readonly busy = new Map<Worker, Job>();
  private readonly queue: Job[] = [];
  private nextId = 0;

  constructor(private readonly max: number) {}

  run(fd: number, algorithm: Algorithm): Promise<FileHash | undefined> {
    return new Promise((resolve, reject) => {
      this.queue.push({ id: this.nextId++, fd, algorithm, resolve, reject });
      this.pump();
    });
  }

  /** Terminate every worker; jobs in flight go back to their callers' threads. */
  async stop(): Promise<void> {
    await Promise.all([...this.idle, ...this.busy.keys()].map((w) => w.terminate()));
  }

  private pump(): void {
    while (this.queue.length > 0) {
      const worker = this.idle.pop() ?? (this.busy.size < this.max ? this.spawn() : undefined);
      if (worker === undefined) return;
      const job = this.queue.shift()!;
      this.busy.set(worker, job);
      // A busy worker keeps the process alive until its answer; an idle one never does.
      worker.ref();
      worker.postMessage({ id: job.id, fd: job.fd, algorithm: job.algorithm });
    }
  }

  private spawn(): Worker {
    const worker = new Worker(WORKER_SOURCE, { eval: true });
    worker.on('message', (reply: Reply) => {
      const job = this.busy.get(worker);
      this.busy.delete(worker);
      worker.unref();
      this.idle.push(worker);
      if (job !== undefined && job.id === reply.id) {
        if (reply.error !== undefined) {
          const err = Object.assign(new Error(reply.error.message), {
            code: reply.error.code,
            syscall: reply.error.syscall,
          });
          job.reject(err);
        } else {
          job.resolve({ hex: reply.hex!, size: reply.size! });
        }
      }
      this.pump();
    });
    // A worker that dies (out of memory, terminated, could not start) hands its job back to the
    // caller's thread; the next job starts a new worker.
    const fail = (): void => {
      const job = this.busy.get(worker);
      this.busy.delete(worker);
      const at = this.idle.indexOf(worker);
      if (at >= 0) this.idle.splice(at, 1);
      job?.resolve(undefined);
      this.pump();
    };
    worker.on('error', fail);
    worker.on('exit', () => {
      if (this.busy.has(worker) || this.idle.includes(worker)) fail();
    });
    return worker;
  }
}

let shared: HashPool | undefined;

/**
 * End the hash workers (idle ones never keep a process alive; this is for an embedder that wants
 * its threads back). A hash in flight is finished on its caller's thread.
 */
export async function stopHashWorkers(): Promise<void> {
  await shared?.stop();
}

/** One pool per process, as wide as the machine (at most 4: hashing also needs the disk). */
function pool(): HashPool {
  shared ??= new HashPool(Math.max(1, Math.min(availableParallelism(), 4)));
  return shared;
}
