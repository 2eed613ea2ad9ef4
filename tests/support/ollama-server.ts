/**
 * An HTTP server speaking Ollama's API, backed by node-llama-cpp and (usually) the tiny random GGUF,
 * so the real `ChatOllama` / `OllamaEmbeddings` clients run end to end over localhost HTTP.
 *
 * Endpoints: POST /api/chat (NDJSON stream or one object; `format` as a JSON schema becomes a
 * grammar; `"json"` becomes a generic-object grammar), POST /api/generate, POST /api/embed,
 * POST /api/embeddings (legacy), GET /api/tags, POST /api/show, GET /api/version.
 *
 * Tool calls: a random-weight model never decides to call a tool, so when a request carries
 * OpenAI-style `tools` AND the header `x-quorum-tool-call: required` (ChatOllama's `headers` option),
 * the output is constrained to `{"tool": <one of the tool names>, "arguments": <its parameters>}`
 * and returned as Ollama's `message.tool_calls` (TOOL_NAME_HEADER names the one tool to call). The arguments hold the parameters' required
 * properties only (see `toolCallSchema`). Without the header, tools are recorded and ignored: the
 * model answers in unconstrained text (a model that does not call tools), up to `num_predict`.
 *
 * Faults for tests: `faults.stallMs` delays every /api/chat and /api/generate answer (timeouts).
 */
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { z } from 'zod';
import { LlamaCppEngine, toGrammarCompatible, type ChatMessage, type JsonObject, type JsonValue } from '../../agents/index.ts';
import { parseJson } from '../../contracts/index.ts';

/** Header that asks the server to answer with a tool call when tools are given. */
export const TOOL_CALL_HEADER = 'x-quorum-tool-call';
/**
 * With TOOL_CALL_HEADER: the forced call is to this one of the offered tools (a scripted choice; the
 * random-weight model's own choice is meaningless). A name not offered is a 400.
 */
export const TOOL_NAME_HEADER = 'x-quorum-tool-name';
/** Output budget when the request sets no `num_predict`. */
export const DEFAULT_TEST_SERVER_MAX_TOKENS = 1024;
/** Bounds added to unbounded strings and arrays of tool parameter schemas (the grammar needs them). */
const TOOL_STRING_MAX = 64;
const TOOL_ARRAY_MAX = 4;

export interface OllamaTestServerOptions {
  /** GGUF file to load (ignored when `engine` is given). */
  ggufPath?: string;
  /** An engine already loaded (shared by several servers or backends in one test file). */
  engine?: LlamaCppEngine;
  /** Model names the server knows; others get 404. Default: any name is served. */
  models?: string[];
  contextSize?: number;
  defaultMaxTokens?: number;
}

/** A request as the server received it, for assertions. */
export interface RecordedRequest {
  method: string;
  path: string;
  headers: Record<string, string | string[] | undefined>;
  /** The parsed JSON body (undefined for GET). */
  body: unknown;
}

export interface OllamaTestServer {
  url: string;
  requests: RecordedRequest[];
  engine: LlamaCppEngine;
  /** Mutable fault switches. */
  faults: { stallMs: number };
  /** Counters: generations started, requests whose client disconnected before the answer ended. */
  stats: { generations: number; disconnected: number };
  close(): Promise<void>;
}

// Lenient schemas of what Ollama clients send (outside data): unknown fields pass through.
const OllamaMessage = z
  .object({
    role: z.string(),
    content: z.string().nullish(),
    tool_name: z.string().nullish(),
    tool_calls: z.array(z.unknown()).nullish(),
  })
  .passthrough();
const Options = z
  .object({ num_predict: z.number().nullish(), temperature: z.number().nullish(), seed: z.number().nullish(), num_ctx: z.number().nullish() })
  .passthrough();
const Tool = z
  .object({
    type: z.string().nullish(),
    function: z.object({ name: z.string().min(1), description: z.string().nullish(), parameters: z.unknown() }).passthrough(),
  })
  .passthrough();
const ChatBody = z
  .object({
    model: z.string().min(1),
    messages: z.array(OllamaMessage),
    stream: z.boolean().nullish(),
    format: z.unknown().optional(),
    options: Options.nullish(),
    tools: z.array(Tool).nullish(),
  })
  .passthrough();
const GenerateBody = z
  .object({
    model: z.string().min(1),
    prompt: z.string(),
    system: z.string().nullish(),
    stream: z.boolean().nullish(),
    format: z.unknown().optional(),
    options: Options.nullish(),
  })
  .passthrough();
const EmbedBody = z.object({ model: z.string().min(1), input: z.union([z.string(), z.array(z.string())]) }).passthrough();
const LegacyEmbedBody = z.object({ model: z.string().min(1), prompt: z.string() }).passthrough();
const ShowBody = z.object({ model: z.string().min(1).optional(), name: z.string().min(1).optional() }).passthrough();

