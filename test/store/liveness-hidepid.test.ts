// /proc mounted with hidepid (or another user's process): the pid runs, but its start time cannot
// be read. Such an owner may be a live writer, so its files must never be judged abandoned.
import * as fs from 'node:fs';
import { describe, expect, it, vi } from 'vitest';
import { ownerLiveness, ownerToken } from '../../src/store/liveness.js';

vi.mock('node:fs', { spy: true });

describe('ownerLiveness when /proc hides the process', () => {
  it('calls a running pid whose start time cannot be read alive, never dead', () => {
    const [host] = ownerToken().split('.') as [string];
    // This process runs; claim a start time that is not its own, as a reused pid would show.
    const name = `${host}.${process.pid}.999999999.abcdef.part`;
    expect(ownerLiveness(name)).toBe('dead'); // readable /proc: the start time disagrees
    vi.mocked(fs.readFileSync).mockImplementation(() => {
      throw Object.assign(new Error('EACCES: permission denied'), { code: 'EACCES' });
    });
    try {
      expect(ownerLiveness(name)).toBe('alive');
    } finally {
      vi.mocked(fs.readFileSync).mockRestore();
    }
  });
});
