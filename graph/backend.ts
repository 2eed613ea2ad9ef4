/**
 * Which backend judges. `auto`: Ollama when it answers, else llama-cpp when a GGUF path is set,
 * else the deterministic rules baseline, with a notice that says so.
 */
import { z } from 'zod';
import type { Config } from '../config/index.ts';
import { QuorumError, errorMessage } from '../contracts/index.ts';
import { createLlamaCppBackend, createOllamaBackend, llamaCppOptionsFromConfig, ollamaOptionsFromConfig } from '../agents/index.ts';
import type { CommitteeBackend } from './committee.ts';

export const BackendChoice = z.enum(['auto', 'ollama', 'llama-cpp', 'rules']);
export type BackendChoice = z.infer<typeof BackendChoice>;

/** How long `auto` waits for Ollama's /api/tags before falling back. */
export const OLLAMA_PROBE_TIMEOUT_MS = 1_500;

export interface SelectedBackend {
  backend: CommitteeBackend;
  /** `ollama`, `llama-cpp` or `rules`. */
  name: Exclude<BackendChoice, 'auto'>;
  /** Human-readable: which backend judges and why (printed by the CLI, logged by sessions). */
  notice: string;
}

/** True when an Ollama server answers GET /api/tags at `baseUrl`. */
export async function ollamaReachable(baseUrl: string, timeoutMs = OLLAMA_PROBE_TIMEOUT_MS): Promise<boolean> {
  try {
    const res = await fetch(new URL('/api/tags', baseUrl), { signal: AbortSignal.timeout(timeoutMs) });
    await res.body?.cancel();
    return res.ok;
  } catch {
    return false;
  }
}

/** Picks the backend (`choice` overrides models.yaml llm.backend). */
export async function selectBackend(config: Config, choice?: BackendChoice): Promise<SelectedBackend> {
  const wanted = choice ?? config.models.llm.backend;
  const baseUrl = config.models.ollama.baseUrl;
  if (wanted === 'rules') return { backend: 'rules', name: 'rules', notice: 'backend: rules baseline (deterministic critics, no LLM), as requested' };
  if (wanted === 'ollama') {
    return { backend: createOllamaBackend(ollamaOptionsFromConfig(config.models)), name: 'ollama', notice: `backend: Ollama at ${baseUrl}, model ${config.models.ollama.model}` };
  }
  if (wanted === 'llama-cpp') {
    return { backend: createLlamaCppBackend(llamaCppOptionsFromConfig(config.models)), name: 'llama-cpp', notice: `backend: in-process llama.cpp, ${config.models.llamaCpp.modelPath ?? ''}` };
  }
  if (await ollamaReachable(baseUrl)) {
    return { backend: createOllamaBackend(ollamaOptionsFromConfig(config.models)), name: 'ollama', notice: `backend: Ollama at ${baseUrl} (auto: reachable), model ${config.models.ollama.model}` };
  }
  if (config.models.llamaCpp.modelPath) {
    try {
      return {
        backend: createLlamaCppBackend(llamaCppOptionsFromConfig(config.models)),
        name: 'llama-cpp',
        notice: `backend: in-process llama.cpp with ${config.models.llamaCpp.modelPath} (auto: Ollama unreachable at ${baseUrl})`,
      };
    } catch (error) {
      if (!QuorumError.isInstance(error)) throw error;
      return { backend: 'rules', name: 'rules', notice: `NOTICE: no LLM available (Ollama unreachable at ${baseUrl}; llama-cpp: ${errorMessage(error)}): the rules baseline judges` };
    }
  }
  return {
    backend: 'rules',
    name: 'rules',
    notice: `NOTICE: no LLM reachable (Ollama unreachable at ${baseUrl}, no llamaCpp.modelPath set): the deterministic rules baseline judges instead`,
  };
}
