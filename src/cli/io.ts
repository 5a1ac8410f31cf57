// Where the CLI writes: results on stdout (text or --json), messages and errors on stderr.
// Commands never decide formats inline; they hand data to Output.
import type { Readable, Writable } from 'node:stream';
import { OcilayoutError } from '../index.js';

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
  stdin: process.stdin,
  isTTY: process.stderr.isTTY === true,
  env: process.env,
};

export interface OutputOptions {
  json: boolean;
  quiet: boolean;
  debug: boolean;
}

export class Output {
  constructor(
    readonly io: Io,
    readonly options: OutputOptions,
  ) {}

  get json(): boolean {
    return this.options.json;
  }

  /** One result line on stdout (text mode). */
  line(text: string): void {
    this.io.stdout.write(`${text}\n`);
  }

  /** Several result lines: list commands print one item a line. */
  lines(items: Iterable<string>): void {
    let buf = '';
    for (const item of items) buf += `${item}\n`;
    if (buf !== '') this.io.stdout.write(buf);
  }

  /** A machine-readable result on stdout (--json mode). */
  data(value: unknown): void {
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
    if (!this.options.quiet && !this.options.json) this.io.stderr.write(`${text}\n`);
  }

  warn(text: string): void {
    if (!this.options.quiet) this.io.stderr.write(`ocilayout: warning: ${text}\n`);
  }

  error(err: unknown): void {
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
