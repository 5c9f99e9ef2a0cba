import { randomBytes } from 'node:crypto';
import * as vscode from 'vscode';
import { MessageTypes } from '../../protocol/webview.js';
import { log } from '../log.js';
import { panelHtml } from './html.js';

function nonce(): string {
  return randomBytes(18).toString('base64url');
}

export interface WebviewHostOptions {
  /** Loads media/panel.css (the run panels' shared base) before the panel's own stylesheet. */
  baseStyle?: boolean;
  /** Further stylesheets of media/ (file names), loaded in this order after panel.css and before the panel's own. */
  extraStyles?: string[];
}

/**
 * The base of every panel: a strict CSP with a fresh nonce per render, resources limited to the
 * bundle and media folders, a ready handshake (host messages wait until the page listens), one
 * disposable store per panel, and no message from the page acted on before `parse` has checked
 * its shape (a webview is a browser page; what it posts is untrusted input).
 */
export abstract class WebviewHost<ToPage extends { type: string }, FromPage extends { type: string }> implements vscode.Disposable {
  private ready = false;
  private readonly queue: ToPage[] = [];
  protected readonly disposables: vscode.Disposable[] = [];
  private disposed = false;

  protected constructor(
    readonly panel: vscode.WebviewPanel,
    protected readonly extensionUri: vscode.Uri,
    private readonly bundle: string,
    private readonly title: string,
    private readonly options: WebviewHostOptions = {},
  ) {
    panel.webview.options = {
      enableScripts: true,
      localResourceRoots: [vscode.Uri.joinPath(extensionUri, 'dist', 'webview'), vscode.Uri.joinPath(extensionUri, 'media')],
    };
    panel.webview.html = this.html();
    this.disposables.push(
      panel.webview.onDidReceiveMessage((m: unknown) => this.receive(m)),
      panel.onDidDispose(() => this.dispose()),
    );
  }

  private html(): string {
    const w = this.panel.webview;
    const media = (f: string) => w.asWebviewUri(vscode.Uri.joinPath(this.extensionUri, 'media', f)).toString();
    return panelHtml({
      cspSource: w.cspSource,
      scriptUri: w.asWebviewUri(vscode.Uri.joinPath(this.extensionUri, 'dist', 'webview', `${this.bundle}.js`)).toString(),
      styleUri: media(`${this.bundle}.css`),
      ...(this.options.baseStyle ? { baseStyleUri: media('panel.css') } : {}),
      ...(this.options.extraStyles?.length ? { extraStyleUris: this.options.extraStyles.map(media) } : {}),
      nonce: nonce(),
      title: this.title,
    });
  }

  /** Sends a message now if the page is ready, else when it is. */
  post(message: ToPage): void {
    if (this.disposed) return;
    if (!this.ready) {
      this.queue.push(message);
      return;
    }
    void this.panel.webview.postMessage(message);
  }

  private receive(raw: unknown): void {
    if (typeof raw !== 'object' || raw === null || typeof (raw as { type?: unknown }).type !== 'string') {
      log.warn(`${this.title}: ignored a message without a type from the page`);
      return;
    }
    if ((raw as { type: string }).type === MessageTypes.ready) {
      this.ready = true;
      for (const q of this.queue.splice(0)) void this.panel.webview.postMessage(q);
      this.onReady();
      return;
    }
    const m = this.parse(raw as { type: string });
    if (!m) {
      log.warn(`${this.title}: ignored a malformed '${(raw as { type: string }).type}' message from the page`);
      return;
    }
    try {
      const r = this.onMessage(m);
      if (r instanceof Promise) r.catch((e: Error) => this.fail(e));
    } catch (e) {
      this.fail(e as Error);
    }
  }

  private fail(e: Error): void {
    log.error(`${this.title}: ${e.message}`);
    void vscode.window.showErrorMessage(`${this.title}: ${e.message}`);
  }

  protected onReady(): void {}

  /**
   * Checks a message from the page against the panel's message types: the typed message, or
   * undefined to drop it. Only messages that pass reach `onMessage`.
   */
  protected abstract parse(message: { type: string } & Record<string, unknown>): FromPage | undefined;

  protected abstract onMessage(message: FromPage): void | Promise<void>;

  dispose(): void {
    if (this.disposed) return;
    this.disposed = true;
    this.panel.dispose();
    for (const d of this.disposables.splice(0)) d.dispose();
  }

  get isDisposed(): boolean {
    return this.disposed;
  }
}
