/**
 * Which backend judges. `auto`: Ollama when it answers, else llama-cpp when a GGUF path is set,
 * else the deterministic rules baseline, with a notice that says so.
 */
import { BackendChoice, type Config } from '../config/index.ts';
import { QuorumError, errorMessage, type Proposal } from '../contracts/index.ts';
import {
  RULES_BACKEND,
  RULES_MODEL,
  createLlamaCppBackend,
  createOllamaBackend,
  createRulesBackend,
  llamaCppOptionsFromConfig,
  ollamaOptionsFromConfig,
  rulesPrompt,
  type ChatBackend,
  type RoleName,
  type RolePrompt,
} from '../agents/index.ts';
import type { ToolOutcome } from '../tools/index.ts';

/** Who judges, as a caller names it: an LLM backend, or `'rules'` for the deterministic rules baseline. */
export type CommitteeBackend = ChatBackend | 'rules';

/**
 * What differs between an LLM backend and the rules baseline, behind one interface: the graph and
 * its callers ask a Judge (judgeOf) instead of testing for `'rules'`.
 */
export interface Judge {
  /** Stored with every run and verdict: `rules`, or the LLM backend's name. */
  readonly name: string;
  /** False for the rules baseline: its answers are not LLM calls, and it reads no prompt files. */
  readonly usesLlm: boolean;
  /** The LLM backend, null for the rules baseline (for a caller that needs its extras, e.g. a cassette's misses). */
  readonly llm: ChatBackend | null;
  /** The model that serves `role` (stored with every output). */
  model(role: RoleName): string;
  /** The prompt a role runs with: the given (agents.yaml) prompt for an LLM, the rules critic's description for the baseline. */
  prompt(role: RoleName, prompts: Readonly<Record<RoleName, RolePrompt>> | null): RolePrompt;
  /** The backend one agent call runs on; the rules critic judges on `outcomes`, the evidence the agent is shown. */
  chat(proposal: Proposal, outcomes: readonly ToolOutcome[]): ChatBackend;
  /** Who chooses a tool turn's calls, for people: "chosen by the agent", or the baseline's configured defaults. */
  readonly toolChooser: string;
  /** Releases what the backend holds (models, connections); nothing for the baseline. */
  close(): Promise<void>;
}

const RULES_JUDGE: Judge = Object.freeze({
  name: RULES_BACKEND,
  usesLlm: false,
  llm: null,
  model: () => RULES_MODEL,
  prompt: (role: RoleName) => rulesPrompt(role),
  chat: (proposal: Proposal, outcomes: readonly ToolOutcome[]) => createRulesBackend({ proposal, outcomes }),
  toolChooser: "the rules baseline's choice (configured defaults)",
  close: async () => undefined,
});

/** The Judge of `backend` (cheap: made per run). */
export function judgeOf(backend: CommitteeBackend): Judge {
  if (backend === 'rules') return RULES_JUDGE;
  return {
    name: backend.name,
    usesLlm: true,
    llm: backend,
    model: (role) => backend.model(role),
    prompt: (role, prompts) => (prompts ? prompts[role] : rulesPrompt(role)),
    chat: () => backend,
    toolChooser: 'chosen by the agent',
    close: async () => {
      await backend.close?.();
    },
  };
}

/** Releases `backend` (an LLM backend's close(); nothing for the rules baseline). */
export function closeBackend(backend: CommitteeBackend): Promise<void> {
  return judgeOf(backend).close();
}

export { BackendChoice };

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
    const backend = createOllamaBackend(ollamaOptionsFromConfig(config.models));
    // Asked for by name, Ollama judges even when down (a session then abstains), but the notice says so up front.
    const notice = (await ollamaReachable(baseUrl))
      ? `backend: Ollama at ${baseUrl}, model ${config.models.ollama.model}`
      : `WARNING: Ollama unreachable at ${baseUrl} (backend ollama as requested): every agent call fails, so every verdict is ABSTAIN (no trade); start Ollama or use --backend auto`;
    return { backend, name: 'ollama', notice };
  }
  if (wanted === 'llama-cpp') {
    return {
      backend: createLlamaCppBackend(llamaCppOptionsFromConfig(config.models)),
      name: 'llama-cpp',
      notice: `backend: in-process llama.cpp, ${config.models.llamaCpp.modelPath ?? ''}`,
    };
  }
  if (await ollamaReachable(baseUrl)) {
    return {
      backend: createOllamaBackend(ollamaOptionsFromConfig(config.models)),
      name: 'ollama',
      notice: `backend: Ollama at ${baseUrl} (auto: reachable), model ${config.models.ollama.model}`,
    };
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
      return {
        backend: 'rules',
        name: 'rules',
        notice: `NOTICE: no LLM available (Ollama unreachable at ${baseUrl}; llama-cpp: ${errorMessage(error)}): the rules baseline judges`,
      };
    }
  }
  return {
    backend: 'rules',
    name: 'rules',
    notice: `NOTICE: no LLM reachable (Ollama unreachable at ${baseUrl}, no llamaCpp.modelPath set): the deterministic rules baseline judges instead`,
  };
}
