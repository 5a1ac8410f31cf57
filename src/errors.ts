// Typed errors with stable codes, and the one table that maps a code to a process exit status.
// The library throws only the family classes below (OcilayoutError itself is abstract, so a code
// can never appear outside its family); the CLI turns codes into exit statuses via exitCodeFor().

export const ERROR_CODES = [
  'E_USAGE',
  'E_INVALID_DIGEST',
  'E_UNSUPPORTED_ALGORITHM',
  'E_INVALID_REFERENCE',
  'E_INVALID_TAG',
  'E_NOT_A_LAYOUT',
  'E_NOT_FOUND',
  'E_ALREADY_EXISTS',
  'E_CONFLICT',
  'E_DIGEST_MISMATCH',
  'E_SIZE_MISMATCH',
  'E_INVALID_JSON',
  'E_SCHEMA',
  'E_UNSUPPORTED_MEDIA_TYPE',
  'E_TOO_LARGE',
  'E_LOCK_TIMEOUT',
  'E_LOCK_COMPROMISED',
  'E_UNSAFE_ENTRY',
  'E_CORRUPT_ARCHIVE',
  'E_FSCK_FINDINGS',
  'E_REGISTRY',
  'E_UNAUTHORIZED',
  'E_NETWORK',
  'E_IO',
  'E_INTERNAL',
] as const;

export type ErrorCode = (typeof ERROR_CODES)[number];

export interface ErrorOptions {
  cause?: unknown;
  /** What the user can do next, e.g. "run `ocilayout fsck ./out`". */
  hint?: string;
}

export abstract class OcilayoutError<C extends ErrorCode = ErrorCode> extends Error {
  readonly hint: string | undefined;
  constructor(
    readonly code: C,
    message: string,
    readonly details: Record<string, unknown> = {},
    options: ErrorOptions = {},
  ) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = new.target.name;
    this.hint = options.hint;
  }

  toJSON(): { code: C; message: string; details: Record<string, unknown>; hint?: string } {
    return {
      code: this.code,
      message: this.message,
      details: this.details,
      ...(this.hint === undefined ? {} : { hint: this.hint }),
    };
  }
}

/** Families, for `instanceof` checks by callers that do not care about the exact code. */
export class UsageError extends OcilayoutError<
  | 'E_USAGE'
  | 'E_INVALID_DIGEST'
  | 'E_UNSUPPORTED_ALGORITHM'
  | 'E_INVALID_REFERENCE'
  | 'E_INVALID_TAG'
> {}
export class NotFoundError extends OcilayoutError<'E_NOT_FOUND' | 'E_NOT_A_LAYOUT'> {}
export class IntegrityError extends OcilayoutError<
  | 'E_DIGEST_MISMATCH'
  | 'E_SIZE_MISMATCH'
  | 'E_INVALID_JSON'
  | 'E_SCHEMA'
  | 'E_UNSUPPORTED_MEDIA_TYPE'
  | 'E_CORRUPT_ARCHIVE'
  | 'E_FSCK_FINDINGS'
> {}
export class LockError extends OcilayoutError<'E_LOCK_TIMEOUT' | 'E_LOCK_COMPROMISED'> {}
export class UnsafeInputError extends OcilayoutError<'E_UNSAFE_ENTRY' | 'E_TOO_LARGE'> {}
export class ConflictError extends OcilayoutError<'E_ALREADY_EXISTS' | 'E_CONFLICT'> {}
export class RegistryError extends OcilayoutError<'E_REGISTRY' | 'E_UNAUTHORIZED' | 'E_NETWORK'> {}
export class IoError extends OcilayoutError<'E_IO'> {}
/** A broken promise of our own (a bug); wraps the unexpected error as its `cause`. */
export class InternalError extends OcilayoutError<'E_INTERNAL'> {}

export type FamilyClass = new (
  code: never,
  message: string,
  details?: Record<string, unknown>,
  options?: ErrorOptions,
) => OcilayoutError;

/** The one family of each code. */
export const ERROR_FAMILY = {
  E_USAGE: UsageError,
  E_INVALID_DIGEST: UsageError,
  E_UNSUPPORTED_ALGORITHM: UsageError,
  E_INVALID_REFERENCE: UsageError,
  E_INVALID_TAG: UsageError,
  E_NOT_A_LAYOUT: NotFoundError,
  E_NOT_FOUND: NotFoundError,
  E_ALREADY_EXISTS: ConflictError,
  E_CONFLICT: ConflictError,
  E_DIGEST_MISMATCH: IntegrityError,
  E_SIZE_MISMATCH: IntegrityError,
  E_INVALID_JSON: IntegrityError,
  E_SCHEMA: IntegrityError,
  E_UNSUPPORTED_MEDIA_TYPE: IntegrityError,
  E_TOO_LARGE: UnsafeInputError,
  E_LOCK_TIMEOUT: LockError,
  E_LOCK_COMPROMISED: LockError,
  E_UNSAFE_ENTRY: UnsafeInputError,
  E_CORRUPT_ARCHIVE: IntegrityError,
  E_FSCK_FINDINGS: IntegrityError,
  E_REGISTRY: RegistryError,
  E_UNAUTHORIZED: RegistryError,
  E_NETWORK: RegistryError,
  E_IO: IoError,
  E_INTERNAL: InternalError,
} as const satisfies Record<ErrorCode, FamilyClass>;