const JsonValueSchema: z.ZodType<JsonValue> = z.lazy(() =>
  z.union([z.string(), z.number(), z.boolean(), z.null(), z.array(JsonValueSchema), z.record(z.string(), JsonValueSchema)]),
);

class HttpError extends Error {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
  }
}

function readBody(req: IncomingMessage): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
    req.on('error', reject);
  });
}

function sendJson(res: ServerResponse, status: number, body: unknown): void {
  res.writeHead(status, { 'content-type': 'application/json' });
  res.end(JSON.stringify(body));
}

function parseBody<S extends z.ZodType>(schema: S, body: unknown): z.infer<S> {
  const result = schema.safeParse(body);
  if (!result.success) throw new HttpError(400, `invalid request: ${result.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; ')}`);
  return result.data;
}

/** Adds length bounds where a tool's parameter schema has none, so the grammar terminates. */
function boundSchema(node: JsonValue): JsonValue {
  if (Array.isArray(node)) return node.map(boundSchema);
  if (node === null || typeof node !== 'object') return node;
  const out: JsonObject = {};
  for (const [k, v] of Object.entries(node)) out[k] = boundSchema(v);
  if (out.type === 'string' && out.maxLength === undefined && out.enum === undefined) out.maxLength = TOOL_STRING_MAX;
  if (out.type === 'array' && out.maxItems === undefined) out.maxItems = TOOL_ARRAY_MAX;
  return out;
}

/**
 * Keeps only the required properties of every object schema. node-llama-cpp's grammar emits every
 * listed property (it has no optional ones) and ignores `pattern`, `minimum` and `maximum`, so an
 * optional argument would be random text that the tool then refuses (a ticker that fails its
 * pattern, a limit out of range). Without them a call is the shortest one its schema accepts.
 */
function requiredOnly(node: JsonValue): JsonValue {
  if (Array.isArray(node)) return node.map(requiredOnly);
  if (node === null || typeof node !== 'object') return node;
  const out: JsonObject = {};
  for (const [k, v] of Object.entries(node)) out[k] = requiredOnly(v);
  const props = out.properties;
  if (props !== null && typeof props === 'object' && !Array.isArray(props)) {
    const required = new Set(Array.isArray(out.required) ? out.required.filter((r): r is string => typeof r === 'string') : []);
    const kept: JsonObject = Object.fromEntries(Object.entries(props).filter(([k]) => required.has(k)));
    out.properties = kept;
    out.required = Object.keys(kept);
  }
  return out;
}

/** The JSON schema of a request's `format`: a schema object, `"json"` (any object) or none. */
function formatSchema(format: unknown): JsonObject | undefined {
  if (format === undefined || format === null || format === '') return undefined;
  if (format === 'json') return { type: 'object', additionalProperties: false, properties: {} };
  const parsed = JsonValueSchema.safeParse(format);
  if (!parsed.success || parsed.data === null || typeof parsed.data !== 'object' || Array.isArray(parsed.data)) {
    throw new HttpError(400, 'format must be "json" or a JSON schema object');
  }
  return toGrammarCompatible(parsed.data) as JsonObject;
}

/** The grammar schema of a forced tool call: one of `{tool, arguments}` per tool, required arguments only. */
function toolCallSchema(tools: z.infer<typeof Tool>[]): JsonObject {
  const variants: JsonValue[] = tools.map((t) => {
    const params = JsonValueSchema.safeParse(t.function.parameters ?? { type: 'object', properties: {} });
    const args = params.success ? requiredOnly(boundSchema(toGrammarCompatible(params.data))) : { type: 'object', properties: {} };
    return {
      type: 'object',
      properties: { tool: { const: t.function.name }, arguments: args },
      required: ['tool', 'arguments'],
      additionalProperties: false,
    };
  });
  return variants.length === 1 ? (variants[0] as JsonObject) : { oneOf: variants };
}

function toChatMessages(messages: z.infer<typeof OllamaMessage>[]): ChatMessage[] {
  return messages.map((m): ChatMessage => {
    const content = m.content ?? '';
    if (m.role === 'system') return { role: 'system', content };
    if (m.role === 'assistant') return { role: 'assistant', content: content || JSON.stringify(m.tool_calls ?? []) };
    if (m.role === 'tool') return { role: 'user', content: `Tool result${m.tool_name ? ` (${m.tool_name})` : ''}: ${content}` };
    return { role: 'user', content };
  });
}

/**
 * The offered tools in the model's context, as Ollama's chat templates put them (the model sees each
 * tool's name, description and parameter schema): appended to the system message, or one of its own.
 */
