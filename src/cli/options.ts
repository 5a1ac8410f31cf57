// Shared argument parsing for CLI commands: FILE[:MEDIATYPE], --annotation K=V (and the option group
// push and attach share), references that must name a tag or a digest, and moving bytes between
// files, stdin and stdout.
// Pure string handling and I/O plumbing; every decision about content is the library's.
import { existsSync } from 'node:fs';
import { homedir } from 'node:os';
import { open } from 'node:fs/promises';
import type { Readable, Writable } from 'node:stream';
import type { Argv } from 'yargs';
import {
  UnsafeInputError,
  UsageError,
  isValidMediaType,
  movedTagWarning,
  openBlobLocations,
  userBlobLocationsPath,
  parseLayoutRef,
  wrapFsError,
  type Annotations,
  type BlobLocations,
  type Digest,
  type LayoutRef,
  type Layout,
  type PushFile,
  type RemoteReadOptions,
  type TagMove,
} from '../internal.js';
import type { CommandContext } from './context.js';
import { retryReporter } from './progress.js';

/**
 * `FILE[:MEDIATYPE]`. An argument naming an existing path is a path, whole (so `a:b` files work);
 * otherwise it splits at its LAST `:` only when what follows is `type/subtype`. So `C:\x.txt`,
 * `dir:1/f` (no such file) and `f:notatype` stay paths and fail later as "not found".
 * Throws E_USAGE for an empty argument, and for `FILE:WORD` where FILE exists but WORD is no
 * media type (`sbom.json:spdx`): that is a mistyped media type, not a missing file.
 * See spec-notes/cli.md.
 */
export function parseFileArg(arg: string, exists: (p: string) => boolean = existsSync): PushFile {
  if (arg === '') throw new UsageError('E_USAGE', 'empty file argument');
  if (exists(arg)) return { path: arg };
  const colon = arg.lastIndexOf(':');
  if (colon > 0) {
    const path = arg.slice(0, colon);
    const mediaType = arg.slice(colon + 1);
    if (isValidMediaType(mediaType)) return { path, mediaType };
    if (exists(path)) {
      throw new UsageError(
        'E_USAGE',
        `${arg}: ${JSON.stringify(mediaType)} is not a media type (file ${path})`,
        { path, mediaType },
        {
          hint: `write FILE:TYPE/SUBTYPE, e.g. ${path}:application/spdx+json or ${path}:application/octet-stream`,
        },
      );
    }
  }
  return { path: arg };
}

/**
 * The inputs of a command that builds one artifact from files (push, attach): `[files..]` as
 * FILE[:MEDIATYPE] and repeatable `--annotation KEY=VALUE`, so both read their files the same way.
 */
export function withArtifactFiles<T>(c: Argv<T>) {
  return c
    .positional('files', {
      type: 'string',
      array: true,
      default: [] as string[],
      describe: 'FILE or FILE:MEDIATYPE (an existing path is never split)',
    })
    .option('annotation', {
      type: 'string',
      array: true,
      nargs: 1, // one value per flag, so `--annotation k=v FILE` keeps FILE a positional
      describe: 'manifest annotation KEY=VALUE (repeatable)',
    });
}

/**
 * `--annotation K=V` (repeatable) → a record. Splits at the first `=`; the value may contain `=`
 * and may be empty. Throws E_USAGE for a missing `=`, an empty key, or a key given twice.
 */
export function parseAnnotations(values: readonly string[]): Annotations | undefined {
  if (values.length === 0) return undefined;
  const out: Annotations = {};
  for (const v of values) {
    const eq = v.indexOf('=');
    if (eq <= 0) {
      throw new UsageError(
        'E_USAGE',
        `--annotation ${JSON.stringify(v)}: expected KEY=VALUE`,
        { annotation: v },
        { hint: 'e.g. --annotation org.opencontainers.image.source=https://example.com/repo' },
      );
    }
    const key = v.slice(0, eq);
    if (Object.hasOwn(out, key)) {
      throw new UsageError('E_USAGE', `--annotation ${key} given twice`, { key });
    }
    out[key] = v.slice(eq + 1);
  }
  return out;
}

