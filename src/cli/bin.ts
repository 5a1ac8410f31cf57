#!/usr/bin/env node
// The executable: runs the CLI on this process's argv and stdio; exit 130 on Ctrl-C. Nothing else.
import { run } from './main.js';
import { processIo } from './io.js';

process.once('SIGINT', () => {
  process.exit(130);
});
process.exitCode = await run(process.argv.slice(2), processIo);
