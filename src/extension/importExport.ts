import * as fs from 'node:fs';
import * as vscode from 'vscode';
import { isConstitutionFile } from '../core/constitution/fileNames.js';
import { exportConstitution, FORMATS, FormatError, importConstitution, type FormatFiles, type FormatName } from '../core/constitution/formats/index.js';
import { ConstitutionWorkspace } from '../core/constitution/resolve.js';
import { log } from './log.js';

const decoder = new TextDecoder('utf-8', { fatal: true });

async function readText(uri: vscode.Uri): Promise<string> {
  const bytes = await vscode.workspace.fs.readFile(uri);
  try {
    return decoder.decode(bytes);
  } catch {
    throw new Error(`${uri.fsPath} is not UTF-8 text.`);
  }
}

async function pickFormat(title: string): Promise<FormatName | undefined> {
  const pick = await vscode.window.showQuickPick(
    (Object.keys(FORMATS) as FormatName[]).map((f) => ({ label: f, detail: FORMATS[f].description, format: f })),
    { title, placeHolder: 'Format' },
  );
  return pick?.format;
}

/** "Constitution: Import…": another tool's files → a new constitution file, opened in the editor. */
export async function importCommand(): Promise<void> {
  const format = await pickFormat('Import a constitution');
  if (!format) return;
  const spec = FORMATS[format];
  const picked = await vscode.window.showOpenDialog({
    title: spec.input === 'folder' ? `Folder with ${spec.fileNames?.join(', ')}` : `A ${format} JSON file`,
    canSelectFiles: spec.input === 'file',
    canSelectFolders: spec.input === 'folder',
    canSelectMany: false,
    filters: spec.input === 'file' ? { JSON: ['json'] } : undefined,
  });
  const source = picked?.[0];
  if (!source) return;
  const files: FormatFiles = {};
  try {
    if (spec.input === 'folder') {
      for (const name of spec.fileNames ?? []) {
        const uri = vscode.Uri.joinPath(source, name);
        try {
          await vscode.workspace.fs.stat(uri);
        } catch {
          continue;
        }
        files[name] = await readText(uri);
      }
      if (Object.keys(files).length === 0) throw new Error(`None of ${spec.fileNames?.join(', ')} is in ${source.fsPath}.`);
    } else {
      files[source.path.split('/').pop() as string] = await readText(source);
    }
    const base = source.path.split('/').pop()?.replace(/\.json$/i, '') || format;
    const target = await vscode.window.showSaveDialog({
      title: 'Save the imported constitution',
      defaultUri: vscode.Uri.joinPath(vscode.workspace.workspaceFolders?.[0]?.uri ?? source, `${base}.constitution.yaml`),
      filters: { Constitution: ['yaml'] },
    });
    if (!target) return;
    const result = importConstitution(format, files, { name: base });
    await vscode.workspace.fs.writeFile(target, new TextEncoder().encode(result.text));
    for (const w of result.warnings) log.warn(`import ${format}: ${w}`);
    await vscode.window.showTextDocument(target);
    void vscode.window.showInformationMessage(`Imported ${format} constitution into ${vscode.workspace.asRelativePath(target)}.`);
  } catch (e) {
    const message = e instanceof FormatError || e instanceof Error ? e.message : String(e);
    log.error(`import ${format}: ${message}`);
    void vscode.window.showErrorMessage(`Import failed: ${message}`);
  }
}

/** "Constitution: Export…": the active constitution (with its includes) → another tool's format. */
export async function exportCommand(uri?: vscode.Uri): Promise<void> {
  const file = uri ?? vscode.window.activeTextEditor?.document.uri;
  if (!file || !isConstitutionFile(file.path)) {
    void vscode.window.showWarningMessage('Open a *.constitution.yaml file to export it.');
    return;
  }
  const format = await pickFormat('Export the constitution');
  if (!format) return;
  try {
    // read through open editors so unsaved changes are exported as shown
    const texts = new Map(vscode.workspace.textDocuments.map((d) => [d.uri.fsPath, d.getText()]));
    const ws = new ConstitutionWorkspace({
      read: (f) => {
        const open = texts.get(f);
        if (open !== undefined) return open;
        try {
          return fs.readFileSync(f, 'utf8');
        } catch {
          return undefined;
        }
      },
      resolve: (from, rel) => vscode.Uri.joinPath(vscode.Uri.file(from), '..', rel).fsPath,
      display: (f) => vscode.workspace.asRelativePath(f),
    });
    const res = ws.resolve(file.fsPath);
    const errors = res?.diagnostics.filter((d) => d.severity === 'error') ?? [];
    if (!res || errors.length) {
      void vscode.window.showErrorMessage(`Fix the ${errors.length} error(s) in ${vscode.workspace.asRelativePath(file)} before exporting (see Problems).`);
      return;
    }
    const out = exportConstitution(format, res.constitution);
    const spec = FORMATS[format];
    if (spec.input === 'folder') {
      const folder = await vscode.window.showOpenDialog({ title: `Folder for ${Object.keys(out).join(', ')}`, canSelectFolders: true, canSelectFiles: false });
      if (!folder?.[0]) return;
      for (const [name, text] of Object.entries(out)) await vscode.workspace.fs.writeFile(vscode.Uri.joinPath(folder[0], name), new TextEncoder().encode(text));
      void vscode.window.showInformationMessage(`Exported ${Object.keys(out).length} files to ${folder[0].fsPath}.`);
    } else {
      const target = await vscode.window.showSaveDialog({ title: `Save as ${format}`, filters: { JSON: ['json'] } });
      if (!target) return;
      await vscode.workspace.fs.writeFile(target, new TextEncoder().encode(Object.values(out)[0] ?? ''));
      void vscode.window.showInformationMessage(`Exported to ${vscode.workspace.asRelativePath(target)}.`);
    }
  } catch (e) {
    const message = (e as Error).message;
    log.error(`export ${format}: ${message}`);
    void vscode.window.showErrorMessage(`Export failed: ${message}`);
  }
}
