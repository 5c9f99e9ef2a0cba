// Providers the trainer builds from a specification: a model loaded here (EmbeddedProvider), a
// local GGUF file through node-llama-cpp (LlamaCppProvider), or an OpenAI-compatible endpoint
// over Node's HTTP (API keys read from the named environment variable, never written anywhere).

import { OpenAiProvider } from '../core/providers/openai';
import type { Provider } from '../core/providers/types';
import type { ProviderSpec } from '../protocol/trainer';
import { EmbeddedProvider } from './embeddedProvider';
import { JobError } from './jobs';
import { LlamaCppProvider } from './llamaCppProvider';
import { NodeHttpTransport } from './nodeHttp';

export interface ProviderLimits {
  concurrency: number;
  requestsPerSecond?: number;
  seed?: number;
}

export async function createProvider(spec: ProviderSpec, limits: ProviderLimits): Promise<Provider> {
  if (spec.provider === 'embedded') return EmbeddedProvider.create(spec.model, { ...(limits.seed !== undefined ? { seed: limits.seed } : {}) });
  if (spec.provider === 'llama-cpp') {
    return new LlamaCppProvider(spec.path, {
      ...(spec.threads !== undefined ? { threads: spec.threads } : {}),
      ...(spec.contextSize !== undefined ? { contextSize: spec.contextSize } : {}),
      gpu: spec.gpu === undefined || spec.gpu === 'off' ? false : spec.gpu,
    });
  }
  let apiKey: string | undefined;
  if (spec.apiKeyEnv) {
    apiKey = process.env[spec.apiKeyEnv];
    if (!apiKey) throw new JobError('config', `environment variable ${spec.apiKeyEnv} (the API key) is not set`, false);
  }
  return new OpenAiProvider({ baseUrl: spec.baseUrl, model: spec.model, api: spec.api, ...(apiKey ? { apiKey } : {}) }, {
    transport: new NodeHttpTransport(),
    maxConcurrency: limits.concurrency,
    ...(limits.requestsPerSecond ? { requestsPerSecond: limits.requestsPerSecond } : {}),
  });
}
