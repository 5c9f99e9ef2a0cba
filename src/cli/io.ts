import * as fs from 'node:fs';
import * as path from 'node:path';
import type { FileHost } from '../core/constitution/resolve.js';
import { findConstitutionFiles } from '../server/files.js';
import { nodeFileHost } from '../trainer/fileHost.js';
import { CliError } from './args.js';

export const fileHost = (cwd: string): FileHost => nodeFileHost((file) => displayPath(cwd, file));

export function displayPath(cwd: string, file: string): string {
  const rel = path.relative(cwd, file);
  return rel && !rel.startsWith('..') && !path.isAbsolute(rel) ? rel : file;
}

/** Reads a text file or fails with one line that says why. */
export function readText(file: string): string {
  let st: fs.Stats;
  try {
    st = fs.statSync(file);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    throw new CliError(code === 'ENOENT' ? `${file}: no such file` : `${file}: cannot read (${code ?? (e as Error).message})`, 2);
  }
  if (st.isDirectory()) throw new CliError(`${file}: is a folder, not a file`, 2);
  try {
    const buf = fs.readFileSync(file);
    if (buf.includes(0)) throw new CliError(`${file}: is a binary file, not a constitution`, 2);
    return buf.toString('utf8');
  } catch (e) {
    if (e instanceof CliError) throw e;
    throw new CliError(`${file}: cannot read (${(e as NodeJS.ErrnoException).code ?? (e as Error).message})`, 2);
  }
}

/** Files named on the command line; folders expand to the constitution files inside them. */
export function expandInputs(cwd: string, inputs: string[]): string[] {
  const out: string[] = [];
  for (const input of inputs) {
    const abs = path.resolve(cwd, input);
    let st: fs.Stats;
    try {
      st = fs.statSync(abs);
    } catch {
      throw new CliError(`${input}: no such file or folder`, 2);
    }
    if (st.isDirectory()) {
      const found = findConstitutionFiles(abs, Number.POSITIVE_INFINITY);
      if (found.length === 0) throw new CliError(`${input}: no *.constitution.yaml files in this folder`, 2);
      out.push(...found);
    } else out.push(abs);
  }
  return [...new Set(out)];
}

/** Writes a file atomically (temporary file, then rename), refusing to overwrite unless asked. */
export function writeText(file: string, text: string, force: boolean): void {
  if (!force && fs.existsSync(file)) throw new CliError(`${file}: already exists (use --force to overwrite)`, 1);
  const dir = path.dirname(file);
  try {
    fs.mkdirSync(dir, { recursive: true });
    const tmp = path.join(dir, `.${path.basename(file)}.${process.pid}.tmp`);
    fs.writeFileSync(tmp, text);
    fs.renameSync(tmp, file);
  } catch (e) {
    throw new CliError(`${file}: cannot write (${(e as NodeJS.ErrnoException).code ?? (e as Error).message})`, 1);
  }
}

const useColor = (stream: NodeJS.WriteStream) => stream.isTTY && !process.env.NO_COLOR;

export function color(stream: NodeJS.WriteStream, code: number, s: string): string {
  return useColor(stream) ? `\x1b[${code}m${s}\x1b[0m` : s;
}

/** A one-line progress bar on stderr (only when stderr is a terminal). */
export class Progress {
  private last = 0;
  constructor(
    private readonly total: number,
    private readonly label: string,
  ) {}
  tick(done: number): void {
    if (!process.stderr.isTTY || this.total < 20) return;
    const now = Date.now();
    if (now - this.last < 80 && done < this.total) return;
    this.last = now;
    const width = 30;
    const filled = Math.round((done / this.total) * width);
    process.stderr.write(`\r${this.label} [${'#'.repeat(filled)}${'.'.repeat(width - filled)}] ${done}/${this.total}`);
    if (done >= this.total) process.stderr.write('\n');
  }
}
