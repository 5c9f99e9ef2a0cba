// Hugging Face model folders on disk: config.json, model.safetensors (or shards with
// model.safetensors.index.json), tokenizer.json and generation_config.json. Reading checks every
// file against the others; writing goes to a temporary folder that replaces the target at the end.

import { constants as fsConstants } from 'node:fs';
import { cp, mkdir, open, readFile, readdir, rename, rm, stat } from 'node:fs/promises';
import path from 'node:path';
import type { HostTensor, ModelConfig, WeightMap } from '../core/model/config.js';
import { ModelFileError } from '../core/model/errors.js';
import { configFromHf, configToHf } from '../core/model/hfConfig.js';
import { isKnownBuffer, weightsFromHf, weightsToHf } from '../core/model/hfWeights.js';
import { parseSafetensors, writeSafetensors, type WriteDtype } from '../core/model/safetensors.js';
import { HfTokenizer } from '../core/model/tokenizer.js';

export const CONFIG_FILE = 'config.json';
export const GENERATION_CONFIG_FILE = 'generation_config.json';
export const WEIGHTS_FILE = 'model.safetensors';
export const INDEX_FILE = 'model.safetensors.index.json';
export const TOKENIZER_FILE = 'tokenizer.json';
export const TOKENIZER_CONFIG_FILE = 'tokenizer_config.json';

export interface LoadedHfFolder {
  readonly config: ModelConfig;
  readonly weights: WeightMap;
  readonly tokenizer: HfTokenizer | undefined;
  /** Every file read, as full paths. */
  readonly files: string[];
}

async function exists(p: string): Promise<boolean> {
  try {
    await stat(p);
    return true;
  } catch {
    return false;
  }
}

async function readJson(file: string): Promise<unknown> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (e) {
    throw new ModelFileError(file, `cannot be read (${(e as Error).message})`);
  }
  try {
    return JSON.parse(text) as unknown;
  } catch (e) {
    throw new ModelFileError(file, `is not valid JSON (${(e as Error).message})`);
  }
}

async function readBytes(file: string): Promise<Uint8Array> {
  try {
    const b = await readFile(file);
    return new Uint8Array(b.buffer, b.byteOffset, b.byteLength);
  } catch (e) {
    throw new ModelFileError(file, `cannot be read (${(e as Error).message})`);
  }
}

/**
 * Loads a Hugging Face model folder. config.json is required, and either model.safetensors or
 * model.safetensors.index.json with its shards; tokenizer.json is optional. The EOS ids of
 * generation_config.json, when it names any, replace config.json's. Every problem is a
 * ModelFileError naming the file (full path) and, where one is to blame, the tensor.
 */
