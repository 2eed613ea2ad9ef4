/**
 * The Ollama backend: LangChain's ChatOllama, structured output through the JSON-schema `format`.
 * We read the raw text and validate it ourselves (parse → one repair → ABSTAIN), instead of
 * `withStructuredOutput`, which throws on invalid output. The tool turn uses Ollama's native tool
 * calling (`bindTools` with the tools' JSON schemas); the calls are validated by the tool registry.
 */
import { AIMessage, HumanMessage, SystemMessage, type BaseMessage } from '@langchain/core/messages';
import { ChatOllama } from '@langchain/ollama';
import type { Models } from '../../config/index.ts';
import type { RoleName } from '../schema.ts';
import { parseToolCallsText } from '../tool-turn.ts';
import type { ChatBackend, ChatMessage, Completion, CompletionRequest, RequestedToolCall, ToolRequest, ToolRequestAnswer } from './types.ts';

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
  const chatFor = (role: RoleName, signal: AbortSignal, maxOutputTokens: number | undefined): ChatOllama => {
    const abortableFetch: typeof fetch = (input, init) => fetch(input, { ...init, signal: init?.signal ? AbortSignal.any([init.signal, signal]) : signal });
    return new ChatOllama({
      baseUrl: options.baseUrl,
      model: modelFor(role),
      temperature: options.temperature,
      seed: options.seed,
      numCtx: options.contextSize,
      numPredict: maxOutputTokens ?? options.maxOutputTokens,
      headers: options.headers,
      fetch: abortableFetch,
    });
  };
  return {
    name: 'ollama',
    model: modelFor,
    async requestTools(request: ToolRequest): Promise<ToolRequestAnswer> {
      const started = performance.now();
      const chat = chatFor(request.role, request.signal, request.maxOutputTokens).bindTools(
        request.tools.map((t) => ({ type: 'function' as const, function: { name: t.name, description: t.description, parameters: t.parameters } })),
      );
      const message = await chat.invoke(toLangChain(request.messages), { signal: request.signal });
      const usage = message.usage_metadata;
      const tokens = { prompt: usage?.input_tokens ?? 0, completion: usage?.output_tokens ?? 0 };
      // Calls whose arguments were not valid JSON still reach the registry, as a typed argument error.
      const calls: RequestedToolCall[] = [
        ...(message.tool_calls ?? []).map((c) => ({ name: c.name, args: c.args })),
        ...(message.invalid_tool_calls ?? []).map((c) => ({ name: c.name ?? '', args: c.args ?? null })),
      ];
      const content = contentText(message.content);
      if (calls.length > 0 || content.trim() === '') {
        return {
          calls,
          text: JSON.stringify({ calls: calls.map((c) => ({ tool: c.name, arguments: c.args })) }),
          tokens,
          latencyMs: performance.now() - started,
        };
      }
      // Some models write the calls as text instead of tool_calls: read them if they follow our format.
      const parsed = parseToolCallsText(content);
      return parsed.ok
        ? { calls: parsed.calls, text: content, tokens, latencyMs: performance.now() - started }
        : {
            calls: null,
            error: `no tool_calls and the text is not {"calls": [...]}: ${parsed.error}`,
            text: content,
            tokens,
            latencyMs: performance.now() - started,
          };
    },
    async complete(request: CompletionRequest): Promise<Completion> {
      const started = performance.now();
      const signal = request.signal;
      const chat = chatFor(request.role, signal, request.maxOutputTokens);
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
