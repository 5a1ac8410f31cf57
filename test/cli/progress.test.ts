import { describe, expect, it } from 'vitest';
import { formatBytes, renderProgress } from '../../src/cli/progress.js';
import { parseSize } from '../../src/cli/commands/archive.js';

describe('renderProgress', () => {
  it('shows a bar, percentage, bytes, rate and ETA when the total is known', () => {
    const line = renderProgress('export', 512 * 1024 * 1024, 1024 * 1024 * 1024, 2000, 100);
    expect(line).toContain('[');
    expect(line).toContain(' 50%');
    expect(line).toContain('512.0 MiB / 1.0 GiB');
    expect(line).toContain('256.0 MiB/s');
    expect(line).toContain('ETA 0:02');
    expect(line.length).toBeLessThanOrEqual(100);
  });
  it('shows bytes and rate without a total (stdin)', () => {
    expect(renderProgress('import', 2048, undefined, 1000)).toBe('import 2.0 KiB  2.0 KiB/s');
  });
  it('formats sizes', () => {
    expect(formatBytes(1)).toBe('1 B');
    expect(formatBytes(1536)).toBe('1.5 KiB');
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
