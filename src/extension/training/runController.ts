import * as fs from 'node:fs';
import * as path from 'node:path';
import * as vscode from 'vscode';
import { parseRunConfig, type RunConfig } from '../../core/runs/config.js';
import { RunSession, type SessionEnd, type SessionState } from '../../node/runSession.js';
import type { BackendChoice, ProgressParams } from '../../protocol/trainer.js';
import { setting } from '../config.js';
import { apiKeyEnvironment } from './secrets.js';

const STAGE_TITLES: Record<string, string> = {
  critique: 'critique → revision',
  sft: 'SL-CAI finetune',
  pairs: 'sampling pairs',
  feedback: 'AI feedback',
  pm: 'preference model',
  ppo: 'PPO',
  eval: 'evaluation',
};
const STAGE_ORDER = ['critique', 'sft', 'pairs', 'feedback', 'pm', 'ppo', 'eval'];

/** What the runs view shows of the run being supervised. */
export interface ActiveRun {
  runFile: string;
  name: string;
  runDir?: string;
  state: SessionState;
  stage?: string;
  step?: number;
  totalSteps?: number;
}

/** The trainer's own log in the Output panel ("Constitution Trainer"). */
export const trainerLog = vscode.window.createOutputChannel('Constitution Trainer', { log: true });

/**
 * Starts, follows and stops pipeline runs from the editor. The training happens in a forked
 * trainer process (src/node/runSession.ts); here its events become a cancellable progress
 * notification, a status bar item, the trainer log, and a message at the end with what to do
 * next. One run at a time: a second start is refused with a pointer to the running one.
 */
export class RunController implements vscode.Disposable {
  private session: RunSession | undefined;
  private current: ActiveRun | undefined;
  /** Settles once the active session has ended and the state above is cleared. */
  private ending: Promise<unknown> | undefined;
  private readonly status: vscode.StatusBarItem;
  private readonly emitter = new vscode.EventEmitter<ActiveRun | undefined>();
  /** Fires when the active run starts, makes progress, or ends (undefined). */
  readonly onDidChange = this.emitter.event;

  constructor(
    private readonly context: vscode.ExtensionContext,
    private readonly hooks: { runDirKnown?: (dir: string) => void; ended?: (end: SessionEnd, run: ActiveRun) => void } = {},
  ) {
    this.status = vscode.window.createStatusBarItem('constitution.run', vscode.StatusBarAlignment.Left, 50);
    this.status.name = 'Constitution Run';
    this.status.command = 'constitution.showTrainerLog';
  }

  get active(): ActiveRun | undefined {
    return this.current;
  }

  /** Whether `dir` is the run being supervised now. */
  isActive(dir: string): boolean {
    return this.current?.runDir !== undefined && path.resolve(this.current.runDir) === path.resolve(dir);
  }

  /**
   * Starts a run of `runFile` (a new run, or `resume`: continue that run directory). Refused in
   * Restricted Mode, while another run is going, and for a run file that does not parse (its
   * first error is shown with file and line; nothing is started).
   */
  async start(runFile: string, opts: { resume?: string } = {}): Promise<void> {
    if (!vscode.workspace.isTrusted) {
      void vscode.window.showErrorMessage('Starting a run needs a trusted workspace: training runs code and calls model endpoints. Trust this folder (Manage Workspace Trust) to start runs; in Restricted Mode runs can still be viewed.');
      return;
    }
    if (this.session) {
      const pick = await vscode.window.showWarningMessage(`A run is already going (${this.current?.name}). Stop it before starting another.`, 'Show Log', 'Stop It');
      if (pick === 'Show Log') trainerLog.show(true);
      if (pick === 'Stop It') await this.stop();
      return;
    }
    let config: RunConfig;
    try {
      config = this.readConfig(runFile);
    } catch (e) {
      await this.showConfigError((e as Error).message, runFile);
      return;
    }
    const env = await apiKeyEnvironment(this.context, config);
    if (!env) return; // the user cancelled entering a key
    const backendSetting = setting('constitution.training.backend');
    const backend = (backendSetting === 'runConfig' ? config.backend : backendSetting) as BackendChoice;
    const pkg = this.context.extension.packageJSON as { version?: string };
    const run: ActiveRun = { runFile, name: config.name, state: 'starting', ...(opts.resume ? { runDir: opts.resume } : {}) };
    this.current = run;
    trainerLog.info(`${opts.resume ? 'resuming' : 'starting'} ${runFile}${opts.resume ? ` in ${opts.resume}` : ''} (backend ${backend})`);
    const session = new RunSession(
      {
        trainerEntry: vscode.Uri.joinPath(this.context.extensionUri, 'dist', 'trainer.js').fsPath,
        runFile,
        ...(opts.resume ? { resume: opts.resume } : {}),
        backend,
        studioVersion: pkg.version ?? '0.0.0',
        env,
        maxRestarts: setting('constitution.training.maxRestarts'),
        stopTimeoutMs: setting('constitution.training.stopTimeoutSeconds') * 1000,
      },
      {
        onLog: (e) => {
          const line = e.source === 'trainer' ? e.message : `[${e.source}] ${e.message}`;
          if (e.level === 'error') trainerLog.error(line);
          else if (e.level === 'warn') trainerLog.warn(line);
          else if (e.level === 'debug' || e.level === 'trace') trainerLog.debug(line);
          else trainerLog.info(line);
        },
        onBackend: (r) => trainerLog.info(`backend ${r.backend}: ${r.reason}`),
        onRunDir: (dir) => {
          run.runDir = dir;
          this.hooks.runDirKnown?.(dir);
          this.changed();
        },
        onState: (state, detail) => {
          run.state = state;
          if (state === 'restarting') {
            trainerLog.warn(detail ?? 'restarting the trainer');
            void vscode.window.showWarningMessage(`Run ${run.name}: the trainer stopped unexpectedly; ${detail?.split(' — ')[1] ?? 'restarting it'}.`);
          }
          this.changed();
        },
        onProgress: (p) => this.progressed(run, p),
      },
    );
    this.session = session;
    this.changed();
    // the command returns once the trainer is started; supervising goes on in the background
    void this.supervise(session, run, config.name);
  }

