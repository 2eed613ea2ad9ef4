/** The one interface every LLM backend implements. */
import { z } from 'zod';
import type { TokenCounts } from '../../contracts/index.ts';
import type { JsonObject } from '../json-schema.ts';
import type { RoleName } from '../schema.ts';

/** One chat message, as sent to a backend and stored in the transcript. */
export const ChatMessage = z
  .object({
    role: z.enum(['system', 'user', 'assistant']),
    content: z.string(),
  })
  .strict();
export type ChatMessage = z.infer<typeof ChatMessage>;

/** One completion request: the conversation so far and the JSON schema the answer must follow. */
export interface CompletionRequest {
  role: RoleName;
  messages: readonly ChatMessage[];
  /** The output JSON schema (Ollama `format`, llama.cpp grammar). */
  jsonSchema: JsonObject;
  /** Aborted on timeout or cancellation; a backend stops as soon as it can. */
  signal: AbortSignal;
  /** Upper bound of generated tokens for this call. */
  maxOutputTokens?: number;
}

/** What a backend returns: raw text (validated by the caller), tokens and latency. */
export interface Completion {
  text: string;
  tokens: TokenCounts;
  latencyMs: number;
}

/** A tool as an agent is told about it: name, description and the JSON schema of its arguments. */
export interface ToolSpec {
  name: string;
  description: string;
  /** Made from the tool's zod input schema (strict: no other argument is accepted). */
  parameters: JsonObject;
}

/** One call an agent asks for. Unvalidated: the tool registry checks the name and the arguments. */
export interface RequestedToolCall {
  name: string;
  args: unknown;
}

/**
 * One tool-request turn: the agent sees the proposal context and its allowed tools, and answers
 * with the calls it wants (at most `maxCalls`; extra calls are refused by the caller).
 */
export interface ToolRequest {
  role: RoleName;
  messages: readonly ChatMessage[];
  tools: readonly ToolSpec[];
  maxCalls: number;
  /** The configured default calls (what the rules baseline answers, and the fallback). */
  defaults: readonly RequestedToolCall[];
  signal: AbortSignal;
  maxOutputTokens?: number;
}

/**
 * A tool-request turn's answer. `calls` is null when the answer could not be read as tool calls
 * (`error` says why); the caller then falls back. `text` is the raw answer, for the transcript.
 */
export interface ToolRequestAnswer {
  calls: RequestedToolCall[] | null;
  error?: string;
  text: string;
  tokens: TokenCounts;
  latencyMs: number;
}

/** An LLM backend. `complete` may throw (unreachable, aborted); runAgent turns that into ABSTAIN. */
export interface ChatBackend {
  /** `ollama`, `llama-cpp`, `scripted`, … (stored with every output). */
  readonly name: string;
  /** The model that serves `role` (stored with every output). */
  model(role: RoleName): string;
  complete(request: CompletionRequest): Promise<Completion>;
  /**
   * The tool-request turn. May throw (unreachable, aborted); runToolTurn then falls back to the
   * configured defaults. A backend without it (e.g. a cassette) always gets the defaults.
   */
  requestTools?(request: ToolRequest): Promise<ToolRequestAnswer>;
  /** Releases models and connections. */
  close?(): Promise<void>;
}
