// commands/index.ts: every command group is registered by exactly one line, and every file in
// commands/ that exports a register function is in the list.
import { readdirSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { COMMANDS } from '../../../src/cli/commands/index.js';

const DIR = fileURLToPath(new URL('../../../src/cli/commands/', import.meta.url));

describe('COMMANDS', () => {
  it('lists each register function of commands/*.ts exactly once', async () => {
    const registers: unknown[] = [];
    for (const file of readdirSync(DIR).filter((f) => f.endsWith('.ts') && f !== 'index.ts')) {
      const mod = (await import(`${DIR}${file}`)) as Record<string, unknown>;
      for (const [name, value] of Object.entries(mod)) {
        if (name.startsWith('register') && typeof value === 'function') registers.push(value);
      }
    }
    expect(registers.length).toBeGreaterThanOrEqual(10);
    expect(new Set(COMMANDS).size).toBe(COMMANDS.length);
    expect(COMMANDS).toHaveLength(registers.length);
    for (const r of registers) expect(COMMANDS).toContain(r);
  });
});
