// Byte counts as people read them, the same in every message, summary and page.

/** `1 B`, `1.5 KiB`, `310.0 MiB`: exact below 1 KiB, then binary units with one decimal. */
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
