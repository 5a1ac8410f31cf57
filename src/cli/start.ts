// The CLI proper: loaded by bin.ts (after it turns the compile cache on), and bundled with
// everything it imports into one file by scripts/bundle-cli.mjs.
import { runProcess } from './process.js';

await runProcess();
