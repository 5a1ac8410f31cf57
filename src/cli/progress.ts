// Progress of long operations (push, pull, copy, export, import) and of registry retries, in one
// place. On a terminal: one status line redrawn in place (Output.status), at most 10 times a
// second, never wider than the terminal. Elsewhere (a pipe, a CI log): no bar at all, and at most
// one retry line, so a log reads as the command's summary or its error.
import { formatBytes, type RetryInfo } from '../internal.js';
import type { CommandContext } from './context.js';

export { formatBytes };

export interface Progress {
  /** Bytes done so far and the total when known; `detail` (e.g. `[2/5]`) goes after the label. */
  update(done: number, total: number | undefined, detail?: string): void;
  /** A registry request is being retried (see retryReporter); may be passed on as a callback. */
  retry: (info: RetryInfo) => void;
  /** Clear the line; call once, on success and on failure. */
  finish(): void;
}

export interface ProgressOptions {
  /** False for --no-progress. */
  enabled?: boolean | undefined;
  /** The clock, injected by tests. */
  now?: (() => number) | undefined;
}

const REDRAW_MS = 100;
/** The rate is measured over about this much recent time, so a stall shows and a burst fades. */
const RATE_WINDOW_MS = 5000;
/** Before this much time, a rate (and so an ETA) says more about start-up than about the transfer. */
const RATE_AFTER_MS = 1000;
const ETA_AFTER_MS = 2000;
/** An ETA further out than this is noise (a stalled start); none is shown. */
const ETA_MAX_SECONDS = 100 * 3600;
/** What a terminal that reports no width (0 or undefined, as some ptys do) is taken to be. */
const DEFAULT_COLUMNS = 80;

/** True when progress may be drawn: stderr is a terminal and neither --json nor --quiet is set. */
export function showsProgress(ctx: CommandContext): boolean {
  return ctx.io.isTTY && !ctx.out.json && !ctx.out.options.quiet;
}

/**
 * The widest line that fits: one less than the terminal's columns, because writing the last column
 * makes many terminals wrap, and the next `\r` then redraws on a new line.
 */
export function lineWidth(stream: unknown): number {
  const columns = (stream as { columns?: unknown }).columns;
  const c =
    typeof columns === 'number' && Number.isFinite(columns) && columns > 0
      ? Math.floor(columns)
      : DEFAULT_COLUMNS;
  return Math.max(1, c - 1);
}

/** `0:05`, `12:34`, `1:02:03`: m:ss under an hour, h:mm:ss from there. */
export function formatDuration(seconds: number): string {
  const s = Math.max(0, Math.round(seconds));
  const h = Math.floor(s / 3600);
  const m = Math.floor((s % 3600) / 60);
  const ss = String(s % 60).padStart(2, '0');
  return h > 0 ? `${h}:${String(m).padStart(2, '0')}:${ss}` : `${m}:${ss}`;
}

export interface ProgressFrame {
  label: string;
  /** After the label, e.g. `[2/5]`. */
  detail?: string | undefined;
  done: number;
  total?: number | undefined;
  /** Bytes a second; omitted while unknown. */
  rate?: number | undefined;
  /** Seconds left; omitted while unknown. */
  etaSeconds?: number | undefined;
}

/**
 * One line: `label [2/5] [#####.....]  42% 1.2 GiB / 2.9 GiB  310.0 MiB/s  ETA 0:05`, at most
 * `width` characters. When space is short the bar goes first, then the rate and ETA; the line is
 * cut only as a last resort. Without a total: `label 2.0 KiB  2.0 KiB/s`.
 */
export function renderProgress(frame: ProgressFrame, width = DEFAULT_COLUMNS - 1): string {
  const head = frame.detail === undefined ? frame.label : `${frame.label} ${frame.detail}`;
  const rate = frame.rate === undefined ? undefined : `${formatBytes(Math.round(frame.rate))}/s`;
  const { total } = frame;
  if (total === undefined || total <= 0) {
    return fit([head, formatBytes(frame.done)], [rate], width);
  }
  const fraction = Math.min(1, Math.max(0, frame.done / total));
  const percent = `${String(Math.floor(fraction * 100)).padStart(3)}%`;
  const bytes = `${formatBytes(frame.done)} / ${formatBytes(total)}`;
  const eta =
    frame.etaSeconds === undefined ? undefined : `ETA ${formatDuration(frame.etaSeconds)}`;
  const optional = [rate, eta];
  const without = fit([head, percent, bytes], optional, width);
  // The bar takes what is left, 10 to 30 cells; below 10 it says nothing the percentage does not.
  const room = width - without.length - 3;
  if (room < 10) return without;
  const cells = Math.min(30, room);
  const filled = Math.round(fraction * cells);
  const bar = `[${'#'.repeat(filled)}${'.'.repeat(cells - filled)}]`;
  return fit([head, bar, percent, bytes], optional, width);
}

