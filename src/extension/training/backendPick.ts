import * as vscode from 'vscode';
import { SETTINGS } from '../../protocol/settings.js';
import { setting, updateSetting } from '../config.js';

const DESCRIPTIONS: Record<string, string> = {
  runConfig: 'use each run file\'s `backend` (default)',
  auto: 'the fastest that works here: tfjs-node-gpu, WebGPU on a hardware GPU, tfjs-node, then WASM, then pure JS',
  'tfjs-node-gpu': 'CUDA through @tensorflow/tfjs-node-gpu (needs its CUDA 11.2 / cuDNN 8.1 stack)',
  webgpu: 'WebGPU through Dawn (the `webgpu` package) on any Vulkan driver; no CUDA needed',
  'tfjs-node': 'native CPU through @tensorflow/tfjs-node, where installed',
  wasm: 'WebAssembly with SIMD and threads: works everywhere, no install',
  cpu: 'pure JavaScript: slowest; for checking results',
};

/** "Constitution: Select Training Backend": writes constitution.training.backend (user settings). */
export async function selectBackend(): Promise<void> {
  const current = setting('constitution.training.backend');
  const pick = await vscode.window.showQuickPick(
    SETTINGS['constitution.training.backend'].enum.map((b) => ({ label: b, description: b === current ? '(current)' : undefined, detail: DESCRIPTIONS[b], value: b })),
    { title: 'Training backend for runs started from the editor (the trainer falls back and says why when one cannot load)' },
  );
  if (!pick) return;
  await updateSetting('constitution.training.backend', pick.value);
  void vscode.window.showInformationMessage(`Runs started from the editor will use the ${pick.value === 'runConfig' ? "run file's" : pick.value} backend; each run's manifest records the backend it used.`);
}
