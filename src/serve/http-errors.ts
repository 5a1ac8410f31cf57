// The distribution-spec error codes and how our typed errors map onto them. A handler throws
// either a RegistryHttpError (the protocol's own refusal) or any OcilayoutError from the engine;
// errorResponse turns both into a status and the spec's `{"errors":[…]}` body. What is not one of
// ours is an internal error: 500 with a generic message (details stay in the server's log).
import { isOcilayoutError, type OcilayoutError } from '../errors.js';

/** distribution-spec "Error Codes", plus UNKNOWN for the server's own failures. */
export type RegistryErrorCode =
  | 'BLOB_UNKNOWN'
  | 'BLOB_UPLOAD_INVALID'
  | 'BLOB_UPLOAD_UNKNOWN'
  | 'DIGEST_INVALID'
  | 'MANIFEST_BLOB_UNKNOWN'
  | 'MANIFEST_INVALID'
  | 'MANIFEST_UNKNOWN'
  | 'NAME_INVALID'
  | 'NAME_UNKNOWN'
  | 'SIZE_INVALID'
  | 'UNAUTHORIZED'
  | 'DENIED'
  | 'UNSUPPORTED'
  | 'TOOMANYREQUESTS'
  | 'UNKNOWN';

export class RegistryHttpError extends Error {
  constructor(
    readonly status: number,
    readonly code: RegistryErrorCode,
    message: string,
    readonly detail: Record<string, unknown> = {},
    cause?: unknown,
    /** Extra response headers (Retry-After, Range, Allow). */
    readonly headers: Record<string, string> = {},
  ) {
    super(message, cause === undefined ? undefined : { cause });
    this.name = 'RegistryHttpError';
  }
}

/** What a not-found means depends on what was looked up. */
export type NotFoundKind = 'MANIFEST_UNKNOWN' | 'BLOB_UNKNOWN' | 'NAME_UNKNOWN';

export interface ErrorReply {
  status: number;
  headers: Record<string, string>;
  body: { errors: { code: RegistryErrorCode; message: string; detail?: unknown }[] };
  /** The error was not one we expected (logged with its stack). */
  internal: boolean;
}

/**
 * The reply for `err`. `notFound` names the code an E_NOT_FOUND becomes on this endpoint. Messages
 * of engine errors are not sent: they carry server paths (the layout's directory). The code, and
 * the details that are the client's own input, say enough.
 */
export function errorReply(err: unknown, notFound: NotFoundKind = 'MANIFEST_UNKNOWN'): ErrorReply {
  if (err instanceof RegistryHttpError) {
    return reply(err.status, err.code, err.message, err.detail, err.headers);
  }
  if (isOcilayoutError(err)) return fromEngine(err, notFound);
  return { ...reply(500, 'UNKNOWN', 'internal error'), internal: true };
}

function fromEngine(err: OcilayoutError, notFound: NotFoundKind): ErrorReply {
  const digest = typeof err.details['digest'] === 'string' ? err.details['digest'] : undefined;
  const detail = digest === undefined ? {} : { digest };
  switch (err.code) {
    case 'E_INVALID_DIGEST':
    case 'E_UNSUPPORTED_ALGORITHM':
      return reply(400, 'DIGEST_INVALID', 'invalid or unsupported digest', detail);
    case 'E_NOT_FOUND':
      return reply(404, notFound, notFoundMessage(notFound), detail);
    case 'E_INVALID_TAG':
    case 'E_INVALID_REFERENCE':
      return reply(400, 'MANIFEST_INVALID', `invalid reference: ${err.message}`, detail);
    case 'E_TOO_LARGE':
      return reply(413, 'SIZE_INVALID', 'content too large', detail);
    case 'E_CONFLICT':
    case 'E_ALREADY_EXISTS':
      return reply(409, 'DENIED', `refused: ${err.message}`, detail);
    case 'E_LOCK_TIMEOUT':
      // Another writer (the CLI, gc) holds the layout: worth a retry.
      return reply(503, 'TOOMANYREQUESTS', 'repository busy, retry', {}, { 'Retry-After': '1' });
    case 'E_NOT_A_LAYOUT':
    case 'E_DIGEST_MISMATCH':
    case 'E_SIZE_MISMATCH':
    case 'E_INVALID_JSON':
    case 'E_SCHEMA':
    case 'E_UNSUPPORTED_MEDIA_TYPE':
    case 'E_CORRUPT_ARCHIVE':
    case 'E_FSCK_FINDINGS':
    case 'E_UNSAFE_ENTRY':
    case 'E_LOCK_COMPROMISED':
    case 'E_IO':
    case 'E_USAGE':
    case 'E_REGISTRY':
    case 'E_UNAUTHORIZED':
    case 'E_NETWORK':
    case 'E_INTERNAL':
      // Integrity errors here are the layout's (a corrupt blob, a bad index.json): the handlers
      // turn a client's bad bytes into DIGEST_INVALID / MANIFEST_INVALID themselves.
      return { ...reply(500, 'UNKNOWN', 'internal error', { code: err.code }), internal: true };
  }
}

function notFoundMessage(kind: NotFoundKind): string {
  return kind === 'BLOB_UNKNOWN'
    ? 'blob unknown to registry'
    : kind === 'NAME_UNKNOWN'
      ? 'repository name not known to registry'
      : 'manifest unknown';
}

function reply(
  status: number,
  code: RegistryErrorCode,
  message: string,
  detail: Record<string, unknown> = {},
  headers: Record<string, string> = {},
): ErrorReply {
  const entry = Object.keys(detail).length > 0 ? { code, message, detail } : { code, message };
  return { status, headers, body: { errors: [entry] }, internal: false };
}
