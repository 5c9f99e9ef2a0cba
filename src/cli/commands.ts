import * as fs from 'node:fs';
import * as path from 'node:path';
import type { Diagnostic } from '../core/constitution/diagnostics.js';
import { formatConstitution } from '../core/constitution/features/format.js';
import { exportConstitution, FormatError, FORMATS, importConstitution, type FormatFiles, type FormatName } from '../core/constitution/formats/index.js';
import { previewPrompts, type RenderedPrompt } from '../core/constitution/render.js';
import { ConstitutionWorkspace, DEFAULT_NEAR_DUPLICATE_THRESHOLD, type Resolution } from '../core/constitution/resolve.js';
import { CliError, parse, UsageError } from './args.js';
import { ENGINE_COMMANDS } from './engineCommands.js';
import { RUN_COMMANDS } from './runCommands.js';
import { CLUSTER_COMMANDS } from './clusterCommands.js';
import { SERVE_COMMAND } from './serveCommand.js';
import { EXPORT_GGUF_COMMAND } from './ggufCommand.js';
import { color, displayPath, expandInputs, fileHost, Progress, readText, writeText } from './io.js';

export interface Command {
  summary: string;
  usage: string;
  run(args: string[], cwd: string): Promise<number> | number;
}

const out = (s: string) => process.stdout.write(`${s}\n`);
const err = (s: string) => process.stderr.write(`${s}\n`);

function workspace(cwd: string): ConstitutionWorkspace {
  return new ConstitutionWorkspace(fileHost(cwd));
}

function resolveOrFail(ws: ConstitutionWorkspace, file: string): Resolution {
  readText(file); // one clear line if it cannot be read
  const res = ws.resolve(file);
  if (!res) throw new CliError(`${file}: cannot read`, 2);
  return res;
}

const SEVERITY_COLOR = { error: 31, warning: 33, information: 36, hint: 90 } as const;

const validate: Command = {
  summary: 'Check constitution files; print every problem with its place.',
  usage: 'cai validate FILE_OR_FOLDER... [--json] [--near-duplicate-threshold X]',
  run(args, cwd) {
    const { values, positionals } = parse(args, { json: { type: 'boolean' }, 'near-duplicate-threshold': { type: 'string' } }, this.usage);
    if (positionals.length === 0) throw new UsageError(`no files given — usage: ${this.usage}`);
    let threshold = DEFAULT_NEAR_DUPLICATE_THRESHOLD;
    if (values['near-duplicate-threshold'] !== undefined) {
      const raw = String(values['near-duplicate-threshold']).trim();
      threshold = Number(raw);
      if (!/^(?:\d+(?:\.\d*)?|\.\d+)$/.test(raw) || threshold > 1) throw new UsageError('--near-duplicate-threshold takes a number between 0 and 1');
    }
    const files = expandInputs(cwd, positionals);
    for (const f of files) readText(f);
    const ws = workspace(cwd);
    const all: Diagnostic[] = [];
    const progress = new Progress(files.length, 'validating');
    files.forEach((f, i) => {
      const res = ws.resolve(f, { nearDuplicateThreshold: threshold });
      if (res) all.push(...res.diagnostics);
      progress.tick(i + 1);
    });
    all.sort((a, b) => (a.file === b.file ? a.range.start.line - b.range.start.line || a.range.start.character - b.range.start.character : a.file < b.file ? -1 : 1));
    const errors = all.filter((d) => d.severity === 'error').length;
    if (values.json) {
      out(
        JSON.stringify(
          all.map((d) => ({ file: displayPath(cwd, d.file), range: d.range, severity: d.severity, code: d.code, message: d.message })),
          null,
          2,
        ),
      );
    } else {
      for (const d of all) {
        const where = `${displayPath(cwd, d.file)}:${d.range.start.line + 1}:${d.range.start.character + 1}`;
        out(`${where}: ${color(process.stdout, SEVERITY_COLOR[d.severity], d.severity)} ${d.code}: ${d.message}`);
      }
      const warnings = all.filter((d) => d.severity === 'warning').length;
      err(`${files.length} file${files.length === 1 ? '' : 's'} checked: ${errors} error${errors === 1 ? '' : 's'}, ${warnings} warning${warnings === 1 ? '' : 's'}, ${all.length - errors - warnings} other.`);
    }
    return errors > 0 ? 1 : 0;
  },
};

