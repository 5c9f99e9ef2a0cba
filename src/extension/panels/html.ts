/**
 * The HTML shell of every panel, with its Content-Security-Policy. Kept free of `vscode` so the
 * browser tests load pages through exactly this shell.
 */
export interface PanelShell {
  /** The webview's `cspSource` (the origin its resources are served from). */
  cspSource: string;
  scriptUri: string;
  styleUri: string;
  /** The shared base stylesheet (media/panel.css), loaded before the panel's own. */
  baseStyleUri?: string;
  /** Shared stylesheets (e.g. media/charts.css), loaded in this order after the base and before the panel's own. */
  extraStyleUris?: string[];
  /** A fresh nonce per render: only the panel's own script may run. */
  nonce: string;
  title: string;
}

export function panelHtml(p: PanelShell): string {
  const csp = [
    "default-src 'none'",
    `style-src ${p.cspSource}`,
    `font-src ${p.cspSource}`,
    `img-src ${p.cspSource} data:`,
    `script-src 'nonce-${p.nonce}'`,
  ].join('; ');
  return `<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="UTF-8">
<meta http-equiv="Content-Security-Policy" content="${escapeHtml(csp)}">
<meta name="viewport" content="width=device-width, initial-scale=1.0">
${p.baseStyleUri ? `<link rel="stylesheet" href="${escapeHtml(p.baseStyleUri)}">\n` : ''}${(p.extraStyleUris ?? []).map((u) => `<link rel="stylesheet" href="${escapeHtml(u)}">\n`).join('')}<link rel="stylesheet" href="${escapeHtml(p.styleUri)}">
<title>${escapeHtml(p.title)}</title>
</head>
<body>
<div id="app" role="main"></div>
<script nonce="${escapeHtml(p.nonce)}" src="${escapeHtml(p.scriptUri)}"></script>
</body>
</html>`;
}

export function escapeHtml(s: string): string {
  return s.replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c] as string);
}
