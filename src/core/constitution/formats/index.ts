import type { ConstitutionData } from '../data.js';
import { emitConstitution } from '../emit.js';
import { ANTHROPIC_FILE_NAMES, exportAnthropic, importAnthropic } from './anthropic.js';
import { baseName, FormatError } from './common.js';
import { exportLangchain, importLangchain } from './langchain.js';
import { exportLlmSwarm, importLlmSwarm } from './llmSwarm.js';

/**
 * Import and export of existing constitution formats. Pure: the caller reads the files and
 * passes their texts in, and writes the texts that come back.
 */

export { FormatError } from './common.js';
export { pyJsonDumps } from './pyjson.js';
export { ANTHROPIC_FILES, ANTHROPIC_FILE_NAMES } from './anthropic.js';

export type FormatName = 'anthropic' | 'llm-swarm' | 'langchain';

export interface FormatInfo {
  description: string;
  /** Whether the format is a folder of files or one file. */
  input: 'folder' | 'file';
  /** The files of a folder format. */
  fileNames?: readonly string[];
}

export const FORMATS: Record<FormatName, FormatInfo> = {
  anthropic: {
    description: "Anthropic's Constitutional AI prompt files: a folder with CritiqueRevisionInstructions.json, CritiqueRevisionFewShotPrompts.json, RLMadisonInstructions.json, RLMadisonFewShotPrompts.json and RLMadisonPrecogFewShotPrompts.json.",
    input: 'folder',
    fileNames: ANTHROPIC_FILE_NAMES,
  },
  'llm-swarm': {
    description: 'A Hugging Face llm-swarm / H4 constitution: a JSON list of {"critic", "revision"}, or an object with "constitutions" and few-shot "system_chat" conversations.',
    input: 'file',
  },
  langchain: {
    description: 'LangChain ConstitutionalPrinciple objects as JSON: a list of {"name", "critique_request", "revision_request"}, an object of them by key, or a single one.',
    input: 'file',
  },
};

export const FORMAT_NAMES = Object.keys(FORMATS) as FormatName[];

export function isFormatName(s: string): s is FormatName {
  return (FORMAT_NAMES as string[]).includes(s);
}

/** File name (for 'anthropic': base names of the five files; for the others: the one file's base name) → text. */
export type FormatFiles = Record<string, string>;

export interface ImportOptions {
  /** The constitution's name (default: 'anthropic-cai', or the imported file's name without `.json`). */
  name?: string;
  /** Written as the `# yaml-language-server: $schema=…` comment on the first line. */
  schemaPath?: string;
}

export interface ImportResult {
  /** Constitution YAML that validates without errors. */
  text: string;
  /** What was left out or could not be found. */
  warnings: string[];
}

function single(format: FormatName, files: FormatFiles): [string, string] {
  const entries = Object.entries(files);
  if (entries.length !== 1) throw new FormatError(`The ${format} format is one JSON file; ${entries.length === 0 ? 'none was' : `${entries.length} were`} given.`);
  return entries[0] as [string, string];
}

/**
 * Turns files of a foreign format into constitution YAML. Throws FormatError (one sentence that
 * names the file and the item) when the files do not have the format's shape.
 */
export function importConstitution(format: FormatName, files: FormatFiles, options: ImportOptions = {}): ImportResult {
  try {
    const given = options.name?.trim() ? options.name : undefined;
    let result;
    if (format === 'anthropic') result = importAnthropic(files, given);
    else {
      const [file, text] = single(format, files);
      const name = given ?? (baseName(file).trim() || 'constitution');
      result = format === 'llm-swarm' ? importLlmSwarm(file, text, name) : importLangchain(file, text, name);
    }
    const text = emitConstitution(result.doc, options.schemaPath ? { schemaPath: options.schemaPath } : {});
    return { text, warnings: result.warnings };
  } catch (e) {
    if (e instanceof FormatError) throw e;
    throw new FormatError(`Could not import the ${format} files: ${e instanceof Error ? e.message : String(e)}`);
  }
}

/** The file name a one-file export is given: the constitution's name, made safe. */
export function exportFileName(c: Pick<ConstitutionData, 'name'>): string {
  const base = c.name.trim().replace(/[^A-Za-z0-9._-]+/g, '-').replace(/^[-.]+|-+$/g, '');
  return `${base || 'constitution'}.json`;
}

/**
 * Writes a resolved constitution in a foreign format: for 'anthropic' the five files (always all
 * five, empty lists or objects where the constitution has nothing), for the others one file named
 * by `exportFileName`. Parts a format has no place for (weights, tags, notes, comparisons in
 * LangChain, …) are left out.
 */
export function exportConstitution(format: FormatName, c: ConstitutionData): FormatFiles {
  switch (format) {
    case 'anthropic':
      return exportAnthropic(c);
    case 'llm-swarm':
      return { [exportFileName(c)]: exportLlmSwarm(c) };
    case 'langchain':
      return { [exportFileName(c)]: exportLangchain(c) };
  }
}
