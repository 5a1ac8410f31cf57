// progress.ts: the one progress line (terminal only, throttled, within the terminal's width, a
// rate and ETA only once they mean something) and the retry reporter (one updating line on a
// terminal, one warning line elsewhere). Time is injected; nothing here waits.
import { describe, expect, it } from 'vitest';
import { parseSize } from '../../src/cli/commands/archive.js';
import type { CommandContext } from '../../src/cli/context.js';
import { Output, type OutputOptions } from '../../src/cli/io.js';
import {
  formatBytes,
  formatDuration,
  lineWidth,
  progressReporter,
  renderProgress,
  retryReporter,
} from '../../src/cli/progress.js';
import type { RetryInfo } from '../../src/registry/transport.js';
import { fakeIo } from '../helpers/fake-io.js';

/** Clear to the end of the line (ANSI EL). */
const CLEAR = '\x1b[K';
const MiB = 1024 * 1024;
const GiB = 1024 * MiB;

/** A context whose stderr is a terminal (or not) `columns` wide, and a clock the test moves. */
function terminal(
  options: { isTTY?: boolean; columns?: number | undefined } & Partial<OutputOptions> = {},
) {
  const f = fakeIo({ isTTY: options.isTTY ?? true });
  if ('columns' in options) {
    (f.io.stderr as unknown as { columns?: number }).columns = options.columns;
  }
  const ctx: CommandContext = {
    io: f.io,
    out: new Output(f.io, {
      json: options.json ?? false,
      quiet: options.quiet ?? false,
      debug: options.debug ?? false,
    }),
    exitCode: undefined,
  };
  const clock = { t: 1_000_000 };
  return {
    ctx,
    clock,
    now: () => clock.t,
    stderr: f.stderr,
    /** Each frame drawn: the text between `\r` and the clear-to-end-of-line. */
    frames: () =>
      f
        .stderr()
        .split('\r')
        .map((s) => (s.endsWith(CLEAR) ? s.slice(0, -CLEAR.length) : s))
        .filter((s) => s !== ''),
  };
}

