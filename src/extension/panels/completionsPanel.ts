import type * as vscode from 'vscode';
import { normalisePpoSample, PpoIndex, type PpoSample, type StepSummary } from '../../core/runs/compare.js';
import { JsonlTail, readRecordAt, resolveInRun } from '../../node/runReader.js';
import {
  COMPLETIONS_LIMIT,
  type CompletionSample,
  type CompletionsHostToPage,
  type CompletionsPageToHost,
  type StepSummaryWire,
} from '../../protocol/panels/completions.js';
import type { PanelServices, RunPanelKind } from './registry.js';
import { createRunWebviewPanel, eachRunDir, restoreOrDispose, objectPayload, RunPanel, runDirsOf, runName, warnBadLines } from './runPanel.js';

export const COMPLETIONS_VIEW_TYPE = 'constitution.completions';
const FILE = 'samples.jsonl';

const fin = (n: number): number | null => (Number.isFinite(n) ? n : null);

export function stepWire(s: StepSummary): StepSummaryWire {
  return { step: s.step, count: s.count, mean: fin(s.mean), min: fin(s.min), max: fin(s.max), meanKl: fin(s.meanKl) };
}

/**
 * "Completions over training" of one run: PPO rollouts of samples.jsonl indexed by step and by
 * prompt (byte offsets only; a step's or a prompt's records are read when the page asks), each
 * step's reward summary, followed while the run trains.
 */
class CompletionsPanel extends RunPanel<CompletionsHostToPage, CompletionsPageToHost> {
  private readonly file: string;
  private readonly index = new PpoIndex();
  private tail: JsonlTail | undefined;
  private loaded = false;
  private badLines = 0;
  private step: number | undefined;

  static show(services: PanelServices, runDir: string, step?: number): void {
    const existing = CompletionsPanel.revealOpen(runDir);
    if (existing) {
      if (step !== undefined) {
        existing.step = step;
        existing.sendAll();
      }
      return;
    }
    new CompletionsPanel(createRunWebviewPanel(COMPLETIONS_VIEW_TYPE, `Completions: ${runName(runDir)}`), services, runDir, step);
  }

  constructor(panel: vscode.WebviewPanel, services: PanelServices, readonly runDir: string, step?: number) {
    super(panel, services, { key: runDir, bundle: 'completions', title: 'Completions' });
    this.step = step;
    this.file = resolveInRun(runDir, FILE);
    panel.title = `Completions: ${runName(runDir)}`;
    this.disposables.push({ dispose: () => this.tail?.dispose() });
    this.startTail();
  }

  private startTail(): void {
    this.tail = new JsonlTail(
      this.file,
      (batch) => {
        const touched = new Set<number>();
        for (const b of batch) {
          const s = normalisePpoSample(b.record);
          if (s && this.index.add(s, b.offset)) touched.add(s.step);
        }
        if (this.listening && touched.size) this.sendSteps([...touched]);
      },
      {
        onReset: () => {
          this.index.clear();
          this.badLines = 0;
          if (this.listening) this.post({ type: 'completions/reset', payload: {} });
        },
        onBad: (bad) => {
          this.badLines += bad.length;
          warnBadLines(FILE, this.runDir, bad);
        },
      },
    );
    this.tail.start().then(
      () => {
        this.loaded = true;
        if (this.listening) this.sendSteps([]);
      },
      (e: Error) => this.post({ type: 'completions/error', payload: { message: `${FILE}: ${e.message}` } }),
    );
  }

  private sendSteps(steps: number[]): void {
    const summaries = steps.sort((a, b) => a - b).flatMap((s) => {
      const x = this.index.stats.summary(s);
      return x ? [stepWire(x)] : [];
    });
    this.post({ type: 'completions/steps', payload: { steps: summaries, samples: this.index.samples, loaded: this.loaded, badLines: this.badLines } });
  }

  private sendAll(): void {
    this.post({ type: 'completions/init', payload: { runDir: this.runDir, runName: runName(this.runDir), ...(this.step !== undefined ? { step: this.step } : {}) } });
    this.step = undefined;
    this.post({ type: 'completions/steps', payload: { steps: this.index.stats.summaries().map(stepWire), samples: this.index.samples, loaded: this.loaded, badLines: this.badLines } });
  }

  protected override onReady(): void {
    super.onReady();
    this.sendAll();
  }

  protected parse(m: { type: string } & Record<string, unknown>): CompletionsPageToHost | undefined {
    const payload = objectPayload(m);
    if (!payload) return undefined;
    switch (m.type) {
      case 'completions/requestStep': {
        const step = payload['step'];
        return typeof step === 'number' && Number.isFinite(step) ? { type: 'completions/requestStep', payload: { step } } : undefined;
      }
      case 'completions/requestPrompt': {
        const key = payload['key'];
        return typeof key === 'string' && key.length > 0 && key.length <= 100_000 ? { type: 'completions/requestPrompt', payload: { key } } : undefined;
      }
      default:
        return undefined;
    }
  }

  /** The records at these offsets, as the page shows them (unreadable ones left out). */
  private async samplesAt(offsets: readonly number[]): Promise<CompletionSample[]> {
    const out: CompletionSample[] = [];
    for (const o of offsets.slice(0, COMPLETIONS_LIMIT)) {
      let s: PpoSample | undefined;
      try {
        s = normalisePpoSample(await readRecordAt(this.file, o));
      } catch {
        s = undefined;
      }
      if (!s) continue;
      const key = PpoIndex.promptOf(s);
      out.push({ id: s.id, step: s.step, prompt_id: s.prompt_id, prompt: s.prompt, response: s.response, score: fin(s.score), kl: fin(s.kl), key, promptSteps: this.index.promptSteps(key) });
    }
    return out;
  }

  protected async onMessage(m: CompletionsPageToHost): Promise<void> {
    switch (m.type) {
      case 'completions/requestStep': {
        const offsets = this.index.stepOffsets(m.payload.step);
        this.post({ type: 'completions/step', payload: { step: m.payload.step, samples: await this.samplesAt(offsets), total: offsets.length } });
        break;
      }
      case 'completions/requestPrompt': {
        const offsets = this.index.promptOffsets(m.payload.key);
        const samples = (await this.samplesAt(offsets)).sort((a, b) => a.step - b.step);
        this.post({ type: 'completions/prompt', payload: { key: m.payload.key, samples, total: offsets.length } });
        break;
      }
      case 'ready':
        break;
    }
  }
}

export const completionsPanel: RunPanelKind = {
  viewType: COMPLETIONS_VIEW_TYPE,
  /** One panel per run. `options`: `{step?: number}` shows that PPO step. */
  show(services, runDirs, options) {
    const step = typeof options?.['step'] === 'number' && Number.isFinite(options['step']) ? options['step'] : undefined;
    eachRunDir('Completions', runDirs, (dir) => CompletionsPanel.show(services, dir, step));
  },
  restore(services, panel, state) {
    restoreOrDispose(panel, runDirsOf(state), (dirs) => new CompletionsPanel(panel, services, dirs[0]!));
  },
};
