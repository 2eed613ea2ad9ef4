/**
 * In-process llama.cpp through node-llama-cpp: a GGUF file, CPU only, a JSON-schema grammar made
 * from the same schema as Ollama's `format`. One context sequence, calls serialized: the committee's
 * parallelism is bounded by the CPU anyway.
 *
 * The tool turn is a grammar too (`{"calls": [...]}`, `oneOf` per tool, bounded strings, `maxItems`)
 * rather than node-llama-cpp's function calling: that lets the model call a function mid-answer
 * and runs it in-process, while here the calls must come back as data for the tool registry.
 */
import path from 'node:path';
import type * as NodeLlamaCppModule from 'node-llama-cpp';
import type { ChatHistoryItem, ChatWrapper, GbnfJsonSchema, Llama, LlamaContext, LlamaContextSequence, LlamaGrammar, LlamaModel } from 'node-llama-cpp';
import type { Models } from '../../config/index.ts';
import { QuorumError } from '../../contracts/index.ts';
import { stableStringify, type JsonObject } from '../json-schema.ts';
import { parseToolCallsText, toolCallsInstruction, toolCallsJsonSchema } from '../tool-turn.ts';
import type { ChatBackend, ChatMessage, Completion, CompletionRequest, ToolRequest, ToolRequestAnswer } from './types.ts';

/** Context size when none is given. */
export const DEFAULT_LLAMA_CPP_CONTEXT = 8192;
/** Grammars kept per engine (one per distinct schema). */
const GRAMMAR_CACHE_SIZE = 32;

let llamaInstance: Promise<Llama> | undefined;

/**
 * node-llama-cpp, loaded on first use: importing it costs ~0.7 s of CPU, which every `quorum`
 * command would pay at start-up although only the in-process llama.cpp backend needs it.
 */
type NodeLlamaCpp = typeof NodeLlamaCppModule;
let binding: Promise<NodeLlamaCpp> | undefined;
const nodeLlamaCpp = (): Promise<NodeLlamaCpp> => (binding ??= import('node-llama-cpp'));

/** The process-wide llama.cpp binding: prebuilt CPU binary, never compiled at run time. */
export function sharedLlama(): Promise<Llama> {
  llamaInstance ??= nodeLlamaCpp().then(({ getLlama }) => getLlama({ gpu: false, build: 'never', progressLogs: false }));
  return llamaInstance;
}

/** Options of an engine. */
export interface LlamaCppEngineOptions {
  modelPath: string;
  threads?: number;
  contextSize?: number;
}

/** One generation request of the engine. */
export interface GenerateRequest {
  messages: readonly ChatMessage[];
  /** Constrains the output to this JSON schema when given. */
  jsonSchema?: JsonObject;
  maxTokens: number;
  signal?: AbortSignal;
  /** Called with each piece of generated text (for streaming). */
  onTextChunk?: (text: string) => void;
  temperature?: number;
  seed?: number;
}

/** A generation's text and token counts. */
export interface GenerateResult {
  text: string;
  promptTokens: number;
  completionTokens: number;
  /** `eogToken`, `maxTokens`, `abort`, … as node-llama-cpp reports it. */
  stopReason: string;
}

function toHistory(messages: readonly ChatMessage[]): ChatHistoryItem[] {
  const history: ChatHistoryItem[] = messages.map((m): ChatHistoryItem => {
    if (m.role === 'system') return { type: 'system', text: m.content };
    if (m.role === 'user') return { type: 'user', text: m.content };
    return { type: 'model', response: [m.content] };
  });
  history.push({ type: 'model', response: [] });
  return history;
}

/** A loaded GGUF model with one context sequence; generation and embedding, serialized. */
export class LlamaCppEngine {
  private queue: Promise<unknown> = Promise.resolve();
  private readonly grammars = new Map<string, LlamaGrammar>();

  private constructor(
    private readonly llama: Llama,
    readonly model: LlamaModel,
    private readonly context: LlamaContext,
    private readonly sequence: LlamaContextSequence,
    /** The model's name: the GGUF file name without extension. */
    readonly modelName: string,
    /**
     * The chat wrapper, resolved once: `new LlamaChat()` would resolve it on every call, and that
     * checks the GGUF's Jinja template against each known wrapper (~0.3 s of CPU a call).
     */
    private readonly chatWrapper: ChatWrapper,
    private readonly LlamaChat: NodeLlamaCpp['LlamaChat'],
  ) {}

  /** Loads the GGUF file and creates the context. */
  static async load(options: LlamaCppEngineOptions): Promise<LlamaCppEngine> {
    const llama = await sharedLlama();
    const { LlamaChat, resolveChatWrapper } = await nodeLlamaCpp();
    const model = await llama.loadModel({ modelPath: options.modelPath });
    const context = await model.createContext({
      contextSize: options.contextSize ?? DEFAULT_LLAMA_CPP_CONTEXT,
      threads: options.threads ?? 1,
    });
    const name = path.basename(options.modelPath).replace(/\.gguf$/i, '');
    return new LlamaCppEngine(llama, model, context, context.getSequence(), name, resolveChatWrapper(model), LlamaChat);
  }

  /** Runs `task` after every earlier task (one sequence, one generation at a time). */
  private serialize<T>(task: () => Promise<T>): Promise<T> {
    const run = this.queue.then(task, task);
    this.queue = run.catch(() => undefined);
    return run;
  }