describe('renderProgress', () => {
  it('shows a bar, percentage, bytes, rate and ETA when the total is known', () => {
    const line = renderProgress(
      { label: 'export', done: 512 * MiB, total: GiB, rate: 256 * MiB, etaSeconds: 2 },
      100,
    );
    expect(line).toMatch(
      /^export \[#{15}\.{15}\] {2}50% 512\.0 MiB \/ 1\.0 GiB {2}256\.0 MiB\/s {2}ETA 0:02$/,
    );
  });

  it('shows bytes and rate without a total (stdin)', () => {
    expect(renderProgress({ label: 'import', done: 2048, rate: 2048 })).toBe(
      'import 2.0 KiB  2.0 KiB/s',
    );
  });

  it('gives up the bar, then the ETA and rate, before it cuts the line', () => {
    const frame = {
      label: 'copy',
      detail: '[2/5]',
      done: 300 * MiB,
      total: GiB,
      rate: 100 * MiB,
      etaSeconds: 7,
    };
    const wide = renderProgress(frame, 100);
    expect(wide).toContain('[#');
    const narrow = renderProgress(frame, 39);
    expect(narrow).toBe('copy [2/5]  29% 300.0 MiB / 1.0 GiB');
    expect(renderProgress(frame, 10)).toBe('copy [2/5]');
    for (const w of [10, 20, 39, 50, 60, 79]) {
      expect(renderProgress(frame, w).length).toBeLessThanOrEqual(w);
    }
  });

  it('formats sizes', () => {
    expect(formatBytes(1)).toBe('1 B');
    expect(formatBytes(1536)).toBe('1.5 KiB');
  });

  it('formats durations as m:ss, and h:mm:ss from an hour', () => {
    expect(formatDuration(5)).toBe('0:05');
    expect(formatDuration(754)).toBe('12:34');
    expect(formatDuration(53_250)).toBe('14:47:30');
    expect(formatDuration(3723)).toBe('1:02:03');
  });
});

describe('lineWidth', () => {
  it('is one less than the columns, and assumes 80 when a terminal reports 0 or none', () => {
    expect(lineWidth({ columns: 40 })).toBe(39);
    expect(lineWidth({ columns: 0 })).toBe(79);
    expect(lineWidth({ columns: undefined })).toBe(79);
    expect(lineWidth({})).toBe(79);
  });
});

describe('progressReporter', () => {
  it.each([0, undefined, 40])(
    'keeps every frame within a terminal of %s columns, uncut',
    (columns) => {
      const t = terminal({ columns });
      const p = progressReporter(t.ctx, 'push', { now: t.now });
      for (let i = 0; i <= 10; i++) {
        t.clock.t += 1000;
        p.update(i * 50 * MiB, 500 * MiB);
      }
      const width = (columns ?? 0) > 0 ? columns! - 1 : 79;
      const frames = t.frames();
      expect(frames.length).toBe(11);
      for (const f of frames) expect(f.length).toBeLessThanOrEqual(width);
      // Each frame ends with a whole field, not one cut short by a column.
      for (const f of frames) expect(f).toMatch(/(MiB|ETA \d+:\d\d|MiB\/s)$/);
    },
  );

  it('shows no rate or ETA on the first frames, then a sane ETA', () => {
    const t = terminal({ columns: 120 });
    const p = progressReporter(t.ctx, 'push', { now: t.now });
    t.clock.t += 1; // a first chunk a millisecond in: no "ETA 887:30"
    p.update(64 * 1024, 500 * MiB);
    t.clock.t += 999;
    p.update(100 * MiB, 500 * MiB);
    t.clock.t += 1000;
    p.update(200 * MiB, 500 * MiB);
    const [first, second, third] = t.frames();
    expect(first).not.toMatch(/\/s|ETA/);
    expect(second).toMatch(/MiB\/s$/); // a rate after a second, no ETA yet
    expect(third).toMatch(/100\.0 MiB\/s {2}ETA 0:03$/);
  });

  it('redraws at most ten times a second, but always draws the last frame', () => {
    const t = terminal();
    const p = progressReporter(t.ctx, 'export', { now: t.now });
    p.update(1, 100);
    t.clock.t += 50;
    p.update(2, 100);
    t.clock.t += 49;
    p.update(3, 100);
    expect(t.frames()).toHaveLength(1);
    t.clock.t += 1;
    p.update(4, 100);
    t.clock.t += 1;
    p.update(100, 100);
    expect(t.frames()).toHaveLength(3);
  });

  it('measures the rate over recent seconds, so a stall shows', () => {
    const t = terminal({ columns: 120 });
    const p = progressReporter(t.ctx, 'copy', { now: t.now });
    for (let s = 0; s <= 10; s++) {
      p.update(s * 10 * MiB, GiB);
      t.clock.t += 1000;
    }
    for (let s = 0; s < 6; s++) {
      p.update(100 * MiB, GiB); // stalled
      t.clock.t += 1000;
    }
    expect(t.frames().at(-1)).toMatch(/ 0 B\/s$/);
  });

  it('leaves the line clear when finished', () => {
    const t = terminal();
    const p = progressReporter(t.ctx, 'pull', { now: t.now });
    p.update(1, 2);
    p.finish();
    expect(t.stderr().endsWith('\r\x1b[K')).toBe(true);
    p.finish(); // twice is harmless
    expect(t.stderr().split(`\r${CLEAR}`)).toHaveLength(2);
  });

  it.each([
    ['not a terminal', { isTTY: false }, {}],
    ['--quiet', { quiet: true }, {}],
    ['--json', { json: true }, {}],
    ['--no-progress', {}, { enabled: false }],
  ])('draws nothing when %s', (_name, term, options) => {
    const t = terminal(term);
    const p = progressReporter(t.ctx, 'copy', { now: t.now, ...options });
    for (let i = 0; i < 5; i++) {
      t.clock.t += 1000;
      p.update(i, 4);
    }
    p.finish();
    expect(t.stderr()).toBe('');
  });
});

const refused = (attempt: number): RetryInfo => ({
  registry: '127.0.0.1:5999',
  what: 'manifest app:v1',
  attempt,
  attempts: 5,
  delayMs: attempt * 700,
  reason: 'ECONNREFUSED',
});

describe('retries', () => {
  it('on a terminal: one line, updated in place, cleared before the error', () => {
    const t = terminal({ columns: 100 });
    const onRetry = retryReporter(t.ctx);
    for (let n = 1; n <= 4; n++) onRetry(refused(n));
    t.ctx.out.error(new Error('boom'));
    const text = t.stderr();
    const [beforeError] = text.split('ocilayout: internal error');
    expect(beforeError).not.toContain('\n');
    expect(t.frames()[3]).toBe(
      '127.0.0.1:5999 unreachable (ECONNREFUSED); retry 4/4 in 2.8s: manifest app:v1',
    );
    expect(beforeError!.endsWith('\r\x1b[K')).toBe(true);
  });

  it('elsewhere: one warning line for the first retry, then none', () => {
    const t = terminal({ isTTY: false });
    const onRetry = retryReporter(t.ctx);
    for (let n = 1; n <= 4; n++) onRetry(refused(n));
    expect(t.stderr()).toBe(
      'ocilayout: warning: 127.0.0.1:5999 unreachable (ECONNREFUSED); retry 1/4 in 700 ms: manifest app:v1 (further retries are not reported)\n',
    );
  });

  it('elsewhere with --debug: every retry; with --quiet: none', () => {
    const debug = terminal({ isTTY: false, debug: true });
    const quiet = terminal({ isTTY: false, quiet: true });
    for (const t of [debug, quiet]) {
      const onRetry = retryReporter(t.ctx);
      for (let n = 1; n <= 4; n++) onRetry(refused(n));
    }
    expect(debug.stderr().trim().split('\n')).toHaveLength(4);
    expect(quiet.stderr()).toBe('');
  });

  it('a server error is named as such, not as unreachable', () => {
    const t = terminal({ isTTY: false });
    retryReporter(t.ctx)({ ...refused(1), reason: 'HTTP 503 from 127.0.0.1:5999' });
    expect(t.stderr()).toContain(
      '127.0.0.1:5999: HTTP 503 from 127.0.0.1:5999; retry 1/4 in 700 ms: manifest app:v1',
    );
  });

  it('during a transfer, the retry holds the line for a moment before the bar returns', () => {
    const t = terminal();
    const p = progressReporter(t.ctx, 'copy', { now: t.now });
    p.update(1, 10);
    t.clock.t += 200;
    p.retry(refused(1));
    t.clock.t += 200;
    p.update(2, 10); // another blob still moving: the retry stays visible
    expect(t.frames().at(-1)).toContain('retry 1/4');
    t.clock.t += 1000;
    p.update(3, 10);
    expect(t.frames().at(-1)).toMatch(/^copy .* 30%/);
  });
});

describe('parseSize', () => {
  it.each([
    ['100', 100],
    ['1K', 1024],
    ['512M', 512 * 1024 * 1024],
    ['2GiB', 2 * 1024 ** 3],
    ['1.5g', 1.5 * 1024 ** 3],
  ])('%s → %d', (text, n) => {
    expect(parseSize(text)).toBe(n);
  });
  it('refuses nonsense', () => {
    expect(() => parseSize('lots')).toThrow(expect.objectContaining({ code: 'E_USAGE' }));
  });
});
