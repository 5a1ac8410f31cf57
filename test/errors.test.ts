import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import {
  ConflictError,
  ERROR_CODES,
  EXIT_CODE,
  ExitCode,
  IntegrityError,
  LockError,
  NotFoundError,
  OcilayoutError,
  UnsafeInputError,
  UsageError,
  ERROR_FAMILY,
  type ErrorCode,
  type ErrorOptions,
  type FamilyClass,
  InternalError,
  IoError,
  RegistryError,
  asOcilayoutError,
  errnoCode,
  exitCodeFor,
  isOcilayoutError,
  wrapFsError,
} from '../src/errors.js';

/** An error of `code`'s family (ERROR_FAMILY), for tables over every code. */
function errorFor(
  code: ErrorCode,
  message: string,
  details: Record<string, unknown> = {},
  options: ErrorOptions = {},
): OcilayoutError {
  const Family = ERROR_FAMILY[code] as FamilyClass;
  return new Family(code as never, message, details, options);
}

describe('EXIT_CODE', () => {
  it('maps every error code, and nothing else', () => {
    expect(Object.keys(EXIT_CODE).sort()).toEqual([...ERROR_CODES].sort());
    for (const code of ERROR_CODES) expect(Object.values(ExitCode)).toContain(EXIT_CODE[code]);
  });

  it.each([
    ['E_INVALID_DIGEST', ExitCode.Usage],
    ['E_UNSUPPORTED_ALGORITHM', ExitCode.Usage],
    ['E_INVALID_TAG', ExitCode.Usage],
    ['E_NOT_A_LAYOUT', ExitCode.NotFound],
    ['E_NOT_FOUND', ExitCode.NotFound],
    ['E_DIGEST_MISMATCH', ExitCode.Integrity],
    ['E_INVALID_JSON', ExitCode.Integrity],
    ['E_SCHEMA', ExitCode.Integrity],
    ['E_FSCK_FINDINGS', ExitCode.Integrity],
    ['E_LOCK_TIMEOUT', ExitCode.Busy],
    ['E_LOCK_COMPROMISED', ExitCode.Busy],
    ['E_UNSAFE_ENTRY', ExitCode.Unsafe],
    ['E_TOO_LARGE', ExitCode.Unsafe],
    ['E_ALREADY_EXISTS', ExitCode.Conflict],
    ['E_INTERNAL', ExitCode.Internal],
  ] as const)('%s exits %i (the EXIT_CODE table)', (code, exit) => {
    expect(EXIT_CODE[code]).toBe(exit);
    expect(exitCodeFor(errorFor(code, 'x'))).toBe(exit);
  });

  it('treats anything that is not an OcilayoutError as internal', () => {
    expect(exitCodeFor(new Error('bug'))).toBe(ExitCode.Internal);
    expect(exitCodeFor('string')).toBe(ExitCode.Internal);
    expect(exitCodeFor({ code: 'E_NOT_FOUND' })).toBe(ExitCode.Internal);
  });
});

describe('OcilayoutError', () => {
  it('carries code, details, hint and cause, and serialises without the cause', () => {
    const cause = new Error('ENOENT');
    const e = new NotFoundError(
      'E_NOT_FOUND',
      'blob x not found',
      { digest: 'x' },
      { cause, hint: 'run fsck' },
    );
    expect(e).toBeInstanceOf(OcilayoutError);
    expect(e).toBeInstanceOf(Error);
    expect(e.name).toBe('NotFoundError');
    expect(e.cause).toBe(cause);
    expect(JSON.parse(JSON.stringify(e))).toEqual({
      code: 'E_NOT_FOUND',
      message: 'blob x not found',
      details: { digest: 'x' },
      hint: 'run fsck',
    });
    expect(new UsageError('E_USAGE', 'no').toJSON()).not.toHaveProperty('hint');
  });

  it('has one family class per kind, for instanceof', () => {
    const all = [
      new UsageError('E_INVALID_TAG', ''),
      new NotFoundError('E_NOT_A_LAYOUT', ''),
      new IntegrityError('E_DIGEST_MISMATCH', ''),
      new LockError('E_LOCK_TIMEOUT', ''),
      new UnsafeInputError('E_UNSAFE_ENTRY', ''),
      new ConflictError('E_ALREADY_EXISTS', ''),
    ];
    for (const e of all) expect(isOcilayoutError(e)).toBe(true);
    expect(isOcilayoutError(all[0], 'E_INVALID_TAG')).toBe(true);
    expect(isOcilayoutError(all[0], 'E_USAGE')).toBe(false);
    expect(isOcilayoutError(new Error('x'))).toBe(false);
  });
});

