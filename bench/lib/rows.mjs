// What a benchmark row reports, and how its goal is judged. A row compares our median with the
// reference's median measured in the same run (ratio), or checks an absolute bound.
import { rmSync } from 'node:fs';
import { summarize } from './measure.mjs';

/**
 * Ratio row: ours / reference on median wall time; met when ≤ max. Without `max` it is a context
 * row (shown, not judged): it explains a goal row beside it.
 */
export function ratioRow({ id, work, ours, ref, max, note }) {
  const value = ours.stats.median / ref.stats.median;
  return {
    id,
    work,
    ours,
    ref,
    value,
    unit: '×',
    goal: max === undefined ? '—' : `≤ ${max}×`,
    met: max === undefined ? null : value <= max,
    note,
  };
}

/** Absolute row: our median against a bound in the same unit. */
export function boundRow({ id, work, ours, max, unit, note }) {
  const value = ours.stats.median;
  return { id, work, ours, value, unit, goal: `≤ ${max} ${unit}`, met: value <= max, note };
}

/** A row that is not run, with the reason (never silently absent). */
export function skippedRow({ id, work, goal, reason }) {
  return { id, work, goal, skipped: reason, met: null };
}

/** A side: its label (key into the commands table) and stats {median,min,max,n} of its unit. */
export function side(label, stats, extra = {}) {
  return { label, stats, ...extra };
}

/** In-process ms summaries → seconds. */
export function msToS(s) {
  return { median: s.median / 1000, min: s.min / 1000, max: s.max / 1000, n: s.n };
}

export function rssStats(result) {
  return result.rss;
}

export { summarize };

export function removeAll(...paths) {
  for (const p of paths) rmSync(p, { recursive: true, force: true });
}
