/**
 * The committee's one-line reflection on an outcome (ADR 0035): when what followed a decision is
 * known, an LLM backend is asked once, grammar-constrained by a zod schema with a length bound, what
 * to remember from it. Never throws: an answer that fails the schema, a timeout or an unreachable
 * backend gives a null reflection with the reason, so the outcome is still stored whole.
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { z } from 'zod';
import { errorMessage, parseJson, parseWith } from '../contracts/index.ts';
import type { ChatBackend, ChatMessage } from './backends/types.ts';
import { jsonSchemaOf } from './json-schema.ts';
import { stripFence } from './output.ts';
import { DEFAULT_PROMPTS_DIR, promptVersion } from './prompts.ts';
import { escapeData } from './render.ts';
import { UTF16_UNITS_PER_CHAR } from './schema.ts';
import { raceAbort } from './run-agent.ts';

/** The reflection prompt file (under agents/prompts/). */
export const REFLECTION_PROMPT_FILE = 'reflection.v1.md';
/**
 * Characters of a reflection at most: the grammar's bound. zod counts UTF-16 units, so the answer is
 * checked against twice that (as every role output is), which is rag's MAX_REFLECTION_CHARS.
 */
export const REFLECTION_MAX_CHARS = 200;
/** Output budget of the call: one short sentence in JSON (the schema ends the string at 200 characters). */
export const DEFAULT_REFLECTION_MAX_OUTPUT_TOKENS = 256;

/** The answer's schema: the grammar the backend is held to, and the check of what it returned. */
export const ReflectionOutput = z
  .object({
    reflection: z
      .string()
      .trim()
      .min(1)
      .max(REFLECTION_MAX_CHARS * UTF16_UNITS_PER_CHAR),
  })
  .strict();

export interface ReflectionResult {
  /** The reflection, or null when none could be had. */
  reflection: string | null;
  /** Why it is null (code and reason); null when there is a reflection. */
  error: string | null;
  promptVersion: string;
  latencyMs: number;
}

export interface ReflectOptions {
  backend: ChatBackend;
  /** The outcome in words (rag's outcomeSummary): the situation, the verdict, what followed. */
  outcome: string;
  timeoutMs: number;
  maxOutputTokens?: number;
  signal?: AbortSignal;
}

let prompt: { text: string; version: string } | undefined;
function reflectionPrompt(): { text: string; version: string } {
  if (!prompt) {
    const text = readFileSync(path.join(DEFAULT_PROMPTS_DIR, REFLECTION_PROMPT_FILE), 'utf8');
    prompt = { text, version: promptVersion(text, jsonSchemaOf(ReflectionOutput, 'output')) };
  }
  return prompt;
}

/** Asks `backend` once for a reflection on `outcome`. Always resolves. */
export async function reflectOnOutcome(options: ReflectOptions): Promise<ReflectionResult> {
  const { text, version } = reflectionPrompt();
  const messages: ChatMessage[] = [
    { role: 'system', content: text },
    { role: 'user', content: `<outcome>${escapeData(options.outcome)}</outcome>` },
  ];
  const timeout = AbortSignal.timeout(Math.max(1, options.timeoutMs));
  const signal = options.signal ? AbortSignal.any([options.signal, timeout]) : timeout;
  const started = performance.now();
  const fail = (why: string): ReflectionResult => ({
    reflection: null,
    error: why.slice(0, 1000),
    promptVersion: version,
    latencyMs: performance.now() - started,
  });
  let answer: string;
  try {
    const completion = await raceAbort(
      options.backend.complete({
        role: 'committee',
        messages,
        jsonSchema: jsonSchemaOf(ReflectionOutput, 'output'),
        signal,
        maxOutputTokens: options.maxOutputTokens ?? DEFAULT_REFLECTION_MAX_OUTPUT_TOKENS,
      }),
      signal,
    );
    answer = completion.text;
  } catch (error) {
    return fail(timeout.aborted ? `LLM_TIMEOUT: no reflection within ${options.timeoutMs} ms` : `LLM_UNAVAILABLE: ${errorMessage(error)}`);
  }
  const json = parseJson(stripFence(answer.trim()).trim());
  if (!json.ok) return fail(`LLM_OUTPUT_INVALID: the reflection is not JSON: ${json.error}`);
  const parsed = parseWith(ReflectionOutput, json.value);
  if (!parsed.ok) return fail(`LLM_OUTPUT_INVALID: ${parsed.error}`);
  return { reflection: parsed.value.reflection, error: null, promptVersion: version, latencyMs: performance.now() - started };
}
