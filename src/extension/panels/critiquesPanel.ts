import * as vscode from 'vscode';
import { critiqueRow, isStepKey, normaliseRevision, stepText, type CritiqueRow } from '../../core/runs/revisions.js';
import { JsonlTail, readRecordAt, resolveInRun } from '../../node/runReader.js';
import type { CritiquesHostToPage, CritiquesInitMessage, CritiquesPageToHost } from '../../protocol/panels/critiques.js';
import type { PanelServices, RunPanelKind } from './registry.js';
import { createRunWebviewPanel, eachRunDir, restoreOrDispose, objectPayload, RunPanel, runDirsOf, runName, warnBadLines } from './runPanel.js';
import { diffTitle, stepUri } from './stepDocuments.js';

export const CRITIQUES_VIEW_TYPE = 'constitution.critiques';
const FILE = 'revisions.jsonl';
/** Rows per message when (re)sending the whole list. */
const ROWS_PER_MESSAGE = 2000;

/**
 * "Critiques and revisions" of one run: every red-team prompt of revisions.jsonl in a list that
 * stays light (one small row per record, flags computed here), the selected record's whole chain
 * read again from its byte offset, and any two of its steps opened in VS Code's diff editor.
 * The file is followed while the run trains.
 */
class CritiquesPanel extends RunPanel<CritiquesHostToPage, CritiquesPageToHost> {
  private readonly file: string;
  private readonly rows: CritiqueRow[] = [];
  private readonly offsets = new Map<string, number>();
  private tail: JsonlTail | undefined;
  private loaded = false;
  private badLines = 0;
  private select: CritiquesInitMessage['payload']['select'];

  static show(services: PanelServices, runDir: string, select?: CritiquesInitMessage['payload']['select']): void {
    const existing = CritiquesPanel.revealOpen(runDir);
    if (existing) {
      if (select) {
        existing.select = select;
        existing.sendAll();
      }
      return;
    }
    new CritiquesPanel(createRunWebviewPanel(CRITIQUES_VIEW_TYPE, `Critiques: ${runName(runDir)}`), services, runDir, select);
  }

  constructor(panel: vscode.WebviewPanel, services: PanelServices, readonly runDir: string, select?: CritiquesInitMessage['payload']['select']) {
    super(panel, services, { key: runDir, bundle: 'critiques', title: 'Critiques' });
    this.select = select;
    this.file = resolveInRun(runDir, FILE);
    panel.title = `Critiques: ${runName(runDir)}`;
    this.disposables.push({ dispose: () => this.tail?.dispose() });
    this.startTail();
  }

  private startTail(): void {
    this.tail = new JsonlTail(
      this.file,
      (batch) => {
        const fresh: CritiqueRow[] = [];
        for (const b of batch) {
          const rec = normaliseRevision(b.record);
          if (!rec) {
            this.badLines++;
            continue;
          }
          if (this.offsets.has(rec.id)) continue; // readers keep the first record of an id
          this.offsets.set(rec.id, b.offset);
          const row = critiqueRow(rec, b.offset);
          this.rows.push(row);
          fresh.push(row);
        }
        if (this.listening && fresh.length) this.post({ type: 'critiques/rows', payload: { rows: fresh, loaded: this.loaded, total: this.rows.length, badLines: this.badLines } });
      },
      {
        onReset: () => {
          this.rows.length = 0;
          this.offsets.clear();
          this.badLines = 0;
          if (this.listening) this.post({ type: 'critiques/reset', payload: {} });
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
        if (this.listening) this.post({ type: 'critiques/rows', payload: { rows: [], loaded: true, total: this.rows.length, badLines: this.badLines } });
      },
      (e: Error) => this.post({ type: 'critiques/error', payload: { message: `${FILE}: ${e.message}` } }),
    );
  }

  /** The page (re)loaded: everything it shows, from what is kept here. */
  private sendAll(): void {
    this.post({ type: 'critiques/init', payload: { runDir: this.runDir, runName: runName(this.runDir), ...(this.select ? { select: this.select } : {}) } });
    this.select = undefined;
    for (let i = 0; i < this.rows.length || i === 0; i += ROWS_PER_MESSAGE) {
      this.post({ type: 'critiques/rows', payload: { rows: this.rows.slice(i, i + ROWS_PER_MESSAGE), loaded: this.loaded && i + ROWS_PER_MESSAGE >= this.rows.length, total: this.rows.length, badLines: this.badLines } });
    }
  }

  protected override onReady(): void {
    super.onReady();
    this.sendAll();
  }

  protected parse(m: { type: string } & Record<string, unknown>): CritiquesPageToHost | undefined {
    const payload = objectPayload(m);
    if (!payload) return undefined;
    const id = payload['id'];
    if (typeof id !== 'string' || id.length === 0 || id.length > 200) return undefined;
    switch (m.type) {
      case 'critiques/select':
        return { type: 'critiques/select', payload: { id } };
      case 'critiques/diff': {
        const left = payload['left'];
        const right = payload['right'];
        if (!isStepKey(left) || !isStepKey(right)) return undefined;
        return { type: 'critiques/diff', payload: { id, left, right } };
      }
      default:
        return undefined;
    }
  }

  private async read(id: string) {
    const offset = this.offsets.get(id);
    if (offset === undefined) throw new Error(`${FILE} has no record ${id}`);
    const rec = normaliseRevision(await readRecordAt(this.file, offset));
    if (!rec || rec.id !== id) throw new Error(`${FILE} changed: record ${id} is no longer where it was; reopen the panel`);
    return { rec, offset };
  }

  protected async onMessage(m: CritiquesPageToHost): Promise<void> {
    switch (m.type) {
      case 'critiques/select': {
        try {
          const { rec } = await this.read(m.payload.id);
          this.post({ type: 'critiques/record', payload: { record: rec } });
        } catch (e) {
          this.post({ type: 'critiques/error', payload: { message: (e as Error).message, id: m.payload.id } });
        }
        break;
      }
      case 'critiques/diff': {
        const { id, left, right } = m.payload;
        const { rec, offset } = await this.read(id);
        if (stepText(rec, left) === undefined || stepText(rec, right) === undefined) throw new Error(`record ${id} has no such step`);
        await vscode.commands.executeCommand('vscode.diff', stepUri(this.runDir, id, left, offset), stepUri(this.runDir, id, right, offset), diffTitle(rec.prompt, left, right), { preview: true });
        break;
      }
      case 'ready':
        break;
    }
  }
}

export const critiquesPanel: RunPanelKind = {
  viewType: CRITIQUES_VIEW_TYPE,
  /** One panel per run. `options`: `{recordId?: string, promptId?: string}` selects that record. */
  show(services, runDirs, options) {
    const id = typeof options?.['recordId'] === 'string' ? options['recordId'] : undefined;
    const promptId = typeof options?.['promptId'] === 'string' ? options['promptId'] : undefined;
    const select = id !== undefined || promptId !== undefined ? { ...(id !== undefined ? { id } : {}), ...(promptId !== undefined ? { promptId } : {}) } : undefined;
    eachRunDir('Critiques', runDirs, (dir) => CritiquesPanel.show(services, dir, select));
  },
  restore(services, panel, state) {
    restoreOrDispose(panel, runDirsOf(state), (dirs) => new CritiquesPanel(panel, services, dirs[0]!));
  },
};
