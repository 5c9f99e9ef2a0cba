import * as path from 'node:path';
import * as vscode from 'vscode';
import { readManifest, runFolderKind, type BadLine } from '../../node/runReader.js';
import { log } from '../log.js';
import type { PanelServices } from './registry.js';
import { WebviewHost, type WebviewHostOptions } from './webviewHost.js';

/** The run id from a run's manifest, or the folder's name when it has none (or it cannot be read). */
export function runName(runDir: string): string {
  try {
    return readManifest(runDir)?.runId ?? path.basename(runDir);
  } catch {
    return path.basename(runDir);
  }
}

/** Absolute directories from a saved state's `runDirs`, or undefined when it names none. */
export function savedDirs(state: unknown): string[] | undefined {
  const dirs = (state as { runDirs?: unknown } | undefined)?.runDirs;
  if (!Array.isArray(dirs) || dirs.length === 0) return undefined;
  if (!dirs.every((d): d is string => typeof d === 'string' && path.isAbsolute(d))) return undefined;
  return dirs;
}

/** Absolute run directories from a saved state, or undefined when it names none that still is one. */
export function runDirsOf(state: unknown): string[] | undefined {
  const dirs = savedDirs(state);
  return dirs?.every((d) => runFolderKind(d) === 'run') ? dirs : undefined;
}

/** Logs the lines of a run's file that could not be read (not JSON), and why. */
export function warnBadLines(file: string, runDir: string, bad: readonly BadLine[]): void {
  log.warn(`${file} of ${runDir}: ${bad.map((b) => `line ${b.line}: ${b.error}`).join('; ')}`);
}

/** A message's payload when it is an object (its fields still to be checked), else undefined. */
export function objectPayload(m: Record<string, unknown>): Record<string, unknown> | undefined {
  const p = m['payload'];
  return typeof p === 'object' && p !== null ? (p as Record<string, unknown>) : undefined;
}

/** Calls `fn` with each of `runDirs` that is a run directory; says which of them is not one. */
export function eachRunDir(label: string, runDirs: readonly string[], fn: (runDir: string) => void): void {
  for (const dir of runDirs) {
    if (runFolderKind(dir) !== 'run') {
      void vscode.window.showErrorMessage(`${label}: ${dir} is not a run directory (no manifest.json).`);
      continue;
    }
    fn(dir);
  }
}

/** Brings a panel back on the saved directories, or disposes it when there are none. */
export function restoreOrDispose(panel: vscode.WebviewPanel, dirs: string[] | undefined, restore: (dirs: string[]) => void): void {
  if (!dirs) {
    panel.dispose();
    return;
  }
  restore(dirs);
}

/** A new panel of this view type in the active column; its page is thrown away while hidden. */
export function createRunWebviewPanel(viewType: string, title: string): vscode.WebviewPanel {
  return vscode.window.createWebviewPanel(viewType, title, vscode.ViewColumn.Active, { retainContextWhenHidden: false });
}

export interface RunPanelOptions extends WebviewHostOptions {
  /** What the panel shows (a run directory, or a set of them): one panel of a kind per key. */
  key: string;
  /** The bundle's name: dist/webview/<bundle>.js and media/<bundle>.css. */
  bundle: string;
  /** The panel's name in messages and the page's title. */
  title: string;
}

type AnyRunPanel = RunPanel<{ type: string }, { type: string }>;

/** The open panels, by panel class and then by key. */
const openPanels = new Map<unknown, Map<string, AnyRunPanel>>();

/**
 * The base of the run panels: one open panel per kind and key (showing the same runs again
 * reveals it), the extension's icon, media/panel.css under the panel's stylesheet, and the
 * page's life cycle. A hidden page is thrown away (no retainContextWhenHidden) and says ready
 * again when shown: `listening` is true from `ready` until it is hidden, so live updates go
 * straight to the page only while it can hear them (the rest is sent on the next `ready`).
 */
export abstract class RunPanel<ToPage extends { type: string }, FromPage extends { type: string }> extends WebviewHost<ToPage, FromPage> {
  /** The page has said ready and has not been thrown away since: live updates go straight to it. */
  protected listening = false;

  /** The open panel of this class on `key`, brought to the front; undefined when there is none. */
  static revealOpen<P extends AnyRunPanel>(this: abstract new (...args: never[]) => P, key: string): P | undefined {
    const existing = openPanels.get(this)?.get(key);
    if (!existing || existing.isDisposed || !(existing instanceof this)) return undefined;
    existing.panel.reveal();
    return existing;
  }

  protected constructor(panel: vscode.WebviewPanel, services: PanelServices, o: RunPanelOptions) {
    const { key, bundle, title, ...hostOptions } = o;
    super(panel, services.extensionUri, bundle, title, { baseStyle: true, ...hostOptions });
    let open = openPanels.get(new.target);
    if (!open) openPanels.set(new.target, (open = new Map()));
    const panels = open;
    panels.set(key, this as AnyRunPanel);
    panel.iconPath = vscode.Uri.joinPath(services.extensionUri, 'media', 'constitution.svg');
    this.disposables.push(
      { dispose: () => panels.get(key) === (this as AnyRunPanel) && panels.delete(key) },
      panel.onDidChangeViewState((e) => {
        if (!e.webviewPanel.visible) this.onHidden();
      }),
    );
  }

  protected override onReady(): void {
    this.listening = true;
  }

  /** The page was hidden, and so thrown away; it says ready again when shown. */
  protected onHidden(): void {
    this.listening = false;
  }
}
