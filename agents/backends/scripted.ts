/**
 * A scripted backend: returns canned answers per role and call, for routing tests, fault injection
 * and benchmarks of the committee's own overhead (no model time). Its tool turn answers from a
 * separate script in the text format of parseToolCallsText; without one it asks for the defaults.
 */
import { QuorumError } from '../../contracts/index.ts';
import type { RoleName } from '../schema.ts';
import { parseToolCallsText } from '../tool-turn.ts';
import type { ChatBackend, Completion, CompletionRequest, ToolRequest, ToolRequestAnswer } from './types.ts';

/** What one scripted call does: answer a text, never answer (until aborted), or fail. */
export type ScriptedStep = { text: string; tokens?: { prompt: number; completion: number } } | { hang: true } | { error: Error };

/** A scripted call, as recorded for assertions. */
export interface ScriptedCall {
  role: RoleName;
  /** 0 for the first call of this role, 1 for the next (e.g. the repair request). */
  index: number;
  request: CompletionRequest;
}

/** The script: per role a list of steps (the last one repeats), or a function of the call. */
export type Script =
  Partial<Record<RoleName, readonly ScriptedStep[]>> | ((call: Omit<ScriptedCall, 'request'> & { request: CompletionRequest }) => ScriptedStep);

/** A scripted tool turn, as recorded for assertions. */
export interface ScriptedToolCall {
  role: RoleName;
  index: number;
  request: ToolRequest;
}

/** The tool-turn script: per role a list of steps (the last one repeats), or a function of the turn. */
export type ToolScript = Partial<Record<RoleName, readonly ScriptedStep[]>> | ((call: ScriptedToolCall) => ScriptedStep);

/** A ChatBackend with recorded calls. */
export interface ScriptedBackend extends ChatBackend {
  /** Completions (opinion and verdict calls, repairs included). */
  readonly calls: ScriptedCall[];
  /** Tool-request turns. */
  readonly toolCalls: ScriptedToolCall[];
  requestTools(request: ToolRequest): Promise<ToolRequestAnswer>;
}

/** The text a model that asks for exactly the configured defaults answers. */
export function defaultsAnswer(request: ToolRequest): string {
  return JSON.stringify({ calls: request.defaults.map((c) => ({ tool: c.name, arguments: c.args })) });
}

/** Waits until `signal` aborts, then rejects: a model that never answers. */
function hang<T>(signal: AbortSignal): Promise<T> {
  return new Promise<T>((_resolve, reject) => {
    const abort = (): void => reject(signal.reason instanceof Error ? signal.reason : new Error('aborted'));
    if (signal.aborted) abort();
    else signal.addEventListener('abort', abort, { once: true });
  });
}

/** Rough prompt size (4 characters a token) so token accounting is exercised without a tokenizer. */
function approxTokens(text: string): number {
  return Math.ceil(text.length / 4);
}

/**
 * Creates a scripted backend. A role without steps is a routing error (LLM_UNAVAILABLE). Without a
 * tool script, every tool turn asks for the request's default calls.
 */
export function createScriptedBackend(script: Script, name = 'scripted', toolScript?: ToolScript): ScriptedBackend {
  const calls: ScriptedCall[] = [];
  const toolCalls: ScriptedToolCall[] = [];
  const counts = new Map<RoleName, number>();
  const toolCounts = new Map<RoleName, number>();
  return {
    name,
    calls,
    toolCalls,
    model: () => 'scripted',
    async requestTools(request: ToolRequest): Promise<ToolRequestAnswer> {
      const started = performance.now();
      const index = toolCounts.get(request.role) ?? 0;
      toolCounts.set(request.role, index + 1);
      const call: ScriptedToolCall = { role: request.role, index, request };
      toolCalls.push(call);
      let step: ScriptedStep | undefined;
      if (toolScript === undefined) step = { text: defaultsAnswer(request) };
      else if (typeof toolScript === 'function') step = toolScript(call);
      else {
        const steps = toolScript[request.role];
        step = steps?.[Math.min(index, steps.length - 1)] ?? { text: defaultsAnswer(request) };
      }
      if ('error' in step) throw step.error;
      if ('hang' in step) return hang<ToolRequestAnswer>(request.signal);
      // The tools' schemas count as prompt: Ollama's chat template renders them into it.
      const prompt = request.messages.reduce((n, m) => n + approxTokens(m.content), 0) + approxTokens(JSON.stringify(request.tools));
      const parsed = parseToolCallsText(step.text);
      return {
        calls: parsed.ok ? parsed.calls : null,
        ...(parsed.ok ? {} : { error: parsed.error }),
        text: step.text,
        tokens: step.tokens ?? { prompt, completion: approxTokens(step.text) },
        latencyMs: performance.now() - started,
      };
    },
    async complete(request: CompletionRequest): Promise<Completion> {
      const started = performance.now();
      const index = counts.get(request.role) ?? 0;
      counts.set(request.role, index + 1);
      calls.push({ role: request.role, index, request });
      let step: ScriptedStep | undefined;
      if (typeof script === 'function') step = script({ role: request.role, index, request });
      else {
        const steps = script[request.role];
        step = steps?.[Math.min(index, steps.length - 1)];
      }
      if (!step) throw new QuorumError('LLM_UNAVAILABLE', `scripted backend: no step for role ${request.role}`);
      if ('error' in step) throw step.error;
      if ('hang' in step) return hang<Completion>(request.signal);
      const prompt = request.messages.reduce((n, m) => n + approxTokens(m.content), 0);
      return {
        text: step.text,
        tokens: step.tokens ?? { prompt, completion: approxTokens(step.text) },
        latencyMs: performance.now() - started,
      };
    },
  };
}
