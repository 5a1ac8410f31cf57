// writeToStream / WriteWatch: copying into a stream we do not own (stdout) ends in E_IO as soon as
// the stream fails or closes, including the ways Node's process.stdout fails: an 'error' event
// after write() already returned, with the stream neither destroyed nor errored afterwards.
import { Readable, Writable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { WriteWatch, streamWriteError, writeToStream } from '../../src/output/stream.js';

const errno = (code: string): Error => Object.assign(new Error(`${code}: injected`), { code });
const chunks = (...parts: string[]): Readable => Readable.from(parts.map((p) => Buffer.from(p)));

/** Takes `ok` writes, then fails every later one with `code` (through the callback). */
function failingAfter(ok: number, code: string, highWaterMark = 16 * 1024): Writable {
  let n = 0;
  return new Writable({
    highWaterMark,
    write(_chunk, _enc, cb) {
      if (n++ < ok) setImmediate(cb);
      else setImmediate(() => cb(errno(code)));
    },
  });
}

describe('writeToStream', () => {
  it('waits for drain and leaves the sink open', async () => {
    const received: Buffer[] = [];
    const sink = new Writable({
      highWaterMark: 4,
      write(chunk: Buffer, _enc, cb) {
        received.push(chunk);
        setImmediate(cb);
      },
    });
    await writeToStream(chunks('aaaa', 'bbbb', 'cccc'), sink, 'stdout');
    expect(Buffer.concat(received).toString()).toBe('aaaabbbbcccc');
    expect(sink.writableEnded).toBe(false);
    expect(sink.listenerCount('error')).toBe(0); // the watch is gone
  });

  it('passes a source error through unchanged', async () => {
    const sink = new Writable({ write: (_c, _e, cb) => cb() });
    const source = (async function* () {
      await Promise.resolve();
      yield Buffer.from('x');
      throw Object.assign(new Error('source failed'), { code: 'E_DIGEST_MISMATCH' });
    })();
    await expect(writeToStream(source, sink, 'stdout')).rejects.toMatchObject({
      code: 'E_DIGEST_MISMATCH',
    });
  });

  it.each([
    ['while waiting for drain', 4],
    ['on the last write (seen by the final flush)', 64 * 1024],
  ])('a sink failing %s gives E_IO with the errno', async (_when, highWaterMark) => {
    const sink = failingAfter(1, 'ENOSPC', highWaterMark);
    sink.on('error', () => undefined);
    await expect(writeToStream(chunks('aaaa', 'bbbb'), sink, 'stdout')).rejects.toMatchObject({
      code: 'E_IO',
      details: { errno: 'ENOSPC' },
      message: expect.stringContaining('stdout') as string,
    });
  });

  it('a sink closed midway without an error gives E_IO, not a wait for ever', async () => {
    const sink = new Writable({ highWaterMark: 1, write: () => undefined }); // never calls back
    const source = chunks('aaaa', 'bbbb');
    setTimeout(() => sink.destroy(), 10); // while the copy waits for a drain
    await expect(writeToStream(source, sink, 'stdout')).rejects.toMatchObject({
      code: 'E_IO',
      message: 'stdout was closed before all output was written',
    });
  });

  it('sees an error event the stream then forgets (as process.stdout does)', async () => {
    // write() succeeds, the 'error' follows on a later tick, and the stream's state stays clean.
    const sink = new Writable({ write: (_c, _e, cb) => cb() });
    const source = (async function* () {
      yield Buffer.from('aaaa');
      setImmediate(() => sink.emit('error', errno('EPIPE')));
      await new Promise((resolve) => setTimeout(resolve, 10));
      yield Buffer.from('bbbb');
    })();
    await expect(writeToStream(source, sink, 'stdout')).rejects.toMatchObject({
      code: 'E_IO',
      details: { errno: 'EPIPE' },
      message: 'stdout was closed by its reader before all output was written (EPIPE)',
    });
  });
});

describe('WriteWatch.flushed', () => {
  it('makes no write when nothing is pending (an empty write to /dev/full fails too)', async () => {
    let writes = 0;
    const sink = new Writable({ write: (_c, _e, cb) => (writes++, cb()) });
    const watch = new WriteWatch(sink);
    await watch.flushed('stdout');
    expect(writes).toBe(0);
    watch.stop();
  });
});

describe('streamWriteError', () => {
  it('keeps the cause and maps errnos like the fs boundary does', () => {
    const e = streamWriteError(errno('ENOSPC'), 'stdout');
    expect(e).toMatchObject({ code: 'E_IO', details: { errno: 'ENOSPC' } });
    expect(e.hint).toMatch(/full/);
    expect(e.cause).toBeInstanceOf(Error);
  });
});
