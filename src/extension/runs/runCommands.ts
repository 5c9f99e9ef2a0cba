import * as fs from 'node:fs';
import * as path from 'node:path';
import * as vscode from 'vscode';
import { isConstitutionFile } from '../../core/constitution/fileNames.js';
import { PROFILE_DESCRIPTIONS, runFileText, runNameFrom, type WizardChoice, type WizardModel, type WizardProfile } from '../../core/runs/wizard.js';
import { runFolderKind } from '../../node/runReader.js';
import { RUN_PANELS, type RunPanelName } from '../panels/index.js';
import type { PanelServices } from '../panels/registry.js';
import type { RunController } from '../training/runController.js';
import type { RunEntry, RunIndex } from './runIndex.js';
import type { RunNode, RunsView } from './runsView.js';

export interface RunServices {
  context: vscode.ExtensionContext;
  index: RunIndex;
  controller: RunController;
  view: () => RunsView | undefined;
}

const RUN_FILES = '**/*.run.{yaml,yml}';
const EXCLUDE = '{**/node_modules/**,**/.git/**}';

/** A run directory from a command argument: a tree node, a path, or a folder URI. */
function runDirOf(arg: unknown): string | undefined {
  if (typeof arg === 'string' && arg) return path.resolve(arg);
  if (arg instanceof vscode.Uri && arg.scheme === 'file') return arg.fsPath;
  if (typeof arg === 'object' && arg !== null && 'run' in arg) return (arg as RunNode).run.dir;
  return undefined;
}

/**
 * The run a panel command is about: the one it was invoked on, else the one selected in the
 * runs view, else the only run, else the user picks (newest first).
 */
export async function pickRun(s: RunServices, arg: unknown, opts: { title: string; filter?: (r: RunEntry) => boolean } = { title: 'Which run?' }): Promise<RunEntry | undefined> {
  const given = runDirOf(arg);
  if (given) {
    const known = s.index.get(given) ?? (await s.index.add(given));
    if (!known) void vscode.window.showErrorMessage(`${given} is not a run folder (no manifest.json or trainer_state.json).`);
    return known;
  }
  const selected = s.view()?.selectedRun();
  if (selected && (!opts.filter || opts.filter(selected))) return selected;
  await s.index.ready();
  const runs = s.index.all().filter((r) => !opts.filter || opts.filter(r));
  if (runs.length === 0) {
    const pick = await vscode.window.showInformationMessage('No runs found in this workspace.', 'Open Run…', 'Start Run');
    if (pick === 'Open Run…') await vscode.commands.executeCommand('constitution.openRun');
    if (pick === 'Start Run') await vscode.commands.executeCommand('constitution.startRun');
    return undefined;
  }
  if (runs.length === 1) return runs[0];
  const pick = await vscode.window.showQuickPick(runItems(runs), { title: opts.title, matchOnDescription: true, matchOnDetail: true });
  return pick?.run;
}

function runItems(runs: RunEntry[]): (vscode.QuickPickItem & { run: RunEntry })[] {
  return runs.map((run) => ({
    label: run.name,
    description: `${run.status === 'trl' ? 'TRL output' : run.status} · ${new Date(run.updated).toLocaleString()}`,
    detail: vscode.workspace.asRelativePath(run.dir),
    run,
  }));
}

export async function showPanel(s: RunServices, name: RunPanelName, arg: unknown, options?: unknown): Promise<void> {
  const kind = RUN_PANELS[name];
  const trlOk = name === 'curves';
  const run = await pickRun(s, arg, { title: `Show which run's ${panelTitle(name)}?`, filter: (r) => trlOk || r.kind === 'run' });
  if (!run) return;
  if (run.kind === 'trl' && !trlOk) {
    void vscode.window.showErrorMessage(`${run.name} is a TRL output folder: only its training curves can be shown.`);
    return;
  }
  const services: PanelServices = { context: s.context, extensionUri: s.context.extensionUri };
  kind.show(services, [run.dir], typeof options === 'object' && options !== null ? (options as Record<string, unknown>) : undefined);
}

function panelTitle(name: RunPanelName): string {
  return { curves: 'training curves', pairs: 'preference pairs', critiques: 'critiques and revisions', pmReport: 'preference model report', completions: 'completions', compare: 'comparison' }[name];
}