/** yargs gives a repeated string option as string | string[] | undefined; always get a list. */
export function stringList(value: unknown): string[] {
  if (value === undefined) return [];
  return (Array.isArray(value) ? value : [value]).map(String);
}

/** `LAYOUT@DIGEST`, for commands about one blob. Throws E_INVALID_REFERENCE without a digest. */
export function parseDigestRef(input: string): { layout: string; digest: Digest } {
  const ref = parseLayoutRef(input);
  if (ref.digest === undefined) {
    throw new UsageError(
      'E_INVALID_REFERENCE',
      `${JSON.stringify(input)} names no digest`,
      { reference: input },
      { hint: 'write LAYOUT@sha256:<64 hex>' },
    );
  }
  return { layout: ref.layout, digest: ref.digest };
}

/** `LAYOUT:TAG`, for commands about a tag. Throws E_INVALID_REFERENCE without a tag. */
export function parseTagRef(input: string): { layout: string; tag: string } {
  const ref = parseLayoutRef(input);
  if (ref.tag === undefined) {
    throw new UsageError(
      'E_INVALID_REFERENCE',
      `${JSON.stringify(input)} names no tag`,
      { reference: input },
      { hint: 'write LAYOUT:TAG' },
    );
  }
  return { layout: ref.layout, tag: ref.tag };
}

/** The library's Target from a parsed reference (no tag and no digest = the only entry). */
export function targetOf(ref: LayoutRef): { tag?: string; digest?: Digest } {
  return ref.digest !== undefined ? { digest: ref.digest } : { tag: ref.tag };
}

/** Read all of `path` (or stdin for `-`), refusing more than `limit` bytes (E_TOO_LARGE). */
export async function readInputCapped(
  path: string,
  stdin: Readable,
  limit: number,
): Promise<Buffer> {
  if (path === '-') return readStreamCapped(stdin, limit, 'stdin');
  let fh;
  try {
    fh = await open(path, 'r');
  } catch (err) {
    throw wrapFsError(err, `open ${path}`, { path });
  }
  try {
    return await readStreamCapped(fh.createReadStream({ autoClose: false }), limit, path);
  } finally {
    await fh.close();
  }
}

async function readStreamCapped(stream: Readable, limit: number, what: string): Promise<Buffer> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of stream) {
    const b = Buffer.isBuffer(chunk) ? chunk : Buffer.from(chunk as string);
    size += b.byteLength;
    if (size > limit) {
      stream.destroy();
      throw new UnsafeInputError(
        'E_TOO_LARGE',
        `${what} is over the ${limit}-byte limit for a manifest`,
        { what, limit },
      );
    }
    chunks.push(b);
  }
  return Buffer.concat(chunks);
}

/**
 * A FILE|- positional as given. yargs re-parses positionals as `--name value`, which turns a lone
 * `-` into the empty string; an empty file name is never valid, so it can only have been `-`.
 */
export function fileOrStdin(value: string): string {
  return value === '' ? '-' : value;
}

/** A file (or stdin for `-`) as a stream of 1 MiB chunks. Throws E_NOT_FOUND / E_IO on open. */
export async function openInput(path: string, stdin: Readable): Promise<Readable> {
  if (path === '-') return stdin;
  try {
    const fh = await open(path, 'r');
    return fh.createReadStream({ highWaterMark: 1024 * 1024 });
  } catch (err) {
    throw wrapFsError(err, `open ${path}`, { path });
  }
}

/**
 * Refuse (E_USAGE) to write binary output to a terminal: raw bytes garble it, may trigger escape
 * sequences, and are lost anyway. Every command that streams binary to stdout checks here.
 */
export function refuseBinaryToTerminal(stdout: Writable, what: string, hint: string): void {
  if ((stdout as { isTTY?: boolean }).isTTY === true) {
    throw new UsageError('E_USAGE', `refusing to write ${what} to a terminal`, {}, { hint });
  }
}

