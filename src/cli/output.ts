/**
 * How commands print: results on stdout, diagnostics on stderr. With `--json` stdout carries
 * exactly one JSON document; on a terminal tables are drawn with cli-table3, otherwise they are
 * plain aligned text that scripts can cut.
 */
import Table from 'cli-table3';
import type { TextSink } from './command-context.js';

/** A table cell. */
export type Cell = string | number | boolean | null | undefined;

/** Printer bound to one command run. */
export class Output {
  /** `--json` mode. */
  readonly json: boolean;
  /** stdout is a terminal. */
  readonly tty: boolean;
  private readonly stdout: TextSink;
  private readonly stderr: TextSink;
  private documents = 0;

  constructor(options: { stdout: TextSink; stderr: TextSink; json: boolean; tty?: boolean }) {
    this.stdout = options.stdout;
    this.stderr = options.stderr;
    this.json = options.json;
    this.tty = options.tty ?? options.stdout.isTTY === true;
  }

  /**
   * Prints a command's result: `value` as the JSON document under `--json`, otherwise whatever
   * `render` prints (default: `value` as key/value lines).
   */
  result(value: unknown, render?: () => void): void {
    if (this.json) this.document(value);
    else if (render !== undefined) render();
    else if (typeof value === 'object' && value !== null) this.fields(value as Record<string, unknown>);
    else this.text(String(value));
  }

  /** Writes the one JSON document of this run to stdout; a second call is a bug and throws. */
  document(value: unknown): void {
    if (this.documents++ > 0) throw new Error('Output.document called twice: --json prints one document');
    this.stdout.write(`${JSON.stringify(value, null, this.tty ? 2 : undefined)}\n`);
  }

  /** A line of human text on stdout (on stderr under `--json`, to keep stdout one document). */
  text(line: string): void {
    (this.json ? this.stderr : this.stdout).write(line.endsWith('\n') ? line : `${line}\n`);
  }

  /** A diagnostic line on stderr (warnings, progress, hints). */
  note(line: string): void {
    this.stderr.write(line.endsWith('\n') ? line : `${line}\n`);
  }

  /** Key/value lines, keys aligned. */
  fields(record: Record<string, unknown>): void {
    const width = Math.max(0, ...Object.keys(record).map((k) => k.length));
    for (const [k, v] of Object.entries(record)) {
      const shown = typeof v === 'object' && v !== null ? JSON.stringify(v) : String(v);
      this.text(`${k.padEnd(width)}  ${shown}`);
    }
  }

  /** A table: boxed on a terminal, otherwise columns separated by two spaces under a header line. */
  table(head: readonly string[], rows: ReadonlyArray<readonly Cell[]>): void {
    const cells = rows.map((r) => r.map((c) => (c === null || c === undefined ? '' : String(c))));
    if (this.tty) {
      const t = new Table({ head: [...head] });
      t.push(...cells);
      this.text(t.toString());
      return;
    }
    const widths = head.map((h, i) => Math.max(h.length, ...cells.map((r) => (r[i] ?? '').length)));
    const line = (r: readonly string[]): string =>
      r
        .map((c, i) => c.padEnd(widths[i] ?? 0))
        .join('  ')
        .trimEnd();
    this.text(line(head));
    for (const r of cells) this.text(line(r));
  }

  /**
   * Reports an error: the message on stderr, and under `--json` the document
   * `{"error": {code, message, ...extra}}` on stdout.
   */
  error(code: string, message: string, extra: Record<string, unknown> = {}): void {
    this.note(`net-sync: ${message}`);
    if (this.json && this.documents === 0) this.document({ error: { code, message, ...extra } });
  }
}