export async function compareRuns(s: RunServices, ...args: unknown[]): Promise<void> {
  // invoked on several selected tree items: (clicked, [all selected])
  const many = Array.isArray(args[1]) ? (args[1] as unknown[]).map(runDirOf).filter((d): d is string => Boolean(d)) : [];
  let dirs = many.length >= 2 ? many : [];
  if (dirs.length < 2) {
    await s.index.ready();
    const runs = s.index.all().filter((r) => r.kind === 'run');
    if (runs.length < 2) {
      void vscode.window.showInformationMessage('Comparing needs at least two runs in the workspace (or opened with Open Run…).');
      return;
    }
    // ticking several runs takes a while: a panel that takes the focus meanwhile must not close the pick
    const picks = await vscode.window.showQuickPick(runItems(runs), { title: 'Compare which runs? (two or more)', canPickMany: true, matchOnDetail: true, ignoreFocusOut: true });
    if (!picks) return;
    if (picks.length < 2) {
      void vscode.window.showWarningMessage('Pick at least two runs to compare.');
      return;
    }
    dirs = picks.map((p) => p.run.dir);
  }
  RUN_PANELS.compare.show({ context: s.context, extensionUri: s.context.extensionUri }, dirs);
}

/** "Open Run…": any run folder or TRL output folder, from anywhere on disk. */
export async function openRun(s: RunServices, arg?: unknown): Promise<void> {
  let dir = runDirOf(arg);
  if (!dir) {
    const picked = await vscode.window.showOpenDialog({ canSelectFolders: true, canSelectFiles: false, canSelectMany: false, title: 'Open a run folder (with manifest.json) or a TRL output folder', openLabel: 'Open Run' });
    dir = picked?.[0]?.fsPath;
  }
  if (!dir) return;
  if (!runFolderKind(dir)) {
    void vscode.window.showErrorMessage(`${dir} is neither a run folder (manifest.json) nor a TRL output folder (trainer_state.json).`);
    return;
  }
  const run = await s.index.add(dir);
  if (!run) {
    void vscode.window.showErrorMessage(`${dir}: its manifest.json is not a run manifest (no runId or stages).`);
    return;
  }
  await vscode.commands.executeCommand('constitution.runs.focus');
  await s.view()?.reveal(run.dir);
  await showPanel(s, 'curves', run.dir);
}

export async function stopRun(s: RunServices): Promise<void> {
  await s.controller.stop();
}

export async function resumeRun(s: RunServices, arg: unknown): Promise<void> {
  const run = await pickRun(s, arg, { title: 'Resume which run?', filter: (r) => r.kind === 'run' && r.status !== 'done' && !s.controller.isActive(r.dir) });
  if (!run?.manifest) return;
  if (run.status === 'done') {
    void vscode.window.showInformationMessage(`${run.name} has finished; there is nothing to resume.`);
    return;
  }
  const runFile = run.manifest.configFile;
  if (!fs.existsSync(runFile)) {
    void vscode.window.showErrorMessage(`${run.name} was started from ${runFile}, which no longer exists; a run resumes with its run file.`);
    return;
  }
  await s.controller.start(runFile, { resume: run.dir });
}

export async function revealRun(s: RunServices, arg: unknown): Promise<void> {
  const run = await pickRun(s, arg, { title: 'Reveal which run?' });
  if (run) await vscode.commands.executeCommand('revealFileInOS', vscode.Uri.file(run.dir));
}

/** Writes the labelled pairs (with human reviews applied) for TRL/OpenRLHF, through `cai export-dataset`'s code. */
export async function exportRunDataset(s: RunServices, arg: unknown): Promise<void> {
  const run = await pickRun(s, arg, { title: 'Export the preference pairs of which run?', filter: (r) => r.kind === 'run' });
  if (!run) return;
  const format = await vscode.window.showQuickPick(
    [
      { label: 'trl', description: '{"prompt", "chosen", "rejected", "score"} rows for TRL and OpenRLHF preference trainers' },
      { label: 'hh', description: 'HH-RLHF {"chosen", "rejected"} transcripts' },
    ],
    { title: 'Dataset format' },
  );
  if (!format) return;
  const target = await vscode.window.showSaveDialog({ defaultUri: vscode.Uri.file(path.join(run.dir, `preferences.${format.label}.jsonl`)), filters: { 'JSON Lines': ['jsonl'] }, title: 'Export preference dataset' });
  if (!target) return;
  const cli = vscode.Uri.joinPath(s.context.extensionUri, 'dist', 'cli.js').fsPath;
  const { execFile } = await import('node:child_process');
  await vscode.window.withProgress({ location: vscode.ProgressLocation.Notification, title: `Exporting ${run.name}…` }, () =>
    new Promise<void>((resolve) => {
      // no shell: the arguments go to node as they are
      execFile(process.execPath, [cli, 'export-dataset', run.dir, '--format', format.label, '-o', target.fsPath], { env: { ...process.env, ELECTRON_RUN_AS_NODE: '1' }, maxBuffer: 1 << 20 }, (err, stdout, stderr) => {
        if (err) void vscode.window.showErrorMessage(`Export failed: ${String(stderr).trim() || err.message}`);
        else void vscode.window.showInformationMessage(String(stdout).trim() || `Exported to ${target.fsPath}`, 'Open').then((p) => p && vscode.window.showTextDocument(target));
        resolve();
      });
    }),
  );
}

