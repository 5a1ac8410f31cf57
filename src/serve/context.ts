// What every handler is given: the repositories, upload sessions, pins and the server's policy.
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { AccessControl, Principal } from './auth.js';
import type { BlobStreamSlots } from './blob-streams.js';
import type { BlobPins } from './pins.js';
import type { Repositories } from './repositories.js';
import type { UploadSessions } from './uploads.js';
import { RegistryHttpError } from './http-errors.js';
import type { VerifiedBlobs } from './verified-blobs.js';
import type { VerifiedManifests } from './verified-manifests.js';

export interface ServePolicy {
  /** Refuse every write (405 UNSUPPORTED). */
  readOnly: boolean;
  /** Answer DELETE of manifests, tags and blobs (else 405 UNSUPPORTED). */
  allowDelete: boolean;
  /** Largest manifest a PUT may carry (bytes, at most MAX_MANIFEST_BYTES). */
  maxManifestBytes: number;
  /** Largest blob an upload may carry (bytes). */
  maxUploadBytes: number;
}

export interface ServeContext {
  repos: Repositories;
  uploads: UploadSessions;
  pins: BlobPins;
  policy: ServePolicy;
  /** Authentication and per-repository rules; undefined: everyone may do everything. */
  access: AccessControl | undefined;
  /** How blob bodies are read: the streams at once, and what was verified already. */
  blobReads: BlobReads;
}

/**
 * `always`: hash every whole-blob and manifest response; `once`: once per change of the blob's
 * file.
 */
export type VerifyReads = 'always' | 'once';

export interface BlobReads {
  verify: VerifyReads;
  slots: BlobStreamSlots;
  verified: VerifiedBlobs;
  /** Manifests verified and validated, with their bytes (`once` only). */
  manifests: VerifiedManifests;
}

/** One routed request. */
export interface Call {
  req: IncomingMessage;
  res: ServerResponse;
  query: URLSearchParams;
  /** The repository named in the path (validated), when the endpoint has one. */
  name: string;
  /** The path segment after the endpoint (reference, digest, upload id), percent-decoded. */
  tail: string;
  /** Who sent it (anonymous until authenticated). */
  principal: Principal;
  /** Set by handlers for the access log. */
  note?: string;
}

/** Throws 405 UNSUPPORTED for a write on a read-only server. */
export function assertWritable(ctx: ServeContext): void {
  if (ctx.policy.readOnly) {
    throw new RegistryHttpError(405, 'UNSUPPORTED', 'this registry is read-only');
  }
}

/** Throws 405 UNSUPPORTED unless deletes are enabled (and the server writable). */
export function assertDeletable(ctx: ServeContext): void {
  assertWritable(ctx);
  if (!ctx.policy.allowDelete) {
    throw new RegistryHttpError(405, 'UNSUPPORTED', 'deletes are disabled on this registry');
  }
}

/** Whether the request's client may `right` repository `name` (always, without access rules). */
export function allowed(
  ctx: ServeContext,
  call: Call,
  name: string,
  right: 'read' | 'write',
): boolean {
  return ctx.access === undefined || ctx.access.can(call.principal, name, right);
}

/** `/v2/<name>/blobs/<digest>` and friends. */
export function v2Path(name: string, ...rest: string[]): string {
  return `/v2/${name}/${rest.join('/')}`;
}