describe('wrapFsError / errnoCode', () => {
  const fsError = (code: string): Error =>
    Object.assign(new Error(`${code}: something`), { code, errno: -1, syscall: 'open' });

  it('turns ENOENT into E_NOT_FOUND and other errnos into E_IO, keeping the cause', () => {
    const nf = wrapFsError(fsError('ENOENT'), 'read x', { path: 'x' });
    expect(nf).toMatchObject({ code: 'E_NOT_FOUND', details: { path: 'x' } });
    expect(nf.cause).toBeInstanceOf(Error);
    const io = wrapFsError(fsError('EACCES'), 'read x');
    expect(io).toMatchObject({ code: 'E_IO', details: { errno: 'EACCES' } });
    expect(io.message).toContain('read x');
  });

  it('names the read-only filesystem, a full disk and a refused permission in the hint', () => {
    expect(wrapFsError(fsError('EROFS'), 'create x/ingest').hint).toMatch(/read-only/);
    expect(wrapFsError(fsError('ENOSPC'), 'write x').hint).toMatch(/full/);
    expect(wrapFsError(fsError('EACCES'), 'write x').hint).toMatch(/permission/);
    expect(wrapFsError(fsError('EIO'), 'read x').hint).toBeUndefined();
  });

  it('passes OcilayoutErrors through unchanged', () => {
    const e = new IntegrityError('E_SCHEMA', 'bad');
    expect(wrapFsError(e, 'x')).toBe(e);
  });

  it('reads only string codes', () => {
    expect(errnoCode(fsError('EEXIST'))).toBe('EEXIST');
    expect(errnoCode({ code: 5 })).toBeUndefined();
    expect(errnoCode(null)).toBeUndefined();
    expect(errnoCode('ENOENT')).toBeUndefined();
  });
});

describe('error families', () => {
  it('gives every code exactly one family, and errorFor builds that family', () => {
    expect(Object.keys(ERROR_FAMILY).sort()).toEqual([...ERROR_CODES].sort());
    const families = [
      UsageError,
      NotFoundError,
      ConflictError,
      IntegrityError,
      LockError,
      UnsafeInputError,
      RegistryError,
      IoError,
      InternalError,
    ];
    for (const code of ERROR_CODES) {
      const e = errorFor(code, 'm', { a: 1 }, { cause: 'why' });
      expect(e).toBeInstanceOf(ERROR_FAMILY[code]);
      expect(families.filter((F) => e instanceof F)).toEqual([ERROR_FAMILY[code]]);
      expect(e).toMatchObject({ code, message: 'm', details: { a: 1 }, cause: 'why' });
    }
  });

  it('wraps what is not ours as E_INTERNAL, keeping it as the cause', () => {
    const bug = new TypeError('x is undefined');
    const e = asOcilayoutError(bug, 'reading the index');
    expect(e).toBeInstanceOf(InternalError);
    expect(e).toMatchObject({ code: 'E_INTERNAL', message: 'reading the index: x is undefined' });
    expect(e.cause).toBe(bug);
    const ours = new IoError('E_IO', 'disk');
    expect(asOcilayoutError(ours)).toBe(ours);
  });

  it('no source file constructs the abstract base class', () => {
    const src = fileURLToPath(new URL('../src/', import.meta.url));
    const offenders = (readdirSync(src, { recursive: true }) as string[])
      .filter((f) => f.endsWith('.ts'))
      .filter((f) => /new OcilayoutError\b/.test(readFileSync(join(src, f), 'utf8')));
    expect(offenders).toEqual([]);
  });
});