// --- Start Run ----------------------------------------------------------------------------------

/**
 * "Start Run": the run file it was invoked on or that is open, else a pick of the workspace's run
 * files, or a new run file made from a constitution with a short wizard.
 */
export async function startRun(s: RunServices, arg?: unknown): Promise<void> {
  let runFile: string | undefined;
  if (arg instanceof vscode.Uri && /\.run\.ya?ml$/.test(arg.fsPath)) runFile = arg.fsPath;
  const active = vscode.window.activeTextEditor?.document;
  if (!runFile && active && /\.run\.ya?ml$/.test(active.uri.fsPath) && active.uri.scheme === 'file') {
    if (active.isDirty) await active.save();
    runFile = active.uri.fsPath;
  }
  if (!runFile) {
    const files = await vscode.workspace.findFiles(RUN_FILES, EXCLUDE, 200);
    const constitution = active && isConstitutionFile(active.uri.path) ? active.uri : undefined;
    type Item = vscode.QuickPickItem & { file?: string; wizard?: boolean };
    const items: Item[] = [
      { label: '$(add) New run from a constitution…', description: constitution ? vscode.workspace.asRelativePath(constitution) : undefined, detail: 'Pick a model, prompts and a size; writes a *.run.yaml beside the constitution, then starts it.', wizard: true },
      ...files.map((f) => ({ label: path.basename(f.fsPath), description: vscode.workspace.asRelativePath(path.dirname(f.fsPath)), file: f.fsPath })),
    ];
    const pick = await vscode.window.showQuickPick(items, { title: 'Start which run?', matchOnDescription: true });
    if (!pick) return;
    runFile = pick.wizard ? await runWizard(s, constitution) : pick.file;
  }
  if (!runFile) return;
  await s.controller.start(runFile);
}