const format: Command = {
  summary: 'Re-indent constitution files, keeping comments (--check: report files that would change).',
  usage: 'cai format FILE_OR_FOLDER... [--check] [--indent N]',
  run(args, cwd) {
    const { values, positionals } = parse(args, { check: { type: 'boolean' }, indent: { type: 'string' } }, this.usage);
    if (positionals.length === 0) throw new UsageError(`no files given — usage: ${this.usage}`);
    const indent = values.indent === undefined ? 2 : Number(values.indent);
    if (!Number.isInteger(indent) || indent < 1 || indent > 8) throw new UsageError('--indent takes a whole number from 1 to 8');
    let failed = 0;
    for (const f of expandInputs(cwd, positionals)) {
      const text = readText(f);
      const r = formatConstitution(text, { indent });
      if (!r.ok) {
        err(`${displayPath(cwd, f)}: not formatted: ${r.reason}`);
        failed++;
        continue;
      }
      if (r.text === text) continue;
      if (values.check) {
        out(`${displayPath(cwd, f)}: would be reformatted`);
        failed++;
      } else {
        writeText(f, r.text, true);
        out(`${displayPath(cwd, f)}: formatted`);
      }
    }
    return failed > 0 ? 1 : 0;
  },
};

function printPrompt(title: string, p: RenderedPrompt, showFewShot: boolean): void {
  out(color(process.stdout, 1, `── ${title} ${'─'.repeat(Math.max(0, 70 - title.length))}`));
  if (showFewShot) {
    out(p.text);
  } else {
    const last = p.segments[p.segments.length - 1];
    const examples = p.segments.filter((s) => s.kind === 'example').length;
    if (examples) out(color(process.stdout, 90, `[${examples} few-shot example${examples === 1 ? '' : 's'} before this; --few-shot shows them]`));
    out(last ? p.text.slice(last.start, last.end) : p.text);
  }
  out('');
}

const preview: Command = {
  summary: 'Print the exact prompts a model sees for a principle and a comparison.',
  usage: 'cai preview FILE [--principle ID] [--comparison ID] [--few-shot] [--json]',
  run(args, cwd) {
    const { values, positionals } = parse(
      args,
      { principle: { type: 'string' }, comparison: { type: 'string' }, 'few-shot': { type: 'boolean' }, json: { type: 'boolean' } },
      this.usage,
    );
    if (positionals.length !== 1) throw new UsageError(`give one constitution file — usage: ${this.usage}`);
    const file = path.resolve(cwd, positionals[0] as string);
    const res = resolveOrFail(workspace(cwd), file);
    const c = res.constitution;
    const pid = values.principle as string | undefined;
    const cid = values.comparison as string | undefined;
    if (pid && !c.principles.some((p) => p.id === pid)) {
      throw new CliError(`${positionals[0]}: no principle '${pid}' (principles: ${c.principles.map((p) => p.id).join(', ') || 'none'})`, 1);
    }
    if (cid && !c.comparisons.some((p) => p.id === cid)) {
      throw new CliError(`${positionals[0]}: no comparison '${cid}' (comparisons: ${c.comparisons.map((p) => p.id).join(', ') || 'none'})`, 1);
    }
    const sel = {
      principle: pid ?? (cid ? undefined : c.principles[0]?.id),
      comparison: cid ?? (pid ? undefined : c.comparisons[0]?.id),
    };
    const p = previewPrompts(c, sel);
    const errors = res.diagnostics.filter((d) => d.severity === 'error').length;
    if (values.json) {
      out(JSON.stringify({ file: displayPath(cwd, file), errors, ...p }, null, 2));
      return 0;
    }
    if (errors) err(`${displayPath(cwd, file)}: ${errors} error${errors === 1 ? '' : 's'} (run cai validate); showing what is valid.`);
    const fewShot = Boolean(values['few-shot']);
    if (p.principle) {
      printPrompt(`critique prompt · principle ${p.principle.id}`, p.principle.critique, fewShot);
      printPrompt(`revision prompt · principle ${p.principle.id}`, p.principle.revision, fewShot);
    }
    if (p.comparison) {
      printPrompt(`comparison prompt · ${p.comparison.id}`, p.comparison.prompt, fewShot);
      out(`answers scored: ${JSON.stringify(p.comparison.continuations.A)} and ${JSON.stringify(p.comparison.continuations.B)}\n`);
      printPrompt(`chain-of-thought comparison prompt · ${p.comparison.id}`, p.comparison.chainOfThought, fewShot);
    }
    if (!p.principle && !p.comparison) err('nothing to preview: the constitution has no principles or comparisons');
    return 0;
  },
};

function formatName(s: string | undefined, usage: string): FormatName {
  if (!s) throw new UsageError(`give a format — usage: ${usage}`);
  if (!(s in FORMATS)) throw new UsageError(`unknown format '${s}' (formats: ${Object.keys(FORMATS).join(', ')})`);
  return s as FormatName;
}

