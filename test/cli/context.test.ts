// context.ts: the global --lock-timeout (seconds) becomes the library's lockTimeoutMs.
import { describe, expect, it } from 'vitest';
import { layoutOptions, type GlobalArgs } from '../../src/cli/context.js';

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
