import * as fs from 'node:fs';
import * as path from 'node:path';
import * as vscode from 'vscode';
import { exportPair, isReviewRecord, pairContains, pairDetail, PairIndex, type DatasetFormat, type ReviewStatus } from '../../core/runs/pairs.js';
import type { Manifest, PairRecord } from '../../core/runs/records.js';
import {
  parsePairsPageMessage,
  parsePairsPanelState,
  type PairsBadLine,
  type PairsHostToPage,
  type PairsPageToHost,
  type PairsRunInfo,
} from '../../protocol/panels/pairs.js';
import { appendReview, reviewStatuses } from '../../node/reviews.js';
import { JsonlTail, readManifest, readRecordAt, REVIEWS, resolveInRun, runStatus, scanJsonl, type BadLine } from '../../node/runReader.js';
import { log } from '../log.js';
import type { PanelServices, RunPanelKind } from './registry.js';
import { createRunWebviewPanel, RunPanel } from './runPanel.js';

export const PAIRS_VIEW_TYPE = 'constitution.pairs';
const PAIRS = 'pairs.jsonl';

/** Ids a full-text search returns at most (the page filters by them). */
const MAX_SEARCH_IDS = 200_000;

/** The run facts the page shows: id, status, labeller, clamp. */
function runInfo(runDir: string, m: Manifest): PairsRunInfo {
  const config = m.config as Partial<Manifest['config']> | undefined;
  const feedback = config?.stages?.feedback;
  const role = config?.roles?.feedback;
  const model = role !== undefined ? config?.models?.[role] : undefined;
  const clamp = feedback?.chainOfThought && Array.isArray(feedback.clamp) && feedback.clamp.length === 2 && feedback.clamp.every((x) => typeof x === 'number') ? ([feedback.clamp[0], feedback.clamp[1]] as [number, number]) : null;
  return {
    runDir,
    runId: typeof m.runId === 'string' ? m.runId : path.basename(runDir),
    status: runStatus(m),
    labeller: typeof role === 'string' ? (model ? `${role} (${model.provider}: ${model.model})` : role) : null,
    bothOrders: typeof feedback?.bothOrders === 'boolean' ? feedback.bothOrders : null,
    clamp,
    ...(vscode.workspace.isTrusted ? {} : { readOnly: true }),
  };
}

/** What the panel answers in Restricted Mode to a review or an export, which would write files. */
export const READ_ONLY_NOTICE = 'Restricted Mode: this panel is read-only. Reviews and exports write files, so they need a trusted workspace.';

/**
 * "Preference Pairs": the labelled pairs of one run in a virtualised table, with filters,
 * per-principle aggregates, a side-by-side detail view and human review of the labels. The host
 * reads pairs.jsonl in batches of light rows (texts stay on disk; a pair's record is read again
 * by its byte offset when the page asks for it), follows both files while the run trains, and is
 * the only writer of reviews.jsonl.
 */
class PairsPanel extends RunPanel<PairsHostToPage, PairsPageToHost> {
  private index = new PairIndex();
  private tails: JsonlTail[] = [];
  private reviewTail: JsonlTail | undefined;
  private generation = 0;
  private search: AbortController | undefined;
  private readonly pairsFile: string;

  constructor(
    panel: vscode.WebviewPanel,
    services: PanelServices,
    readonly runDir: string,
    private select: string | undefined,
  ) {
    super(panel, services, { key: runDir, bundle: 'pairs', title: 'Preference Pairs' });
    this.pairsFile = path.join(runDir, PAIRS);
    panel.title = `Pairs: ${path.basename(runDir)}`;
    this.disposables.push(
      { dispose: () => this.stop() },
      // trusting the folder makes the panel editable: start again with the new run info
      vscode.workspace.onDidGrantWorkspaceTrust(() => void this.start().catch(() => undefined)),
    );
  }

  /** The page reloads when shown again (no retained context): stop reading while it is hidden; `ready` starts again. */
  protected override onHidden(): void {
    this.stop();
  }

  /** Selects a pair: now when the page is showing the run, and (if the page is still loading) once it starts. */
  selectPair(pairId: string): void {
    this.select = pairId;
    this.post({ type: 'pairs/select', payload: { pairId } });
  }

  protected override onReady(): void {
    super.onReady();
    void this.start().catch((e: Error) => this.post({ type: 'pairs/notice', payload: { message: e.message, error: true, fatal: true } }));
  }

  private stop(): void {
    this.generation++;
    for (const t of this.tails.splice(0)) t.dispose();
    this.reviewTail = undefined;
    this.search?.abort();
  }

