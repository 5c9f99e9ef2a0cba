import * as vscode from 'vscode';

/** One log for the extension host: "Constitution Studio" in the Output panel. */
export const log = vscode.window.createOutputChannel('Constitution Studio', { log: true });