export async function loadHfFolder(dir: string): Promise<LoadedHfFolder> {
  let info;
  try {
    info = await stat(dir);
  } catch {
    throw new ModelFileError(dir, 'does not exist (expected a Hugging Face model folder)');
  }
  if (!info.isDirectory()) throw new ModelFileError(dir, 'is not a folder (expected a Hugging Face model folder with config.json)');
  const files: string[] = [];
  const at = (name: string): string => path.join(dir, name);

  const configPath = at(CONFIG_FILE);
  if (!(await exists(configPath))) throw new ModelFileError(configPath, 'is missing: a Hugging Face model folder needs config.json');
  let config = configFromHf(await readJson(configPath), configPath);
  files.push(configPath);

  const genPath = at(GENERATION_CONFIG_FILE);
  if (await exists(genPath)) {
    const gen = await readJson(genPath);
    files.push(genPath);
    const eos = typeof gen === 'object' && gen !== null ? (gen as Record<string, unknown>)['eos_token_id'] : undefined;
    if (eos !== undefined && eos !== null) {
      const list = Array.isArray(eos) ? eos : [eos];
      for (const id of list) {
        if (typeof id !== 'number' || !Number.isSafeInteger(id) || id < 0 || id >= config.vocabSize) {
          throw new ModelFileError(genPath, `field 'eos_token_id' must be a token id in 0..${config.vocabSize - 1} or a list of them (got ${JSON.stringify(eos)})`);
        }
      }
      config = { ...config, eosTokenIds: [...new Set(list as number[])] };
    }
  }

  const include = (name: string): boolean => !isKnownBuffer(name);
  const tensors = new Map<string, HostTensor>();
  const fileOfTensor = new Map<string, string>();
  let fileOf: (name: string) => string;
  const single = at(WEIGHTS_FILE);
  const indexPath = at(INDEX_FILE);
  if (await exists(single)) {
    for (const [name, t] of parseSafetensors(await readBytes(single), single, { include })) tensors.set(name, t);
    files.push(single);
    fileOf = () => single;
  } else if (await exists(indexPath)) {
    const index = await readJson(indexPath);
    files.push(indexPath);
    const weightMap = typeof index === 'object' && index !== null ? (index as Record<string, unknown>)['weight_map'] : undefined;
    if (typeof weightMap !== 'object' || weightMap === null || Array.isArray(weightMap)) {
      throw new ModelFileError(indexPath, "has no 'weight_map' object (tensor name → shard file)");
    }
    const byShard = new Map<string, string[]>();
    for (const [name, shard] of Object.entries(weightMap as Record<string, unknown>)) {
      if (typeof shard !== 'string' || shard === '' || shard !== path.basename(shard)) {
        throw new ModelFileError(indexPath, `names shard ${JSON.stringify(shard)}, which is not a file name in this folder`, name);
      }
      fileOfTensor.set(name, at(shard));
      byShard.set(shard, [...(byShard.get(shard) ?? []), name]);
    }
    for (const [shard, names] of byShard) {
      const shardPath = at(shard);
      if (!(await exists(shardPath))) {
        throw new ModelFileError(shardPath, `is missing; ${INDEX_FILE} puts ${names.length} tensor(s) in it`, names[0]);
      }
      const read = parseSafetensors(await readBytes(shardPath), shardPath, { include });
      files.push(shardPath);
      for (const [name, t] of read) {
        const listed = (weightMap as Record<string, string>)[name];
        if (listed === undefined) throw new ModelFileError(shardPath, `is in this shard but not in ${INDEX_FILE}`, name);
        if (listed !== shard) throw new ModelFileError(shardPath, `is in this shard but ${INDEX_FILE} says it is in ${listed}`, name);
        tensors.set(name, t);
      }
    }
    // Only after every shard is read: a tensor that sits in another shard is reported above.
    for (const [name, shardPath] of fileOfTensor) {
      if (!tensors.has(name) && include(name)) throw new ModelFileError(shardPath, `is listed in ${INDEX_FILE} for this shard but the shard does not hold it`, name);
    }
    fileOf = (name) => fileOfTensor.get(name) ?? indexPath;
  } else {
    const hasBin = (await exists(at('pytorch_model.bin'))) || (await exists(at('pytorch_model.bin.index.json')));
    throw new ModelFileError(
      dir,
      `has no ${WEIGHTS_FILE} or ${INDEX_FILE}${hasBin ? ' (PyTorch .bin weights are not read: convert them to safetensors)' : ''}`,
    );
  }
  const weights = weightsFromHf(config, tensors, fileOf);

  let tokenizer: HfTokenizer | undefined;
  const tokPath = at(TOKENIZER_FILE);
  if (await exists(tokPath)) {
    const json = await readJson(tokPath);
    files.push(tokPath);
    const tokCfgPath = at(TOKENIZER_CONFIG_FILE);
    let tokenizerConfig: object | undefined;
    if (await exists(tokCfgPath)) {
      const c = await readJson(tokCfgPath);
      if (typeof c === 'object' && c !== null && !Array.isArray(c)) tokenizerConfig = c;
      files.push(tokCfgPath);
    }
    try {
      tokenizer = HfTokenizer.fromJson(json as object, {
        ...(config.bosTokenId === undefined ? {} : { bosTokenId: config.bosTokenId }),
        eosTokenIds: config.eosTokenIds,
        ...(config.padTokenId === undefined ? {} : { padTokenId: config.padTokenId }),
        ...(tokenizerConfig ? { tokenizerConfig } : {}),
      });
    } catch (e) {
      throw new ModelFileError(tokPath, `cannot be used as a tokenizer (${(e as Error).message})`);
    }
    if (tokenizer.vocabSize > config.vocabSize) {
      throw new ModelFileError(tokPath, `has ${tokenizer.vocabSize} tokens but the model's vocabulary (vocab_size in ${CONFIG_FILE}) has ${config.vocabSize}`);
    }
  }
  return { config, weights, tokenizer, files };
}

export interface SaveOptions {
  readonly dtype: WriteDtype;
  /** tokenizer.json's text; without it an existing tokenizer.json in the folder is kept. */
  readonly tokenizerJson?: string;
  /** Split the weights into shards of at most this many bytes (a larger tensor gets a shard of its own). */
  readonly shardBytes?: number;
}

/** Files a save writes or replaces; anything else already in the folder is kept. */
function isOurs(name: string): boolean {
  return (
    name === CONFIG_FILE ||
    name === GENERATION_CONFIG_FILE ||
    name === WEIGHTS_FILE ||
    name === INDEX_FILE ||
    name === TOKENIZER_FILE ||
    /^model-\d+-of-\d+\.safetensors$/.test(name)
  );
}

async function writeSynced(file: string, data: Uint8Array | string): Promise<void> {
  const handle = await open(file, 'w');
  try {
    await handle.writeFile(data);
    await handle.sync();
  } finally {
    await handle.close();
  }
}

async function syncDir(dir: string): Promise<void> {
  try {
    const handle = await open(dir, fsConstants.O_RDONLY);
    try {
      await handle.sync();
    } finally {
      await handle.close();
    }
  } catch {
    // Not every platform can sync a directory; the files themselves are synced.
  }
}