  /** (Re)reads the run from the start: the page forgets what it had. */
  private async start(): Promise<void> {
    this.stop();
    const gen = this.generation;
    let manifest: Manifest | undefined;
    try {
      manifest = readManifest(this.runDir);
    } catch (e) {
      this.post({ type: 'pairs/notice', payload: { message: (e as Error).message, error: true, fatal: true } });
      return;
    }
    if (!manifest) {
      this.post({ type: 'pairs/notice', payload: { message: `${this.runDir} is not a run directory (no manifest.json), or it was removed.`, error: true, fatal: true } });
      return;
    }
    const run = runInfo(this.runDir, manifest);
    this.index = new PairIndex({ clamp: run.clamp });
    const select = this.select;
    this.select = undefined;
    this.post({ type: 'pairs/init', payload: { run, ...(select ? { select } : {}) } });

    // Reviews first, so rows arrive with their status known.
    const reviews = new JsonlTail(
      path.join(this.runDir, REVIEWS),
      (recs) => {
        const reviews = recs.map((r) => r.record).filter(isReviewRecord).map((r) => ({ pair_id: r.pair_id, decision: r.decision }));
        if (reviews.length) this.post({ type: 'pairs/reviews', payload: { reviews, reset: false } });
      },
      { onReset: () => this.post({ type: 'pairs/reviews', payload: { reviews: [], reset: true } }), onBad: (bad) => this.reportBad(REVIEWS, bad) },
    );
    this.tails.push(reviews);
    this.reviewTail = reviews;
    await reviews.start();
    if (gen !== this.generation) return;

    const started = Date.now();
    let initial = true;
    const bad: PairsBadLine[] = [];
    const pairs = new JsonlTail(
      this.pairsFile,
      (recs) => {
        const rows = this.index.add(recs);
        if (rows.length) this.post({ type: 'pairs/rows', payload: { rows, live: !initial } });
      },
      {
        // rewritten (shorter than before): read it again from the start
        onReset: () => setTimeout(() => gen === this.generation && void this.start(), 0),
        onBad: (b) => {
          if (initial) bad.push(...b.map((x) => ({ line: x.line, error: x.error })));
          else this.reportBad(PAIRS, b);
        },
      },
    );
    this.tails.push(pairs);
    await pairs.start();
    if (gen !== this.generation) return;
    initial = false;
    this.post({ type: 'pairs/indexed', payload: { count: this.index.size, ms: Date.now() - started, bad: bad.slice(0, 20), invalid: this.index.invalid } });
  }

  private reportBad(file: string, bad: BadLine[]): void {
    const first = bad[0];
    if (!first) return;
    this.post({ type: 'pairs/notice', payload: { message: `${file}:${first.line}: ${first.error}${bad.length > 1 ? ` (and ${bad.length - 1} more lines)` : ''}`, error: true } });
  }

  protected parse(m: { type: string } & Record<string, unknown>): PairsPageToHost | undefined {
    return parsePairsPageMessage(m);
  }

  protected async onMessage(m: PairsPageToHost): Promise<void> {
    switch (m.type) {
      case 'pairs/open':
        // the page is showing the pair it was asked to select: a later restart need not select it again
        if (m.payload.pairId === this.select) this.select = undefined;
        return this.openPair(m.payload.pairId);
      case 'pairs/review': {
        if (!vscode.workspace.isTrusted) {
          this.post({ type: 'pairs/notice', payload: { message: READ_ONLY_NOTICE, error: true } });
          return;
        }
        const { pairId, decision } = m.payload;
        if (!this.index.has(pairId)) {
          this.post({ type: 'pairs/notice', payload: { message: 'That pair is not in this run; the review was not stored.', error: true } });
          return;
        }
        try {
          await appendReview(this.runDir, { pair_id: pairId, decision });
        } catch (e) {
          this.post({ type: 'pairs/notice', payload: { message: `The review could not be stored: ${(e as Error).message}`, error: true } });
          return;
        }
        // The page hears the decision back from the file, in file order.
        await this.reviewTail?.poll();
        return;
      }
      case 'pairs/search':
        return this.fullTextSearch(m.payload.query);
      case 'pairs/export':
        if (!vscode.workspace.isTrusted) {
          this.post({ type: 'pairs/notice', payload: { message: READ_ONLY_NOTICE, error: true } });
          return;
        }
        return this.exportDataset();
      case 'ready':
        return;
    }
  }

  private async openPair(pairId: string): Promise<void> {
    const offset = this.index.offsetOf(pairId);
    if (offset === undefined) {
      this.post({ type: 'pairs/detailError', payload: { pairId, message: 'This pair is not in the run (the file may have changed).' } });
      return;
    }
    try {
      const pair = pairDetail(await readRecordAt(resolveInRun(this.runDir, PAIRS), offset));
      if (!pair || pair.id !== pairId) throw new Error('pairs.jsonl changed since it was read; reopen the panel');
      this.post({ type: 'pairs/detail', payload: { pair } });
    } catch (e) {
      this.post({ type: 'pairs/detailError', payload: { pairId, message: (e as Error).message } });
    }
  }