function withTools(messages: ChatMessage[], tools: z.infer<typeof Tool>[]): ChatMessage[] {
  if (tools.length === 0) return messages;
  const list = `Available tools: ${JSON.stringify(tools.map((t) => ({ type: 'function', function: t.function })))}`;
  const [first, ...rest] = messages;
  return first?.role === 'system' ? [{ role: 'system', content: `${first.content}\n${list}` }, ...rest] : [{ role: 'system', content: list }, ...messages];
}

const ToolCallOutput = z.object({ tool: z.string(), arguments: z.unknown() }).strict();

/** Starts the server on 127.0.0.1 and a free port. */
export async function startOllamaTestServer(options: OllamaTestServerOptions): Promise<OllamaTestServer> {
  const engine =
    options.engine ?? (options.ggufPath ? await LlamaCppEngine.load({ modelPath: options.ggufPath, contextSize: options.contextSize, threads: 1 }) : undefined);
  if (!engine) throw new Error('startOllamaTestServer needs ggufPath or engine');
  const ownsEngine = !options.engine;
  const requests: RecordedRequest[] = [];
  const faults = { stallMs: 0 };
  const stats = { generations: 0, disconnected: 0 };
  const known = options.models ? new Set(options.models.flatMap((m) => [m, `${m}:latest`])) : undefined;
  const defaultMaxTokens = options.defaultMaxTokens ?? DEFAULT_TEST_SERVER_MAX_TOKENS;

  const checkModel = (model: string): void => {
    if (known && !known.has(model)) throw new HttpError(404, `model "${model}" not found, try pulling it first`);
  };

  const stall = async (signal: AbortSignal): Promise<void> => {
    if (faults.stallMs <= 0) return;
    await new Promise<void>((resolve) => {
      const timer = setTimeout(resolve, faults.stallMs);
      signal.addEventListener('abort', () => {
        clearTimeout(timer);
        resolve();
      });
    });
  };

  /** Shared by /api/chat and /api/generate: generate, stream or not, in Ollama's wire format. */
  const answer = async (
    res: ServerResponse,
    signal: AbortSignal,
    args: {
      model: string;
      messages: ChatMessage[];
      stream: boolean;
      schema: JsonObject | undefined;
      maxTokens: number;
      seed: number | undefined;
      toolCall: boolean;
      kind: 'chat' | 'generate';
    },
  ): Promise<void> => {
    await stall(signal);
    if (signal.aborted) return;
    stats.generations += 1;
    const started = process.hrtime.bigint();
    const piece = (text: string): Record<string, unknown> =>
      args.kind === 'chat'
        ? { model: args.model, created_at: new Date().toISOString(), message: { role: 'assistant', content: text }, done: false }
        : { model: args.model, created_at: new Date().toISOString(), response: text, done: false };
    if (args.stream) res.writeHead(200, { 'content-type': 'application/x-ndjson' });
    const streamText = args.stream && !args.toolCall;
    const result = await engine.generate({
      messages: args.messages,
      jsonSchema: args.schema,
      maxTokens: args.maxTokens,
      signal,
      seed: args.seed,
      temperature: 0,
      onTextChunk: streamText ? (text) => res.write(`${JSON.stringify(piece(text))}\n`) : undefined,
    });
    const duration = Number(process.hrtime.bigint() - started);
    let message: Record<string, unknown> = { role: 'assistant', content: streamText ? '' : result.text };
    if (args.toolCall) {
      const parsed = parseJson(result.text);
      const call = parsed.ok ? ToolCallOutput.safeParse(parsed.value) : undefined;
      message = call?.success
        ? { role: 'assistant', content: '', tool_calls: [{ function: { name: call.data.tool, arguments: call.data.arguments ?? {} } }] }
        : { role: 'assistant', content: result.text };
    }
    const final: Record<string, unknown> = {
      model: args.model,
      created_at: new Date().toISOString(),
      ...(args.kind === 'chat' ? { message } : { response: streamText ? '' : result.text }),
      done: true,
      done_reason: result.stopReason === 'maxTokens' ? 'length' : 'stop',
      total_duration: duration,
      load_duration: 0,
      prompt_eval_count: result.promptTokens,
      prompt_eval_duration: 0,
      eval_count: result.completionTokens,
      eval_duration: duration,
    };
    if (args.stream) res.end(`${JSON.stringify(final)}\n`);
    else sendJson(res, 200, final);
  };

  const handle = async (req: IncomingMessage, res: ServerResponse, signal: AbortSignal): Promise<void> => {
    const url = new URL(req.url ?? '/', 'http://127.0.0.1');
    const raw = req.method === 'GET' || req.method === 'HEAD' ? '' : await readBody(req);
    let body: unknown;
    if (raw !== '') {
      const parsed = parseJson(raw);
      if (!parsed.ok) throw new HttpError(400, parsed.error);
      body = parsed.value;
    }
    requests.push({ method: req.method ?? 'GET', path: url.pathname, headers: { ...req.headers }, body });
    const route = `${req.method} ${url.pathname}`;

    switch (route) {
      case 'POST /api/chat': {
        const b = parseBody(ChatBody, body);
        checkModel(b.model);
        const forceTool = req.headers[TOOL_CALL_HEADER] === 'required' && (b.tools?.length ?? 0) > 0;
        const named = req.headers[TOOL_NAME_HEADER];
        const offered = b.tools ?? [];
        const forced = typeof named === 'string' && forceTool ? offered.filter((t) => t.function.name === named) : offered;
        if (forceTool && forced.length === 0) throw new HttpError(400, `${TOOL_NAME_HEADER}: ${String(named)} is not one of the offered tools`);
        await answer(res, signal, {
          kind: 'chat',
          model: b.model,
          messages: withTools(toChatMessages(b.messages), b.tools ?? []),
          stream: b.stream ?? true,
          schema: forceTool ? toolCallSchema(forced) : formatSchema(b.format),
          maxTokens: positiveOr(b.options?.num_predict, defaultMaxTokens),
          seed: b.options?.seed ?? undefined,
          toolCall: forceTool,
        });
        return;
      }
      case 'POST /api/generate': {
        const b = parseBody(GenerateBody, body);
        checkModel(b.model);
        const messages: ChatMessage[] = [];
        if (b.system) messages.push({ role: 'system', content: b.system });
        messages.push({ role: 'user', content: b.prompt });
        await answer(res, signal, {
          kind: 'generate',
          model: b.model,
          messages,
          stream: b.stream ?? true,
          schema: formatSchema(b.format),
          maxTokens: positiveOr(b.options?.num_predict, defaultMaxTokens),
          seed: b.options?.seed ?? undefined,
          toolCall: false,
        });
        return;
      }
      case 'POST /api/embed': {
        const b = parseBody(EmbedBody, body);
        checkModel(b.model);
        const inputs = typeof b.input === 'string' ? [b.input] : b.input;
        const embeddings = await engine.embed(inputs);
        const count = inputs.reduce((n, t) => n + engine.countTokens(t), 0);
        sendJson(res, 200, { model: b.model, embeddings, total_duration: 0, load_duration: 0, prompt_eval_count: count });
        return;
      }
      case 'POST /api/embeddings': {
        const b = parseBody(LegacyEmbedBody, body);
        checkModel(b.model);
        const [embedding] = await engine.embed([b.prompt]);
        sendJson(res, 200, { embedding });
        return;
      }
      case 'GET /api/tags': {
        const names = options.models ?? [engine.modelName];
        sendJson(res, 200, {
          models: names.map((name) => ({
            name: name.includes(':') ? name : `${name}:latest`,
            model: name.includes(':') ? name : `${name}:latest`,
            modified_at: new Date(0).toISOString(),
            size: engine.model.size,
            digest: 'sha256:test',
            details: { format: 'gguf', family: 'llama', families: ['llama'], parameter_size: 'tiny', quantization_level: 'F32' },
          })),
        });
        return;
      }
      case 'POST /api/show': {
        const b = parseBody(ShowBody, body);
        const name = b.model ?? b.name ?? engine.modelName;
        checkModel(name);
        sendJson(res, 200, {
          modelfile: `FROM ${engine.modelName}`,
          parameters: '',
          template: '{{ .Prompt }}',
          details: { format: 'gguf', family: 'llama', families: ['llama'], parameter_size: 'tiny', quantization_level: 'F32' },
          model_info: { 'general.architecture': 'llama', 'llama.embedding_length': engine.model.embeddingVectorSize },
          capabilities: ['completion', 'tools', 'embedding'],
        });
        return;
      }
      case 'GET /api/version':
        sendJson(res, 200, { version: '0.0.0-quorum-test' });
        return;
      default:
        throw new HttpError(404, `no route ${route}`);
    }
  };

  const server = createServer((req, res) => {
    const controller = new AbortController();
    // The client went away (e.g. ChatOllama aborted on timeout): stop generating.
    res.on('close', () => {
      if (!res.writableFinished) {
        stats.disconnected += 1;
        controller.abort(new Error('client disconnected'));
      }
    });
    handle(req, res, controller.signal).catch((error: unknown) => {
      const status = error instanceof HttpError ? error.status : 500;
      const message = error instanceof Error ? error.message : String(error);
      if (res.headersSent) res.end(`${JSON.stringify({ error: message })}\n`);
      else if (!res.destroyed) sendJson(res, status, { error: message });
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;

  return {
    url: `http://127.0.0.1:${port}`,
    requests,
    engine,
    faults,
    stats,
    async close(): Promise<void> {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
      if (ownsEngine) await engine.dispose();
    },
  };
}

function positiveOr(value: number | null | undefined, fallback: number): number {
  return typeof value === 'number' && value > 0 ? Math.floor(value) : fallback;
}
