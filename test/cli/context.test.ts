// context.ts: the global --lock-timeout (seconds) is validated and becomes the library's lockTimeoutMs.
import { describe, expect, it } from 'vitest';
import { layoutOptions, parseLockTimeout, type GlobalArgs } from '../../src/cli/context.js';

const args = (t: number | undefined): GlobalArgs => ({
  json: false,
  quiet: false,
  debug: false,
  'lock-timeout': t,
});

describe('layoutOptions', () => {
  it('converts seconds to milliseconds, and passes nothing when the flag is absent', () => {
    expect(layoutOptions(args(undefined))).toEqual({});
    expect(layoutOptions(args(2.5))).toEqual({ lockTimeoutMs: 2500 });
    expect(layoutOptions(args(0))).toEqual({ lockTimeoutMs: 0 });
  });
});

describe('parseLockTimeout', () => {
  it('accepts one number of seconds from 0, as yargs hands it over (a string)', () => {
    expect(parseLockTimeout(undefined)).toBeUndefined();
    expect(parseLockTimeout('0')).toBe(0);
    expect(parseLockTimeout('2.5')).toBe(2.5);
    expect(parseLockTimeout(' 120 ')).toBe(120);
  });

  it.each(['abc', '', '-1', 'NaN', 'Infinity', '1e12', ['1', '2']])(
    'refuses %j with E_USAGE (NaN would wait forever)',
    (raw) => {
      expect(() => parseLockTimeout(raw)).toThrow(expect.objectContaining({ code: 'E_USAGE' }));
    },
  );
});
