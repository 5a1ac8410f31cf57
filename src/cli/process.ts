// The CLI as this process: argv and stdio, SIGINT/SIGTERM/SIGHUP exiting with 130/143/129 after the
// writers' cleanup (cli/signals.ts). Both entry points use it: bin.ts (through the bundle, or
// directly) and sea.ts (the single executable, which cannot use top-level await).
import { processIo } from './io.js';
import { run } from './main.js';
import { exitOnSignals } from './signals.js';

export async function runProcess(): Promise<void> {
  exitOnSignals();
  process.exitCode = await run(process.argv.slice(2), processIo);
}
