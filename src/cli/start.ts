// Runs the CLI on this process's argv and stdio; exit 130 on Ctrl-C. Loaded by bin.ts, and bundled
// with everything it imports into one file by scripts/bundle-cli.mjs.
import { run } from './main.js';
import { processIo } from './io.js';

process.once('SIGINT', () => {
  process.exit(130);
});
process.exitCode = await run(process.argv.slice(2), processIo);