  private async grammarFor(schema: JsonObject): Promise<LlamaGrammar> {
    const key = stableStringify(schema);
    const cached = this.grammars.get(key);
    if (cached) return cached;
    // The schema was made grammar-compatible by jsonSchemaOf (oneOf, bounded strings); its static
    // type is a plain JSON object, hence the cast to the library's schema type.
    const grammar = await this.llama.createGrammarForJsonSchema<GbnfJsonSchema>(schema as unknown as GbnfJsonSchema);
    if (this.grammars.size >= GRAMMAR_CACHE_SIZE) this.grammars.clear();
    this.grammars.set(key, grammar);
    return grammar;
  }

  /** The number of tokens of `text` (for token accounting). */
  countTokens(text: string): number {
    return this.model.tokenize(text).length;
  }

  /** Generates a chat answer, grammar-constrained when a schema is given. */
  generate(request: GenerateRequest): Promise<GenerateResult> {
    return this.serialize(async () => {
      request.signal?.throwIfAborted();
      const grammar = request.jsonSchema ? await this.grammarFor(request.jsonSchema) : undefined;
      await this.sequence.clearHistory();
      const before = this.sequence.tokenMeter.getState();
      const chat = new this.LlamaChat({ contextSequence: this.sequence, chatWrapper: this.chatWrapper, autoDisposeSequence: false });
      try {
        const response = await chat.generateResponse(toHistory(request.messages), {
          grammar,
          maxTokens: request.maxTokens,
          temperature: request.temperature ?? 0,
          seed: request.seed,
          signal: request.signal,
          onTextChunk: request.onTextChunk,
        });
        const used = this.sequence.tokenMeter.diff(before);
        return {
          text: response.response,
          promptTokens: used.usedInputTokens,
          completionTokens: used.usedOutputTokens,
          stopReason: response.metadata.stopReason,
        };
      } finally {
        chat.dispose({ disposeSequence: false });
      }
    });
  }

  /** Embeds texts with the model (mean of its hidden states, as llama.cpp computes it). */
  embed(texts: readonly string[]): Promise<number[][]> {
    return this.serialize(async () => {
      const ctx = await this.model.createEmbeddingContext({ contextSize: 512, threads: 1 });
      try {
        const out: number[][] = [];
        for (const text of texts) out.push([...(await ctx.getEmbeddingFor(text)).vector]);
        return out;
      } finally {
        await ctx.dispose();
      }
    });
  }

  /** Frees the context and the model. */
  async dispose(): Promise<void> {
    await this.serialize(async () => {
      await this.context.dispose();
      await this.model.dispose();
    });
  }
}

/** Settings of the llama-cpp backend. */
export interface LlamaCppBackendOptions extends LlamaCppEngineOptions {
  maxOutputTokens: number;
  seed?: number;
}

/** The llama-cpp backend options of a loaded config; LLM_UNAVAILABLE when no GGUF path is set. */
export function llamaCppOptionsFromConfig(models: Models): LlamaCppBackendOptions {
  if (!models.llamaCpp.modelPath) {
    throw new QuorumError('LLM_UNAVAILABLE', 'models.yaml: llamaCpp.modelPath is not set: the llama-cpp backend needs a GGUF file');
  }
  return {
    modelPath: models.llamaCpp.modelPath,
    threads: models.llamaCpp.threads,
    contextSize: models.llm.contextSize,
    maxOutputTokens: models.llm.maxOutputTokens,
    seed: models.llm.seed,
  };
}

/** Creates the llama-cpp backend; the model loads on first use (or pass a loaded engine). */
export function createLlamaCppBackend(options: LlamaCppBackendOptions, engine?: LlamaCppEngine): ChatBackend {
  let loaded: Promise<LlamaCppEngine> | undefined = engine ? Promise.resolve(engine) : undefined;
  const owned = !engine;
  const modelName = path.basename(options.modelPath).replace(/\.gguf$/i, '');
  return {
    name: 'llama-cpp',
    model: () => modelName,
    async complete(request: CompletionRequest): Promise<Completion> {
      const started = performance.now();
      loaded ??= LlamaCppEngine.load(options);
      const result = await (
        await loaded
      ).generate({
        messages: request.messages,
        jsonSchema: request.jsonSchema,
        maxTokens: request.maxOutputTokens ?? options.maxOutputTokens,
        signal: request.signal,
        temperature: 0,
        seed: options.seed,
      });
      return {
        text: result.text,
        tokens: { prompt: result.promptTokens, completion: result.completionTokens },
        latencyMs: performance.now() - started,
      };
    },
    async requestTools(request: ToolRequest): Promise<ToolRequestAnswer> {
      const started = performance.now();
      loaded ??= LlamaCppEngine.load(options);
      // Without native tool support the model learns the tools from the system message.
      const messages = request.messages.map((m, i) =>
        i === 0 && m.role === 'system' ? { ...m, content: `${m.content}\n\n${toolCallsInstruction(request.tools, request.maxCalls)}` } : m,
      );
      const result = await (
        await loaded
      ).generate({
        messages,
        jsonSchema: toolCallsJsonSchema(request.tools, request.maxCalls),
        maxTokens: request.maxOutputTokens ?? options.maxOutputTokens,
        signal: request.signal,
        temperature: 0,
        seed: options.seed,
      });
      const parsed = parseToolCallsText(result.text);
      return {
        calls: parsed.ok ? parsed.calls : null,
        ...(parsed.ok ? {} : { error: parsed.error }),
        text: result.text,
        tokens: { prompt: result.promptTokens, completion: result.completionTokens },
        latencyMs: performance.now() - started,
      };
    },
    async close(): Promise<void> {
      if (owned && loaded) await (await loaded).dispose();
      loaded = undefined;
    },
  };
}