const importCmd: Command = {
  summary: 'Convert constitutions from other tools (anthropic, llm-swarm, langchain) into a constitution file.',
  usage: 'cai import FORMAT PATH -o FILE [--name NAME] [--force]',
  run(args, cwd) {
    const { values, positionals } = parse(args, { output: { type: 'string', short: 'o' }, name: { type: 'string' }, force: { type: 'boolean' } }, this.usage);
    const fmt = formatName(positionals[0], this.usage);
    if (positionals.length !== 2) throw new UsageError(`give a format and one path — usage: ${this.usage}`);
    if (!values.output) throw new UsageError(`-o FILE is required — usage: ${this.usage}`);
    const input = path.resolve(cwd, positionals[1] as string);
    const files: FormatFiles = {};
    const spec = FORMATS[fmt];
    if (spec.input === 'folder') {
      let st: fs.Stats;
      try {
        st = fs.statSync(input);
      } catch {
        throw new CliError(`${positionals[1]}: no such folder`, 2);
      }
      if (!st.isDirectory()) throw new CliError(`${positionals[1]}: the ${fmt} format is a folder holding ${spec.fileNames?.join(', ')}`, 2);
      for (const name of spec.fileNames ?? []) {
        const p = path.join(input, name);
        if (fs.existsSync(p)) files[name] = readText(p);
      }
      if (Object.keys(files).length === 0) throw new CliError(`${positionals[1]}: none of ${spec.fileNames?.join(', ')} is in this folder`, 1);
    } else {
      files[path.basename(input)] = readText(input);
    }
    const output = path.resolve(cwd, values.output as string);
    const schemaPath = path.relative(path.dirname(output), path.join(packageRoot(), 'schemas', 'constitution.schema.json')).split(path.sep).join('/');
    const r = importConstitution(fmt, files, { name: values.name as string | undefined, schemaPath });
    writeText(output, r.text, Boolean(values.force));
    for (const w of r.warnings) err(`warning: ${w}`);
    // an import that does not validate is a bug worth seeing at once
    const res = workspace(cwd).resolve(output);
    const errors = res?.diagnostics.filter((d) => d.severity === 'error') ?? [];
    for (const d of errors) err(`${displayPath(cwd, output)}:${d.range.start.line + 1}:${d.range.start.character + 1}: error ${d.code}: ${d.message}`);
    out(`${displayPath(cwd, output)}: ${res?.constitution.principles.length ?? 0} principles, ${res?.constitution.comparisons.length ?? 0} comparisons imported from ${fmt}`);
    return errors.length ? 1 : 0;
  },
};

const exportCmd: Command = {
  summary: 'Write a constitution in another tool\'s format (anthropic: a folder of five files).',
  usage: 'cai export FORMAT FILE -o PATH [--force]',
  run(args, cwd) {
    const { values, positionals } = parse(args, { output: { type: 'string', short: 'o' }, force: { type: 'boolean' } }, this.usage);
    const fmt = formatName(positionals[0], this.usage);
    if (positionals.length !== 2) throw new UsageError(`give a format and one constitution file — usage: ${this.usage}`);
    if (!values.output) throw new UsageError(`-o PATH is required — usage: ${this.usage}`);
    const file = path.resolve(cwd, positionals[1] as string);
    const res = resolveOrFail(workspace(cwd), file);
    const errors = res.diagnostics.filter((d) => d.severity === 'error');
    if (errors.length) {
      const d = errors[0] as Diagnostic;
      throw new CliError(`${positionals[1]}: ${errors.length} error${errors.length === 1 ? '' : 's'} (first at line ${d.range.start.line + 1}: ${d.message}); fix them before exporting`, 1);
    }
    const files = exportConstitution(fmt, res.constitution);
    const target = path.resolve(cwd, values.output as string);
    if (FORMATS[fmt].input === 'folder') {
      for (const [name, text] of Object.entries(files)) writeText(path.join(target, name), text, Boolean(values.force));
      out(`${displayPath(cwd, target)}: wrote ${Object.keys(files).join(', ')}`);
    } else {
      const text = Object.values(files)[0] ?? '';
      writeText(target, text, Boolean(values.force));
      out(`${displayPath(cwd, target)}: written`);
    }
    return 0;
  },
};

const lsp: Command = {
  summary: 'Run the constitution language server (for any LSP editor).',
  usage: 'cai lsp --stdio',
  async run(args) {
    const { values } = parse(args, { stdio: { type: 'boolean' } }, this.usage);
    if (!values.stdio) throw new UsageError(`only --stdio is supported — usage: ${this.usage}`);
    const { createConnection, ProposedFeatures } = await import('vscode-languageserver/node');
    const { startServer } = await import('../server/server.js');
    startServer(createConnection(ProposedFeatures.all, process.stdin, process.stdout));
    return new Promise<number>(() => undefined); // runs until the client says exit
  },
};

/** The folder holding package.json (dist/cli.js lives one level below it). */
export function packageRoot(): string {
  let dir = __dirname;
  for (let i = 0; i < 4; i++) {
    if (fs.existsSync(path.join(dir, 'package.json'))) return dir;
    dir = path.dirname(dir);
  }
  return path.dirname(__dirname);
}

export const COMMANDS: Record<string, Command> = {
  validate,
  format,
  preview,
  import: importCmd,
  export: exportCmd,
  lsp,
  ...ENGINE_COMMANDS,
  serve: SERVE_COMMAND,
  'export-gguf': EXPORT_GGUF_COMMAND,
  ...RUN_COMMANDS,
  ...CLUSTER_COMMANDS,
};

export { FormatError };