  /** The progress notification while the run goes, then what to do next as its own message. */
  private async supervise(session: RunSession, run: ActiveRun, name: string): Promise<void> {
    // the state is cleared as soon as the session ends, before any message, so that Stop Run
    // resolving means another run (or Resume) can start at once
    const ended = session.whenDone().then((end) => {
      this.ended(end, run);
      return end;
    });
    this.ending = ended;
    await vscode.window.withProgress(
      { location: vscode.ProgressLocation.Notification, title: `Constitution run ${name}`, cancellable: true },
      async (progress, token) => {
        let reported = 0;
        const sub = this.onDidChange((a) => {
          if (!a) return;
          const overall = overallFraction(a);
          const increment = Math.max(0, overall * 100 - reported);
          reported += increment;
          progress.report({ message: describe(a), increment });
        });
        token.onCancellationRequested(() => void this.stop());
        try {
          await ended;
        } finally {
          sub.dispose();
        }
      },
    );
    // the notification closes first; what to do next comes as its own message
    await this.finished(await ended, run);
  }

  /** Stops the active run with a checkpoint (then SIGTERM, then SIGKILL after the timeout). */
  async stop(): Promise<void> {
    const s = this.session;
    if (!s) {
      void vscode.window.showInformationMessage('No run is going.');
      return;
    }
    trainerLog.info('stop requested: the run finishes its step, writes a checkpoint and exits');
    await vscode.window.withProgress({ location: vscode.ProgressLocation.Window, title: 'Stopping the run…' }, () => s.stop());
    await this.ending;
  }

  private readConfig(runFile: string): RunConfig {
    let text: string;
    try {
      text = fs.readFileSync(runFile, 'utf8');
    } catch (e) {
      throw new Error(`${runFile}: ${(e as Error).message}`, { cause: e });
    }
    const { config, diagnostics } = parseRunConfig(text, runFile);
    const errors = diagnostics.filter((d) => d.severity === 'error');
    if (!config || errors.length) {
      const d = errors[0];
      throw new Error(d ? `${runFile}:${d.range.start.line + 1}:${d.range.start.character + 1}: ${d.message}${errors.length > 1 ? ` (and ${errors.length - 1} more)` : ''}` : `${runFile}: not a run configuration`);
    }
    return config;
  }

  /** A bad run file: the error names file:line:column; "Open" goes there. */
  private async showConfigError(message: string, runFile: string): Promise<void> {
    trainerLog.error(message);
    const pick = await vscode.window.showErrorMessage(`Run not started: ${message}`, 'Open Run File');
    if (pick) await openAt(message, runFile);
  }

  private progressed(run: ActiveRun, p: ProgressParams): void {
    run.stage = p.stage;
    run.step = p.step;
    if (p.totalSteps !== undefined) run.totalSteps = p.totalSteps;
    else delete run.totalSteps;
    this.changed();
  }

