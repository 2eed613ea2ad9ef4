/**
 * The Ollama backend: LangChain's ChatOllama, structured output through the JSON-schema `format`.
 * We read the raw text and validate it ourselves (parse → one repair → ABSTAIN), instead of
 * `withStructuredOutput`, which throws on invalid output.
 */
import { AIMessage, HumanMessage, SystemMessage, type BaseMessage } from '@langchain/core/messages';
import { ChatOllama } from '@langchain/ollama';
import type { Models } from '../../config/index.ts';
import type { RoleName } from '../schema.ts';
import type { ChatBackend, ChatMessage, Completion, CompletionRequest } from './types.ts';

/** Settings of the Ollama backend (models.yaml `llm` + `ollama`). */
export interface OllamaBackendOptions {
  baseUrl: string;
  /** Default model. */
  model: string;
  /** Per-role model overrides. */
  roles?: Partial<Record<RoleName, string>>;
  temperature: number;
  seed: number;
  contextSize: number;
  maxOutputTokens: number;
  /** Extra HTTP headers (e.g. for a proxy). */
  headers?: Record<string, string>;
}

/** The Ollama backend options of a loaded config. */
export function ollamaOptionsFromConfig(models: Models): OllamaBackendOptions {
  return {
    baseUrl: models.ollama.baseUrl,
    model: models.ollama.model,
    roles: models.ollama.roles,
    temperature: models.llm.temperature,
    seed: models.llm.seed,
    contextSize: models.llm.contextSize,
    maxOutputTokens: models.llm.maxOutputTokens,
  };
}

function toLangChain(messages: readonly ChatMessage[]): BaseMessage[] {
  return messages.map((m) => {
    if (m.role === 'system') return new SystemMessage(m.content);
    if (m.role === 'user') return new HumanMessage(m.content);
    return new AIMessage(m.content);
  });
}

/** The text of a LangChain message content (string or content blocks). */
function contentText(content: AIMessage['content']): string {
  if (typeof content === 'string') return content;
  return content.map((block) => ('text' in block && typeof block.text === 'string' ? block.text : '')).join('');
}

/**
 * Creates the Ollama backend. One ChatOllama per call, whose `fetch` carries the call's abort signal:
 * ollama-js can only abort a stream after its headers arrive, so without this a timed-out request to
 * a stalled server would keep running.
 */
export function createOllamaBackend(options: OllamaBackendOptions): ChatBackend {
  const modelFor = (role: RoleName): string => options.roles?.[role] ?? options.model;
  return {
    name: 'ollama',
    model: modelFor,
    async complete(request: CompletionRequest): Promise<Completion> {
      const started = performance.now();
      const signal = request.signal;
      const abortableFetch: typeof fetch = (input, init) =>
        fetch(input, { ...init, signal: init?.signal ? AbortSignal.any([init.signal, signal]) : signal });
      const chat = new ChatOllama({
        baseUrl: options.baseUrl,
        model: modelFor(request.role),
        temperature: options.temperature,
        seed: options.seed,
        numCtx: options.contextSize,
        numPredict: request.maxOutputTokens ?? options.maxOutputTokens,
        headers: options.headers,
        fetch: abortableFetch,
      });
      const message = await chat.invoke(toLangChain(request.messages), { format: request.jsonSchema, signal });
      const usage = message.usage_metadata;
      return {
        text: contentText(message.content),
        tokens: { prompt: usage?.input_tokens ?? 0, completion: usage?.output_tokens ?? 0 },
        latencyMs: performance.now() - started,
      };
    },
  };
}