/** `err` as one of ours: OcilayoutErrors pass through; anything else is an internal error. */
export function asOcilayoutError(err: unknown, what?: string): OcilayoutError {
  if (isOcilayoutError(err)) return err;
  const message = err instanceof Error ? err.message : String(err);
  return new InternalError(
    'E_INTERNAL',
    what === undefined ? message : `${what}: ${message}`,
    {},
    { cause: err },
  );
}

export const ExitCode = {
  Ok: 0,
  Internal: 1,
  Usage: 2,
  NotFound: 3,
  Integrity: 4,
  Busy: 5,
  Unsafe: 6,
  Conflict: 7,
  Remote: 8,
  Io: 9,
  /** 128 + the signal's number, as shells report a process killed by it (the CLI exits so). */
  Hangup: 129,
  Interrupted: 130,
  Terminated: 143,
} as const;
export type ExitCode = (typeof ExitCode)[keyof typeof ExitCode];

/** The only map from error code to exit status (documented in README "Exit codes"). */
export const EXIT_CODE = {
  E_USAGE: ExitCode.Usage,
  E_INVALID_DIGEST: ExitCode.Usage,
  E_UNSUPPORTED_ALGORITHM: ExitCode.Usage,
  E_INVALID_REFERENCE: ExitCode.Usage,
  E_INVALID_TAG: ExitCode.Usage,
  E_NOT_A_LAYOUT: ExitCode.NotFound,
  E_NOT_FOUND: ExitCode.NotFound,
  E_DIGEST_MISMATCH: ExitCode.Integrity,
  E_SIZE_MISMATCH: ExitCode.Integrity,
  E_INVALID_JSON: ExitCode.Integrity,
  E_SCHEMA: ExitCode.Integrity,
  E_UNSUPPORTED_MEDIA_TYPE: ExitCode.Integrity,
  E_CORRUPT_ARCHIVE: ExitCode.Integrity,
  E_FSCK_FINDINGS: ExitCode.Integrity,
  E_LOCK_TIMEOUT: ExitCode.Busy,
  E_LOCK_COMPROMISED: ExitCode.Busy,
  E_UNSAFE_ENTRY: ExitCode.Unsafe,
  E_TOO_LARGE: ExitCode.Unsafe,
  E_ALREADY_EXISTS: ExitCode.Conflict,
  E_CONFLICT: ExitCode.Conflict,
  E_REGISTRY: ExitCode.Remote,
  E_UNAUTHORIZED: ExitCode.Remote,
  E_NETWORK: ExitCode.Remote,
  E_IO: ExitCode.Io,
  E_INTERNAL: ExitCode.Internal,
} as const satisfies Record<ErrorCode, ExitCode>;

export function exitCodeFor(err: unknown): ExitCode {
  return isOcilayoutError(err) ? EXIT_CODE[err.code] : ExitCode.Internal;
}

export function isOcilayoutError<C extends ErrorCode = ErrorCode>(
  err: unknown,
  code?: C,
): err is OcilayoutError<C> {
  return err instanceof OcilayoutError && (code === undefined || err.code === code);
}

/** Node's errno code of an fs error, if any (ENOENT, EEXIST...). */
export function errnoCode(err: unknown): string | undefined {
  if (typeof err === 'object' && err !== null && 'code' in err) {
    const code = err.code;
    return typeof code === 'string' ? code : undefined;
  }
  return undefined;
}

/**
 * Wrap a raw fs error at the store boundary so nothing above store/ sees an errno.
 * ENOENT becomes E_NOT_FOUND, anything else E_IO (with a hint for the common write failures);
 * OcilayoutErrors pass through.
 */
export function wrapFsError(
  err: unknown,
  what: string,
  details: Record<string, unknown> = {},
): OcilayoutError {
  if (isOcilayoutError(err)) return err;
  const code = errnoCode(err);
  const reason = err instanceof Error ? err.message : String(err);
  if (code === 'ENOENT') {
    return new NotFoundError('E_NOT_FOUND', `${what}: not found`, details, { cause: err });
  }
  const hint = code === undefined ? undefined : IO_HINTS[code];
  return new IoError(
    'E_IO',
    `${what}: ${reason}`,
    { ...details, errno: code },
    { cause: err, ...(hint === undefined ? {} : { hint }) },
  );
}

/** What the user can do about the errnos a write meets most (the message names the path). */
const IO_HINTS: Record<string, string> = {
  EROFS: 'the filesystem is mounted read-only; write somewhere else, or remount it read-write',
  EACCES: 'no permission; check the owner and mode of the path, or run as its owner',
  EPERM: 'the operation is not permitted there; check the owner, mode and attributes of the path',
  ENOSPC: 'the filesystem is full; free some space (`ocilayout gc` removes unreferenced blobs)',
  EDQUOT: 'the disk quota is exhausted; free some space or raise the quota',
};
