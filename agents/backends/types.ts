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

/** An LLM backend. `complete` may throw (unreachable, aborted); runAgent turns that into ABSTAIN. */
export interface ChatBackend {
  /** `ollama`, `llama-cpp`, `scripted`, … (stored with every output). */
  readonly name: string;
  /** The model that serves `role` (stored with every output). */
  model(role: RoleName): string;
  complete(request: CompletionRequest): Promise<Completion>;
  /** Releases models and connections. */
  close?(): Promise<void>;
}
