import type * as vscode from 'vscode';

/** What a run panel gets from the extension. */
export interface PanelServices {
  context: vscode.ExtensionContext;
  extensionUri: vscode.Uri;
}

/**
 * A panel that shows one or more runs. Each panel module exports one of these; the extension
 * registers its serializer (restore after a window reload) and its command opens it with the
 * run directories the user chose (absolute paths; a TRL output folder where the panel reads one).
 */
export interface RunPanelKind {
  /** The webview's view type (also the serializer's key), e.g. `constitution.pairs`. */
  viewType: string;
  /** Opens the panel on these runs, or reveals the one already showing them. `options` are panel-specific (e.g. `{pairId}`). */
  show(services: PanelServices, runDirs: string[], options?: Record<string, unknown>): void;
  /** Brings a panel back after a reload from the state its page saved; disposes the panel when the state is unusable. */
  restore(services: PanelServices, panel: vscode.WebviewPanel, state: unknown): void;
}