  private async fullTextSearch(query: string): Promise<void> {
    this.search?.abort();
    const needle = query.trim().toLowerCase();
    if (needle === '') {
      this.post({ type: 'pairs/searchResult', payload: { query, ids: [] } });
      return;
    }
    const ac = (this.search = new AbortController());
    const ids: string[] = [];
    await scanJsonl(this.pairsFile, (batch) => {
      for (const { record } of batch) {
        if (ids.length < MAX_SEARCH_IDS && pairContains(record, needle)) ids.push((record as { id: string }).id);
      }
    }, { signal: ac.signal });
    if (!ac.signal.aborted) this.post({ type: 'pairs/searchResult', payload: { query, ids } });
  }

  private async exportDataset(): Promise<void> {
    const pick = await vscode.window.showQuickPick(
      [
        { label: 'TRL preference rows', description: '{prompt, chosen, rejected, score, id, principle, review}', format: 'trl' as DatasetFormat },
        { label: 'HH-RLHF transcripts', description: '{chosen, rejected}', format: 'hh' as DatasetFormat },
      ],
      { title: 'Export the labelled pairs (reviews applied)' },
    );
    if (!pick) return;
    const target = await vscode.window.showSaveDialog({
      defaultUri: vscode.Uri.file(path.join(path.dirname(this.runDir), `${path.basename(this.runDir)}-${pick.format}.jsonl`)),
      filters: { 'JSON Lines': ['jsonl'] },
      title: 'Export dataset',
    });
    if (!target) return;
    const { statuses } = await reviewStatuses(this.runDir);
    const counts = await writeDataset(this.pairsFile, statuses, pick.format, target.fsPath);
    const message = `${counts.written} pairs written to ${target.fsPath}${counts.flagged ? `; ${counts.flagged} flagged pairs left out` : ''}${counts.ties ? `; ${counts.ties} with P(A) = 0.5 left out` : ''}.`;
    this.post({ type: 'pairs/notice', payload: { message, error: false } });
    void vscode.window.showInformationMessage(message);
  }

  override dispose(): void {
    this.stop();
    super.dispose();
  }
}

/** Streams pairs.jsonl into a dataset file with the reviews applied (as `cai export-dataset` does). */
async function writeDataset(pairsFile: string, statuses: ReadonlyMap<string, ReviewStatus>, format: DatasetFormat, file: string): Promise<{ written: number; ties: number; flagged: number }> {
  const tmp = `${file}.${process.pid}.tmp`;
  const out = fs.createWriteStream(tmp);
  const seen = new Set<string>();
  const counts = { written: 0, ties: 0, flagged: 0 };
  try {
    await scanJsonl<PairRecord>(pairsFile, async (batch) => {
      const lines: string[] = [];
      for (const { record } of batch) {
        const p = pairDetail(record);
        if (!p || seen.has(p.id)) continue;
        seen.add(p.id);
        const r = exportPair(p, statuses.get(p.id), format);
        if ('row' in r) {
          lines.push(JSON.stringify(r.row));
          counts.written++;
        } else if (r.skipped === 'flagged') counts.flagged++;
        else counts.ties++;
      }
      if (lines.length && !out.write(`${lines.join('\n')}\n`)) await new Promise<void>((r) => out.once('drain', () => r()));
    });
    await new Promise<void>((resolve, reject) => out.end((e?: Error | null) => (e ? reject(e) : resolve())));
    await fs.promises.rename(tmp, file);
  } catch (e) {
    out.destroy();
    await fs.promises.rm(tmp, { force: true });
    throw e;
  }
  return counts;
}

function open(services: PanelServices, runDir: string, select: string | undefined): void {
  const key = path.resolve(runDir);
  const existing = PairsPanel.revealOpen(key);
  if (existing) {
    if (select) existing.selectPair(select);
    return;
  }
  new PairsPanel(createRunWebviewPanel(PAIRS_VIEW_TYPE, `Pairs: ${path.basename(key)}`), services, key, select);
}

export const pairsPanel: RunPanelKind = {
  viewType: PAIRS_VIEW_TYPE,
  show(services, runDirs, options) {
    const pairId = typeof options?.['pairId'] === 'string' ? options['pairId'] : undefined;
    for (const dir of runDirs) open(services, dir, pairId);
  },
  restore(services, panel, state) {
    const s = parsePairsPanelState(state);
    const dir = s?.runDirs[0];
    if (!dir) {
      log.warn('Preference Pairs: a panel without a saved run could not be restored');
      panel.dispose();
      return;
    }
    // A run folder removed since: the page says so (the panel is not silently dropped).
    new PairsPanel(panel, services, path.resolve(dir), undefined);
  },
};