async function runWizard(s: RunServices, preferred?: vscode.Uri): Promise<string | undefined> {
  const title = (step: number) => `New run (${step}/4)`;
  let constitution = preferred;
  if (!constitution) {
    const found = await vscode.workspace.findFiles('**/*.constitution.{yaml,yml,json}', EXCLUDE, 200);
    if (found.length === 0) {
      void vscode.window.showWarningMessage('No *.constitution.yaml file in the workspace: write one first (the constitution snippets help).');
      return undefined;
    }
    const pick = found.length === 1 ? { uri: found[0]! } : await vscode.window.showQuickPick(found.map((u) => ({ label: vscode.workspace.asRelativePath(u), uri: u })), { title: `${title(1)}: which constitution?` });
    constitution = pick?.uri;
  }
  if (!constitution) return undefined;
  const dir = path.dirname(constitution.fsPath);

  type ModelItem = vscode.QuickPickItem & { choice: WizardModel['kind'] };
  const modelItems: ModelItem[] = [
    { label: 'Built-in model', description: 'offline, CPU', detail: 'Every role played by the bundled small model (the built-in world\'s assistant).', choice: 'builtin' },
    { label: 'Hugging Face model folder…', detail: 'A local GPT-2/Llama/Qwen2 folder (config.json, safetensors, tokenizer.json) as policy, critic and labeller.', choice: 'folder' },
    { label: 'OpenAI-compatible endpoint…', detail: 'vLLM, Ollama, llama.cpp server or a hosted API as critic and labeller; the built-in model is trained.', choice: 'endpoint' },
    { label: 'GGUF file (llama.cpp)…', detail: 'A local .gguf file as critic and labeller, run by node-llama-cpp.', choice: 'gguf' },
  ];
  const modelPick = await vscode.window.showQuickPick(modelItems, { title: `${title(2)}: which model critiques and labels?` });
  if (!modelPick) return undefined;
  let model: WizardModel | undefined;
  const rel = (p: string) => {
    const r = path.relative(dir, p).split(path.sep).join('/');
    return r.startsWith('..') || path.isAbsolute(r) ? p : r;
  };
  switch (modelPick.choice) {
    case 'builtin':
      model = { kind: 'builtin' };
      break;
    case 'folder': {
      const f = await vscode.window.showOpenDialog({ canSelectFolders: true, canSelectFiles: false, title: 'Hugging Face model folder', defaultUri: vscode.Uri.file(dir) });
      if (!f?.[0]) return undefined;
      model = { kind: 'folder', path: rel(f[0].fsPath) };
      break;
    }
    case 'gguf': {
      const f = await vscode.window.showOpenDialog({ canSelectFiles: true, filters: { GGUF: ['gguf'] }, title: 'GGUF model file', defaultUri: vscode.Uri.file(dir) });
      if (!f?.[0]) return undefined;
      model = { kind: 'gguf', path: rel(f[0].fsPath) };
      break;
    }
    case 'endpoint': {
      const baseUrl = await vscode.window.showInputBox({ title: 'Endpoint base URL', value: 'http://127.0.0.1:8000/v1', prompt: 'The OpenAI-compatible base URL (ending in /v1)', validateInput: (v) => (/^https?:\/\/[^\s]+$/.test(v) ? undefined : 'An http:// or https:// URL') });
      if (!baseUrl) return undefined;
      const name = await vscode.window.showInputBox({ title: 'Model name', prompt: 'The model name the endpoint serves', validateInput: (v) => (v.trim() ? undefined : 'Required') });
      if (!name) return undefined;
      const api = await vscode.window.showQuickPick(['chat', 'completions'], { title: 'API' });
      if (!api) return undefined;
      const local = /^https?:\/\/(127\.0\.0\.1|localhost|\[::1\])[:/]/.test(baseUrl);
      const keyEnv = await vscode.window.showInputBox({ title: 'API key variable', prompt: `Name of the environment variable for the key (stored with "Set Provider API Key"); empty for none${local ? ' (a local server usually needs none)' : ''}`, value: local ? '' : 'OPENAI_API_KEY', validateInput: (v) => (v === '' || /^[A-Za-z_][A-Za-z0-9_]*$/.test(v) ? undefined : 'Letters, digits and _ only') });
      if (keyEnv === undefined) return undefined;
      model = { kind: 'endpoint', baseUrl, model: name.trim(), api: api as 'chat' | 'completions', ...(keyEnv ? { apiKeyEnv: keyEnv } : {}) };
      break;
    }
  }
  if (!model) return undefined;

  const worldData = vscode.Uri.joinPath(s.context.extensionUri, 'examples', 'world', 'data');
  const hasWorld = fs.existsSync(worldData.fsPath);
  type DataItem = vscode.QuickPickItem & { world: boolean };
  const dataItems: DataItem[] = [
    ...(hasWorld ? [{ label: 'Built-in world prompts', detail: 'Red-team and helpfulness prompts of the built-in world with its held-out evaluation and oracle, copied into cai-data/ beside the run file.', world: true }] : []),
    { label: 'A red-team prompts file…', detail: 'JSONL with a "prompt" (or "text") field per line, or HH-RLHF transcripts.', world: false },
  ];
  const dataPick = await vscode.window.showQuickPick(dataItems, { title: `${title(3)}: which prompts?` });
  if (!dataPick) return undefined;
  let data: WizardChoice['data'];
  if (dataPick.world) {
    const target = path.join(dir, 'cai-data');
    if (!fs.existsSync(target)) fs.cpSync(worldData.fsPath, target, { recursive: true });
    const f = (n: string) => `cai-data/${n}`;
    data = { redTeam: f('red-team.jsonl'), helpfulness: f('helpful.jsonl'), pmp: f('pmp.jsonl'), helpfulnessPairs: f('helpful-pairs.jsonl'), evalPairs: f('eval-pairs.jsonl'), evalPrompts: f('eval-prompts.jsonl'), hhh: f('hhh.jsonl') };
  } else {
    const f = await vscode.window.showOpenDialog({ canSelectFiles: true, filters: { 'JSON Lines': ['jsonl', 'json', 'gz'] }, title: 'Red-team prompts', defaultUri: vscode.Uri.file(dir) });
    if (!f?.[0]) return undefined;
    data = { redTeam: rel(f[0].fsPath) };
  }

  const profilePick = await vscode.window.showQuickPick(
    (['smoke', 'demo', 'full'] as WizardProfile[]).map((p) => ({ label: p, detail: PROFILE_DESCRIPTIONS[p], profile: p })),
    { title: `${title(4)}: how big a run?` },
  );
  if (!profilePick) return undefined;

  const name = runNameFrom(path.basename(constitution.fsPath));
  let file = path.join(dir, `${name}.run.yaml`);
  for (let i = 2; fs.existsSync(file); i++) file = path.join(dir, `${name}-${i}.run.yaml`);
  const text = runFileText({ name, constitution: rel(constitution.fsPath), model, data, profile: profilePick.profile, seed: 1, world: dataPick.world });
  fs.writeFileSync(file, text);
  await vscode.window.showTextDocument(vscode.Uri.file(file), { preview: false });
  return file;
}