/**
 * `required` (space-separated) and as many of `optional` (dropped from the end; two spaces before
 * each) as fit in `width`; cut to `width` when even `required` does not fit.
 */
function fit(
  required: readonly string[],
  optional: readonly (string | undefined)[],
  width: number,
): string {
  const base = required.join(' ');
  const extras = optional.filter((s): s is string => s !== undefined);
  for (let n = extras.length; n >= 0; n--) {
    const line = [base, ...extras.slice(0, n)].join('  ');
    if (line.length <= width) return line;
  }
  return base.slice(0, width);
}

/**
 * A retry as one line, what failed first (the end may be clipped on a narrow terminal):
 * `127.0.0.1:5000 unreachable (ECONNREFUSED); retry 2/4 in 1.2s: manifest app:v1`.
 */
export function retryText(i: RetryInfo): string {
  const of = i.attempts === undefined ? '' : `/${Math.max(1, i.attempts - 1)}`;
  const wait = i.delayMs < 1000 ? `${i.delayMs} ms` : `${(i.delayMs / 1000).toFixed(1)}s`;
  const failure = /^E[A-Z]+$|^UND_ERR_/.test(i.reason)
    ? `${i.registry} unreachable (${i.reason})`
    : `${i.registry}: ${i.reason}`;
  return `${failure}; retry ${i.attempt}${of} in ${wait}: ${i.what}`;
}

/**
 * What to do on a registry retry. On a terminal: show it on the status line, replaced by the next
 * one (`draw`, when a progress line owns the terminal, else the status line itself). Elsewhere:
 * the first retry is one warning line and the rest are counted silently (each one with --debug),
 * so a registry that is down gives one line and then the error that names its code.
 */
export function retryReporter(
  ctx: CommandContext,
  draw?: (text: string) => void,
): (info: RetryInfo) => void {
  let reported = 0;
  return (info) => {
    if (ctx.out.options.quiet) return;
    const text = retryText(info);
    if (ctx.io.isTTY && !ctx.out.json) {
      if (draw !== undefined) draw(text);
      else ctx.out.status(clip(text, lineWidth(ctx.io.stderr)));
      return;
    }
    reported += 1;
    if (reported === 1 && !ctx.out.options.debug) {
      ctx.out.warn(`${text} (further retries are not reported)`);
    } else if (ctx.out.options.debug) {
      ctx.out.warn(text);
    }
  };
}

function clip(text: string, width: number): string {
  return text.length <= width ? text : `${text.slice(0, Math.max(0, width - 1))}…`;
}

/**
 * The progress of one operation, labelled `label`: a line on a terminal (nothing with --json,
 * --quiet or --no-progress), nothing elsewhere. Retries go through `retry` either way.
 */
export function progressReporter(
  ctx: CommandContext,
  label: string,
  options: ProgressOptions = {},
): Progress {
  const now = options.now ?? Date.now;
  const active = options.enabled !== false && showsProgress(ctx);
  const started = now();
  let lastDraw = Number.NEGATIVE_INFINITY;
  /** Until then the status line shows a retry, not the bar (another blob may still be moving). */
  let noticeUntil = Number.NEGATIVE_INFINITY;
  const samples: { t: number; done: number }[] = [];
  const draw = (text: string): void => ctx.out.status(clip(text, lineWidth(ctx.io.stderr)));
  const onRetry = retryReporter(ctx, (text) => {
    noticeUntil = now() + REDRAW_MS * 10;
    draw(text);
  });
  return {
    update(done, total, detail) {
      if (!active) return;
      const t = now();
      const last = total !== undefined && done >= total;
      if (t < noticeUntil || (t - lastDraw < REDRAW_MS && !last)) return;
      lastDraw = t;
      samples.push({ t, done });
      // Keep one sample older than the window, so the rate always spans about the window.
      while (samples.length > 2 && t - samples[1]!.t >= RATE_WINDOW_MS) samples.shift();
      const first = samples[0]!;
      const elapsed = t - started;
      const span = t - first.t;
      const rate =
        elapsed >= RATE_AFTER_MS && span > 0 ? ((done - first.done) * 1000) / span : undefined;
      let etaSeconds: number | undefined;
      if (total !== undefined && rate !== undefined && rate > 0 && elapsed >= ETA_AFTER_MS) {
        const eta = Math.max(0, total - done) / rate;
        if (eta <= ETA_MAX_SECONDS) etaSeconds = eta;
      }
      draw(
        renderProgress({ label, detail, done, total, rate, etaSeconds }, lineWidth(ctx.io.stderr)),
      );
    },
    retry: onRetry,
    finish() {
      ctx.out.clearStatus();
    },
  };
}
