import * as vscode from 'vscode';
import type { LanguageService } from '../client.js';
import type { PreviewHostToPage, PreviewPageToHost, PreviewPanelState } from '../../protocol/webview.js';
import { log } from '../log.js';
import { WebviewHost } from './webviewHost.js';

export const PREVIEW_VIEW_TYPE = 'constitution.preview';

/**
 * "Constitution: Preview Rendered Prompts": the exact critique, revision and comparison prompts
 * for the chosen principle and conversation, refreshed as the constitution is edited.
 */
export class PreviewPanel extends WebviewHost<PreviewHostToPage, PreviewPageToHost> {
  private static readonly panels = new Map<string, PreviewPanel>();
  private refreshTimer: NodeJS.Timeout | undefined;

  static show(extensionUri: vscode.Uri, client: LanguageService, state: PreviewPanelState): PreviewPanel {
    const existing = PreviewPanel.panels.get(state.uri);
    if (existing && !existing.isDisposed) {
      existing.state = { ...existing.state, ...state };
      existing.panel.reveal(vscode.ViewColumn.Beside, true);
      void existing.refresh();
      return existing;
    }
    const panel = vscode.window.createWebviewPanel(PREVIEW_VIEW_TYPE, 'Prompt Preview', { viewColumn: vscode.ViewColumn.Beside, preserveFocus: true }, {});
    return new PreviewPanel(panel, extensionUri, client, state);
  }

  /** Brings back a panel after a window reload (the page's saved state names the file). */
  static restore(panel: vscode.WebviewPanel, extensionUri: vscode.Uri, client: LanguageService, state: PreviewPanelState | undefined): PreviewPanel | undefined {
    if (!state?.uri) {
      panel.dispose();
      return undefined;
    }
    return new PreviewPanel(panel, extensionUri, client, state);
  }

  private constructor(
    panel: vscode.WebviewPanel,
    extensionUri: vscode.Uri,
    private readonly client: LanguageService,
    private state: PreviewPanelState,
  ) {
    super(panel, extensionUri, 'preview', 'Prompt Preview', { baseStyle: true });
    PreviewPanel.panels.set(state.uri, this);
    panel.iconPath = vscode.Uri.joinPath(extensionUri, 'media', 'constitution.svg');
    this.disposables.push(
      vscode.workspace.onDidChangeTextDocument((e) => {
        if (e.document.uri.toString() === this.state.uri) this.scheduleRefresh();
      }),
      vscode.workspace.onDidSaveTextDocument((d) => {
        // an included file may have changed
        if (d.uri.toString() !== this.state.uri) this.scheduleRefresh();
      }),
      { dispose: () => PreviewPanel.panels.delete(this.state.uri) },
      { dispose: () => this.refreshTimer && clearTimeout(this.refreshTimer) },
    );
    void this.refresh();
  }

  private scheduleRefresh(): void {
    if (this.refreshTimer) clearTimeout(this.refreshTimer);
    this.refreshTimer = setTimeout(() => void this.refresh(), 250);
  }

  async refresh(): Promise<void> {
    try {
      const result = await this.client.previewPrompts({
        uri: this.state.uri,
        principle: this.state.principle,
        comparison: this.state.comparison,
        conversation: this.state.conversation,
      });
      if (this.isDisposed) return;
      if (!result) {
        this.post({ type: 'preview/error', payload: { message: `${vscode.Uri.parse(this.state.uri).fsPath} could not be read.` } });
        return;
      }
      this.state = { uri: result.uri, ...result.selected };
      this.panel.title = `Prompts: ${result.name || vscode.Uri.parse(result.uri).path.split('/').pop()}`;
      this.post({ type: 'preview/update', payload: result });
    } catch (e) {
      log.error(`Prompt preview: ${(e as Error).message}`);
      this.post({ type: 'preview/error', payload: { message: (e as Error).message } });
    }
  }

  /** A page (re)loaded — after the panel was hidden, or the window reloaded: send it content. */
  protected override onReady(): void {
    void this.refresh();
  }

  protected parse(m: { type: string } & Record<string, unknown>): PreviewPageToHost | undefined {
    const p = m['payload'];
    if (typeof p !== 'object' || p === null) return undefined;
    const payload = p as Record<string, unknown>;
    switch (m.type) {
      case 'preview/select': {
        const str = (k: string) => payload[k] === undefined || typeof payload[k] === 'string';
        const conv = payload['conversation'];
        if (!str('principle') || !str('comparison')) return undefined;
        if (conv !== undefined && (typeof conv !== 'object' || conv === null || !['sample', 'example'].includes(String((conv as { kind?: unknown }).kind)))) return undefined;
        return m as unknown as PreviewPageToHost;
      }
      case 'preview/copy':
        return typeof payload['text'] === 'string' ? (m as unknown as PreviewPageToHost) : undefined;
      default:
        return undefined;
    }
  }

  protected onMessage(m: PreviewPageToHost): void {
    switch (m.type) {
      case 'preview/select':
        this.state = { ...this.state, ...m.payload };
        void this.refresh();
        break;
      case 'preview/copy':
        void vscode.env.clipboard.writeText(m.payload.text).then(() => vscode.window.setStatusBarMessage('Prompt copied', 2000));
        break;
      case 'ready':
        break;
    }
  }
}
