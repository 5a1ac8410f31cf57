// What every command handler receives: the output channel, and a slot for a non-error exit status.
import type { Argv } from 'yargs';
import type { ExitCode } from '../index.js';
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
