// What every command handler receives: the output channel, and a slot for a non-error exit status.
import type { Argv } from 'yargs';
import { MAX_LOCK_TIMEOUT_MS, UsageError, type ExitCode } from '../internal.js';
import type { Io, Output } from './io.js';

export interface GlobalArgs {
  json: boolean;
  quiet: boolean;
  debug: boolean;
  'lock-timeout': number | undefined;
}

export interface CommandContext {
  io: Io;
  /** Set from the global options before a handler runs. */
  out: Output;
  /** A handler sets this to exit non-zero without an error (e.g. fsck findings). */
  exitCode: ExitCode | undefined;
}

/** Each file in commands/ exports one of these; it adds its command(s) to the parser. */
export type RegisterCommands = (y: Argv<GlobalArgs>, ctx: CommandContext) => Argv<GlobalArgs>;

/** Options for Layout.open/init from the global flags. */
export function layoutOptions(argv: GlobalArgs): { lockTimeoutMs?: number } {
  const t = argv['lock-timeout'];
  return t === undefined ? {} : { lockTimeoutMs: t * 1000 };
}

/**
 * `--lock-timeout` as given (a string; repeated, an array) → seconds, or undefined when absent.
 * Throws E_USAGE for anything but one number of seconds from 0: yargs's own number parsing turns
 * `abc` into NaN, and a NaN deadline is never reached, so the writer would wait forever.
 */
export function parseLockTimeout(raw: unknown): number | undefined {
  if (raw === undefined) return undefined;
  if (Array.isArray(raw)) {
    throw new UsageError('E_USAGE', '--lock-timeout given more than once', { 'lock-timeout': raw });
  }
  const text = typeof raw === 'string' || typeof raw === 'number' ? String(raw).trim() : '';
  const seconds = text === '' ? Number.NaN : Number(text);
  const max = Math.floor(MAX_LOCK_TIMEOUT_MS / 1000);
  if (!Number.isFinite(seconds) || seconds < 0 || seconds > max) {
    throw new UsageError(
      'E_USAGE',
      `--lock-timeout ${JSON.stringify(text)}: expected a number of seconds from 0 to ${max}`,
      { 'lock-timeout': text },
      {
        hint: 'e.g. --lock-timeout 120, or --lock-timeout 0 to fail at once when the layout is busy',
      },
    );
  }
  return seconds;
}
