// Where the CLI writes: results on stdout (text or --json), messages and errors on stderr.
// Commands never decide formats inline; they hand data to Output.
import type { Readable, Writable } from 'node:stream';
import { OcilayoutError, WriteWatch, errnoCode, streamWriteError } from '../internal.js';

export interface Io {
  stdout: Writable;
  stderr: Writable;
  stdin: Readable;
  /** stderr is a terminal (progress bars only then). */
  isTTY: boolean;
  env: NodeJS.ProcessEnv;
}

export const processIo: Io = {
  stdout: process.stdout,
  stderr: process.stderr,
  // A getter: process.stdin makes its stream (for a pipe, a socket) when first read, a cost that
  // commands not reading stdin need not pay at start-up.
  get stdin() {
    return process.stdin;
  },
  isTTY: process.stderr.isTTY === true,
  env: process.env,
};

export interface OutputOptions {
  json: boolean;
  quiet: boolean;
  debug: boolean;
}

export class Output {
  /** A status line (progress, a retry) is on stderr now, to be cleared before anything else. */
  private statusShown = false;

  constructor(
    readonly io: Io,
    readonly options: OutputOptions,
  ) {}

  /**
   * Show `text` as the terminal's one status line, in place of the previous one (`\r`, then clear
   * to the end of the line). Callers check showsProgress or isTTY; `text` must fit the terminal.
   */
  status(text: string): void {
    this.io.stderr.write(`\r${text}\x1b[K`);
    this.statusShown = true;
  }

  /** Remove the status line, if any; every other write does this first, so no text lands on it. */
  clearStatus(): void {
    if (!this.statusShown) return;
    this.statusShown = false;
    this.io.stderr.write('\r\x1b[K');
  }

  get json(): boolean {
    return this.options.json;
  }

  /** One result line on stdout (text mode). */
  line(text: string): void {
    this.clearStatus();
    this.io.stdout.write(`${text}\n`);
  }

  /** Several result lines: list commands print one item a line. */
  lines(items: Iterable<string>): void {
    let buf = '';
    for (const item of items) buf += `${item}\n`;
    if (buf === '') return;
    this.clearStatus();
    this.io.stdout.write(buf);
  }

  /** A machine-readable result on stdout (--json mode). */
  data(value: unknown): void {
    this.clearStatus();
    this.io.stdout.write(`${JSON.stringify(value, null, 2)}\n`);
  }

  /** Text or JSON, whichever the user asked for. */
  result(value: unknown, text: () => string | string[]): void {
    if (this.json) {
      this.data(value);
      return;
    }
    const t = text();
    if (Array.isArray(t)) this.lines(t);
    else this.line(t);
  }

  /** A progress or status message on stderr (silenced by --quiet and in --json mode). */
  info(text: string): void {
    if (this.options.quiet || this.options.json) return;
    this.clearStatus();
    this.io.stderr.write(`${text}\n`);
  }

  warn(text: string): void {
    if (this.options.quiet) return;
    this.clearStatus();
    this.io.stderr.write(`ocilayout: warning: ${text}\n`);
  }

  error(err: unknown): void {
    this.clearStatus();
    if (this.json) {
      const payload =
        err instanceof OcilayoutError
          ? err.toJSON()
          : {
              code: 'E_INTERNAL',
              message: err instanceof Error ? err.message : String(err),
              details: {},
            };
      this.io.stderr.write(`${JSON.stringify({ error: payload })}\n`);
    } else if (err instanceof OcilayoutError) {
      let text = `ocilayout: error [${err.code}]: ${err.message}\n`;
      if (err.hint !== undefined) text += `  hint: ${err.hint}\n`;
      this.io.stderr.write(text);
    } else {
      const e = err instanceof Error ? err : new Error(String(err));
      this.io.stderr.write(`ocilayout: internal error: ${e.message}\n`);
      this.io.stderr.write(
        this.options.debug
          ? `${e.stack ?? ''}\n`
          : '  (run with --debug for a stack trace; this is a bug, please report it)\n',
      );
    }
    if (this.options.debug && err instanceof OcilayoutError && err.stack !== undefined) {
      this.io.stderr.write(`${err.stack}\n`);
    }
  }
}

/**
 * Watches stdout for the whole run, so a failed write is an error of the command and never an
 * unhandled 'error' event (a stack trace) or an exit 0 with a short output. Node reports a write
 * to a closed pipe (EPIPE: `| head`) or a full disk (ENOSPC: `> /dev/full`) as an 'error' event,
 * often after write() returned; one watch here catches it for every command and format.
 */
export class StdoutWatch {
  private readonly watch: WriteWatch;

  constructor(io: Io) {
    this.watch = new WriteWatch(io.stdout);
    // A failing stderr has nowhere left to report to; keep its 'error' from crashing the process.
    if (!QUIETED.has(io.stderr)) {
      QUIETED.add(io.stderr);
      io.stderr.on('error', () => undefined);
    }
  }

  /**
   * After the command: wait until stdout took everything and return its failure as E_IO
   * (undefined when all output was delivered). The watch stays on stdout: an error after this
   * point must not crash the process either.
   */
  async settle(): Promise<OcilayoutError | undefined> {
    try {
      await this.watch.flushed('stdout');
      return undefined;
    } catch (err) {
      return err instanceof OcilayoutError ? err : streamWriteError(err, 'stdout');
    }
  }
}

const QUIETED = new WeakSet<Writable>();

/** A reader that stopped reading (EPIPE) is not worth a message: `cmd | head` is normal use. */
export function isBrokenPipe(err: OcilayoutError): boolean {
  return err.details['errno'] === 'EPIPE' || errnoCode(err.cause) === 'EPIPE';
}
