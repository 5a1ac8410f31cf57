// The CLI: a thin yargs layer over the library. run() parses, dispatches, maps errors to exit codes.
import yargs from 'yargs';
import { ExitCode, UsageError, exitCodeFor, isOcilayoutError } from '../internal.js';
import { COMMANDS } from './commands/index.js';
import { parseLockTimeout, type CommandContext, type GlobalArgs } from './context.js';
import { Output, StdoutWatch, isBrokenPipe, type Io } from './io.js';
import { VERSION } from './version.js';

const EPILOGUE =
  'Exit codes: 0 ok, 1 internal error, 2 usage, 3 not found, 4 integrity/fsck findings, 5 lock busy, ' +
  '6 unsafe input refused, 7 conflict, 8 registry/network, 9 I/O, 129/130/143 SIGHUP/SIGINT/SIGTERM. ' +
  'Docs: README.md';

/**
 * Parse `argv`, run the command, and return the exit status. Never throws: a thrown OcilayoutError
 * becomes its EXIT_CODE status (E_USAGE for bad arguments) and an error line on stderr.
 */
export async function run(argv: string[], io: Io): Promise<number> {
  const wantsJson = argv.includes('--json');
  const ctx: CommandContext = {
    io,
    out: new Output(io, {
      json: wantsJson,
      quiet: argv.includes('--quiet') || argv.includes('-q'),
      debug: argv.includes('--debug'),
    }),
    exitCode: undefined,
  };
  let parser = yargs(argv)
    .scriptName('ocilayout')
    .usage(
      '$0 <command> [options]\n\nManage OCI Image Layout directories: blobs, tags, referrers, archives.',
    )
    .option('json', {
      type: 'boolean',
      default: false,
      describe: 'machine-readable output on stdout',
    })
    .option('quiet', {
      alias: 'q',
      type: 'boolean',
      default: false,
      describe: 'no messages on stderr',
    })
    .option('debug', {
      type: 'boolean',
      default: false,
      describe: 'stack traces for internal errors',
    })
    .option('lock-timeout', {
      // Parsed by parseLockTimeout, not yargs: its number type turns `abc` into NaN silently.
      type: 'string',
      coerce: parseLockTimeout,
      describe: 'seconds to wait for another writer (default 60)',
    })
    .middleware((a) => {
      ctx.out = new Output(io, { json: a.json, quiet: a.quiet, debug: a.debug });
    })
    .strict()
    .demandCommand(1, 'name a command; see --help')
    .recommendCommands()
    .help('help', 'show this help')
    .alias('h', 'help')
    .version(VERSION)
    .describe('version', 'print the version') // yargs's own words are capitalised, ours are not
    .epilogue(EPILOGUE)
    .wrap(Math.min(110, process.stdout.columns ?? 100))
    .exitProcess(false)
    .fail((msg, err) => {
      // yargs's own parse errors (a YError, e.g. "Not enough arguments following: X") are usage
      // errors too; anything else is a handler's error and passes through unchanged.
      if (err === undefined || err === null || err.name === 'YError')
        throw new UsageError('E_USAGE', msg ?? err?.message ?? 'bad arguments');
      throw err;
    }) as unknown as import('yargs').Argv<GlobalArgs>;
  for (const register of COMMANDS) parser = register(parser, ctx);
  skipHelpCache(parser);
  const stdout = new StdoutWatch(io);
  let helpShown = false;
  let failure: unknown;
  try {
    await parser.parseAsync(argv, {}, (_err, _args, output) => {
      if (output !== '') {
        helpShown = true;
        io.stdout.write(`${output}\n`);
      }
    });
  } catch (err) {
    failure = err;
  }
  ctx.out.clearStatus(); // a progress or retry line a handler left on the terminal
  // Output the command wrote but stdout did not take fails the run, whatever the command thought:
  // a short archive or listing must never exit 0. It also explains an error the command met by
  // writing (a raw EPIPE), but not a typed error of its own (a corrupt blob on `blob get | head`).
  const lost = await stdout.settle();
  if (lost !== undefined && (failure === undefined || !isTypedFailure(failure))) {
    if (ctx.out.json || !isBrokenPipe(lost)) ctx.out.error(lost);
    return exitCodeFor(lost);
  }
  if (failure !== undefined) {
    if (failure instanceof UsageError && failure.code === 'E_USAGE' && !ctx.out.json) {
      // The hint, when there is one, names the fix; --help is the general pointer.
      const hint = failure.hint === undefined ? '' : `  hint: ${failure.hint}\n`;
      io.stderr.write(
        `ocilayout: ${failure.message}\n${hint}  run \`ocilayout --help\` or \`ocilayout <command> --help\`\n`,
      );
      return ExitCode.Usage;
    }
    ctx.out.error(failure);
    return exitCodeFor(failure);
  }
  if (helpShown) return ExitCode.Ok;
  return ctx.exitCode ?? ExitCode.Ok;
}

/** A typed error other than E_IO: the command's own finding, reported even if stdout failed too. */
function isTypedFailure(err: unknown): boolean {
  return isOcilayoutError(err) && err.code !== 'E_IO';
}

/**
 * yargs renders the running command's whole help text (string-width over every option line) to
 * cache it for a later showHelp()/getHelp(), which this CLI never calls: CPU spent on every run
 * (spec-notes/performance.md, CLI start-up; `node bench/profile.mjs copy-nv`). `--help` itself
 * does not use that cache.
 * Internal yargs API, so only when it is there.
 */
function skipHelpCache(parser: object): void {
  const internals = (parser as { getInternalMethods?: () => unknown }).getInternalMethods?.();
  const usage = (
    internals as { getUsageInstance?: () => unknown } | undefined
  )?.getUsageInstance?.();
  if (typeof usage === 'object' && usage !== null && 'cacheHelpMessage' in usage) {
    (usage as { cacheHelpMessage: () => void }).cacheHelpMessage = () => undefined;
  }
}
