import { randomBytes } from 'node:crypto';
import * as vscode from 'vscode';
import { MessageTypes } from '../../protocol/webview.js';
import { log } from '../log.js';
import { panelHtml } from './html.js';

function nonce(): string {
  return randomBytes(18).toString('base64url');
}

/**
 * The base of every panel: a strict CSP with a fresh nonce per render, resources limited to the
 * bundle and media folders, a ready handshake (host messages wait until the page listens),
 * and one disposable store per panel.
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
  ) {
    panel.webview.options = {
      enableScripts: true,
      localResourceRoots: [vscode.Uri.joinPath(extensionUri, 'dist', 'webview'), vscode.Uri.joinPath(extensionUri, 'media')],
    };
    panel.webview.html = this.html();
    this.disposables.push(
      panel.webview.onDidReceiveMessage((m: FromPage) => this.receive(m)),
      panel.onDidDispose(() => this.dispose()),
    );
  }

  private html(): string {
    const w = this.panel.webview;
    return panelHtml({
      cspSource: w.cspSource,
      scriptUri: w.asWebviewUri(vscode.Uri.joinPath(this.extensionUri, 'dist', 'webview', `${this.bundle}.js`)).toString(),
      styleUri: w.asWebviewUri(vscode.Uri.joinPath(this.extensionUri, 'media', `${this.bundle}.css`)).toString(),
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

  private receive(m: FromPage): void {
    if (m.type === MessageTypes.ready) {
      this.ready = true;
      for (const q of this.queue.splice(0)) void this.panel.webview.postMessage(q);
      this.onReady();
      return;
    }
    try {
      this.onMessage(m);
    } catch (e) {
      log.error(`${this.title}: ${(e as Error).message}`);
    }
  }

  protected onReady(): void {}

  protected abstract onMessage(message: FromPage): void;

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
