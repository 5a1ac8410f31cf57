#!/usr/bin/env node
// The executable: runs the CLI on this process's argv and stdio; SIGINT/SIGTERM/SIGHUP exit with
// 130/143/129 after the writer's cleanup (cli/signals.ts). Nothing else.
import { run } from './main.js';
import { processIo } from './io.js';
import { exitOnSignals } from './signals.js';

exitOnSignals();
process.exitCode = await run(process.argv.slice(2), processIo);