  private changed(): void {
    const a = this.current;
    if (a && this.session) {
      const spin = a.state === 'stopping' || a.state === 'restarting' ? '$(loading~spin)' : '$(sync~spin)';
      this.status.text = `${spin} ${a.name}${a.stage ? ` · ${a.stage}${a.step !== undefined && a.totalSteps ? ` ${a.step}/${a.totalSteps}` : ''}` : ''}`;
      this.status.tooltip = `Constitution run ${a.name}: ${describe(a)}\n${a.runDir ?? a.runFile}\nClick for the trainer log.`;
      this.status.show();
    } else this.status.hide();
    this.emitter.fire(a && this.session ? a : undefined);
  }

  private ended(end: SessionEnd, run: ActiveRun): void {
    this.session = undefined;
    this.current = undefined;
    this.ending = undefined;
    this.changed();
    this.hooks.ended?.(end, run);
  }

  private async finished(end: SessionEnd, run: ActiveRun): Promise<void> {
    const where = end.runDir ?? run.runFile;
    if (end.outcome === 'completed') {
      trainerLog.info(`run ${run.name} completed: ${where}`);
      const pick = await vscode.window.showInformationMessage(`Run ${run.name} finished.`, 'Show Curves', 'Show Pairs', 'Reveal Folder');
      if (pick === 'Show Curves') await vscode.commands.executeCommand('constitution.showCurves', end.runDir);
      if (pick === 'Show Pairs') await vscode.commands.executeCommand('constitution.showPairs', end.runDir);
      if (pick === 'Reveal Folder') await vscode.commands.executeCommand('constitution.revealRun', end.runDir);
      return;
    }
    if (end.outcome === 'stopped') {
      trainerLog.info(`run ${run.name} stopped at a checkpoint: ${where}`);
      const pick = await vscode.window.showInformationMessage(`Run ${run.name} stopped at a checkpoint. Resume continues where it left off.`, 'Resume');
      if (pick === 'Resume' && end.runDir) await this.start(run.runFile, { resume: end.runDir });
      return;
    }
    const err = end.error;
    trainerLog.error(`run ${run.name} failed${err ? ` (${err.code})` : ''}: ${err?.message ?? 'unknown error'}`);
    if (err?.code === 'config') {
      await this.showConfigError(err.message, run.runFile);
      return;
    }
    const actions = end.resumable && end.runDir ? ['Resume', 'Show Log'] : ['Show Log'];
    const why = err?.code === 'nonfinite' ? ' (the loss or gradients became NaN/Infinity: lower the learning rate or check the data; resuming would fail the same way)' : end.restarts ? ` after ${end.restarts} restart${end.restarts > 1 ? 's' : ''}` : '';
    const pick = await vscode.window.showErrorMessage(`Run ${run.name} failed${why}: ${err?.message ?? 'unknown error'}`, ...actions);
    if (pick === 'Show Log') trainerLog.show(true);
    if (pick === 'Resume' && end.runDir) await this.start(run.runFile, { resume: end.runDir });
  }

  dispose(): void {
    // the window is closing: the run stops at a checkpoint (resumable), the trainer does not outlive us
    void this.session?.stop();
    this.status.dispose();
    this.emitter.dispose();
  }
}

/** "PPO 5/16 (31 %)" */
export function describe(a: ActiveRun): string {
  if (a.state === 'stopping') return 'stopping at a checkpoint…';
  if (a.state === 'restarting') return 'restarting the trainer…';
  if (!a.stage || a.stage === 'start') return 'starting…';
  const title = STAGE_TITLES[a.stage] ?? a.stage;
  if (a.totalSteps) return `${title} ${a.step ?? 0}/${a.totalSteps} (${Math.round(((a.step ?? 0) / a.totalSteps) * 100)} %)`;
  return `${title}${a.step ? ` ${a.step}` : ''}`;
}

function overallFraction(a: ActiveRun): number {
  const i = STAGE_ORDER.indexOf(a.stage ?? '');
  if (i < 0) return 0;
  const within = a.totalSteps ? Math.min(1, (a.step ?? 0) / a.totalSteps) : 0;
  return (i + within) / STAGE_ORDER.length;
}

/** Opens the file named by a `file:line:col: message` error at that place (else the run file). */
async function openAt(message: string, fallback: string): Promise<void> {
  const m = /^(.*?):(\d+):(\d+): /.exec(message);
  const file = m && fs.existsSync(m[1]!) ? m[1]! : fallback;
  const doc = await vscode.workspace.openTextDocument(vscode.Uri.file(file));
  const pos = m ? new vscode.Position(Number(m[2]) - 1, Number(m[3]) - 1) : new vscode.Position(0, 0);
  await vscode.window.showTextDocument(doc, { selection: new vscode.Range(pos, pos) });
}
