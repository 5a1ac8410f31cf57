// The entry of the single executable (`npm run package`, scripts/package-sea.mjs): what bin.ts does,
// without top-level await, because Node 20 runs a single executable's script as CommonJS only.
// Keep the two in step.
import { processIo } from './io.js';
import { run } from './main.js';

process.once('SIGINT', () => {
  process.exit(130);
});
void run(process.argv.slice(2), processIo).then((code) => {
  process.exitCode = code;
});