/**
 * `--no-clobber` (also `-n`, crane's spelling) for the verbs that point tags: push, tag, copy.
 * yargs reads `--no-X` as X=false, so the option is `clobber` (default true) and `-n` its own flag.
 */
export function withClobber<T>(y: Argv<T>): Argv<T & { clobber: boolean; n: boolean | undefined }> {
  return y
    .option('clobber', {
      type: 'boolean',
      default: true,
      describe:
        'let a tag move off other content (--no-clobber or -n: refuse with exit 7, nothing changed)',
    })
    .option('n', { type: 'boolean', describe: 'same as --no-clobber' });
}

/**
 * `--blob-cache` (default on; `--no-blob-cache` off) for the verbs that talk to registries: the
 * per-user record of where blobs were last seen, which lets a push mount instead of uploading.
 */
export function withBlobCache<T>(y: Argv<T>): Argv<T & { 'blob-cache': boolean }> {
  return y.option('blob-cache', {
    type: 'boolean',
    default: true,
    describe:
      'remember where blobs were seen (~/.cache/ocilayout) so a push mounts them from another repository of the same registry (--no-blob-cache, or OCILAYOUT_NO_BLOB_CACHE=1: neither read nor write it)',
  });
}

/** The user's blob-location record, unless turned off (flag or environment). */
export function blobLocations(
  argv: { 'blob-cache'?: boolean },
  ctx: CommandContext,
): BlobLocations | undefined {
  if (argv['blob-cache'] === false) return undefined;
  const env = ctx.io.env;
  const path = userBlobLocationsPath(env, env['HOME'] || homedir());
  return path === undefined ? undefined : openBlobLocations(path);
}

export function noClobber(argv: { clobber?: boolean; n?: boolean | undefined }): boolean {
  return argv.clobber === false || argv.n === true;
}

/** onTagMoved for a layout verb: warn when the tag left a subject that has referrers. */
export function warnTagMoved(ctx: CommandContext, layout: Layout): (move: TagMove) => void {
  return (move) => {
    const warning = movedTagWarning(layout, move);
    if (warning !== undefined) ctx.out.warn(warning);
  };
}

/** `--plain-http HOST` (repeatable), for every command that can speak to a registry. */
export function withPlainHttp<T>(y: Argv<T>): Argv<T & { 'plain-http': string[] | undefined }> {
  return y.option('plain-http', {
    type: 'string',
    array: true,
    nargs: 1, // one HOST per flag: a bare `--plain-http` is a usage error, not zero hosts
    describe:
      'speak plain HTTP to this registry HOST[:PORT] (repeatable; loopback is probed anyway)',
  });
}

/** The --plain-http hosts. Throws E_USAGE for an empty HOST (`--plain-http=`), which matches none. */
export function plainHttpHosts(value: unknown): string[] {
  const hosts = stringList(value);
  if (hosts.some((h) => h.trim() === '')) {
    throw new UsageError(
      'E_USAGE',
      '--plain-http needs a registry HOST[:PORT]',
      {},
      { hint: 'e.g. --plain-http registry.local:5000' },
    );
  }
  return hosts;
}

/** Options for the remote read verbs: --plain-http, credentials from docker login, retries shown. */
export function remoteReadOptions(
  argv: { 'plain-http'?: unknown },
  ctx: CommandContext,
): RemoteReadOptions {
  return {
    plainHttp: plainHttpHosts(argv['plain-http']),
    onRetry: retryReporter(ctx),
  };
}

/** Throws E_USAGE naming the first option (`--parallel`…) whose value is not a positive integer. */
export function requirePositiveIntegers(options: Record<string, number>): void {
  for (const [name, n] of Object.entries(options)) {
    if (!Number.isInteger(n) || n < 1) {
      throw new UsageError('E_USAGE', `${name} must be a positive integer`, { [name]: n });
    }
  }
}
