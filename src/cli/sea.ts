// The entry of the single executable (`npm run package`, scripts/package-sea.mjs): runProcess()
// as bin.ts does, without top-level await, because Node 20 runs a single executable's script as
// CommonJS.
import { runProcess } from './process.js';

void runProcess();
