// Progress on an interactive stderr: when it may be drawn at all (showsProgress), byte sizes as
// people read them, and the byte bar of export/import (rate, ETA; at most 10 redraws a second).
// Commands with their own event shapes (copy's blob counter, the registry copy line) draw with these.
import type { CommandContext } from './context.js';

export interface ProgressBar {
  update(done: number, total: number | undefined): void;
  /** Clear the line (call once, success or failure). */
  finish(): void;
}

const NO_PROGRESS: ProgressBar = { update: () => undefined, finish: () => undefined };
const REDRAW_MS = 100;

/** True when progress may be drawn: stderr is a terminal and neither --json nor --quiet is set. */
export function showsProgress(ctx: CommandContext): boolean {
  return ctx.io.isTTY && !ctx.out.json && !ctx.out.options.quiet;
}

/** `1 B`, `1.5 KiB`, `310.0 MiB`: binary units, one decimal. */
export function formatBytes(n: number): string {
  if (n < 1024) return `${n} B`;
  const units = ['KiB', 'MiB', 'GiB', 'TiB'];
  let v = n / 1024;
  let i = 0;
  while (v >= 1024 && i < units.length - 1) {
    v /= 1024;
    i += 1;
  }
  return `${v.toFixed(1)} ${units[i]}`;
}

function formatDuration(seconds: number): string {
  const s = Math.max(0, Math.round(seconds));
  const m = Math.floor(s / 60);
  return `${m}:${String(s % 60).padStart(2, '0')}`;
}

/** One line: `label [#####.....]  42% 1.2 GiB / 2.9 GiB  310.0 MiB/s  ETA 0:05` (no bar without a total). */
export function renderProgress(
  label: string,
  done: number,
  total: number | undefined,
  elapsedMs: number,
  width = 80,
): string {
  const rate = elapsedMs > 0 ? (done * 1000) / elapsedMs : 0;
  const rateText = `${formatBytes(Math.round(rate))}/s`;
  if (total === undefined || total <= 0) {
    return `${label} ${formatBytes(done)}  ${rateText}`.slice(0, width);
  }
  const fraction = Math.min(1, done / total);
  const eta = rate > 0 ? formatDuration((total - done) / rate) : '-:--';
  const tail = ` ${String(Math.floor(fraction * 100)).padStart(3)}% ${formatBytes(done)} / ${formatBytes(total)}  ${rateText}  ETA ${eta}`;
  const barWidth = Math.max(10, Math.min(30, width - label.length - tail.length - 4));
  const filled = Math.round(fraction * barWidth);
  return `${label} [${'#'.repeat(filled)}${'.'.repeat(barWidth - filled)}]${tail}`.slice(0, width);
}

/** A bar for `label`, or a no-op when progress must not be shown. */
export function progressBar(ctx: CommandContext, label: string, enabled: boolean): ProgressBar {
  if (!enabled || !showsProgress(ctx)) return NO_PROGRESS;
  const stderr = ctx.io.stderr;
  const started = Date.now();
  let lastDraw = 0;
  let drawn = false;
  const columns = (stderr as { columns?: number }).columns ?? 80;
  return {
    update(done, total) {
      const now = Date.now();
      if (now - lastDraw < REDRAW_MS && (total === undefined || done < total)) return;
      lastDraw = now;
      drawn = true;
      stderr.write(`\r${renderProgress(label, done, total, now - started, columns - 1)}\x1b[K`);
    },
    finish() {
      if (drawn) stderr.write('\r\x1b[K');
      drawn = false;
    },
  };
}
