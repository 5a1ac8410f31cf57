// io.ts: Output decides where each kind of text goes. Results on stdout (text or --json), info on
// stderr unless --quiet or --json, warnings unless --quiet, errors always (one JSON line with
// --json), stack traces only with --debug.
import { describe, expect, it } from 'vitest';
import { processIo, Output, type OutputOptions } from '../../src/cli/io.js';
import { IoError, NotFoundError } from '../../src/errors.js';
import { fakeIo } from '../helpers/fake-io.js';

function output(options: Partial<OutputOptions> = {}) {
  const f = fakeIo();
  const out = new Output(f.io, { json: false, quiet: false, debug: false, ...options });
  return { out, stdout: f.stdout, stderr: f.stderr };
}

const withHint = new NotFoundError(
  'E_NOT_FOUND',
  'tag v9 not found',
  { tag: 'v9' },
  {
    hint: 'list tags',
  },
);

describe('Output', () => {
  it('writes result lines on stdout, nothing for an empty list', () => {
    const o = output();
    o.out.line('one');
    o.out.lines([]);
    o.out.lines(['a', 'b']);
    expect(o.stdout()).toBe('one\na\nb\n');
    expect(o.stderr()).toBe('');
  });

  it('prints result() as text, or as indented JSON with --json', () => {
    const text = output();
    text.out.result({ x: 1 }, () => ['l1', 'l2']);
    text.out.result({ x: 1 }, () => 'single');
    expect(text.stdout()).toBe('l1\nl2\nsingle\n');
    const json = output({ json: true });
    json.out.result({ x: [1] }, () => {
      throw new Error('text is not rendered in --json mode');
    });
    expect(json.stdout()).toBe('{\n  "x": [\n    1\n  ]\n}\n');
    expect(json.out.json).toBe(true);
  });

  it('silences info with --quiet or --json, warnings only with --quiet', () => {
    const loud = output();
    loud.out.info('working');
    loud.out.warn('careful');
    expect(loud.stderr()).toBe('working\nocilayout: warning: careful\n');
    const json = output({ json: true });
    json.out.info('working');
    json.out.warn('careful');
    expect(json.stderr()).toBe('ocilayout: warning: careful\n');
    const quiet = output({ quiet: true });
    quiet.out.info('working');
    quiet.out.warn('careful');
    expect(quiet.stderr()).toBe('');
    expect(loud.stdout() + json.stdout() + quiet.stdout()).toBe('');
  });

  describe('error', () => {
    it('prints code, message and hint in text mode, even with --quiet', () => {
      const o = output({ quiet: true });
      o.out.error(withHint);
      expect(o.stderr()).toBe(
        'ocilayout: error [E_NOT_FOUND]: tag v9 not found\n  hint: list tags\n',
      );
      expect(o.stdout()).toBe('');
    });

    it('prints one JSON line {"error":{code,message,details,hint}} with --json', () => {
      const o = output({ json: true });
      o.out.error(withHint);
      const lines = o.stderr().split('\n');
      expect(lines).toHaveLength(2);
      expect(JSON.parse(lines[0]!)).toEqual({
        error: {
          code: 'E_NOT_FOUND',
          message: 'tag v9 not found',
          details: { tag: 'v9' },
          hint: 'list tags',
        },
      });
      const plain = output({ json: true });
      plain.out.error(new IoError('E_IO', 'disk'));
      expect(JSON.parse(plain.stderr())).toEqual({
        error: { code: 'E_IO', message: 'disk', details: {} },
      });
    });

    it('reports anything else as an internal error, with a stack only under --debug', () => {
      const o = output();
      o.out.error(new TypeError('boom'));
      expect(o.stderr()).toMatch(/^ocilayout: internal error: boom\n {2}\(run with --debug/);
      const d = output({ debug: true });
      d.out.error(new TypeError('boom'));
      expect(d.stderr()).toContain('TypeError: boom\n    at ');
      const s = output({ json: true });
      s.out.error('a string');
      expect(JSON.parse(s.stderr())).toEqual({
        error: { code: 'E_INTERNAL', message: 'a string', details: {} },
      });
    });

    it("adds an OcilayoutError's stack under --debug", () => {
      const d = output({ debug: true });
      d.out.error(withHint);
      expect(d.stderr()).toContain('hint: list tags\nNotFoundError: tag v9 not found\n    at ');
    });
  });
});

describe('processIo', () => {
  it("is this process's stdio", () => {
    expect(processIo.stdout).toBe(process.stdout);
    expect(processIo.stderr).toBe(process.stderr);
    expect(processIo.stdin).toBe(process.stdin);
    expect(processIo.env).toBe(process.env);
    expect(processIo.isTTY).toBe(process.stderr.isTTY === true);
  });
});