/** Shard file names as transformers writes them: model-00001-of-00003.safetensors. */
export function shardName(i: number, n: number): string {
  const pad = (k: number): string => String(k).padStart(5, '0');
  return `model-${pad(i)}-of-${pad(n)}.safetensors`;
}

/**
 * Writes a model as a Hugging Face folder that `transformers` loads: config.json,
 * generation_config.json, model.safetensors (or shards and model.safetensors.index.json when
 * the weights exceed `shardBytes`) and tokenizer.json when given. Everything is written and
 * synced in `dir.tmp-<pid>`, which then replaces `dir`; other files already in `dir` are kept.
 */
export async function saveHfFolder(dir: string, config: ModelConfig, weights: WeightMap, opts: SaveOptions): Promise<string[]> {
  const hfConfig = { ...configToHf(config), torch_dtype: opts.dtype === 'F16' ? 'float16' : 'float32' };
  const tensors = weightsToHf(config, weights);
  const size = opts.dtype === 'F32' ? 4 : 2;
  const names = [...tensors.keys()].sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
  const bytesOf = (name: string): number => tensors.get(name)!.data.length * size;
  const total = names.reduce((a, n) => a + bytesOf(n), 0);

  const groups: string[][] = [];
  if (opts.shardBytes !== undefined && total > opts.shardBytes) {
    if (!(opts.shardBytes > 0)) throw new RangeError(`shardBytes must be positive (got ${opts.shardBytes})`);
    let current: string[] = [];
    let used = 0;
    for (const name of names) {
      const b = bytesOf(name);
      if (current.length > 0 && used + b > opts.shardBytes) {
        groups.push(current);
        current = [];
        used = 0;
      }
      current.push(name);
      used += b;
    }
    if (current.length > 0) groups.push(current);
  } else groups.push(names);

  const target = path.resolve(dir);
  const tmp = `${target}.tmp-${process.pid}`;
  await rm(tmp, { recursive: true, force: true });
  await mkdir(tmp, { recursive: true });
  const written: string[] = [];
  let old: string | undefined;
  const write = async (name: string, data: Uint8Array | string): Promise<void> => {
    await writeSynced(path.join(tmp, name), data);
    written.push(name);
  };
  try {
    await write(CONFIG_FILE, JSON.stringify(hfConfig, null, 2) + '\n');
    if (config.eosTokenIds.length > 0 || config.bosTokenId !== undefined) {
      const eos = config.eosTokenIds.length === 1 ? config.eosTokenIds[0] : config.eosTokenIds.length > 1 ? [...config.eosTokenIds] : undefined;
      const gen = {
        ...(config.bosTokenId === undefined ? {} : { bos_token_id: config.bosTokenId }),
        ...(eos === undefined ? {} : { eos_token_id: eos }),
        ...(config.padTokenId === undefined ? {} : { pad_token_id: config.padTokenId }),
      };
      await write(GENERATION_CONFIG_FILE, JSON.stringify(gen, null, 2) + '\n');
    }
    const metadata = { format: 'pt' };
    if (groups.length === 1) {
      await write(WEIGHTS_FILE, writeSafetensors(names.map((n) => [n, tensors.get(n)!] as const), { dtype: opts.dtype, metadata, fileName: WEIGHTS_FILE }));
    } else {
      const weightMap: Record<string, string> = {};
      for (let i = 0; i < groups.length; i++) {
        const file = shardName(i + 1, groups.length);
        const group = groups[i]!;
        for (const n of group) weightMap[n] = file;
        await write(file, writeSafetensors(group.map((n) => [n, tensors.get(n)!] as const), { dtype: opts.dtype, metadata, fileName: file }));
      }
      await write(INDEX_FILE, JSON.stringify({ metadata: { total_size: total }, weight_map: weightMap }, null, 2) + '\n');
    }
    if (opts.tokenizerJson !== undefined) await write(TOKENIZER_FILE, opts.tokenizerJson);

    if (await exists(target)) {
      for (const entry of await readdir(target)) {
        if (isOurs(entry) && (entry !== TOKENIZER_FILE || opts.tokenizerJson !== undefined)) continue;
        await cp(path.join(target, entry), path.join(tmp, entry), { recursive: true, preserveTimestamps: true });
      }
      old = `${target}.old-${process.pid}`;
      await rm(old, { recursive: true, force: true });
      await syncDir(tmp);
      await rename(target, old);
      try {
        await rename(tmp, target);
      } catch (e) {
        await rename(old, target);
        throw e;
      }
    } else {
      await mkdir(path.dirname(target), { recursive: true });
      await syncDir(tmp);
      await rename(tmp, target);
    }
    await syncDir(path.dirname(target));
    if (old) await rm(old, { recursive: true, force: true });
  } catch (e) {
    await rm(tmp, { recursive: true, force: true });
    throw e;
  }
  return written.map((n) => path.join(target, n));
}
