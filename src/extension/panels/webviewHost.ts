import { randomBytes } from 'node:crypto';
import * as vscode from 'vscode';
import { MessageTypes } from '../../protocol/webview.js';
import { log } from '../log.js';

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
    const n = nonce();
    const w = this.panel.webview;
    const script = w.asWebviewUri(vscode.Uri.joinPath(this.extensionUri, 'dist', 'webview', `${this.bundle}.js`));
    const style = w.asWebviewUri(vscode.Uri.joinPath(this.extensionUri, 'media', `${this.bundle}.css`));
    const csp = [
      "default-src 'none'",
      `style-src ${w.cspSource}`,
      `font-src ${w.cspSource}`,
      `img-src ${w.cspSource} data:`,
      `script-src 'nonce-${n}'`,
    ].join('; ');
    return `<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="UTF-8">
<meta http-equiv="Content-Security-Policy" content="${csp}">
<meta name="viewport" content="width=device-width, initial-scale=1.0">
<link rel="stylesheet" href="${style}">
<title>${escapeHtml(this.title)}</title>
</head>
<body>
<div id="app" role="main"></div>
<script nonce="${n}" src="${script}"></script>
</body>
</html>`;
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

export function escapeHtml(s: string): string {
  return s.replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c] as string);
}
