// The CLI's termination signals: each becomes process.exit with the status a shell reports for a
// process that signal killed, so the library's exit-time cleanup (store/exit-cleanup.ts) runs first:
// the lock is released and this writer's part files, staging directory and lease are removed.
import { ExitCode } from '../internal.js';

export const SIGNAL_EXIT_CODES = {
  SIGHUP: ExitCode.Hangup,
  SIGINT: ExitCode.Interrupted,
  SIGTERM: ExitCode.Terminated,
} as const;

/**
 * Install the handlers (once per process). They stay installed: with none, a second Ctrl-C while
 * the first one's cleanup runs would kill the process by default half-way through it. The cleanup
 * is synchronous, so a second signal is never handled before the exit.
 */
export function exitOnSignals(): void {
  for (const [signal, code] of Object.entries(SIGNAL_EXIT_CODES)) {
    process.on(signal, () => process.exit(code));
  }
}
